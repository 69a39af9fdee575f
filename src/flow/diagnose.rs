//! Why a sign-in cannot finish in this browser, from what the sidecar can
//! tell: instead of another trip to the IdP (a loop), a page naming the likely
//! cause and, for the operator, the setting behind it.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use sha2::{Digest, Sha256};
use url::Url;

use crate::config::Config;
use crate::session::cookie::request_cookies;

/// Sign-ins started on another host remembered, to explain a missing cookie.
const MAX_REMEMBERED_STARTS: usize = 1024;
/// Completed sign-ins within [`LOOP_WINDOW_SECS`] after which the next one,
/// arriving without a session, is a loop.
const LOOP_LIMIT: u32 = 3;
const LOOP_WINDOW_SECS: u64 = 60;

/// The likely cause of a sign-in that cannot finish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Diagnosis {
    /// `cookie-secure` on a plain-http address: the browser dropped the cookie.
    SecureCookieOverHttp { host: String },
    /// Started on `started`, came back on `callback`; no `cookie-domain` covers both.
    OtherHost { started: String, callback: String },
    /// The browser did not send back the cookie set a moment ago.
    CookiesRefused,
    /// Signed in `count` times within a minute, each time coming back without a session.
    Loop { count: u32 },
}

impl Diagnosis {
    /// A short, stable label for metrics and logs.
    pub fn reason(&self) -> &'static str {
        match self {
            Diagnosis::SecureCookieOverHttp { .. } => "secure_cookie_over_http",
            Diagnosis::OtherHost { .. } => "cookie_other_host",
            Diagnosis::CookiesRefused => "cookie_refused",
            Diagnosis::Loop { .. } => "sign_in_loop",
        }
    }

    /// The page's title.
    pub fn title(&self) -> &'static str {
        match self {
            Diagnosis::Loop { .. } => "Sign-in keeps starting over",
            _ => "Sign-in could not finish",
        }
    }

    /// What the person at the browser is told.
    pub fn message(&self) -> String {
        match self {
            Diagnosis::SecureCookieOverHttp { .. } => {
                "This site marks its sign-in cookie as secure, but you reached it over plain \
                 http, so your browser refused the cookie and the sign-in cannot finish."
                    .into()
            }
            Diagnosis::OtherHost { started, callback } => format!(
                "Sign-in started on {started} but returned to {callback}; the cookie set on \
                 {started} is not sent to {callback}, so the sign-in cannot finish."
            ),
            Diagnosis::CookiesRefused => {
                "Your browser did not send back the cookie this sign-in set a moment ago. It may \
                 block cookies for this site, or the sign-in was started in another browser or \
                 window, or more than 10 minutes ago."
                    .into()
            }
            Diagnosis::Loop { count } => format!(
                "You signed in {count} times within a minute, and each time came back without a \
                 session, so this page stops the loop instead of sending you to sign in again."
            ),
        }
    }

    /// What the operator should change.
    pub fn fix(&self) -> String {
        match self {
            Diagnosis::SecureCookieOverHttp { host } => format!(
                "For the administrator: serve {host} over https, or set `cookie-secure` to false \
                 for a plain-http test set-up."
            ),
            Diagnosis::OtherHost { started, callback } => match common_parent(started, callback) {
                Some(parent) => format!(
                    "For the administrator: set `cookie-domain` to {parent} (it covers both \
                     {started} and {callback}), or use one host in `redirect-url`."
                ),
                // No cookie can be shared by an IP address, `localhost` or two
                // unrelated domains: only one host can fix it.
                None => format!(
                    "For the administrator: no cookie is shared by {started} and {callback}: \
                     open the site at {callback} (the host of `redirect-url`), or set \
                     `redirect-url` to an address on {started}."
                ),
            },
            Diagnosis::CookiesRefused => {
                "If cookies are allowed, open the site again and sign in from its own page.".into()
            }
            Diagnosis::Loop { .. } => {
                "For the administrator: the session cookie does not reach the page (check \
                 `cookie-domain`, `cookie-secure`), replicas do not share sessions (set \
                 `session-store`), or the application itself sends the browser to sign in."
                    .into()
            }
        }
    }
}

/// What the diagnosis needs of the settings, and the starts it remembers.
pub struct Diagnoser {
    secure: bool,
    domain: Option<String>,
    callback: Url,
    starts: Mutex<Starts>,
}

#[derive(Default)]
struct Starts {
    hosts: HashMap<[u8; 16], String>,
    order: VecDeque<[u8; 16]>,
}

fn state_key(state: &str) -> [u8; 16] {
    let digest = Sha256::digest(state.as_bytes());
    let mut key = [0u8; 16];
    key.copy_from_slice(&digest[..16]);
    key
}

/// The host name of a `Host` header value (port and IPv6 brackets aside).
fn host_name(value: &str) -> String {
    let value = value.trim().to_ascii_lowercase();
    if let Some(rest) = value.strip_prefix('[') {
        return rest.split(']').next().unwrap_or_default().to_string();
    }
    value.split(':').next().unwrap_or_default().to_string()
}

/// The parent domain two DNS names share, when a cookie could be scoped to
/// it: at least two labels (`example.com`, never `com`), never for an IP
/// address or `localhost`. Without the public-suffix list a shared `co.uk`
/// still passes; browsers refuse that cookie-domain, and the other fix stays.
fn common_parent(a: &str, b: &str) -> Option<String> {
    let is_name = |h: &str| h.parse::<std::net::IpAddr>().is_err() && h.contains('.');
    if !is_name(a) || !is_name(b) {
        return None;
    }
    let shared: Vec<&str> = a
        .rsplit('.')
        .zip(b.rsplit('.'))
        .take_while(|(x, y)| x == y)
        .map(|(x, _)| x)
        .collect();
    if shared.len() < 2 || is_localhost(a) || is_localhost(b) {
        return None;
    }
    Some(shared.into_iter().rev().collect::<Vec<_>>().join("."))
}

fn is_localhost(host: &str) -> bool {
    host == "localhost" || host.ends_with(".localhost")
}

impl Diagnoser {
    pub fn new(config: &Config) -> Self {
        Self {
            secure: config.cookie.secure,
            domain: config
                .cookie
                .domain
                .as_ref()
                .map(|d| d.trim_start_matches('.').to_ascii_lowercase()),
            callback: config.provider.redirect_url.clone(),
            starts: Mutex::default(),
        }
    }

    fn callback_host(&self) -> String {
        self.callback.host_str().map(host_name).unwrap_or_default()
    }

    /// Whether a cookie set on `a` is sent to `b`.
    fn shared(&self, a: &str, b: &str) -> bool {
        a == b
            || self.domain.as_deref().is_some_and(|d| {
                let covers = |h: &str| h == d || h.ends_with(&format!(".{d}"));
                covers(a) && covers(b)
            })
    }

    /// Remembers a sign-in started on a host whose cookie the callback will not see.
    pub fn note_start(&self, state: &str, request: &http::HeaderMap) {
        let Some(started) = request
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(host_name)
        else {
            return;
        };
        if self.shared(&started, &self.callback_host()) {
            return;
        }
        let Ok(mut starts) = self.starts.lock() else {
            return;
        };
        let key = state_key(state);
        if starts.hosts.insert(key, started).is_none() {
            starts.order.push_back(key);
        }
        while starts.order.len() > MAX_REMEMBERED_STARTS {
            if let Some(old) = starts.order.pop_front() {
                starts.hosts.remove(&old);
            }
        }
    }

    /// Why the login cookie of `state` is likely missing.
    pub fn missing_login(&self, state: &str) -> Diagnosis {
        let callback = self.callback_host();
        if self.secure && self.callback.scheme() == "http" && !is_localhost(&callback) {
            return Diagnosis::SecureCookieOverHttp { host: callback };
        }
        let started = self
            .starts
            .lock()
            .ok()
            .and_then(|s| s.hosts.get(&state_key(state)).cloned());
        match started {
            Some(started) => Diagnosis::OtherHost { started, callback },
            None => Diagnosis::CookiesRefused,
        }
    }
}

/// Completed sign-ins of this browser in the window ending `now`: `count.since`.
pub fn loop_count(request: &http::HeaderMap, name: &str, now: u64) -> (u32, u64) {
    request_cookies(request)
        .filter(|(n, _)| *n == name)
        .find_map(|(_, v)| {
            let (count, since) = v.split_once('.')?;
            Some((count.parse::<u32>().ok()?, since.parse::<u64>().ok()?))
        })
        .filter(|(_, since)| now.saturating_sub(*since) <= LOOP_WINDOW_SECS)
        .unwrap_or((0, now))
}

/// Whether `count` completed sign-ins in the window make the next one a loop.
pub fn is_loop(count: u32) -> bool {
    count >= LOOP_LIMIT
}

/// The counter's value after one more completed sign-in, and its lifetime.
pub fn next_loop_value(count: u32, since: u64, now: u64) -> (String, i64) {
    let left = LOOP_WINDOW_SECS
        .saturating_sub(now.saturating_sub(since))
        .max(1);
    (
        format!("{}.{since}", count.saturating_add(1)),
        i64::try_from(left).unwrap_or(60),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_lose_ports_and_brackets() {
        assert_eq!(host_name("App.Example.com:8443"), "app.example.com");
        assert_eq!(host_name("[::1]:4180"), "::1");
        assert_eq!(host_name("localhost"), "localhost");
    }

    #[test]
    fn every_diagnosis_names_a_reason_and_a_fix() {
        let cases = [
            Diagnosis::SecureCookieOverHttp { host: "h".into() },
            Diagnosis::OtherHost {
                started: "a".into(),
                callback: "b".into(),
            },
            Diagnosis::CookiesRefused,
            Diagnosis::Loop { count: 3 },
        ];
        for d in cases {
            assert!(!d.message().is_empty() && !d.fix().is_empty(), "{d:?}");
        }
        assert!(Diagnosis::SecureCookieOverHttp { host: "h".into() }
            .fix()
            .contains("`cookie-secure`"));
        assert!(is_loop(3) && !is_loop(2));
    }

    #[test]
    fn cookie_domain_is_suggested_only_where_a_cookie_can_cover_both_hosts() {
        let fix = |started: &str, callback: &str| {
            Diagnosis::OtherHost {
                started: started.into(),
                callback: callback.into(),
            }
            .fix()
        };
        assert!(
            fix("app.example.com", "login.example.com").contains("`cookie-domain` to example.com")
        );
        for (started, callback) in [
            ("localhost", "127.0.0.1"),
            ("127.0.0.1", "10.0.0.1"),
            ("a.localhost", "b.localhost"),
            ("app.example.com", "app.example.org"),
        ] {
            let text = fix(started, callback);
            assert!(!text.contains("set `cookie-domain`"), "{text}");
            assert!(text.contains("`redirect-url`"), "{text}");
        }
    }
}
