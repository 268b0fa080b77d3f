//! The compiled-in fixtures checked: routes unique, capabilities and limits as the manual
//! gives them, and every `code::…` constant present in `errors.json` with the scope and
//! endpoints its module names.

use rstest::rstest;

use super::*;

/// Which endpoints a constant's module speaks for, by capability (read from routes.json).
#[derive(Debug, Clone, Copy)]
enum Family {
    /// A gateway code: every endpoint.
    All,
    /// `code::detect`: hard-hat and work-clothes.
    Detect,
    /// `code::fence`: e-fence.
    Fence,
    /// `code::face`: face quality and the liveness actions.
    Face,
    /// `code::face` codes about frames: the liveness actions only.
    Liveness,
    /// `code::action`: fall and fight.
    Action,
}

impl Family {
    fn holds(self, capability: &Capability) -> bool {
        matches!(
            (self, capability),
            (Family::All, _)
                | (Family::Detect, Capability::Detect { .. })
                | (Family::Fence, Capability::Fence { .. })
                | (Family::Face, Capability::FaceQuality { .. } | Capability::Liveness { .. })
                | (Family::Liveness, Capability::Liveness { .. })
                | (Family::Action, Capability::Action { .. })
        )
    }

    fn endpoints(self) -> Vec<&'static str> {
        let cat = Catalogue::get();
        cat.endpoints.iter().filter(|e| self.holds(&e.capability)).map(|e| e.name.as_str()).collect()
    }
}

#[rstest]
#[case::ak_unknown(code::AK_UNKNOWN, Family::All)]
#[case::signature(code::SIGNATURE, Family::All)]
#[case::appkey_missing(code::APPKEY_MISSING, Family::All)]
#[case::appkey_invalid(code::APPKEY_INVALID, Family::All)]
#[case::request_type(code::REQUEST_TYPE, Family::All)]
#[case::throttled(code::THROTTLED, Family::All)]
#[case::ip_not_allowed_by_app(code::IP_NOT_ALLOWED_BY_APP, Family::All)]
#[case::ip_not_allowed_by_api(code::IP_NOT_ALLOWED_BY_API, Family::All)]
#[case::internal(code::INTERNAL, Family::All)]
#[case::service_unregistered(code::SERVICE_UNREGISTERED, Family::All)]
#[case::app_not_enabled(code::APP_NOT_ENABLED, Family::All)]
#[case::invalid_url(code::INVALID_URL, Family::All)]
#[case::package_expired(code::PACKAGE_EXPIRED, Family::All)]
#[case::paid_not_purchased(code::PAID_NOT_PURCHASED, Family::All)]
#[case::no_calls_left(code::NO_CALLS_LEFT, Family::All)]
#[case::detect_no_image(code::detect::NO_IMAGE, Family::Detect)]
#[case::detect_image_too_large(code::detect::IMAGE_TOO_LARGE, Family::Detect)]
#[case::detect_bad_base64(code::detect::BAD_BASE64, Family::Detect)]
#[case::detect_not_an_object(code::detect::NOT_AN_OBJECT, Family::Detect)]
#[case::fence_too_large(code::fence::TOO_LARGE, Family::Fence)]
#[case::fence_not_an_object(code::fence::NOT_AN_OBJECT, Family::Fence)]
#[case::fence_bad_keys(code::fence::BAD_KEYS, Family::Fence)]
#[case::fence_image_not_a_list(code::fence::IMAGE_NOT_A_LIST, Family::Fence)]
#[case::fence_image_count(code::fence::IMAGE_COUNT, Family::Fence)]
#[case::fence_image_unparsable(code::fence::IMAGE_UNPARSABLE, Family::Fence)]
#[case::fence_area_not_a_string(code::fence::AREA_NOT_A_STRING, Family::Fence)]
#[case::fence_area_malformed(code::fence::AREA_MALFORMED, Family::Fence)]
#[case::fence_area_outside(code::fence::AREA_OUTSIDE, Family::Fence)]
#[case::face_empty_or_wrong_key(code::face::EMPTY_OR_WRONG_KEY, Family::Face)]
#[case::face_bad_format(code::face::BAD_FORMAT, Family::Face)]
#[case::face_undecodable(code::face::UNDECODABLE, Family::Face)]
#[case::face_spoof(code::face::SPOOF, Family::Face)]
#[case::face_too_big(code::face::TOO_BIG, Family::Face)]
#[case::face_too_few_frames(code::face::TOO_FEW_FRAMES, Family::Liveness)]
#[case::face_too_many_frames(code::face::TOO_MANY_FRAMES, Family::Liveness)]
#[case::face_frame_missing(code::face::FRAME_MISSING, Family::Liveness)]
#[case::face_frame_undecodable(code::face::FRAME_UNDECODABLE, Family::Face)]
#[case::face_no_face(code::face::NO_FACE, Family::Face)]
#[case::face_several_faces(code::face::SEVERAL_FACES, Family::Face)]
#[case::action_not_an_object(code::action::NOT_AN_OBJECT, Family::Action)]
#[case::action_no_images(code::action::NO_IMAGES, Family::Action)]
#[case::action_images_not_a_list(code::action::IMAGES_NOT_A_LIST, Family::Action)]
#[case::action_image_count(code::action::IMAGE_COUNT, Family::Action)]
#[case::action_image_unparsable(code::action::IMAGE_UNPARSABLE, Family::Action)]
fn each_code_constant_is_in_errors_json_for_the_endpoints_its_module_names(#[case] code: u32, #[case] family: Family) {
    let cat = Catalogue::get();
    let scope = if matches!(family, Family::All) { Scope::Gateway } else { Scope::Capability };
    let endpoints = family.endpoints();
    assert!(!endpoints.is_empty(), "{family:?} names no endpoint of routes.json");
    for endpoint in endpoints {
        let entry = cat.error(Some(endpoint), code);
        let entry = entry.unwrap_or_else(|| panic!("{code} is not in errors.json for {endpoint}"));
        assert_eq!(entry.scope, scope, "{code} for {endpoint}");
    }
    if scope == Scope::Gateway {
        assert!(cat.error(None, code).is_some_and(|e| e.endpoints == ["*"]), "gateway code {code} is not for `*`");
    }
}

#[rstest]
#[case::detect(Family::Detect, &[4001, 4002, 4003, 4006])]
#[case::fence(Family::Fence, &[4002, 4004, 4005, 4006, 4007, 4009, 4011, 4012, 4013])]
#[case::face(Family::Face, &[4201, 4202, 4203, 4204, 4205, 4207, 4208, 4209, 4210, 4212, 4213])]
#[case::action(Family::Action, &[4003, 4010, 4012, 4013, 4015])]
fn every_4xxx_code_of_a_family_has_a_constant(#[case] family: Family, #[case] named: &[u32]) {
    // The table above is the constants of the family's module; a code errors.json adds
    // for these endpoints (bar the 5xxx server faults, which rules force) needs one too.
    let cat = Catalogue::get();
    for endpoint in family.endpoints() {
        for entry in cat.errors.iter().filter(|e| e.scope == Scope::Capability && e.applies_to(endpoint)) {
            assert!(entry.code >= 5000 || named.contains(&entry.code), "{endpoint} may answer {}", entry.code);
        }
    }
}

#[test]
fn the_families_are_the_endpoints_the_modules_name() {
    assert_eq!(Family::Detect.endpoints(), ["hat", "clothes"]);
    assert_eq!(Family::Fence.endpoints(), ["fence"]);
    assert_eq!(Family::Face.endpoints().len(), 8);
    assert_eq!(Family::Face.endpoints()[0], "face_quality");
    assert_eq!(Family::Liveness.endpoints().len(), 7);
    assert_eq!(Family::Action.endpoints(), ["fall", "fight"]);
}

#[test]
fn every_endpoint_has_a_unique_route() {
    let cat = Catalogue::get();
    let mut seen = std::collections::HashSet::new();
    for e in &cat.endpoints {
        assert!(seen.insert((e.api_id.as_str(), e.path.as_str())), "{} twice", e.name);
        assert!(e.image_limit <= e.body_limit, "{}: image limit above body limit", e.name);
    }
    assert_eq!(cat.endpoints.len(), 13);
}

/// Limits as DIGEST §2 gives them.
const FACE: Size = Size { width: 960, height: 1280 };
const LIVENESS: Count = Count { min: 3, max: 35, advised_min: Some(6), advised_max: Some(10) };
const ACTION: Count = Count { min: 1, max: 64, advised_min: Some(16), advised_max: None };

#[rstest]
#[case::hat("hat", Capability::Detect { wear: Wear::Hat })]
#[case::clothes("clothes", Capability::Detect { wear: Wear::Clothes })]
#[case::fence("fence", Capability::Fence { images: Count { min: 1, max: 32, advised_min: None, advised_max: None } })]
#[case::face_quality("face_quality", Capability::FaceQuality { max_size: FACE })]
#[case::liveness_shake("liveness_shake", Capability::Liveness { action: "shake".into(), frames: LIVENESS, max_size: FACE })]
#[case::liveness_up("liveness_up", Capability::Liveness { action: "up".into(), frames: LIVENESS, max_size: FACE })]
#[case::liveness_down("liveness_down", Capability::Liveness { action: "down".into(), frames: LIVENESS, max_size: FACE })]
#[case::liveness_left("liveness_left", Capability::Liveness { action: "left".into(), frames: LIVENESS, max_size: FACE })]
#[case::liveness_right("liveness_right", Capability::Liveness { action: "right".into(), frames: LIVENESS, max_size: FACE })]
#[case::liveness_mouth("liveness_mouth", Capability::Liveness { action: "mouth".into(), frames: LIVENESS, max_size: FACE })]
#[case::liveness_eye("liveness_eye", Capability::Liveness { action: "eye".into(), frames: LIVENESS, max_size: FACE })]
#[case::fall("fall", Capability::Action { incident: Incident::Fall, frames: ACTION })]
#[case::fight("fight", Capability::Action { incident: Incident::Fight, frames: ACTION })]
fn each_endpoints_capability_and_limits_come_from_routes_json(#[case] name: &str, #[case] expected: Capability) {
    let endpoint = Catalogue::get().endpoint(name).unwrap_or_else(|| panic!("no endpoint {name}"));
    assert_eq!(endpoint.capability, expected);
}

#[rstest]
#[case::unknown_capability(r#"{"capability": "ocr"}"#, "unknown capability `ocr`")]
#[case::detect_without_target(r#"{"capability": "detect"}"#, "`looks_for` is None; expected one of hat, clothes")]
#[case::action_with_a_liveness_target(
    r#"{"capability": "action", "looks_for": "shake", "images": {"min": 1, "max": 64}}"#,
    "`looks_for` is Some(\"shake\"); expected one of fall, fight"
)]
#[case::fence_without_count(r#"{"capability": "fence"}"#, "`images` {min, max} is missing")]
#[case::face_without_size(r#"{"capability": "face_quality"}"#, "`max_size` {width, height} is missing")]
fn a_capability_missing_its_data_is_refused_when_the_catalogue_is_read(#[case] json: &str, #[case] problem: &str) {
    let error = serde_json::from_str::<Capability>(json).expect_err("refused");
    assert_eq!(error.to_string(), problem);
}
