//! Authorization: which signed-in users may reach which requests, and which
//! requests skip authentication. Pure functions over the request's method,
//! host and path; the server applies the [`Access`] they return.
//!
//! Order: `skip-auth-routes` (and CORS preflights when enabled) first, then the
//! `[[route]]` tables in file order, the first match deciding, then the global
//! rules. Paths are matched on their [`PathView`]: an ambiguous path never
//! skips authentication and must satisfy the global rules and those of every
//! route its readings match. Restricting rules also see the folded reading
//! (case, format suffix) and the method's readings (case, HEAD as GET): the
//! request must satisfy the deciding route of every reading. Skip-auth is
//! decided on the method and path exactly as sent.

pub mod authority;
mod path;
mod rules;

use http::{HeaderMap, Method};

pub use path::{fold, loosely_under, PathView, Reading};
pub use rules::domain_matches;
pub use rules::{parse_domain, parse_email, parse_group, Rules};

/// One `[[route]]` table: what it matches and what it demands.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Route {
    /// Lower case; exact, or `.example.com` for its subdomains.
    pub host: Option<String>,
    /// See [`prefix_matches`].
    pub path_prefix: Option<String>,
    /// Empty matches every method.
    pub methods: Vec<Method>,
    pub rules: Rules,
    /// Forwarded without authentication (with the identity when there is a session).
    pub skip_auth: bool,
}

/// How a skip-auth path matches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathPattern {
    /// The whole path, nothing more.
    Exact(String),
    /// Every path starting with it (`/static/`, or `/static*` -> `/static`).
    Prefix(String),
}

/// One `--skip-auth-routes` entry: `[METHOD ]PATH`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkipRoute {
    /// `None` matches every method.
    pub method: Option<Method>,
    pub path: PathPattern,
}

/// Everything authorization is configured with.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    /// Applied when no route matches.
    pub rules: Rules,
    pub routes: Vec<Route>,
    pub skip_auth_routes: Vec<SkipRoute>,
    /// Let CORS preflights (`OPTIONS` + `Origin` + `Access-Control-Request-Method`) through.
    pub skip_auth_preflight: bool,
}

/// The request as authorization sees it.
#[derive(Clone, Debug)]
pub struct Target {
    pub method: Method,
    /// Lower case, without port or trailing dot.
    pub host: Option<String>,
    pub path: PathView,
}

impl Target {
    /// `target` is a path (a query or fragment is ignored); `host` may carry a port.
    pub fn new(method: &Method, host: Option<&str>, target: &str) -> Self {
        Self {
            method: method.clone(),
            host: host.and_then(host_name),
            path: PathView::of(target),
        }
    }
}

/// `Host`-style `name[:port]` or `[v6]:port` -> the lower-case name; `None`
/// for anything else [`authority::is_valid`] refuses (`user@host` would
/// otherwise be read as `host`).
fn host_name(host: &str) -> Option<String> {
    let host = host.trim();
    if !authority::is_valid(host.as_bytes()) {
        return None;
    }
    let authority: http::uri::Authority = host.parse().ok()?;
    let name = authority.host().trim_end_matches('.').to_ascii_lowercase();
    (!name.is_empty()).then_some(name)
}

/// What a request needs: nothing (skip), or a user allowed by every rule set.
#[derive(Debug, PartialEq, Eq)]
pub struct Access<'a> {
    pub skip_auth: bool,
    rules: Vec<&'a Rules>,
}

impl<'a> Access<'a> {
    pub fn allows(&self, who: &crate::identity::Identity) -> bool {
        self.rules.iter().all(|r| r.allow(who))
    }

    /// The same access, with `rules` to pass as well (forward-auth's query).
    pub fn and(mut self, rules: &'a Rules) -> Self {
        self.rules.push(rules);
        self
    }
}

impl Policy {
    /// For a proxied request: skip-auth routes and preflights count.
    pub fn access(&self, target: &Target, preflight: bool) -> Access<'_> {
        if (preflight && self.skip_auth_preflight) || self.skips(target) {
            return Access {
                skip_auth: true,
                rules: Vec::new(),
            };
        }
        self.restricting(target)
    }

    /// Skip-auth is exact: the method as sent and the canonical path match a
    /// skip-auth route, or the first `[[route]]` matching them skips.
    fn skips(&self, target: &Target) -> bool {
        let PathView::Canonical(path) = &target.path else {
            return false;
        };
        let method = &target.method;
        let exact = Reading::Exact(path.clone());
        self.skip_auth_routes
            .iter()
            .any(|s| s.matches(method, path))
            || self
                .first_route(target.host.as_deref(), method, &exact)
                .is_some_and(|r| r.skip_auth)
    }

    /// For forward-auth: skip-auth never applies (the ingress decides which
    /// locations it protects). `None` when no trusted proxy named the original
    /// request: then the global rules and every route's rules must hold.
    pub fn forward_auth_access(&self, target: Option<&Target>) -> Access<'_> {
        match target {
            None => {
                let routes = self.routes.iter().filter(|r| !r.skip_auth);
                let mut rules = vec![&self.rules];
                rules.extend(routes.map(|r| &r.rules));
                Access {
                    skip_auth: false,
                    rules,
                }
            }
            Some(t) => self.restricting(t),
        }
    }

    /// The rules of the deciding route of every reading of the request (its
    /// method readings times its path readings), each once; with an
    /// ambiguous path, the global rules too.
    fn restricting(&self, target: &Target) -> Access<'_> {
        let mut rules: Vec<&Rules> = Vec::new();
        if matches!(target.path, PathView::Ambiguous { .. }) {
            rules.push(&self.rules);
        }
        let host = target.host.as_deref();
        for method in method_readings(&target.method) {
            for reading in target.path.readings() {
                let decided = self.rules_for(host, &method, &reading);
                if !rules.iter().any(|r| std::ptr::eq(*r, decided)) {
                    rules.push(decided);
                }
            }
        }
        Access {
            skip_auth: false,
            rules,
        }
    }

    /// The deciding route's rules; the global ones for a skip route or none.
    fn rules_for(&self, host: Option<&str>, method: &Method, reading: &Reading) -> &Rules {
        match self.first_route(host, method, reading) {
            Some(route) if !route.skip_auth => &route.rules,
            _ => &self.rules,
        }
    }

    fn first_route(
        &self,
        host: Option<&str>,
        method: &Method,
        reading: &Reading,
    ) -> Option<&Route> {
        self.routes
            .iter()
            .find(|r| r.matches(host, method, reading))
    }
}

/// The methods an application may handle a request as: the method as sent,
/// its upper-case spelling (ASP.NET treats `delete` as DELETE), and GET for
/// HEAD (frameworks answer HEAD with the GET handler, RFC 9110 §9.3.2), so
/// a GET-only rule restricts HEAD too.
fn method_readings(method: &Method) -> Vec<Method> {
    let mut out = vec![method.clone()];
    let upper = Method::from_bytes(method.as_str().to_ascii_uppercase().as_bytes()).ok();
    if let Some(upper) = upper.filter(|u| u != method) {
        out.push(upper);
    }
    if out.contains(&Method::HEAD) {
        out.push(Method::GET);
    }
    out
}

impl Route {
    fn matches(&self, host: Option<&str>, method: &Method, reading: &Reading) -> bool {
        let host_ok = self
            .host
            .as_deref()
            .is_none_or(|want| host.is_some_and(|h| rules::domain_matches(want, h)));
        let path_ok = self.path_prefix.as_deref().is_none_or(|p| reading.under(p));
        let method_ok = self.methods.is_empty() || self.methods.contains(method);
        host_ok && path_ok && method_ok
    }
}

/// `/admin` matches `/admin` and everything under `/admin/` (not
/// `/administrator`); `/admin/` only what is under it.
pub fn prefix_matches(prefix: &str, path: &str) -> bool {
    if prefix.ends_with('/') {
        return path.starts_with(prefix);
    }
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

impl SkipRoute {
    fn matches(&self, method: &Method, path: &str) -> bool {
        let method_ok = self.method.as_ref().is_none_or(|m| m == method);
        let path_ok = match &self.path {
            PathPattern::Exact(p) => path == p,
            PathPattern::Prefix(p) => path.starts_with(p.as_str()),
        };
        method_ok && path_ok
    }
}

/// A CORS preflight: `OPTIONS` with `Origin` and `Access-Control-Request-Method`.
pub fn is_preflight(method: &Method, headers: &HeaderMap) -> bool {
    method == Method::OPTIONS
        && headers.contains_key(http::header::ORIGIN)
        && headers.contains_key(http::header::ACCESS_CONTROL_REQUEST_METHOD)
}

/// A path given in the configuration: absolute and already canonical.
pub fn parse_path(s: &str) -> Result<String, String> {
    let s = s.trim();
    let pchars = s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._~!$&'()+,=:@%/".contains(&b));
    match PathView::of(s) {
        PathView::Canonical(p) if p == s && pchars => Ok(p),
        _ => Err(
            "must be a path starting with /, without dot segments, //, ;, *, \\, spaces, a query, \
             or escapes of unreserved characters, slashes or %"
                .into(),
        ),
    }
}

/// An HTTP method in upper case (`GET`, `OPTIONS`, ...).
pub fn parse_method(s: &str) -> Result<Method, String> {
    let s = s.trim();
    let upper = !s.is_empty() && s.bytes().all(|b| b.is_ascii_uppercase());
    match Method::from_bytes(s.as_bytes()) {
        Ok(m) if upper => Ok(m),
        _ => Err("must be an HTTP method in upper case, like GET".into()),
    }
}

/// `[METHOD ]PATH`: a PATH ending in `/` is a prefix, one ending in `*` is a
/// prefix without the `*`, any other is exact.
pub fn parse_skip_route(s: &str) -> Result<SkipRoute, String> {
    let s = s.trim();
    let (method, path) = match s.split_once(' ') {
        Some((m, p)) => (Some(parse_method(m)?), p.trim()),
        None => (None, s),
    };
    let path = match path.strip_suffix('*') {
        Some(prefix) => PathPattern::Prefix(parse_path(prefix)?),
        None if path.ends_with('/') => PathPattern::Prefix(parse_path(path)?),
        None => PathPattern::Exact(parse_path(path)?),
    };
    Ok(SkipRoute { method, path })
}

#[cfg(test)]
mod tests;
