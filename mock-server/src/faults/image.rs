//! Failures an image asks for in its ground truth (`mock-server make-image --fault`,
//! `--delay-ms`, `--fence-fail`): a capability code instead of the answer, a time the
//! "AI" takes, an e-fence image that fails inside its batch. The capabilities call these as
//! they examine each image; nothing here needs a rule or the control API.

use std::time::Duration;

use crate::catalogue::{code, Capability, Catalogue, Endpoint, Scope};
use crate::respond::Refusal;
use crate::vision::scene::Scene;

/// What a scene asks of the endpoint beyond its content: a time to take (the longest of
/// the images' counts), and a fault — if the endpoint has that code, it is the answer.
/// Ground truth is untrusted input: a scene with a box outside the `size` of its image, a
/// score outside [0, 1] or a delay over the cap is refused with the endpoint's parameter code.
pub(crate) fn honour(
    endpoint: &Endpoint,
    scene: &Scene,
    size: (u32, u32),
    what: &str,
    asked: &mut Asked,
) -> Result<(), Refusal> {
    scene.check_in(size.0, size.1).map_err(|why| {
        Refusal::new(
            parameter_code(&endpoint.capability),
            format!(
                "{what} carries ground truth the emulator cannot use: {why}; write it with `mock-server make-image`"
            ),
        )
    })?;
    asked.delay = asked.delay.max(Duration::from_millis(scene.delay_ms.unwrap_or(0)));
    let Some(code) = scene.fault else { return Ok(()) };
    match Catalogue::get().error(Some(&endpoint.name), code) {
        Some(entry) if entry.scope == Scope::Capability => {
            Err(Refusal::new(code, format!("{what} carries ground truth that asks for code {code}")))
        }
        _ => {
            let (name, has) = (&endpoint.name, listed(&fault_codes(&endpoint.name)));
            asked.note = Some(format!(
                "{what} carries ground truth that asks for code {code}, which {name} does not have ({has}); answered without it: make-image --endpoint {name} refuses such an image"
            ));
            Ok(())
        }
    }
}

/// What the images' ground truth asks beyond their content, gathered while they are read.
#[derive(Debug, Default)]
pub(crate) struct Asked {
    /// The time to take: the longest any image asks for.
    pub delay: Duration,
    /// Why a request for a fault was not honoured, for the success's `x-mock-reason`.
    pub note: Option<String>,
}

/// The capability codes an endpoint can answer: those an image's `fault` may ask for.
pub(crate) fn fault_codes(endpoint: &str) -> Vec<u32> {
    let errors = Catalogue::get().errors.iter();
    errors.filter(|e| e.scope == Scope::Capability && e.applies_to(endpoint)).map(|e| e.code).collect()
}

/// `it has 4001, 5000` or `it has none`.
pub(crate) fn listed(codes: &[u32]) -> String {
    if codes.is_empty() {
        return "it has none".into();
    }
    let codes: Vec<String> = codes.iter().map(u32::to_string).collect();
    format!("it has {}", codes.join(", "))
}

/// The code an endpoint answers for a parameter it cannot use, such as bad ground truth.
fn parameter_code(capability: &Capability) -> u32 {
    match capability {
        Capability::Detect { .. } => code::detect::NOT_AN_OBJECT,
        Capability::Fence { .. } => code::fence::IMAGE_UNPARSABLE,
        Capability::FaceQuality { .. } | Capability::Liveness { .. } => code::face::BAD_FORMAT,
        Capability::Action { .. } => code::action::IMAGE_UNPARSABLE,
    }
}

/// Whether an image of an e-fence batch fails inside the batch's successful answer
/// (`"fence_fail": true`); other endpoints ignore the flag.
pub(crate) fn fails_in_fence(scene: &Scene) -> bool {
    scene.fence_fail
}
