//! PNG: the chunks from IHDR to IEND, each inside the file and the critical ones with a
//! correct CRC; IDAT data enough for what the header promises (deflate's best ratio); and
//! the start of the IDAT stream inflated and counted: a valid zlib stream whose rows (of a
//! non-interlaced image) start with a filter type 0–4, yielding the `height × (1 +
//! rowbytes)` bytes the header promises (per Adam7 pass when interlaced) — all of them for
//! an image of up to [`INFLATED`] bytes, the first [`INFLATED`] for a larger one. Inflating
//! all of a 5 MB PNG costs several times decoding its base64 and hashing the body.

use miniz_oxide::inflate::stream::{inflate, InflateState};
use miniz_oxide::{DataFormat, MZError, MZFlush, MZStatus};

/// Deflate expands at most about 1032:1; a header promising more than that of its IDAT
/// bytes is cut short without inflating anything.
const MAX_RATIO: u64 = 1032;
/// How much of the stream is inflated: all of a small image's, the start of a large one's
/// (a fraction of a millisecond).
const INFLATED: u64 = 64 << 10;

pub(super) fn check(bytes: &[u8]) -> Result<(), String> {
    let (header, idats) = chunks(bytes)?;
    let compressed: u64 = idats.iter().map(|d| d.len() as u64).sum();
    let expected = header.expected();
    if idats.is_empty() {
        return Err("the png has no pixel data (no IDAT chunk)".into());
    }
    if expected > compressed.saturating_mul(MAX_RATIO) {
        return Err(format!(
            "the png's header promises {expected} bytes of pixel data, more than its {compressed} compressed bytes can hold: it is cut short"
        ));
    }
    let mut stream = Stream::new(&header);
    for data in idats {
        stream.feed(data)?;
    }
    stream.finish()
}

/// Walks the chunks to IEND: the header and the IDAT chunks' data, in order.
fn chunks(bytes: &[u8]) -> Result<(Header, Vec<&[u8]>), String> {
    let mut at = 8;
    let mut header: Option<Header> = None;
    let mut idats = Vec::new();
    loop {
        let head = bytes.get(at..at + 8).ok_or("the png ends before its IEND chunk: the file is cut short")?;
        let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let kind = [head[4], head[5], head[6], head[7]];
        let name = String::from_utf8_lossy(&kind).into_owned();
        let (data, crc) = bytes
            .get(at + 8..at + 12 + len)
            .map(|chunk| chunk.split_at(len))
            .ok_or_else(|| format!("the png is cut short inside its {name} chunk"))?;
        if kind[0] & 0x20 == 0 && !crc_matches(&kind, data, crc) {
            return Err(format!("the png's {name} chunk fails its crc check: its data was changed or damaged"));
        }
        match &kind {
            b"IHDR" => header = Some(Header::parse(data)?),
            b"IDAT" if header.is_none() => return Err("the png has pixel data (IDAT) before its header (IHDR)".into()),
            b"IDAT" => idats.push(data),
            b"IEND" => break,
            _ => {}
        }
        at += 12 + len;
    }
    Ok((header.ok_or("the png has no header chunk (IHDR)")?, idats))
}

fn crc_matches(kind: &[u8; 4], data: &[u8], crc: &[u8]) -> bool {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(kind);
    hasher.update(data);
    hasher.finalize().to_be_bytes() == crc
}

/// What IHDR says the pixel data is.
struct Header {
    width: u64,
    height: u64,
    bits_per_pixel: u64,
    interlaced: bool,
}

impl Header {
    fn parse(data: &[u8]) -> Result<Header, String> {
        let [w0, w1, w2, w3, h0, h1, h2, h3, depth, colour, _, _, interlace] = *data else {
            return Err("the png's IHDR chunk is not 13 bytes".into());
        };
        let channels = match colour {
            0 | 3 => 1,
            4 => 2,
            2 => 3,
            6 => 4,
            other => return Err(format!("the png names colour type {other}, which no decoder knows")),
        };
        Ok(Header {
            width: u64::from(u32::from_be_bytes([w0, w1, w2, w3])),
            height: u64::from(u32::from_be_bytes([h0, h1, h2, h3])),
            bits_per_pixel: channels * u64::from(depth),
            interlaced: interlace == 1,
        })
    }

    /// The bytes of one row `width` pixels wide, filter byte included.
    fn stride(&self, width: u64) -> u64 {
        1 + (width * self.bits_per_pixel).div_ceil(8)
    }

    /// The bytes the inflated stream must hold.
    fn expected(&self) -> u64 {
        if !self.interlaced {
            return self.height * self.stride(self.width);
        }
        const PASSES: [(u64, u64, u64, u64); 7] =
            [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)];
        PASSES
            .iter()
            .map(|&(x0, y0, dx, dy)| {
                let w = self.width.saturating_sub(x0).div_ceil(dx);
                let h = self.height.saturating_sub(y0).div_ceil(dy);
                if w == 0 {
                    0
                } else {
                    h * self.stride(w)
                }
            })
            .sum()
    }
}

thread_local! {
    /// The inflater's state (about 43 KB) kept for the thread's next image: making and
    /// zeroing a fresh one cost more than inflating a small image.
    static SPARE: std::cell::RefCell<Option<Box<InflateState>>> = const { std::cell::RefCell::new(None) };
}

/// The IDAT stream being inflated into a buffer no larger than what is inflated, counted
/// and overwritten.
struct Stream {
    /// Always `Some` until dropped, when it goes back to `SPARE`.
    state: Option<Box<InflateState>>,
    buffer: Vec<u8>,
    expected: u64,
    /// Row length when non-interlaced (every row's first byte is a filter type), else 0.
    stride: u64,
    counted: u64,
    ended: bool,
}

impl Drop for Stream {
    fn drop(&mut self) {
        let state = self.state.take();
        SPARE.with(|spare| *spare.borrow_mut() = state);
    }
}

impl Stream {
    fn new(header: &Header) -> Stream {
        let expected = header.expected();
        let state = match SPARE.with(|spare| spare.borrow_mut().take()) {
            Some(mut state) => {
                state.reset(DataFormat::Zlib);
                state
            }
            None => InflateState::new_boxed(DataFormat::Zlib),
        };
        Stream {
            state: Some(state),
            // One byte more than is inflated, so a stream longer than promised still shows.
            buffer: vec![0; (expected.min(INFLATED) + 1) as usize],
            expected,
            stride: if header.interlaced { 0 } else { header.stride(header.width) },
            counted: 0,
            ended: false,
        }
    }

    fn feed(&mut self, mut input: &[u8]) -> Result<(), String> {
        while !self.ended && self.counted < self.expected.min(INFLATED) {
            let Some(state) = self.state.as_deref_mut() else { return Ok(()) };
            let result = inflate(state, input, &mut self.buffer, MZFlush::None);
            input = &input[result.bytes_consumed..];
            self.count(result.bytes_written)?;
            match result.status {
                Ok(MZStatus::StreamEnd) => self.ended = true,
                Ok(_) if result.bytes_consumed == 0 && result.bytes_written == 0 => return Ok(()),
                Ok(_) => {}
                Err(MZError::Buf) => return Ok(()),
                Err(_) => {
                    return Err(format!(
                        "the png's pixel data (IDAT) is not a valid zlib stream after {} bytes: it is damaged",
                        self.counted
                    ))
                }
            }
        }
        Ok(())
    }

    /// Counts `written` fresh bytes and checks the filter type at each row start in them.
    fn count(&mut self, written: usize) -> Result<(), String> {
        let start = self.counted;
        self.counted += written as u64;
        if self.stride == 0 {
            return Ok(());
        }
        let mut row = start.div_ceil(self.stride) * self.stride;
        while row < self.counted && row < self.expected {
            let filter = self.buffer[(row - start) as usize];
            if filter > 4 {
                return Err(format!(
                    "the png's row {} has filter type {filter}; rows have 0–4: the pixel data is damaged",
                    row / self.stride + 1
                ));
            }
            row += self.stride;
        }
        Ok(())
    }

    fn finish(self) -> Result<(), String> {
        if self.counted < self.expected.min(INFLATED) {
            return Err(format!(
                "the png's pixel data (IDAT) inflates to {} of the {} bytes its header promises: it is cut short",
                self.counted, self.expected
            ));
        }
        Ok(())
    }
}
