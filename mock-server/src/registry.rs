//! Accounts (AK/SK) and the apps they own (appkey, enabled APIs, caller-IP allowlists).

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

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

/// Every account, indexed by AK and by appkey.
#[derive(Debug, Default)]
pub struct Registry {
    accounts: Vec<Account>,
    by_ak: HashMap<String, usize>,
    by_appkey: HashMap<String, (usize, usize)>,
}

impl Registry {
    pub fn new(accounts: Vec<Account>) -> Registry {
        let mut registry = Registry::default();
        for (i, account) in accounts.iter().enumerate() {
            registry.by_ak.insert(account.ak.clone(), i);
            for (j, app) in account.apps.iter().enumerate() {
                registry.by_appkey.insert(app.appkey.clone(), (i, j));
            }
        }
        registry.accounts = accounts;
        registry
    }

    pub fn account(&self, ak: &str) -> Option<&Account> {
        self.by_ak.get(ak).map(|&i| &self.accounts[i])
    }

    /// The app with this appkey and the AK of the account that owns it.
    pub fn app(&self, appkey: &str) -> Option<(&str, &App)> {
        self.by_appkey.get(appkey).map(|&(i, j)| (self.accounts[i].ak.as_str(), &self.accounts[i].apps[j]))
    }

    pub fn accounts(&self) -> &[Account] {
        &self.accounts
    }
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
}
