use super::*;
use crate::identity::Identity;

fn who(email: &str, groups: &[&str]) -> Identity {
    Identity {
        sub: "s".into(),
        email: Some(email.into()),
        email_verified: true,
        name: "n".into(),
        username: "u".into(),
        groups: groups.iter().map(|g| g.to_string()).collect(),
        ..Default::default()
    }
}

fn group(g: &str) -> Rules {
    Rules {
        groups: vec![g.into()],
        ..Rules::default()
    }
}

fn policy() -> Policy {
    Policy {
        rules: group("staff"),
        routes: vec![
            Route {
                host: Some("admin.example.com".into()),
                rules: group("admins"),
                ..Route::default()
            },
            Route {
                path_prefix: Some("/admin".into()),
                methods: vec![Method::POST],
                rules: group("admins"),
                ..Route::default()
            },
            Route {
                path_prefix: Some("/admin".into()),
                rules: group("ops"),
                ..Route::default()
            },
            Route {
                path_prefix: Some("/public/".into()),
                skip_auth: true,
                ..Route::default()
            },
        ],
        skip_auth_routes: vec![
            parse_skip_route("GET /healthz").unwrap(),
            parse_skip_route("/static/").unwrap(),
        ],
        skip_auth_preflight: false,
    }
}

fn access_for(p: &Policy, method: Method, host: &str, path: &str) -> (bool, Vec<Rules>) {
    let a = p.access(&Target::new(&method, Some(host), path), false);
    (a.skip_auth, a.rules.into_iter().cloned().collect())
}

#[test]
fn the_first_matching_route_decides_else_the_global_rules() {
    let p = policy();
    let get = |host: &str, path: &str| access_for(&p, Method::GET, host, path);
    assert_eq!(
        get("Admin.Example.com:8443", "/x"),
        (false, vec![group("admins")])
    );
    assert_eq!(
        get("app.example.com", "/admin/users"),
        (false, vec![group("ops")])
    );
    assert_eq!(
        get("app.example.com", "/administrator"),
        (false, vec![group("staff")])
    );
    assert_eq!(
        access_for(&p, Method::POST, "app.example.com", "/admin"),
        (false, vec![group("admins")])
    );
    assert_eq!(get("app.example.com", "/public/a"), (true, vec![]));
    assert_eq!(
        get("app.example.com", "/public"),
        (false, vec![group("staff")])
    );
}

#[test]
fn skip_routes_match_method_and_normalized_path_only() {
    let p = policy();
    let skip = |m: Method, path: &str| p.access(&Target::new(&m, Some("h"), path), false).skip_auth;
    assert!(skip(Method::GET, "/healthz"));
    assert!(skip(Method::GET, "/healthz?x=/admin"));
    assert!(
        skip(Method::GET, "/health%7A"),
        "an escaped unreserved character is decoded"
    );
    assert!(!skip(Method::POST, "/healthz"));
    assert!(!skip(Method::HEAD, "/healthz"));
    assert!(!skip(Method::GET, "/healthz/"));
    assert!(skip(Method::PUT, "/static/app.js"));
    assert!(skip(Method::GET, "/static/"));
    assert!(!skip(Method::GET, "/static"));
    assert!(!skip(Method::GET, "/STATIC/app.js"));
    for bypass in [
        "/static/../admin",
        "/static/%2e%2e/admin",
        "/static%2F..%2Fadmin",
        "/static/..%2Fadmin",
        "//static/../admin",
        "/static/..;/admin",
        "/static/..\\admin",
        "/static//x",
        "/static/%2fx",
    ] {
        assert!(!skip(Method::GET, bypass), "{bypass}");
    }
}

#[test]
fn ambiguous_paths_need_the_global_rules_and_every_reading() {
    let p = policy();
    let (skip, rules) = access_for(&p, Method::GET, "h", "/public/..%2Fadmin");
    assert!(!skip);
    assert_eq!(rules, vec![group("staff"), group("ops")]);
    let a = p.access(
        &Target::new(&Method::GET, Some("h"), "/public/../admin"),
        false,
    );
    assert!(!a.allows(&who("a@x.com", &["ops"])));
    assert!(a.allows(&who("a@x.com", &["ops", "staff"])));
}

#[test]
fn preflights_skip_only_when_enabled() {
    let mut p = policy();
    let t = Target::new(&Method::OPTIONS, Some("h"), "/api");
    assert!(!p.access(&t, true).skip_auth);
    p.skip_auth_preflight = true;
    assert!(p.access(&t, true).skip_auth);
    assert!(!p.access(&t, false).skip_auth);
    let mut h = HeaderMap::new();
    h.insert("origin", "https://a.example".parse().unwrap());
    assert!(!is_preflight(&Method::OPTIONS, &h));
    h.insert("access-control-request-method", "PUT".parse().unwrap());
    assert!(is_preflight(&Method::OPTIONS, &h));
    assert!(!is_preflight(&Method::GET, &h));
}

#[test]
fn forward_auth_ignores_skip_routes_and_without_a_target_needs_every_rule() {
    let p = policy();
    let t = Target::new(&Method::GET, Some("h"), "/static/x");
    let a = p.forward_auth_access(Some(&t));
    assert!(!a.skip_auth);
    assert_eq!(a.rules, vec![&group("staff")]);
    let t = Target::new(&Method::GET, Some("h"), "/public/x");
    assert_eq!(p.forward_auth_access(Some(&t)).rules, vec![&group("staff")]);
    let a = p.forward_auth_access(None);
    assert_eq!(a.rules.len(), 4);
    assert!(a.allows(&who("a@x.com", &["staff", "admins", "ops"])));
    assert!(!a.allows(&who("a@x.com", &["staff", "admins"])));
}

#[test]
fn config_parsers_explain_bad_values() {
    assert_eq!(
        parse_skip_route("GET /healthz").unwrap(),
        SkipRoute {
            method: Some(Method::GET),
            path: PathPattern::Exact("/healthz".into())
        }
    );
    assert_eq!(
        parse_skip_route("/assets*").unwrap().path,
        PathPattern::Prefix("/assets".into())
    );
    assert_eq!(
        parse_skip_route("/static/").unwrap().path,
        PathPattern::Prefix("/static/".into())
    );
    for bad in [
        "get /x",
        "GET",
        "GET x",
        "/a/../b",
        "/a%2Fb",
        "/a?b",
        "/a*b",
        "/x/*/y",
        "GET  /x y",
    ] {
        assert!(parse_skip_route(bad).is_err(), "{bad}");
    }
    assert!(
        parse_path("/st%61tic").is_err(),
        "escapes of unreserved characters are spelled out"
    );
    assert!(parse_method("PURGE").is_ok());
}

#[test]
fn restricting_routes_apply_to_every_case_and_suffix_reading() {
    let p = policy();
    for path in [
        "/ADMIN/x",
        "/Admin",
        "/admin.json",
        "/admin.",
        "/admin%20",
        "/admin~",
        "/aDmIn/users.json",
    ] {
        let a = p.access(&Target::new(&Method::GET, Some("h"), path), false);
        assert!(!a.skip_auth, "{path}");
        assert!(
            !a.allows(&who("a@x.com", &["staff"])),
            "{path}: the /admin rule"
        );
        assert!(a.allows(&who("a@x.com", &["staff", "ops"])), "{path}");
    }
    let (_, rules) = access_for(&p, Method::GET, "h", "/administrator.json");
    assert_eq!(rules, vec![group("staff")]);
    let a = p.forward_auth_access(Some(&Target::new(&Method::GET, Some("h"), "/ADMIN")));
    assert!(!a.allows(&who("a@x.com", &["staff"])), "forward-auth too");
}

#[test]
fn skip_auth_stays_exact() {
    let p = policy();
    let skip = |m: Method, path: &str| p.access(&Target::new(&m, Some("h"), path), false).skip_auth;
    for path in [
        "/HEALTHZ",
        "/healthz.json",
        "/healthz.",
        "/Static/x",
        "/PUBLIC/x",
    ] {
        assert!(!skip(Method::GET, path), "{path}");
    }
    assert!(skip(Method::GET, "/public/x.json"));
    let lower_get = Method::from_bytes(b"get").unwrap();
    assert!(!skip(lower_get, "/healthz"));
}

#[test]
fn methods_are_read_without_case_and_head_as_get() {
    let p = Policy {
        routes: vec![
            Route {
                path_prefix: Some("/items".into()),
                methods: vec![Method::DELETE],
                rules: group("admins"),
                ..Route::default()
            },
            Route {
                path_prefix: Some("/reports".into()),
                methods: vec![Method::GET],
                rules: group("ops"),
                ..Route::default()
            },
        ],
        ..Policy::default()
    };
    let allows = |m: &[u8], path: &str, groups: &[&str]| {
        let m = Method::from_bytes(m).unwrap();
        p.access(&Target::new(&m, Some("h"), path), false)
            .allows(&who("a@x.com", groups))
    };
    for m in [&b"DELETE"[..], b"delete", b"Delete", b"dElEtE"] {
        assert!(!allows(m, "/items/1", &[]), "{m:?}");
        assert!(allows(m, "/items/1", &["admins"]), "{m:?}");
    }
    assert!(allows(b"GET", "/items/1", &[]));
    assert!(!allows(b"HEAD", "/reports", &[]), "HEAD is read as GET");
    assert!(!allows(b"head", "/reports", &[]));
    assert!(allows(b"HEAD", "/reports", &["ops"]));
    assert!(allows(b"POST", "/reports", &[]));
}

#[test]
fn a_host_with_userinfo_or_any_other_extra_is_no_host() {
    let host = |h: &str| Target::new(&Method::GET, Some(h), "/").host;
    assert_eq!(
        host(" App.Example.COM.:8443 ").as_deref(),
        Some("app.example.com")
    );
    assert_eq!(host("[::1]:4180").as_deref(), Some("[::1]"));
    for bad in [
        "admin.example.com@public.example.com",
        "user@admin.example.com",
        "user:pw@admin.example.com:443",
        "admin.example.com,public.example.com",
        "admin.example.com/x",
    ] {
        assert_eq!(host(bad), None, "{bad}");
    }
}
