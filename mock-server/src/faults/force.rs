//! Forcing one call: the header `x-mock-force: CODE` (outside the signed set) makes that
//! call answer the code as the endpoint would. Forcing 10020 or 10002 skips the signature
//! check; every other forced code is answered only once the gateway admitted the call.

use hyper::HeaderMap;

use crate::catalogue::{code, Catalogue, Endpoint};

use super::rule::list;

/// The request header that forces a code.
pub const FORCE_HEADER: &str = "x-mock-force";

/// A forced code, and whether it needs the gateway's admission first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forced {
    /// 10020 or 10002: answered before the signature is checked.
    BeforeGateway(u32),
    /// Any other documented code: answered after the gateway admitted the call.
    AfterGateway(u32),
}

/// Reads the force header. `Ok(None)` without one (or on an unknown route, where the
/// gateway's 50001 is the answer); `Err` with the emulator's own message when the value is
/// not a code documented for the endpoint.
pub fn forced(headers: &HeaderMap, endpoint: Option<&Endpoint>) -> Result<Option<Forced>, String> {
    let (Some(value), Some(endpoint)) = (headers.get(FORCE_HEADER), endpoint) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or_default().trim();
    let Ok(forced) = text.parse::<u32>() else {
        return Err(format!(
            "{FORCE_HEADER} takes a code documented for `{}`: one of {}",
            endpoint.name,
            list(&endpoint.name)
        ));
    };
    if Catalogue::get().error(Some(&endpoint.name), forced).is_none() {
        return Err(format!(
            "{forced} is not documented for `{}`; {FORCE_HEADER} takes one of {}",
            endpoint.name,
            list(&endpoint.name)
        ));
    }
    Ok(Some(match forced {
        code::SIGNATURE | code::AK_UNKNOWN => Forced::BeforeGateway(forced),
        other => Forced::AfterGateway(other),
    }))
}

/// The retryable codes `--fault-rate` draws from: the endpoint's 5000–5002, or the
/// gateway's 50000 where the endpoint documents none.
pub fn retryable(endpoint: &str) -> Vec<u32> {
    let catalogue = Catalogue::get();
    let own: Vec<u32> = (5000..=5002).filter(|c| catalogue.error(Some(endpoint), *c).is_some()).collect();
    if own.is_empty() {
        vec![code::INTERNAL]
    } else {
        own
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn force(value: &'static str, endpoint: &str) -> Result<Option<Forced>, String> {
        let mut headers = HeaderMap::new();
        headers.insert(FORCE_HEADER, HeaderValue::from_static(value));
        forced(&headers, Catalogue::get().endpoint(endpoint))
    }

    #[test]
    fn signature_codes_skip_the_gateway_and_others_follow_it() {
        assert_eq!(force("10020", "hat"), Ok(Some(Forced::BeforeGateway(10020))));
        assert_eq!(force("10002", "fall"), Ok(Some(Forced::BeforeGateway(10002))));
        assert_eq!(force("4204", "face_quality"), Ok(Some(Forced::AfterGateway(4204))));
        assert_eq!(force(" 51003 ", "hat"), Ok(Some(Forced::AfterGateway(51003))));
    }

    #[test]
    fn an_undocumented_code_names_the_documented_ones() {
        assert_eq!(
            force("4204", "fight"),
            Err("4204 is not documented for `fight`; x-mock-force takes one of 4003, 4010, 4012, 4013, 4015, 5000, 5001, 10002, 10020, 40002, 40006, 40008, 40009, 40010, 40029, 50000, 50001, 50002, 50003, 51001, 51002, 51003".into())
        );
        assert!(force("soon", "hat")
            .expect_err("refused")
            .starts_with("x-mock-force takes a code documented for `hat`"));
        assert_eq!(forced(&HeaderMap::new(), Catalogue::get().endpoint("hat")), Ok(None));
    }

    #[test]
    fn retryable_codes_are_the_endpoints_own_or_the_gateways() {
        assert_eq!(retryable("fence"), vec![5000, 5001, 5002]);
        assert_eq!(retryable("face_quality"), vec![5000]);
        assert_eq!(retryable("hat"), vec![50000]);
    }
}
