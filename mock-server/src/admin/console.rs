//! The console page at `GET /__mock/ui`: one HTML page, its CSS and JavaScript embedded
//! in the binary (`ui/`), that reads the control API from the browser and shows, per
//! account, usage against packages, monitoring, alerts, the journal and the armed rules
//! (`docs/console.md`). It fetches nothing from the network: the answer's
//! `content-security-policy` lets it reach only its own server.
//!
//! A browser cannot set `x-mock-token` when it opens a page, so this one route also takes
//! the token as `?token=`; the page reads it from its address and sends it on every fetch.

use std::sync::OnceLock;

use hyper::Method;

use super::{Request, PREFIX};

/// The page's path under the control API's prefix.
const PATH: &str = "ui";

const HTML: &str = include_str!("ui/console.html");
const CSS: &str = include_str!("ui/console.css");
const JS: &str = include_str!("ui/console.js");

/// Where the stylesheet and the script go in the HTML.
const CSS_MARK: &str = "/* console.css */";
const JS_MARK: &str = "/* console.js */";

/// Whether the request asks for the page.
pub(crate) fn asked(req: &Request<'_>) -> bool {
    req.method == Method::GET && req.path.strip_prefix(PREFIX).is_some_and(|p| p.trim_end_matches('/') == PATH)
}

/// The whole page, assembled once.
pub(crate) fn page() -> &'static str {
    static PAGE: OnceLock<String> = OnceLock::new();
    PAGE.get_or_init(|| HTML.replacen(CSS_MARK, CSS, 1).replacen(JS_MARK, JS, 1))
}

/// The `token` parameter of the query, decoded as a browser encodes a form field (`+` is a
/// space, `%XX` a byte). `None` when absent or badly escaped.
pub(crate) fn query_token(query: &str) -> Option<Vec<u8>> {
    let value = query.split('&').find_map(|pair| pair.strip_prefix("token="))?;
    let mut bytes = Vec::with_capacity(value.len());
    let mut rest = value.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        match b {
            b'+' => bytes.push(b' '),
            b'%' => {
                let hex = tail.get(..2).and_then(|h| std::str::from_utf8(h).ok())?;
                bytes.push(u8::from_str_radix(hex, 16).ok()?);
                rest = &tail[2..];
                continue;
            }
            _ => bytes.push(b),
        }
        rest = tail;
    }
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_embeds_its_css_and_script_and_names_no_other_host() {
        let page = page();
        assert!(!page.contains(CSS_MARK) && !page.contains(JS_MARK), "a mark was left in the page");
        assert!(page.contains(CSS.trim()) && page.contains(JS.trim()));
        for outside in ["http://", "https://", "//cdn", "src=\"/", "href=\"/"] {
            assert!(
                !page.contains(outside),
                "the page refers to `{outside}`: it must fetch nothing but the control api"
            );
        }
    }

    #[test]
    fn the_token_is_read_from_the_query_as_a_browser_encodes_it() {
        assert_eq!(query_token("token=abc").as_deref(), Some(&b"abc"[..]));
        assert_eq!(query_token("x=1&token=a%2Fb+c").as_deref(), Some(&b"a/b c"[..]));
        assert_eq!(query_token("token=").as_deref(), Some(&b""[..]));
        assert_eq!(query_token("tokens=abc"), None);
        assert_eq!(query_token("token=%zz"), None);
        assert_eq!(query_token("token=%4"), None);
        assert_eq!(query_token(""), None);
    }
}
