//! What an account is made of — AK/SK, apps, enabled APIs, caller-IP rules — and the rules
//! every one of them obeys, checked here once for the configuration file and the control
//! API alike.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use crate::catalogue::Catalogue;

/// An account: one AK/SK pair and its apps.
#[derive(Debug, Clone)]
pub struct Account {
    pub ak: String,
    pub sk: String,
    pub apps: Vec<App>,
}

/// An AI application, as created in the vendor's console.
#[derive(Debug, Clone)]
pub struct App {
    pub name: String,
    pub description: String,
    pub appkey: String,
    pub apis: ApiSet,
    /// Callers the app accepts; `None` accepts everyone.
    pub allowed_ips: Option<Vec<IpRule>>,
    /// Callers accepted per API (endpoint name); an API not listed accepts everyone.
    pub api_ips: HashMap<String, Vec<IpRule>>,
    /// Claim the free quota of every enabled paid API when the account is created or reset.
    pub free_quota: bool,
    /// Requests of this app served at once; one more is throttled (40029). None: no limit.
    pub max_concurrency: Option<u32>,
}

impl App {
    /// An app as the control API creates it: no API enabled, no IP rules.
    pub fn new(name: &str, description: &str, appkey: &str) -> App {
        App {
            name: name.into(),
            description: description.into(),
            appkey: appkey.into(),
            apis: ApiSet::Some(HashSet::new()),
            allowed_ips: None,
            api_ips: HashMap::new(),
            free_quota: false,
            max_concurrency: None,
        }
    }
}

/// The APIs an app has enabled.
#[derive(Debug, Clone)]
pub enum ApiSet {
    All,
    Some(HashSet<String>),
}

impl ApiSet {
    pub fn contains(&self, endpoint: &str) -> bool {
        match self {
            ApiSet::All => true,
            ApiSet::Some(set) => set.contains(endpoint),
        }
    }
}

/// The rules of an account's parts. Each returns the problem, worded to follow the name of
/// the field it concerns (`appkey: must be …`).
pub(crate) mod rules {
    use super::Catalogue;

    /// An AK or SK: non-empty, without spaces.
    pub fn credential(value: &str) -> Result<(), String> {
        if value.trim().is_empty() || value.contains(char::is_whitespace) {
            return Err("must be non-empty, without spaces".into());
        }
        Ok(())
    }

    /// An app name: 4–15 characters, as the vendor's console asks.
    pub fn app_name(name: &str) -> Result<(), String> {
        let chars = name.chars().count();
        if !(4..=15).contains(&chars) {
            return Err(format!("an app name has 4–15 characters, `{name}` has {chars}"));
        }
        Ok(())
    }

    /// An appkey: it travels in a header, so non-empty printable ASCII.
    pub fn appkey(appkey: &str) -> Result<(), String> {
        if appkey.is_empty() || !appkey.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("must be non-empty printable ascii".into());
        }
        Ok(())
    }

    /// A concurrency limit: at least 1 (no limit is written as none).
    pub fn concurrency(limit: Option<u32>) -> Result<(), String> {
        if limit == Some(0) {
            return Err("a concurrency limit is at least 1".into());
        }
        Ok(())
    }

    /// An API an app may enable: an endpoint of the catalogue.
    pub fn api(name: &str) -> Result<(), String> {
        if Catalogue::get().endpoint(name).is_some() {
            return Ok(());
        }
        let known: Vec<&str> = Catalogue::get().endpoints.iter().map(|e| e.name.as_str()).collect();
        Err(format!("unknown api `{name}`; known: {}", known.join(", ")))
    }
}

/// One address or CIDR block of an allowlist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRule {
    addr: IpAddr,
    prefix: u8,
}

impl IpRule {
    /// Parses `1.2.3.4`, `10.0.0.0/8`, `::1` or `fd00::/8`.
    pub fn parse(text: &str) -> Result<IpRule, String> {
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let addr: IpAddr = addr.trim().parse().map_err(|_| format!("`{text}` is not an ip address or cidr block"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("`{text}` has a bad prefix length"))?,
        };
        Ok(IpRule { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => masked(u32::from(net).into(), u32::from(ip).into(), self.prefix, 32),
            (IpAddr::V6(net), IpAddr::V6(ip)) => masked(u128::from(net), u128::from(ip), self.prefix, 128),
            _ => false,
        }
    }
}

fn masked(net: u128, ip: u128, prefix: u8, bits: u32) -> bool {
    let shift = bits - u32::from(prefix);
    shift == bits || (net >> shift) == (ip >> shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_rules_match_what_they_cover() {
        let net = IpRule::parse("10.1.0.0/16").expect("rule");
        assert!(net.contains("10.1.200.3".parse().expect("ip")));
        assert!(!net.contains("10.2.0.1".parse().expect("ip")));
        assert!(IpRule::parse("0.0.0.0/0").expect("rule").contains("8.8.8.8".parse().expect("ip")));
        assert!(IpRule::parse("127.0.0.1").expect("rule").contains("::ffff:127.0.0.1".parse().expect("ip")));
        assert!(IpRule::parse("::1").expect("rule").contains("::1".parse().expect("ip")));
        assert!(IpRule::parse("10.0.0.0/33").is_err());
        assert!(IpRule::parse("localhost").is_err());
    }

    #[test]
    fn the_rules_refuse_what_the_vendor_would() {
        assert!(rules::credential("ak 1").is_err());
        assert!(rules::credential(" ").is_err());
        assert_eq!(rules::appkey(""), Err("must be non-empty printable ascii".into()));
        assert!(rules::appkey("k\u{e9}").is_err());
        assert!(rules::app_name("abc").is_err());
        assert!(rules::app_name("abcd").is_ok());
        assert!(rules::concurrency(Some(0)).is_err());
        assert!(rules::api("hats").is_err());
        assert!(rules::api("hat").is_ok());
    }
}
