//! Whether an image's pixel data is present and complete: the structure each format's
//! decoder walks before it decodes a pixel (PNG chunks, JPEG segments and scans, the BMP
//! pixel array, GIF blocks, TIFF strips), checked without decoding the pixels. For PNG the
//! compressed stream is inflated through a small buffer and counted, never kept. What each
//! check catches, and what only a full decode would, is in `docs/decisions.md`.

mod png;

use super::ImageFormat;

/// Checks that `bytes`, sniffed as `format`, carry the pixel data their header promises.
/// The error says what is missing or broken, in words for the explanation.
pub fn check(bytes: &[u8], format: ImageFormat) -> Result<(), String> {
    match format {
        ImageFormat::Png => png::check(bytes),
        ImageFormat::Jpg => jpeg(bytes),
        ImageFormat::Bmp => bmp(bytes),
        ImageFormat::Gif => gif(bytes),
        ImageFormat::Tif => tiff(bytes),
    }
}

fn u16_le(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn u32_le(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

/// A JPEG's segments from SOI: a frame header (SOFn), then at least one scan (SOS) whose
/// entropy-coded data ends at a marker, and the end-of-image marker (EOI).
fn jpeg(bytes: &[u8]) -> Result<(), String> {
    let (mut at, mut frame, mut scan) = (2usize, false, false);
    loop {
        let Some(&byte) = bytes.get(at) else {
            return Err(match (frame, scan) {
                (_, true) => "the jpg ends without its end-of-image marker (EOI): the file is cut short".into(),
                (true, false) => "the jpg ends before its scan (no SOS segment): it has no pixel data".into(),
                _ => "the jpg ends before its frame header (no SOF segment)".into(),
            });
        };
        if byte != 0xff {
            return Err(format!("the jpg has a stray byte {byte:#04x} at offset {at} where a marker belongs"));
        }
        while bytes.get(at + 1) == Some(&0xff) {
            at += 1;
        }
        let marker = bytes.get(at + 1).copied().unwrap_or(0xd9);
        at += 2;
        match marker {
            0xd9 if scan => return Ok(()),
            0xd9 => return Err("the jpg ends (EOI) before any scan (SOS): it has no pixel data".into()),
            0x01 | 0xd0..=0xd7 => continue,
            _ => {}
        }
        let len = usize::from(u16::from_be_bytes([
            bytes.get(at).copied().unwrap_or(0),
            bytes.get(at + 1).copied().unwrap_or(0),
        ]));
        let end = at + len;
        if len < 2 || end > bytes.len() {
            return Err(format!("the jpg is cut short inside its segment {marker:#04x} at offset {}", at - 2));
        }
        at = end;
        match marker {
            0xc0..=0xcf if !matches!(marker, 0xc4 | 0xc8 | 0xcc) => frame = true,
            0xda if !frame => return Err("the jpg has a scan (SOS) before its frame header (SOF)".into()),
            0xda => {
                at = entropy_end(bytes, at).ok_or(
                    "the jpg ends inside its scan data, without an end-of-image marker (EOI): the file is cut short",
                )?;
                scan = true;
            }
            _ => {}
        }
    }
}

/// Where the entropy-coded data that starts at `from` ends: the next marker that is not a
/// stuffed `FF 00`, a restart marker or a fill byte.
fn entropy_end(bytes: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    loop {
        // Entropy-coded data is most of a JPEG: the next FF is found a vector at a time.
        at += memchr::memchr(0xff, bytes.get(at..)?)?;
        match bytes.get(at + 1)? {
            0x00 | 0xd0..=0xd7 => at += 2,
            0xff => at += 1,
            _ => return Some(at),
        }
    }
}

/// The BMP's header fields the pixel array depends on, with a top-down image's negative
/// height made positive: (width, height, bits per pixel, compression, size of the image).
pub(super) fn bmp_header(bytes: &[u8]) -> Option<(u32, u32, u16, u32, u32)> {
    let dib = u32_le(bytes, 14)?;
    if dib == 12 {
        let (w, h) = (u32::from(u16_le(bytes, 18)?), u32::from(u16_le(bytes, 20)?));
        return Some((w, h, u16_le(bytes, 24)?, 0, 0));
    }
    if dib < 40 {
        return None;
    }
    let w = i32::from_le_bytes(bytes.get(18..22)?.try_into().ok()?);
    let h = i32::from_le_bytes(bytes.get(22..26)?.try_into().ok()?);
    let width = u32::try_from(w).ok()?;
    Some((width, h.unsigned_abs(), u16_le(bytes, 28)?, u32_le(bytes, 30)?, u32_le(bytes, 34)?))
}

/// The pixel array: uncompressed, `rowbytes × height` bytes from the offset in the file
/// header; compressed (RLE, embedded JPEG/PNG), the `biSizeImage` bytes the header names.
fn bmp(bytes: &[u8]) -> Result<(), String> {
    let (width, height, bpp, compression, size_image) =
        bmp_header(bytes).ok_or("the bmp header is cut short or broken")?;
    let offset = u64::from(u32_le(bytes, 10).ok_or("the bmp header is cut short or broken")?);
    if ![1, 4, 8, 16, 24, 32].contains(&bpp) {
        return Err(format!("the bmp has {bpp} bits per pixel; a bmp has 1, 4, 8, 16, 24 or 32"));
    }
    let need = match compression {
        0 | 3 | 6 => (u64::from(width) * u64::from(bpp)).div_ceil(32) * 4 * u64::from(height),
        1 | 2 | 4 | 5 if size_image > 0 => u64::from(size_image),
        1 | 2 | 4 | 5 => return Err("the bmp is compressed but its header gives no size for the pixel data".into()),
        other => return Err(format!("the bmp names compression {other}, which no decoder knows")),
    };
    let len = bytes.len() as u64;
    if offset.saturating_add(need) > len {
        return Err(format!(
            "the bmp's pixel array needs {need} bytes from offset {offset} but the file has {}: it is cut short",
            len.saturating_sub(offset)
        ));
    }
    Ok(())
}

/// A GIF's blocks after the screen descriptor: extensions, at least one image descriptor
/// with LZW data, and the trailer (`;`).
fn gif(bytes: &[u8]) -> Result<(), String> {
    const CUT: &str = "the gif is cut short before its trailer";
    let packed = *bytes.get(10).ok_or(CUT)?;
    let mut at = 13 + colour_table(packed);
    let mut images = 0;
    loop {
        match *bytes.get(at).ok_or(CUT)? {
            0x3b if images > 0 => return Ok(()),
            0x3b => return Err("the gif has no image in it (no image descriptor): it has no pixel data".into()),
            0x21 => at = sub_blocks(bytes, at + 2).ok_or(CUT)?.0,
            0x2c => {
                let packed = *bytes.get(at + 9).ok_or(CUT)?;
                at += 10 + colour_table(packed);
                let code_size = *bytes.get(at).ok_or(CUT)?;
                if !(1..=11).contains(&code_size) {
                    return Err(format!("the gif's image {} has an lzw code size of {code_size}", images + 1));
                }
                let (end, data) = sub_blocks(bytes, at + 1).ok_or(CUT)?;
                if data == 0 {
                    return Err(format!("the gif's image {} has no lzw data: it has no pixel data", images + 1));
                }
                at = end;
                images += 1;
            }
            other => return Err(format!("the gif has an unknown block {other:#04x} at offset {at}")),
        }
    }
}

/// The size of a colour table a packed field announces.
fn colour_table(packed: u8) -> usize {
    if packed & 0x80 == 0 {
        0
    } else {
        3 << ((packed & 7) + 1)
    }
}

/// Walks data sub-blocks from `at` to their terminator: where they end and the data bytes.
fn sub_blocks(bytes: &[u8], mut at: usize) -> Option<(usize, usize)> {
    let mut data = 0;
    loop {
        let size = usize::from(*bytes.get(at)?);
        at += 1;
        if size == 0 {
            return Some((at, data));
        }
        at += size;
        data += size;
        if at > bytes.len() {
            return None;
        }
    }
}

/// The first IFD's strips (or tiles): offsets and byte counts present, as many of each,
/// every one inside the file.
fn tiff(bytes: &[u8]) -> Result<(), String> {
    let tiff = Tiff { bytes, big_endian: bytes.starts_with(b"MM") };
    let broken = "the tif header is cut short or broken";
    let ifd = tiff.u32(4).ok_or(broken)? as usize;
    let entries = usize::from(tiff.u16(ifd).ok_or(broken)?);
    let (mut offsets, mut counts) = (None, None);
    for i in 0..entries {
        let entry = ifd + 2 + 12 * i;
        match tiff.u16(entry).ok_or(broken)? {
            273 | 324 => offsets = Some(tiff.values(entry).ok_or("the tif's strip offsets lie outside the file")?),
            279 | 325 => counts = Some(tiff.values(entry).ok_or("the tif's strip byte counts lie outside the file")?),
            _ => {}
        }
    }
    let (Some(offsets), Some(counts)) = (offsets, counts) else {
        return Err("the tif has no strip offsets or byte counts: it has no pixel data".into());
    };
    if offsets.len() != counts.len() || counts.iter().all(|&c| c == 0) {
        return Err(format!(
            "the tif has {} strip offsets for {} byte counts, or no bytes",
            offsets.len(),
            counts.len()
        ));
    }
    let len = bytes.len() as u64;
    for (i, (offset, count)) in offsets.iter().zip(&counts).enumerate() {
        if offset.saturating_add(*count) > len {
            return Err(format!(
                "the tif's strip {} ({count} bytes at offset {offset}) lies outside the file ({len} bytes): it is cut short",
                i + 1
            ));
        }
    }
    Ok(())
}

/// A classic TIFF file, read in its byte order.
struct Tiff<'a> {
    bytes: &'a [u8],
    big_endian: bool,
}

impl Tiff<'_> {
    fn u16(&self, at: usize) -> Option<u16> {
        let b: [u8; 2] = self.bytes.get(at..at.checked_add(2)?)?.try_into().ok()?;
        Some(if self.big_endian { u16::from_be_bytes(b) } else { u16::from_le_bytes(b) })
    }

    fn u32(&self, at: usize) -> Option<u32> {
        let b: [u8; 4] = self.bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(if self.big_endian { u32::from_be_bytes(b) } else { u32::from_le_bytes(b) })
    }

    /// The SHORT or LONG values of the entry at `entry`, inline or at their offset; `None`
    /// if they lie outside the file (checked before anything is allocated for them).
    fn values(&self, entry: usize) -> Option<Vec<u64>> {
        let size = match self.u16(entry + 2)? {
            3 => 2,
            4 => 4,
            _ => return None,
        };
        let count = self.u32(entry + 4)? as usize;
        let total = count.checked_mul(size)?;
        let at = if total <= 4 { entry + 8 } else { self.u32(entry + 8)? as usize };
        if at.checked_add(total)? > self.bytes.len() {
            return None;
        }
        (0..count)
            .map(|i| match size {
                2 => self.u16(at + 2 * i).map(u64::from),
                _ => self.u32(at + 4 * i).map(u64::from),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
