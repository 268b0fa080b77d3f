//! Reads a request body exactly once: every byte is hashed as it arrives (the signature
//! covers the bytes as received), at most `limit` bytes are kept, and reading stops at
//! `cap`. A body between the two is hashed and discarded, so the gateway can still verify
//! its signature before the capability reports it too large.

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::Body;
use sha2::{Digest, Sha256};

/// A body as received.
#[derive(Debug, Clone)]
pub struct Received {
    /// The whole body, or empty when it was longer than the limit.
    pub bytes: Bytes,
    /// How many bytes arrived.
    pub len: u64,
    /// True when the body was longer than the limit and was not kept.
    pub over_limit: bool,
    /// Lowercase hex SHA-256 of every byte received.
    pub sha256_hex: String,
}

/// Why a body could not be read.
#[derive(Debug)]
pub enum ReadError {
    /// More than `cap` bytes: reading stopped; the connection must close.
    OverCap { cap: u64 },
    /// The client went away or sent a broken body.
    Io(String),
}

/// Reads `body` once. `declared` is the Content-Length, if any: a body declared over `cap`
/// is refused before a byte is read, and one within `limit` gets its buffer in one piece.
pub async fn read<B>(body: B, declared: Option<u64>, limit: usize, cap: u64) -> Result<Received, ReadError>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    if declared.is_some_and(|n| n > cap) {
        return Err(ReadError::OverCap { cap });
    }
    let mut body = body;
    let mut hasher = Sha256::new();
    let mut kept = Kept::Empty;
    let mut len: u64 = 0;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| ReadError::Io(e.to_string()))?;
        let Ok(chunk) = frame.into_data() else { continue };
        len += chunk.len() as u64;
        if len > cap {
            return Err(ReadError::OverCap { cap });
        }
        hasher.update(&chunk);
        kept = if len > limit as u64 { Kept::Dropped } else { kept.push(chunk, declared, limit) };
    }
    let over_limit = matches!(kept, Kept::Dropped);
    Ok(Received { bytes: kept.into_bytes(), len, over_limit, sha256_hex: hex(&hasher.finalize()) })
}

/// The bytes kept so far. The common case — the whole body in one frame — is never copied.
enum Kept {
    Empty,
    One(Bytes),
    Many(BytesMut),
    Dropped,
}

impl Kept {
    fn push(self, chunk: Bytes, declared: Option<u64>, limit: usize) -> Kept {
        match self {
            Kept::Empty => Kept::One(chunk),
            Kept::One(first) => {
                let want = declared.map_or(0, |n| n as usize).min(limit).max(first.len() + chunk.len());
                let mut buf = BytesMut::with_capacity(want);
                buf.extend_from_slice(&first);
                buf.extend_from_slice(&chunk);
                Kept::Many(buf)
            }
            Kept::Many(mut buf) => {
                buf.extend_from_slice(&chunk);
                Kept::Many(buf)
            }
            Kept::Dropped => Kept::Dropped,
        }
    }

    fn into_bytes(self) -> Bytes {
        match self {
            Kept::Empty | Kept::Dropped => Bytes::new(),
            Kept::One(b) => b,
            Kept::Many(b) => b.freeze(),
        }
    }
}

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::Full;
    use hyper::body::Frame;
    use std::collections::VecDeque;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    /// A body that arrives in the given frames.
    struct Frames(VecDeque<&'static [u8]>);

    impl Body for Frames {
        type Data = Bytes;
        type Error = std::convert::Infallible;
        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            Poll::Ready(self.0.pop_front().map(|p| Ok(Frame::data(Bytes::from_static(p)))))
        }
    }

    fn chunks(parts: &[&'static [u8]]) -> Frames {
        Frames(parts.iter().copied().collect())
    }

    #[tokio::test]
    async fn keeps_a_body_within_the_limit_and_hashes_it() {
        let got = read(Full::new(Bytes::from_static(b"abc")), Some(3), 10, 20).await.expect("read");
        assert_eq!(&got.bytes[..], b"abc");
        assert_eq!(got.sha256_hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        let got = read(chunks(&[b"a", b"b", b"c"]), None, 10, 20).await.expect("read");
        assert_eq!((&got.bytes[..], got.len), (&b"abc"[..], 3));
    }

    #[tokio::test]
    async fn hashes_but_drops_a_body_over_the_limit() {
        let got = read(chunks(&[b"ab", b"c"]), None, 2, 20).await.expect("read");
        assert!(got.over_limit && got.bytes.is_empty());
        assert_eq!(got.sha256_hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[tokio::test]
    async fn stops_reading_at_the_cap() {
        assert!(matches!(read(chunks(&[b"ab", b"cd"]), None, 1, 3).await, Err(ReadError::OverCap { cap: 3 })));
        assert!(matches!(read(Full::new(Bytes::new()), Some(4), 1, 3).await, Err(ReadError::OverCap { .. })));
    }
}
