//! Applies a decided [`Action`] to the response the pipeline rendered: extra headers,
//! a replaced body, or a body that drips, stops short or aborts. Every 40029, natural or
//! not, leaves here with `Retry-After`.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use hyper::{Response, StatusCode};

use super::{concurrency, gateway_page, Action, FaultBody, Shape};
use crate::catalogue::code;
use crate::respond::{header_safe, Rendered, REASON_HEADER};

/// The emulator's own 400 for a force header it cannot honour: `{"error": "..."}`.
pub fn emulator_error(message: &str) -> Response<FaultBody> {
    crate::respond::emulator_error(StatusCode::BAD_REQUEST, message).map(FaultBody::from)
}

/// The response as the action wants it sent, and what the journal should record.
pub async fn apply(
    response: Response<Full<Bytes>>,
    mut rendered: Rendered,
    action: Option<&Action>,
) -> (Response<FaultBody>, Rendered) {
    let (mut parts, body) = response.into_parts();
    if rendered.code == code::THROTTLED {
        // Every 40029 says when to come back: a throttle rule its window, else the
        // concurrency limit's advice (also what a forced 40029 gets). Its reason says the
        // same wait, for the log and the journal, which do not keep headers.
        let seconds = match action {
            Some(Action::Throttle { retry_after_s }) => *retry_after_s,
            _ => concurrency::RETRY_AFTER_S,
        };
        parts.headers.insert(RETRY_AFTER, HeaderValue::from(seconds));
        if let Some(reason) = rendered.reason.as_mut() {
            reason.push_str(&format!("; retry after {seconds} s"));
            parts.headers.insert(REASON_HEADER, header_safe(reason));
        }
    }
    let Some(action) = action else { return (Response::from_parts(parts, body.into()), rendered) };
    // `Full` is ready at once and cannot fail.
    let bytes = body.collect().await.map(|c| c.to_bytes()).unwrap_or_default();
    let body = match action {
        // A throttle's Retry-After is set above; failed e-fence images are in the answer.
        Action::Code(_)
        | Action::Throttle { .. }
        | Action::Shape(Shape::Latency(_))
        | Action::Shape(Shape::FailImages(_)) => FaultBody::full(bytes),
        Action::Body(value) => {
            replace(&mut parts, &mut rendered, StatusCode::OK, "application/json;charset=UTF-8", "a rule's body");
            FaultBody::full(serde_json::to_vec(value).unwrap_or_default())
        }
        Action::Gateway(status) => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_GATEWAY);
            replace(&mut parts, &mut rendered, status, "text/html", "a rule's gateway failure");
            FaultBody::full(gateway_page(status.as_u16()))
        }
        Action::ResetBefore => FaultBody::abort_after(bytes, 0),
        Action::Shape(Shape::Drip(rate)) => FaultBody::drip(bytes, *rate),
        Action::Shape(Shape::ResetHalf) => {
            let half = bytes.len() / 2;
            FaultBody::abort_after(bytes, half)
        }
        Action::Shape(Shape::Truncate(at)) => {
            let at = usize::try_from(*at).unwrap_or(usize::MAX).min(bytes.len());
            FaultBody::full(bytes.slice(..at))
        }
    };
    (Response::from_parts(parts, body), rendered)
}

fn replace(
    parts: &mut hyper::http::response::Parts,
    rendered: &mut Rendered,
    status: StatusCode,
    content_type: &'static str,
    what: &str,
) {
    parts.status = status;
    parts.headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    let reason = format!("answered with {what}; GET /__mock/accounts/{{ak}}/rules lists the rules");
    parts.headers.insert(REASON_HEADER, header_safe(&reason));
    *rendered = Rendered { status: status.as_u16(), code: 0, reason: Some(reason) };
}
