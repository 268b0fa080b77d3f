//! e-fence, face quality, the liveness actions, fall and fight: one row per documented
//! code from its natural trigger, and the successes (one snapshot per endpoint) that
//! scenario images decide.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use contract_tests::{fixtures, image};
use rstest::rstest;
use serde_json::{json, Value};

use crate::util::start;

/// A scenario image from `fixtures/scenes/`, as base64.
fn scene(name: &str) -> String {
    STANDARD.encode(std::fs::read(fixtures::dir().join("scenes").join(name)).unwrap_or_else(|e| panic!("{name}: {e}")))
}

fn frames(prefix: &str, ext: &str, n: usize) -> Vec<String> {
    (1..=n).map(|i| scene(&format!("{prefix}-{i:02}.{ext}"))).collect()
}

/// `{"image1Content": …}` from frames, numbered from 1, skipping the numbers in `skip`.
fn liveness_body(frames: &[String], skip: &[usize]) -> Value {
    let mut body = serde_json::Map::new();
    for (i, f) in frames.iter().enumerate().filter(|(i, _)| !skip.contains(&(i + 1))) {
        body.insert(format!("image{}Content", i + 1), json!(f));
    }
    Value::Object(body)
}

fn gif() -> String {
    scene("workers.gif")
}

fn webp() -> String {
    STANDARD.encode(fixtures::image("scene-96x64.webp"))
}

/// A scenario image's bytes with `edit` applied, as base64: how damaged images are made.
fn damaged(name: &str, edit: impl FnOnce(&mut Vec<u8>)) -> String {
    let mut bytes = std::fs::read(fixtures::dir().join("scenes").join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    edit(&mut bytes);
    STANDARD.encode(bytes)
}

/// The PNG's chunks of `kind` dropped (`zero: false`) or their data zeroed (`zero: true`,
/// CRC left as it was).
fn png_chunks(png: &mut Vec<u8>, kind: &[u8; 4], zero: bool) {
    let mut out = png[..8].to_vec();
    let mut at = 8;
    while at + 12 <= png.len() {
        let len = u32::from_be_bytes(png[at..at + 4].try_into().expect("4 bytes")) as usize;
        let mut chunk = png[at..at + 12 + len].to_vec();
        if &chunk[4..8] == kind && zero {
            chunk[8..8 + len].fill(0);
        }
        if &chunk[4..8] != kind || zero {
            out.extend_from_slice(&chunk);
        }
        at += 12 + len;
    }
    *png = out;
}

/// Cuts a JPEG just before its first scan (SOS).
fn cut_before_scan(jpg: &mut Vec<u8>) {
    let sos = jpg.windows(2).position(|w| w == [0xff, 0xda]).expect("a scan");
    jpg.truncate(sos);
}

const LEFT_HALF: &str = "0,0,160,0,160,240,0,240";

fn trigger(case: &str) -> Vec<u8> {
    let png = || scene("workers.png");
    let body = match case {
        // e-fence
        "fence_body_over_35_mib" => {
            return format!(r#"{{"image":["{}"],"area":"{LEFT_HALF}"}}"#, "A".repeat(35 * 1024 * 1024)).into_bytes()
        }
        "fence_image_over_5_mib" => json!({"image": ["A".repeat(5 * 1024 * 1024 + 4)], "area": LEFT_HALF}),
        "fence_body_empty" => return Vec::new(),
        "fence_body_a_list" => json!([png()]),
        "fence_area_missing" => json!({"image": [png()]}),
        "fence_extra_key" => json!({"image": [png()], "area": LEFT_HALF, "threshold": 0.5}),
        "fence_image_a_string" => json!({"image": png(), "area": LEFT_HALF}),
        "fence_no_images" => json!({"image": [], "area": LEFT_HALF}),
        "fence_33_images" => json!({"image": vec![png(); 33], "area": LEFT_HALF}),
        "fence_image_not_base64" => json!({"image": [png(), "not base64!"], "area": LEFT_HALF}),
        "fence_area_a_list" => json!({"image": [png()], "area": [LEFT_HALF]}),
        "fence_area_two_points" => json!({"image": [png()], "area": "0,0,10,10"}),
        "fence_area_ten_points" => json!({"image": [png()], "area": "1,1,".repeat(10).trim_end_matches(',')}),
        "fence_area_not_numbers" => json!({"image": [png()], "area": "0,0,a,b,5,5"}),
        "fence_area_outside_the_image" => json!({"image": [png()], "area": "0,0,400,0,400,240"}),
        "fence_gif_image" => json!({"image": [gif()], "area": LEFT_HALF}),
        "fence_png_data_zeroed" => {
            json!({"image": [damaged("workers.png", |b| png_chunks(b, b"IDAT", true))], "area": LEFT_HALF})
        }
        // hard-hat and work-clothes: damaged images of every accepted format
        "hat_png_without_pixel_data" => json!({"image": damaged("workers.png", |b| png_chunks(b, b"IDAT", false))}),
        "clothes_jpg_cut_before_its_scan" => json!({"image": damaged("workers.jpg", cut_before_scan)}),
        "hat_jpg_without_its_end" => json!({"image": damaged("workers.jpg", |b| b.truncate(b.len() - 2))}),
        "hat_bmp_cut_short" => json!({"image": damaged("workers.bmp", |b| b.truncate(b.len() / 2))}),
        "hat_gif_without_trailer" => json!({"image": damaged("workers.gif", |b| {
            let end = b.windows(11).position(|w| w == b"ctyun-mock:").unwrap_or(b.len());
            b.truncate(end - 1);
        })}),
        "hat_tif_strips_outside" => json!({"image": damaged("workers.tif", |b| {
            // 100 000 bytes of strip data cut out, the IFD offset moved to match.
            let ifd = u32::from_le_bytes(b[4..8].try_into().expect("4 bytes"));
            b.drain(10_000..110_000);
            b[4..8].copy_from_slice(&(ifd - 100_000).to_le_bytes());
        })}),
        // face quality
        "face_jpg_cut_before_its_scan" => json!({"imageContent": damaged("face-good.jpg", cut_before_scan)}),
        "face_body_empty" => return Vec::new(),
        "face_wrong_key" => json!({"image": scene("face-good.jpg")}),
        "face_not_json" => return b"imageContent=abc".to_vec(),
        "face_image_a_number" => json!({"imageContent": 42}),
        "face_not_base64" => json!({"imageContent": "%%%"}),
        "face_gif" => json!({"imageContent": gif()}),
        "face_spoof" => json!({"imageContent": scene("face-spoof.jpg")}),
        "face_too_big" => json!({"imageContent": scene("face-too-big.jpg")}),
        "face_no_face" => json!({"imageContent": scene("face-none.bmp")}),
        "face_two_faces" => json!({"imageContent": scene("face-two.png")}),
        // liveness (on the shake endpoint)
        "live_body_empty" => return Vec::new(),
        "live_wrong_key" => json!({"imageContent": scene("face-good.jpg")}),
        "live_not_json" => return b"[1,2".to_vec(),
        "live_frame_a_number" => json!({"image1Content": 1, "image2Content": 2, "image3Content": 3}),
        "live_gif_frame" => liveness_body(&[gif(), scene("face-good.jpg"), scene("face-good.jpg")], &[]),
        "live_spoof_frame" => {
            liveness_body(&[scene("face-spoof.jpg"), scene("face-good.jpg"), scene("face-good.jpg")], &[])
        }
        "live_frame_too_big" => {
            liveness_body(&[scene("face-good.jpg"), scene("face-too-big.jpg"), scene("face-good.jpg")], &[])
        }
        "live_two_frames" => liveness_body(&frames("still", "png", 2), &[]),
        "live_36_frames" => liveness_body(&vec![scene("still-01.png"); 36], &[]),
        "live_frame_3_missing" => liveness_body(&frames("still", "png", 4), &[3]),
        "live_frame_not_base64" => liveness_body(&[scene("still-01.png"), "@@@".into(), scene("still-01.png")], &[]),
        "live_webp_frame" => liveness_body(&[scene("face-good.jpg"), webp(), scene("face-good.jpg")], &[]),
        "live_frame_cut_short" => liveness_body(
            &[scene("face-good.jpg"), damaged("face-good.jpg", |b| b.truncate(b.len() - 2)), scene("face-good.jpg")],
            &[],
        ),
        "live_frame_without_a_face" => {
            liveness_body(&[scene("still-01.png"), scene("face-none.bmp"), scene("still-01.png")], &[])
        }
        "live_frame_with_two_faces" => {
            liveness_body(&[scene("face-two.png"), scene("still-01.png"), scene("still-01.png")], &[])
        }
        // fall (fight shares the checks)
        "fall_body_a_list" => json!([scene("fall-01.jpg")]),
        "fall_not_json" => return b"{images:".to_vec(),
        "fall_images_missing" => json!({"image": [scene("fall-01.jpg")]}),
        "fall_images_a_string" => json!({"images": scene("fall-01.jpg")}),
        "fall_no_frames" => json!({"images": []}),
        "fall_65_frames" => json!({"images": vec![scene("fall-01.jpg"); 65]}),
        "fall_frame_not_base64" => json!({"images": [scene("fall-01.jpg"), "!"]}),
        "fall_gif_frame" => json!({"images": [gif()]}),
        "fall_bmp_frame_cut_short" => {
            json!({"images": [scene("fall-01.jpg"), damaged("face-none.bmp", |b| b.truncate(b.len() / 2))]})
        }
        "fall_png_frame_data_zeroed" => json!({"images": [damaged("fight-01.png", |b| png_chunks(b, b"IDAT", true))]}),
        // Ground truth asking for a server-side failure.
        "fence_fault" | "face_fault" | "live_fault" | "fall_fault" => return fault_body(case, 5000),
        "fence_fault_5001" | "fall_fault_5001" => return fault_body(case, 5001),
        "fence_fault_5002" => return fault_body(case, 5002),
        other => panic!("no trigger named {other}"),
    };
    body.to_string().into_bytes()
}

fn fault_body(case: &str, code: u32) -> Vec<u8> {
    let image = scene(&format!("fault-{code}.png"));
    let body = match case.split('_').next() {
        Some("fence") => json!({"image": [image], "area": "0,0,100,0,100,100"}),
        Some("face") => json!({"imageContent": image}),
        Some("live") => liveness_body(&[image.clone(), image.clone(), image], &[]),
        _ => json!({"images": [image]}),
    };
    body.to_string().into_bytes()
}

#[rstest]
#[case::fence_body_over_35_mib("fence", "fence_body_over_35_mib", 4002, "at most 36700160 are accepted")]
#[case::fence_image_over_5_mib("fence", "fence_image_over_5_mib", 4002, "image 1 is 5242884 base64 characters")]
#[case::fence_body_empty("fence", "fence_body_empty", 4004, "the body is empty")]
#[case::fence_body_a_list("fence", "fence_body_a_list", 4004, "not an object (an array)")]
#[case::fence_area_missing("fence", "fence_area_missing", 4005, "keys sent: image")]
#[case::fence_extra_key("fence", "fence_extra_key", 4005, "keys sent: area, image, threshold")]
#[case::fence_image_a_string("fence", "fence_image_a_string", 4006, "`image` must be a list")]
#[case::fence_no_images("fence", "fence_no_images", 4007, "`image` has 0 images")]
#[case::fence_33_images("fence", "fence_33_images", 4007, "`image` has 33 images")]
#[case::fence_image_not_base64("fence", "fence_image_not_base64", 4009, "image 2: the image is not base64")]
#[case::fence_area_a_list("fence", "fence_area_a_list", 4011, "`area` is an array")]
#[case::fence_area_two_points("fence", "fence_area_two_points", 4012, "area has 2 points")]
#[case::fence_area_ten_points("fence", "fence_area_ten_points", 4012, "area has 10 points")]
#[case::fence_area_not_numbers("fence", "fence_area_not_numbers", 4012, "not a number")]
#[case::fence_area_outside_the_image(
    "fence",
    "fence_area_outside_the_image",
    4013,
    "reaches outside image 1 (320x240)"
)]
#[case::fence_gif_image("fence", "fence_gif_image", 4013, "gif images are not accepted here")]
#[case::fence_png_data_zeroed(
    "fence",
    "fence_png_data_zeroed",
    4009,
    "image 1: the png's IDAT chunk fails its crc check"
)]
#[case::hat_png_without_pixel_data(
    "hat",
    "hat_png_without_pixel_data",
    4003,
    "the png has no pixel data (no IDAT chunk)"
)]
#[case::clothes_jpg_cut_before_its_scan(
    "clothes",
    "clothes_jpg_cut_before_its_scan",
    4003,
    "the jpg ends before its scan"
)]
#[case::hat_jpg_without_its_end("hat", "hat_jpg_without_its_end", 4003, "without an end-of-image marker (EOI)")]
#[case::hat_bmp_cut_short("hat", "hat_bmp_cut_short", 4003, "the bmp's pixel array needs 230400 bytes")]
#[case::hat_gif_without_trailer("hat", "hat_gif_without_trailer", 4003, "the gif is cut short before its trailer")]
#[case::hat_tif_strips_outside("hat", "hat_tif_strips_outside", 4003, "lies outside the file")]
#[case::face_jpg_cut_before_its_scan(
    "face_quality",
    "face_jpg_cut_before_its_scan",
    4203,
    "the jpg ends before its scan"
)]
#[case::face_body_empty("face_quality", "face_body_empty", 4201, "the body is empty")]
#[case::face_wrong_key("face_quality", "face_wrong_key", 4201, "keys sent: image")]
#[case::face_not_json("face_quality", "face_not_json", 4202, "not valid JSON")]
#[case::face_image_a_number("face_quality", "face_image_a_number", 4202, "`imageContent` is a number")]
#[case::face_not_base64("face_quality", "face_not_base64", 4203, "not base64")]
#[case::face_gif("face_quality", "face_gif", 4203, "gif images are not accepted here")]
#[case::face_spoof("face_quality", "face_spoof", 4204, "spoofed face")]
#[case::face_too_big("face_quality", "face_too_big", 4205, "1000x1300")]
#[case::face_no_face("face_quality", "face_no_face", 4212, "shows no face")]
#[case::face_two_faces("face_quality", "face_two_faces", 4213, "shows 2 faces")]
#[case::live_body_empty("liveness_shake", "live_body_empty", 4201, "the body is empty")]
#[case::live_wrong_key("liveness_shake", "live_wrong_key", 4201, "`imageContent` is not a frame key")]
#[case::live_not_json("liveness_shake", "live_not_json", 4202, "not valid JSON")]
#[case::live_frame_a_number("liveness_shake", "live_frame_a_number", 4202, "image1Content is a number")]
#[case::live_gif_frame("liveness_shake", "live_gif_frame", 4210, "frame 1: gif images are not accepted")]
#[case::live_spoof_frame("liveness_shake", "live_spoof_frame", 4204, "frame 1 shows a spoofed face")]
#[case::live_frame_too_big("liveness_shake", "live_frame_too_big", 4205, "frame 2 is 1000x1300")]
#[case::live_two_frames("liveness_shake", "live_two_frames", 4207, "2 frames sent")]
#[case::live_36_frames("liveness_shake", "live_36_frames", 4208, "36 frames sent")]
#[case::live_frame_3_missing("liveness_shake", "live_frame_3_missing", 4209, "frame 3 is missing")]
#[case::live_frame_not_base64("liveness_shake", "live_frame_not_base64", 4210, "frame 2 could not be decoded")]
#[case::live_webp_frame("liveness_shake", "live_webp_frame", 4210, "frame 2: webp images are not accepted")]
#[case::live_frame_cut_short(
    "liveness_shake",
    "live_frame_cut_short",
    4203,
    "frame 2: the jpg ends inside its scan data"
)]
#[case::live_frame_without_a_face("liveness_shake", "live_frame_without_a_face", 4212, "frame 2 shows no face")]
#[case::live_frame_with_two_faces("liveness_shake", "live_frame_with_two_faces", 4213, "frame 1 shows 2 faces")]
#[case::fall_body_a_list("fall", "fall_body_a_list", 4003, "not an object")]
#[case::fall_not_json("fall", "fall_not_json", 4003, "not valid JSON")]
#[case::fall_images_missing("fall", "fall_images_missing", 4010, "no `images` key (keys sent: image)")]
#[case::fall_images_a_string("fall", "fall_images_a_string", 4012, "must be a list")]
#[case::fall_no_frames("fall", "fall_no_frames", 4013, "0 frames")]
#[case::fall_65_frames("fall", "fall_65_frames", 4013, "65 frames")]
#[case::fall_frame_not_base64("fall", "fall_frame_not_base64", 4015, "frame 2")]
#[case::fall_gif_frame("fall", "fall_gif_frame", 4015, "gif images are not accepted")]
#[case::fight_gif_frame("fight", "fall_gif_frame", 4015, "gif images are not accepted")]
#[case::fall_bmp_frame_cut_short("fall", "fall_bmp_frame_cut_short", 4015, "frame 2: the bmp's pixel array needs")]
#[case::fight_png_frame_data_zeroed(
    "fight",
    "fall_png_frame_data_zeroed",
    4015,
    "frame 1: the png's IDAT chunk fails its crc"
)]
#[case::fight_images_missing("fight", "fall_images_missing", 4010, "no `images` key")]
#[case::fight_body_a_list("fight", "fall_body_a_list", 4003, "not an object")]
#[case::fight_images_a_string("fight", "fall_images_a_string", 4012, "must be a list")]
#[case::fight_65_frames("fight", "fall_65_frames", 4013, "65 frames")]
#[case::fence_fault("fence", "fence_fault", 5000, "asks for code 5000")]
#[case::fence_fault_5001("fence", "fence_fault_5001", 5001, "image 1 carries ground truth")]
#[case::fence_fault_5002("fence", "fence_fault_5002", 5002, "asks for code 5002")]
#[case::face_fault("face_quality", "face_fault", 5000, "asks for code 5000")]
#[case::live_fault("liveness_mouth", "live_fault", 5000, "frame 1 carries ground truth")]
#[case::fall_fault("fall", "fall_fault", 5000, "asks for code 5000")]
#[case::fall_fault_5001("fall", "fall_fault_5001", 5001, "asks for code 5001")]
#[case::fight_fault("fight", "fall_fault", 5000, "asks for code 5000")]
#[case::fight_fault_5001("fight", "fall_fault_5001", 5001, "asks for code 5001")]
#[tokio::test]
async fn a_bad_request_gets_the_endpoints_documented_code(
    #[case] endpoint: &str,
    #[case] case: &str,
    #[case] code: u32,
    #[case] reason: &str,
) {
    let s = start().await;
    let reply = s.client.post(&fixtures::path(endpoint), trigger(case)).await;
    let entry = fixtures::error(endpoint, code);
    let expected_code = if entry["string_code"] == true { json!(code.to_string()) } else { json!(code) };
    // 4209 names the missing frame; its trigger leaves out frame 3.
    let details = entry["message"].as_str().unwrap_or_default().replace("{index}", "3");
    let body = reply.json();
    assert_eq!(
        body,
        json!({"code": expected_code, "message": "error", "details": details}),
        "{case}: {}",
        reply.reason()
    );
    assert_eq!(reply.status, entry["status"].as_u64().unwrap_or(0) as u16);
    assert!(reply.reason().contains(reason), "{case}: reason {:?} lacks {reason:?}", reply.reason());
    // The same code forced (docs/faults.md) answers exactly as its natural trigger does;
    // a forced 4209 names frame 1, this trigger frame 3.
    if code != 4209 {
        let call = s.client.call(&fixtures::path(endpoint), trigger(case)).header("x-mock-force", &code.to_string());
        let forced = s.client.send(call).await;
        assert_eq!((forced.status, forced.json()), (reply.status, body), "{case}: forced {code} differs");
    }
}

#[tokio::test]
async fn the_4209_message_names_the_missing_frame() {
    let s = start().await;
    let body = liveness_body(&frames("still", "png", 6), &[4]);
    let reply = s.client.post(&fixtures::path("liveness_eye"), body.to_string()).await;
    assert_eq!(reply.json()["details"], "请传输第4张图片");
}

async fn success(endpoint: &str, body: Value) -> Value {
    let s = start().await;
    let reply = s.client.post(&fixtures::path(endpoint), body.to_string()).await;
    assert_eq!((reply.status, reply.code()), (200, 0), "{endpoint}: {}", reply.reason());
    reply.json()
}

#[tokio::test]
async fn hat_and_clothes_see_what_the_scenario_image_shows() {
    for ext in ["png", "jpg", "bmp", "gif", "tif"] {
        let hat = success("hat", json!({"image": scene(&format!("workers.{ext}"))})).await;
        let classes: Vec<&str> =
            hat["result"].as_array().expect("list").iter().filter_map(|d| d["classname"].as_str()).collect();
        assert_eq!(classes, ["blue_hat", "yellow_hat"], "{ext}");
        let clothes = success("clothes", json!({"image": scene(&format!("workers.{ext}"))})).await;
        let classes: Vec<&str> =
            clothes["result"].as_array().expect("list").iter().filter_map(|d| d["classname"].as_str()).collect();
        assert_eq!(classes, ["blue", "red", "light"], "{ext}");
    }
    insta::assert_json_snapshot!("clothes-success", success("clothes", json!({"image": scene("workers.jpg")})).await);
}

#[tokio::test]
async fn an_image_without_ground_truth_is_looked_up_in_the_catalogue() {
    let hat = success("hat", json!({"image": fixtures::image_b64("scene-96x64.bmp")})).await;
    assert_eq!(hat["result"][0]["classname"], "blue_hat");
    assert_eq!(hat["result"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn the_fence_reports_people_whose_feet_stand_inside_the_area() {
    let png = scene("workers.png");
    let body = success("fence", json!({"image": [png.clone(), png], "area": LEFT_HALF})).await;
    assert_eq!(body["message"], json!({"success": 2, "fail": 0}));
    assert_eq!(body["result"][0]["target_num"], 2);
    assert_eq!(body["result"][0]["location"][1], json!({"left": 130, "top": 50, "width": 55, "height": 165}));
    insta::assert_json_snapshot!("fence-success", body);
    // The right half, drawn the other way round, holds only the third worker.
    let right = success("fence", json!({"image": [scene("workers.bmp")], "area": "320,240,320,0,160,0,160,240"})).await;
    assert_eq!(right["result"][0]["location"], json!([{"left": 230, "top": 70, "width": 45, "height": 140}]));
}

#[tokio::test]
async fn face_quality_reports_the_faces_quality() {
    assert_eq!(
        success("face_quality", json!({"imageContent": scene("face-medium.png")})).await["result"]["face_quality"],
        "medium"
    );
    let good = success("face_quality", json!({"imageContent": scene("face-good.jpg")})).await;
    insta::assert_json_snapshot!("face_quality-success", good);
}

#[tokio::test]
async fn liveness_sees_the_action_only_on_its_own_endpoint() {
    let shake = liveness_body(&frames("shake", "jpg", 8), &[]);
    let body = success("liveness_shake", shake.clone()).await;
    insta::assert_json_snapshot!("liveness-success", body);
    assert_eq!(body["result"]["action_detected"], true);
    assert_eq!(success("liveness_up", shake).await["result"]["action_detected"], false);
    assert_eq!(
        success("liveness_shake", liveness_body(&frames("still", "png", 6), &[])).await["result"]["action_detected"],
        false
    );
}

/// Frames that carry their action as ground truth, made by the suite: still, still, `action`.
fn action_frames(action: &str) -> Value {
    let frame = |action: Option<&str>| {
        let scene = image::Scene { action: action.map(str::to_string), ..image::Scene::default() };
        STANDARD.encode(image::png(&scene, 64, 80).expect("a frame"))
    };
    liveness_body(&[frame(None), frame(None), frame(Some(action))], &[])
}

#[rstest]
#[case::up("liveness_up", "up")]
#[case::down("liveness_down", "down")]
#[case::left("liveness_left", "left")]
#[case::right("liveness_right", "right")]
#[case::mouth("liveness_mouth", "mouth")]
#[case::eye("liveness_eye", "eye")]
#[tokio::test]
async fn each_liveness_endpoint_sees_its_own_action(#[case] endpoint: &str, #[case] action: &str) {
    let body = success(endpoint, action_frames(action)).await;
    assert_eq!(body["result"]["action_detected"], true, "{endpoint}");
    insta::assert_json_snapshot!(format!("{endpoint}-success"), body);
    let other = if action == "up" { "down" } else { "up" };
    assert_eq!(success(endpoint, action_frames(other)).await["result"]["action_detected"], false, "{endpoint}");
}

#[tokio::test]
async fn a_missing_or_broken_frame_after_the_action_does_not_matter() {
    // The head shakes from frame 5: frame 7 missing, or frame 6 broken, comes too late to count.
    let shake = frames("shake", "jpg", 8);
    assert_eq!(success("liveness_shake", liveness_body(&shake, &[7])).await["result"]["action_detected"], true);
    let mut broken = shake.clone();
    broken[5] = "@@@".into();
    assert_eq!(success("liveness_shake", liveness_body(&broken, &[])).await["result"]["action_detected"], true);
    // Before the action, the same faults are errors.
    let s = start().await;
    let early = s.client.post(&fixtures::path("liveness_shake"), liveness_body(&shake, &[3]).to_string()).await;
    assert_eq!(early.json()["code"], "4209");
}

#[tokio::test]
async fn fall_and_fight_scores_come_from_the_frames() {
    let fall = frames("fall", "jpg", 4);
    let body = success("fall", json!({"images": fall})).await;
    insta::assert_json_snapshot!("fall-success", body);
    assert_eq!(body["result"]["score"], 0.93);
    let fight = success("fight", json!({"images": frames("fight", "png", 4)})).await;
    assert_eq!(fight["result"]["score"], 0.88);
    insta::assert_json_snapshot!("fight-success", fight);
    // The fall frames show no fight; frames without ground truth score low, deterministically.
    assert_eq!(success("fight", json!({"images": frames("fall", "jpg", 4)})).await["result"]["score"], 0.0);
    let plain = json!({"images": [fixtures::image_b64("scene-96x64.png")]});
    let (a, b) = (success("fall", plain.clone()).await, success("fall", plain).await);
    assert_eq!(a, b);
    assert!(a["result"]["score"].as_f64().is_some_and(|s| (0.0..0.2).contains(&s)));
}

/// Every capability code of the manual's §4.3 tables (`fixtures/errors.json`) has a row
/// above — or in `hat.rs` — that produces it from a natural request.
#[test]
fn every_documented_capability_code_has_a_natural_trigger() {
    let rows = |source: &str, default_endpoint: Option<&str>| -> Vec<(String, u64)> {
        source
            .lines()
            .filter_map(|line| line.trim().strip_prefix("#[case::"))
            .filter_map(|line| {
                let args: Vec<&str> = line.split_once('(')?.1.split(',').map(|a| a.trim().trim_matches('"')).collect();
                match default_endpoint {
                    Some(e) => Some((e.to_string(), args.get(1)?.parse().ok()?)),
                    None => Some((args.first()?.to_string(), args.get(2)?.parse().ok()?)),
                }
            })
            .collect()
    };
    let mut covered = rows(include_str!("capabilities.rs"), None);
    covered.extend(rows(include_str!("hat.rs"), Some("hat")));
    let catalogue: Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures::dir().join("errors.json")).expect("errors.json"))
            .expect("json");
    for entry in catalogue["codes"].as_array().expect("codes").iter().filter(|e| e["scope"] == "capability") {
        let code = entry["code"].as_u64().expect("code");
        let endpoints: Vec<&str> =
            entry["endpoints"].as_array().expect("endpoints").iter().filter_map(Value::as_str).collect();
        assert!(
            covered.iter().any(|(e, c)| *c == code && endpoints.contains(&e.as_str())),
            "no test row produces {code} ({}) on {endpoints:?}",
            entry["message"]
        );
    }
}
