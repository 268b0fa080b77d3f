//! Finds the endpoint a path names: `{prefix}{api_id}/{path}`. An unknown API id is 50001;
//! a known id with an unknown rest of path is 50003.

use std::collections::HashMap;

use crate::catalogue::{Catalogue, Endpoint};
use crate::config::RouteConfig;

/// The routes served: the catalogue's, plus or instead of the configuration's.
#[derive(Debug)]
pub struct Router {
    prefix: &'static str,
    /// api id → (rest of path → endpoint).
    apis: HashMap<String, HashMap<String, &'static Endpoint>>,
}

/// What a path resolves to.
#[derive(Debug, Clone, Copy)]
pub enum Resolved<'a> {
    Endpoint(&'static Endpoint),
    /// No API is registered under this id (or the path is not under the prefix at all).
    UnknownApi,
    /// The API exists, but not this path within it.
    UnknownPath {
        api_id: &'a str,
    },
}

impl Router {
    pub fn new(extra: &[RouteConfig]) -> Router {
        let catalogue = Catalogue::get();
        let mut router = Router { prefix: &catalogue.prefix, apis: HashMap::new() };
        let replaced: Vec<&str> = extra.iter().filter(|r| r.replace).map(|r| r.endpoint.as_str()).collect();
        for e in catalogue.endpoints.iter().filter(|e| !replaced.contains(&e.name.as_str())) {
            router.insert(&e.api_id, &e.path, e);
        }
        for route in extra {
            if let Some(e) = catalogue.endpoint(&route.endpoint) {
                router.insert(&route.api_id, &route.path, e);
            }
        }
        router
    }

    fn insert(&mut self, api_id: &str, path: &str, endpoint: &'static Endpoint) {
        self.apis.entry(api_id.to_string()).or_default().insert(path.to_string(), endpoint);
    }

    pub fn resolve<'a>(&self, path: &'a str) -> Resolved<'a> {
        let Some(rest) = path.strip_prefix(self.prefix) else { return Resolved::UnknownApi };
        let (api_id, tail) = rest.split_once('/').unwrap_or((rest, ""));
        match self.apis.get(api_id) {
            None => Resolved::UnknownApi,
            Some(paths) => paths.get(tail).map_or(Resolved::UnknownPath { api_id }, |e| Resolved::Endpoint(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_known_unknown_and_misspelt_paths() {
        let router = Router::new(&[]);
        assert!(
            matches!(router.resolve("/v1/aiop/api/2f3uquanbrpc/SafeHat/base/hat_detect"), Resolved::Endpoint(e) if e.name == "hat")
        );
        assert!(matches!(
            router.resolve("/v1/aiop/api/2f3uquanbrpc/SafeHat/base/hat_detect/"),
            Resolved::UnknownPath { .. }
        ));
        assert!(matches!(router.resolve("/v1/aiop/api/nosuchapi/x"), Resolved::UnknownApi));
        assert!(matches!(router.resolve("/"), Resolved::UnknownApi));
    }

    #[test]
    fn configured_routes_add_or_replace() {
        let route =
            |replace| RouteConfig { endpoint: "hat".into(), api_id: "myhat".into(), path: "detect".into(), replace };
        let added = Router::new(&[route(false)]);
        assert!(matches!(added.resolve("/v1/aiop/api/myhat/detect"), Resolved::Endpoint(e) if e.name == "hat"));
        assert!(matches!(added.resolve("/v1/aiop/api/2f3uquanbrpc/SafeHat/base/hat_detect"), Resolved::Endpoint(_)));
        let replaced = Router::new(&[route(true)]);
        assert!(matches!(replaced.resolve("/v1/aiop/api/2f3uquanbrpc/SafeHat/base/hat_detect"), Resolved::UnknownApi));
    }
}
