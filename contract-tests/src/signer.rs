//! The client-side EOP signer, written from the vendor's description (DIGEST §1) rather
//! than from the server's code, so the two can disagree if either is wrong.

#![warn(missing_docs)]

use std::collections::BTreeMap;

use base64::prelude::{Engine, BASE64_STANDARD};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// An AK/SK pair that signs requests.
#[derive(Debug, Clone)]
pub struct Signer {
    /// The access key (AK), sent in `Eop-Authorization`.
    pub ak: String,
    /// The secret key (SK), never sent: it keys the HMAC chain.
    pub sk: String,
}

/// A signature and what went into it.
#[derive(Debug, Clone)]
pub struct Signed {
    /// The string that was signed (headers, query and body hash, one per line).
    pub string_to_sign: String,
    /// The base64 HMAC-SHA256 of the string to sign.
    pub signature: String,
    /// The full `Eop-Authorization` value.
    pub authorization: String,
}

fn mac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("any key length");
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

impl Signer {
    /// A signer for the account with access key `ak` and secret key `sk`.
    pub fn new(ak: &str, sk: &str) -> Signer {
        Signer { ak: ak.into(), sk: sk.into() }
    }

    /// Signs `headers` (name → value; names are lowercased), `query` and `body`.
    pub fn sign(&self, eop_date: &str, headers: &[(&str, &str)], query: &str, body: &[u8]) -> Signed {
        self.sign_with_date_key(eop_date, &eop_date[..8], headers, query, body)
    }

    /// As [`Signer::sign`], deriving kdate from `date_key` instead of `yyyymmdd` (to
    /// reproduce a client that gets it wrong).
    pub fn sign_with_date_key(
        &self,
        eop_date: &str,
        date_key: &str,
        headers: &[(&str, &str)],
        query: &str,
        body: &[u8],
    ) -> Signed {
        let sorted: BTreeMap<String, &str> = headers.iter().map(|(n, v)| (n.to_lowercase(), *v)).collect();
        let mut string_to_sign = String::new();
        for (name, value) in &sorted {
            string_to_sign += &format!("{name}:{value}\n");
        }
        let mut params: Vec<&str> = if query.is_empty() { vec![] } else { query.split('&').collect() };
        params.sort();
        let body_hash: String = Sha256::digest(body).iter().map(|b| format!("{b:02x}")).collect();
        string_to_sign += &format!("\n{}\n{body_hash}", params.join("&"));
        let signature = self.sign_string(eop_date, date_key, &string_to_sign);
        let names: Vec<&str> = sorted.keys().map(String::as_str).collect();
        let authorization = format!("{} Headers={} Signature={signature}", self.ak, names.join(";"));
        Signed { string_to_sign, signature, authorization }
    }

    /// The base64 signature of a string to sign built by the caller (to reproduce a client
    /// that builds it wrongly), with kdate derived from `date_key`.
    pub fn sign_string(&self, eop_date: &str, date_key: &str, string_to_sign: &str) -> String {
        let k_time = mac(self.sk.as_bytes(), eop_date.as_bytes());
        let k_ak = mac(&k_time, self.ak.as_bytes());
        let k_date = mac(&k_ak, date_key.as_bytes());
        BASE64_STANDARD.encode(mac(&k_date, string_to_sign.as_bytes()))
    }
}

/// Unix seconds as `yyyymmddTHHMMSSZ` after adding `offset_hours` (8 for Beijing time).
pub fn eop_date(unix_secs: i64, offset_hours: i64) -> String {
    crate::eop_date::format_with_offset(unix_secs, offset_hours * 3600)
}

/// Now, as Unix seconds.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_dates_across_years() {
        assert_eq!(eop_date(0, 0), "19700101T000000Z");
        assert_eq!(eop_date(1_640_075_414, 8), "20211221T163014Z");
        assert_eq!(eop_date(951_825_600, 0), "20000229T120000Z");
        assert_eq!(eop_date(-1, 0), "19691231T235959Z");
    }
}
