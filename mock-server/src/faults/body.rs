//! The response body every answer is sent with: whole (the usual case), dripped at a
//! rate, or cut off by an error that makes hyper abort the connection.
//!
//! hyper 1 buffers the head and polls the body; an `Err` from `poll_frame` drops the
//! connection *and whatever is still buffered*. So an error on the first poll sends
//! nothing at all (reset before the response), and "reset after half" yields its half,
//! waits [`FLUSH_PAUSE`] so hyper flushes it, then errs: the client sees its declared
//! `Content-Length` unmet and the socket closed. A body of declared length 0 is never
//! polled, so an aborted body always declares the length of the answer it replaces.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

/// How often a dripped body sends a piece: 20 pieces a second at most.
const DRIP_TICK: Duration = Duration::from_millis(50);

/// The pause that lets hyper flush the part sent before an abort.
const FLUSH_PAUSE: Duration = Duration::from_millis(20);

/// The error that aborts a connection on purpose.
#[derive(Debug)]
pub struct Aborted;

impl std::fmt::Display for Aborted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection reset by a fault rule")
    }
}

impl std::error::Error for Aborted {}

/// A response body: [`FaultBody::full`], [`FaultBody::drip`] or [`FaultBody::abort_after`].
#[derive(Debug)]
pub struct FaultBody {
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Full(Full<Bytes>),
    Drip { data: Bytes, sent: usize, bytes_per_s: u64, started: Option<Instant>, sleep: Option<Pin<Box<Sleep>>> },
    Abort { data: Bytes, at: usize, sent: bool, pause: Option<Pin<Box<Sleep>>> },
}

impl FaultBody {
    pub fn full(data: impl Into<Bytes>) -> FaultBody {
        FaultBody { kind: Kind::Full(Full::new(data.into())) }
    }

    /// Sends `data` at `bytes_per_s`; the whole body takes about `len / bytes_per_s` seconds.
    pub fn drip(data: Bytes, bytes_per_s: u64) -> FaultBody {
        FaultBody { kind: Kind::Drip { data, sent: 0, bytes_per_s: bytes_per_s.max(1), started: None, sleep: None } }
    }

    /// Declares the whole length, sends the first `at` bytes, then aborts the connection.
    pub fn abort_after(data: Bytes, at: usize) -> FaultBody {
        let at = at.min(data.len());
        FaultBody { kind: Kind::Abort { data, at, sent: false, pause: None } }
    }
}

impl From<Full<Bytes>> for FaultBody {
    fn from(full: Full<Bytes>) -> FaultBody {
        FaultBody { kind: Kind::Full(full) }
    }
}

impl Body for FaultBody {
    type Data = Bytes;
    type Error = Aborted;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Aborted>>> {
        match &mut self.get_mut().kind {
            Kind::Full(full) => Pin::new(full).poll_frame(cx).map_err(|never| match never {}),
            Kind::Drip { data, sent, bytes_per_s, started, sleep } => {
                poll_drip(cx, data, sent, *bytes_per_s, started, sleep)
            }
            Kind::Abort { data, at, sent, pause } => {
                if *at == 0 {
                    return Poll::Ready(Some(Err(Aborted)));
                }
                if !*sent {
                    *sent = true;
                    return Poll::Ready(Some(Ok(Frame::data(data.slice(..*at)))));
                }
                let timer = pause.get_or_insert_with(|| Box::pin(tokio::time::sleep(FLUSH_PAUSE)));
                timer.as_mut().poll(cx).map(|()| Some(Err(Aborted)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Full(full) => full.is_end_stream(),
            Kind::Drip { data, sent, .. } => *sent >= data.len(),
            Kind::Abort { .. } => false,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Full(full) => full.size_hint(),
            Kind::Drip { data, .. } | Kind::Abort { data, .. } => SizeHint::with_exact(data.len() as u64),
        }
    }
}

/// Piece `[sent, sent + n)` leaves once `(sent + n) / rate` seconds have passed since the
/// first poll, so the last byte leaves at `len / rate`.
fn poll_drip(
    cx: &mut Context<'_>,
    data: &Bytes,
    sent: &mut usize,
    bytes_per_s: u64,
    started: &mut Option<Instant>,
    sleep: &mut Option<Pin<Box<Sleep>>>,
) -> Poll<Option<Result<Frame<Bytes>, Aborted>>> {
    if *sent >= data.len() {
        return Poll::Ready(None);
    }
    let start = *started.get_or_insert_with(Instant::now);
    let piece = (bytes_per_s as u128 * DRIP_TICK.as_millis() / 1000).max(1) as usize;
    let end = (*sent + piece).min(data.len());
    let due = start + Duration::from_secs_f64(end as f64 / bytes_per_s as f64);
    let timer = sleep.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(due)));
    timer.as_mut().reset(due);
    if timer.as_mut().poll(cx).is_pending() {
        return Poll::Pending;
    }
    let frame = data.slice(*sent..end);
    *sent = end;
    Poll::Ready(Some(Ok(Frame::data(frame))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn a_full_body_is_sent_whole() {
        let body = FaultBody::full(Bytes::from_static(b"{}"));
        assert_eq!(body.size_hint().exact(), Some(2));
        assert_eq!(body.collect().await.expect("whole").to_bytes(), Bytes::from_static(b"{}"));
    }

    #[tokio::test]
    async fn a_dripped_body_takes_its_length_over_its_rate() {
        let started = Instant::now();
        let body = FaultBody::drip(Bytes::from(vec![b'x'; 1000]), 4000);
        assert_eq!(body.size_hint().exact(), Some(1000));
        let bytes = body.collect().await.expect("whole").to_bytes();
        assert_eq!(bytes.len(), 1000);
        let ms = started.elapsed().as_millis();
        assert!((240..=320).contains(&ms), "1000 bytes at 4000 B/s took {ms} ms");
    }

    #[tokio::test]
    async fn an_aborted_body_sends_its_first_part_then_fails() {
        let mut body = FaultBody::abort_after(Bytes::from_static(b"0123456789"), 5);
        assert_eq!(body.size_hint().exact(), Some(10));
        let first = body.frame().await.expect("a frame").expect("data");
        assert_eq!(first.into_data().expect("data"), Bytes::from_static(b"01234"));
        assert!(body.frame().await.expect("a frame").is_err());
        let mut before = FaultBody::abort_after(Bytes::from_static(b"{}"), 0);
        assert_eq!(before.size_hint().exact(), Some(2), "a declared length, so hyper polls it");
        assert!(before.frame().await.expect("a frame").is_err());
    }
}
