//! Failures an image asks for in its ground truth (`mock-server make-image --fault`,
//! `--delay-ms`, `--fence-fail`): a capability code instead of the answer, a time the
//! "AI" takes, an e-fence image that fails inside its batch. The capabilities call these as
//! they examine each image; nothing here needs a rule or the control API.

use std::time::Duration;

use crate::catalogue::{Catalogue, Endpoint, Scope};
use crate::respond::Refusal;
use crate::vision::scene::Scene;

/// What a scene asks of the endpoint beyond its content: a time to take (the longest of
/// the images' counts), and a fault — if the endpoint has that code, it is the answer.
pub(crate) fn honour(endpoint: &Endpoint, scene: &Scene, what: &str, delay: &mut Duration) -> Result<(), Refusal> {
    *delay = (*delay).max(Duration::from_millis(scene.delay_ms.unwrap_or(0)));
    let Some(code) = scene.fault else { return Ok(()) };
    match Catalogue::get().error(Some(&endpoint.name), code) {
        Some(entry) if entry.scope == Scope::Capability => {
            Err(Refusal::new(code, format!("{what} carries ground truth that asks for code {code}")))
        }
        _ => Ok(()),
    }
}

/// Whether an image of an e-fence batch fails inside the batch's successful answer
/// (`"fence_fail": true`); other endpoints ignore the flag.
pub(crate) fn fails_in_fence(scene: &Scene) -> bool {
    scene.fence_fail
}
