//! `mock-server make-image`: writes scenario images — or a sequence of frames — whose
//! ground truth decides what every endpoint answers — including the failures it asks for
//! (`--fault`, `--delay-ms`, `--fence-fail`; see `faults::image`). The command-line syntax
//! is parsed here so the binary stays thin.

use std::path::{Path, PathBuf};

use crate::catalogue::{Capability, Catalogue};
use crate::vision::compose::compose;
use crate::vision::names;
pub use crate::vision::scene::{Face, Person, Scene};
pub use crate::vision::ImageFormat;

/// What to draw and where to write it.
#[derive(Debug, Clone)]
pub struct Order {
    pub scene: Scene,
    pub width: u32,
    pub height: u32,
    pub format: Option<ImageFormat>,
    /// 1 for a single image; more writes `name-01.ext`, `name-02.ext`, ….
    pub frames: usize,
    /// With frames: the first frame (1-based) that shows the action; earlier ones do not.
    pub action_at: Option<usize>,
    pub output: PathBuf,
}

/// With `--endpoint NAME`: the endpoint exists and can answer the scene's `--fault` code
/// (an image asking for a code its endpoint lacks would be answered as if it asked for none).
pub fn check_endpoint(endpoint: &str, fault: Option<u32>) -> Result<(), String> {
    let catalogue = crate::catalogue::Catalogue::get();
    if catalogue.endpoint(endpoint).is_none() {
        let names: Vec<&str> = catalogue.endpoints.iter().map(|e| e.name.as_str()).collect();
        return Err(format!("--endpoint `{endpoint}` is not an api; use one of {}", names.join(", ")));
    }
    let Some(code) = fault else { return Ok(()) };
    let codes = crate::faults::image::fault_codes(endpoint);
    if codes.contains(&code) {
        return Ok(());
    }
    let has = crate::faults::image::listed(&codes);
    Err(format!("--fault {code}: {endpoint} cannot answer it ({has}); pick one of those, or another --endpoint"))
}

/// `640x480` → (640, 480).
pub fn parse_size(text: &str) -> Result<(u32, u32), String> {
    let (w, h) = text.split_once(['x', 'X']).ok_or_else(|| format!("size `{text}` is WIDTHxHEIGHT, e.g. 640x480"))?;
    let side = |s: &str| s.trim().parse::<u32>().ok().filter(|v| *v > 0);
    side(w).zip(side(h)).ok_or_else(|| format!("size `{text}` is WIDTHxHEIGHT in whole pixels, e.g. 640x480"))
}

/// `LEFT,TOP,WIDTH,HEIGHT[:HAT[:CLOTHES]]`, `-` for none: `10,20,120,300:blue_hat:blue`.
pub fn parse_person(text: &str) -> Result<Person, String> {
    let mut parts = text.split(':');
    let numbers: Vec<u32> = parts
        .next()
        .unwrap_or_default()
        .split(',')
        .map(|n| n.trim().parse().ok())
        .collect::<Option<_>>()
        .unwrap_or_default();
    let [left, top, width, height] = numbers[..] else {
        return Err(format!(
            "person `{text}` is LEFT,TOP,WIDTH,HEIGHT[:HAT[:CLOTHES]], e.g. 10,20,120,300:blue_hat:blue"
        ));
    };
    if width == 0 || height == 0 {
        return Err(format!("person `{text}` needs a width and height above 0"));
    }
    let named = |p: Option<&str>| p.filter(|s| !s.is_empty() && *s != "-").map(str::to_string);
    let (hat, clothes) = (named(parts.next()), named(parts.next()));
    if parts.next().is_some() {
        return Err(format!("person `{text}` has more than two labels (HAT and CLOTHES)"));
    }
    Ok(Person { bbox: [left, top, width, height], hat, clothes })
}

/// `good`, `medium`, `bad`, optionally `:spoof`.
pub fn parse_face(text: &str) -> Result<Face, String> {
    let (quality, flag) = text.split_once(':').map_or((text, None), |(q, f)| (q, Some(f)));
    if flag.is_some_and(|f| f != "spoof") {
        return Err(format!("face `{text}` is QUALITY[:spoof], e.g. good or good:spoof"));
    }
    Ok(Face { quality: quality.to_string(), spoof: flag.is_some() })
}

/// The format named by `--format`, else by the output's extension.
fn format_of(order: &Order) -> Result<ImageFormat, String> {
    if let Some(f) = order.format {
        return Ok(f);
    }
    let ext = order.output.extension().and_then(|e| e.to_str()).unwrap_or_default().to_ascii_lowercase();
    serde_json::from_value(serde_json::Value::String(if ext == "tiff" { "tif".into() } else { ext.clone() }))
        .map_err(|_| format!("cannot tell the format from `.{ext}`; use --format png|jpg|bmp|gif|tif"))
}

/// Writes the image or frames; returns the paths written.
pub fn run(order: &Order) -> Result<Vec<PathBuf>, String> {
    let format = format_of(order)?;
    if order.frames == 0 || order.frames > 64 {
        return Err("--frames is 1 to 64".into());
    }
    if order.scene.fence_fail {
        fence_accepts(format)?;
    }
    let mut written = Vec::new();
    for frame in 1..=order.frames {
        let mut scene = order.scene.clone();
        if order.frames > 1 && order.action_at.is_some_and(|at| frame < at) {
            scene.action = None;
        }
        let bytes = compose(&scene, order.width, order.height, format)?;
        let path = if order.frames == 1 { order.output.clone() } else { numbered(&order.output, frame) };
        std::fs::write(&path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

/// An image made to fail inside an e-fence batch must be one e-fence accepts: any other
/// format fails the whole call (4013) instead.
fn fence_accepts(format: ImageFormat) -> Result<(), String> {
    let catalogue = Catalogue::get();
    let fences = catalogue.endpoints.iter().filter(|e| matches!(e.capability, Capability::Fence { .. }));
    let formats: Vec<ImageFormat> = fences.flat_map(|e| e.formats.iter().copied()).collect();
    if formats.contains(&format) {
        return Ok(());
    }
    Err(format!("--fence-fail: e-fence refuses {} images as a whole; use --format {}", format.name(), names(&formats)))
}

/// `scene.jpg`, 3 → `scene-03.jpg`.
fn numbered(path: &Path, n: usize) -> PathBuf {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("frame");
    let ext = path.extension().and_then(|e| e.to_str()).map(|e| format!(".{e}")).unwrap_or_default();
    path.with_file_name(format!("{stem}-{n:02}{ext}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_people_faces_and_sizes() {
        let p = parse_person("10,20,120,300:blue_hat:blue").expect("person");
        assert_eq!(
            (p.bbox, p.hat.as_deref(), p.clothes.as_deref()),
            ([10, 20, 120, 300], Some("blue_hat"), Some("blue"))
        );
        assert_eq!(parse_person("1,2,3,4:-:red").expect("person").hat, None);
        assert!(parse_person("1,2,3").is_err());
        assert!(parse_person("1,2,0,4").is_err());
        assert_eq!(parse_face("good:spoof"), Ok(Face { quality: "good".into(), spoof: true }));
        assert!(parse_face("good:fake").is_err());
        assert_eq!(parse_size("640x480"), Ok((640, 480)));
        assert!(parse_size("640").is_err());
        assert_eq!(numbered(Path::new("out/scene.jpg"), 3), PathBuf::from("out/scene-03.jpg"));
    }

    #[test]
    fn a_fence_failure_is_written_only_in_a_format_e_fence_accepts() {
        assert_eq!(fence_accepts(ImageFormat::Png), Ok(()));
        assert_eq!(
            fence_accepts(ImageFormat::Gif),
            Err("--fence-fail: e-fence refuses gif images as a whole; use --format png, jpg, bmp".into())
        );
    }
}
