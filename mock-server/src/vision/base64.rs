//! Decoding an image's base64 text as the vendor accepts it: the standard or the URL-safe
//! alphabet, padded or not, with line breaks ignored, and never a `data:` prefix.

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;

const CONFIG: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_decode_padding_mode(DecodePaddingMode::Indifferent)
    .with_decode_allow_trailing_bits(true);
const STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, CONFIG);
const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, CONFIG);

/// Why an image's text could not be decoded; the `Display` text goes into the explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Base64Error {
    Empty,
    DataUrlPrefix,
    /// Both alphabets' extra characters in one string (`+` or `/` together with `-` or `_`).
    MixedAlphabets,
    InvalidByte {
        offset: usize,
        byte: u8,
    },
    InvalidLength,
}

impl std::fmt::Display for Base64Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Base64Error::Empty => write!(f, "the image text is empty"),
            Base64Error::DataUrlPrefix => {
                write!(f, "the image starts with a data: url prefix; send the base64 text alone")
            }
            Base64Error::MixedAlphabets => {
                write!(f, "the image mixes the standard (+/) and url-safe (-_) base64 alphabets")
            }
            Base64Error::InvalidByte { offset, byte } => {
                write!(f, "the image is not base64: byte {byte:#04x} at offset {offset}")
            }
            Base64Error::InvalidLength => write!(f, "the image's base64 text has an impossible length"),
        }
    }
}

/// Decodes an image's base64 text. The common case — one alphabet, no line breaks — is a
/// single pass; only text that fails it is examined again, to decode the other alphabet
/// or MIME line breaks, or to say exactly what is wrong.
pub fn decode_image_base64(text: &str) -> Result<Vec<u8>, Base64Error> {
    if text.is_empty() {
        return Err(Base64Error::Empty);
    }
    if text.starts_with("data:") {
        return Err(Base64Error::DataUrlPrefix);
    }
    // The common case, padded standard base64, with SIMD; anything else takes the path below.
    if let Ok(bytes) = base64_simd::STANDARD.decode_to_vec(text) {
        return Ok(bytes);
    }
    let bytes = text.as_bytes();
    let stripped;
    let bytes = if bytes.iter().any(|&b| b == b'\n' || b == b'\r') {
        stripped = bytes.iter().copied().filter(|&b| b != b'\n' && b != b'\r').collect::<Vec<_>>();
        &stripped[..]
    } else {
        bytes
    };
    let url_safe = bytes.iter().any(|&b| b == b'-' || b == b'_');
    if url_safe && bytes.iter().any(|&b| b == b'+' || b == b'/') {
        return Err(Base64Error::MixedAlphabets);
    }
    let engine = if url_safe { &URL_SAFE } else { &STANDARD };
    engine.decode(bytes).map_err(|e| match e {
        base64::DecodeError::InvalidByte(offset, byte) => Base64Error::InvalidByte { offset, byte },
        base64::DecodeError::InvalidPadding => {
            Base64Error::InvalidByte { offset: bytes.len().saturating_sub(1), byte: b'=' }
        }
        base64::DecodeError::InvalidLength(_) | base64::DecodeError::InvalidLastSymbol(..) => {
            Base64Error::InvalidLength
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn both_alphabets_padded_or_not_decode_to_the_same_bytes(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            use base64::engine::general_purpose as gp;
            for text in [
                gp::STANDARD.encode(&data),
                gp::STANDARD_NO_PAD.encode(&data),
                gp::URL_SAFE.encode(&data),
                gp::URL_SAFE_NO_PAD.encode(&data),
            ] {
                if data.is_empty() {
                    prop_assert_eq!(decode_image_base64(&text), Err(Base64Error::Empty));
                } else {
                    prop_assert_eq!(decode_image_base64(&text), Ok(data.clone()));
                }
            }
        }
    }

    #[test]
    fn refuses_a_data_url_and_mixed_alphabets() {
        assert_eq!(decode_image_base64("data:image/png;base64,iVBO"), Err(Base64Error::DataUrlPrefix));
        assert_eq!(decode_image_base64("ab+c-d=="), Err(Base64Error::MixedAlphabets));
        assert!(matches!(decode_image_base64("ab$c"), Err(Base64Error::InvalidByte { offset: 2, .. })));
    }

    #[test]
    fn ignores_line_breaks() {
        assert_eq!(decode_image_base64("aGVs\r\nbG8="), Ok(b"hello".to_vec()));
    }
}
