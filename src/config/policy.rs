//! Who may reach what: the global rules and skip-auth routes, and the
//! `[[route]]` tables (config file only).

use super::check::{check, Checker};
use super::parse;
use super::problem::Problem;
use super::settings::{RouteSettings, Settings};
use crate::authz::{
    parse_domain, parse_email, parse_group, parse_method, parse_path, parse_skip_route, Policy,
    Route, Rules,
};

pub(crate) fn policy(c: &mut Checker, s: &Settings) -> Policy {
    Policy {
        rules: Rules {
            email_domains: check!(c.list(s.allowed_email_domains, parse_domain)),
            emails: check!(c.list(s.allowed_emails, parse_email)),
            groups: check!(c.list(s.allowed_groups, parse_group)),
        },
        routes: routes(&mut c.problems, &s.routes),
        skip_auth_routes: check!(c.list(s.skip_auth_routes, parse_skip_route)),
        skip_auth_preflight: check!(c.value(s.skip_auth_preflight, parse::boolean)),
    }
}

/// The routes in file order; a route with any problem is left out.
fn routes(problems: &mut Vec<Problem>, tables: &[RouteSettings]) -> Vec<Route> {
    let mut out = Vec::new();
    for (i, r) in tables.iter().enumerate() {
        let mut c = Checker::for_table(format!("route[{}]", i + 1), ": ");
        let route = Route {
            host: check!(c.optional(r.host, parse_domain)),
            path_prefix: check!(c.optional(r.path_prefix, parse_path)),
            methods: check!(c.list(r.methods, parse_method)),
            rules: Rules {
                email_domains: check!(c.list(r.allowed_email_domains, parse_domain)),
                emails: check!(c.list(r.allowed_emails, parse_email)),
                groups: check!(c.list(r.allowed_groups, parse_group)),
            },
            skip_auth: check!(c.optional(r.skip_auth, parse::boolean)).unwrap_or_default(),
        };
        if route.skip_auth && !route.rules.is_empty() {
            let message =
                "skip_auth = true cannot have allowed_* rules (nobody is signed in to check)";
            c.problems
                .push(Problem::new(&format!("route[{}]", i + 1), message, None));
        }
        if c.problems.is_empty() {
            out.push(route);
        }
        problems.append(&mut c.problems);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routes_of(text: &str) -> (Vec<Route>, Vec<String>) {
        let f = {
            use std::io::Write;
            let mut f = tempfile::NamedTempFile::new().unwrap();
            f.write_all(text.as_bytes()).unwrap();
            f
        };
        let mut problems = Vec::new();
        let names = super::super::args::setting_names();
        let layer = super::super::file::read(f.path(), &names, &mut problems).unwrap();
        let got = routes(&mut problems, &layer.routes.unwrap_or_default());
        (got, problems.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn route_tables_become_routes_in_order() {
        let (got, problems) = routes_of(
            r#"
            [[route]]
            host = "Admin.Example.com"
            path_prefix = "/admin"
            methods = ["GET", "POST"]
            allowed_groups = ["Engineering, Platform", "admins"]
            allowed_emails = ["Ann@Example.com"]
            allowed_email_domains = [".corp.example"]

            [[route]]
            path_prefix = "/healthz"
            skip_auth = true
            "#,
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].host.as_deref(), Some("admin.example.com"));
        assert_eq!(got[0].methods, vec![http::Method::GET, http::Method::POST]);
        assert_eq!(got[0].rules.groups, vec!["Engineering, Platform", "admins"]);
        assert_eq!(got[0].rules.emails, vec!["ann@example.com"]);
        assert_eq!(got[0].rules.email_domains, vec![".corp.example"]);
        assert!(got[1].skip_auth && got[1].rules.is_empty());
    }

    #[test]
    fn every_bad_value_is_one_problem_line_and_its_route_is_dropped() {
        let (got, problems) = routes_of(
            r#"
            [[route]]
            hosts = "x"
            path_prefix = "/a/../b"
            methods = ["get", "PUT"]
            allowed_emails = ["a@b@c.com", "ok@x.com"]
            skip_auth = "maybe"

            [[route]]
            skip_auth = true
            allowed_groups = ["g"]

            [[route]]
            path_prefix = "/fine"
            "#,
        );
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].path_prefix.as_deref(), Some("/fine"));
        let expected = [
            r#"route[1]: allowed_emails: must be an email address with exactly one @ (got "a@b@c.com")"#,
            r#"route[1]: unknown key (got "hosts")"#,
            r#"route[1]: methods: must be an HTTP method in upper case, like GET (got "get")"#,
            r#"route[1]: skip_auth: must be true/false/1/0/yes/no (got "maybe")"#,
            "route[2]: skip_auth = true cannot have allowed_* rules (nobody is signed in to check)",
        ];
        for line in expected {
            assert!(problems.iter().any(|p| p == line), "{line}\n{problems:#?}");
        }
        assert!(problems
            .iter()
            .any(|p| p.starts_with("route[1]: path_prefix: must be a path")));
        assert_eq!(problems.len(), expected.len() + 1, "{problems:#?}");
    }
}
