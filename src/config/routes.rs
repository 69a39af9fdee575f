//! Authorization settings: the global rules and skip-auth routes (flags,
//! environment, file) and the `[[route]]` tables (config file only).

use super::reader::{Problem, Reader};
use crate::authz::{
    parse_domain, parse_email, parse_group, parse_method, parse_path, parse_skip_route, Policy,
    Route, Rules,
};

/// The policy from the merged settings and the file's routes.
pub(crate) fn policy(r: &mut Reader, routes: Vec<Route>) -> Policy {
    Policy {
        rules: Rules {
            email_domains: r.list("allowed-email-domains", Vec::new(), parse_domain),
            emails: r.list("allowed-emails", Vec::new(), parse_email),
            groups: r.list("allowed-groups", Vec::new(), parse_group),
        },
        routes,
        skip_auth_routes: r.list("skip-auth-routes", Vec::new(), parse_skip_route),
        skip_auth_preflight: r.or("skip-auth-preflight", false, super::parse::boolean),
    }
}

/// The file's `route` key: an array of tables, each checked; one problem line
/// per bad value, and a route with any problem is left out.
pub(crate) fn read_routes(value: toml::Value, problems: &mut Vec<Problem>) -> Vec<Route> {
    let toml::Value::Array(items) = value else {
        let message = "must be an array of tables, written [[route]]".to_string();
        problems.push(Problem::new("route", message, None));
        return Vec::new();
    };
    let mut routes = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let name = format!("route[{}]", i + 1);
        let before = problems.len();
        let route = match item {
            toml::Value::Table(table) => read_route(&name, table, problems),
            _ => {
                problems.push(Problem::new(&name, "must be a table".into(), None));
                Route::default()
            }
        };
        if problems.len() == before {
            routes.push(route);
        }
    }
    routes
}

fn read_route(name: &str, table: toml::Table, problems: &mut Vec<Problem>) -> Route {
    let mut route = Route::default();
    let mut p = Fields { name, problems };
    for (key, value) in table {
        match key.as_str() {
            "host" => route.host = p.one(&key, value, parse_domain),
            "path_prefix" => route.path_prefix = p.one(&key, value, parse_path),
            "methods" => route.methods = p.many(&key, value, parse_method),
            "allowed_email_domains" => {
                route.rules.email_domains = p.many(&key, value, parse_domain)
            }
            "allowed_emails" => route.rules.emails = p.many(&key, value, parse_email),
            "allowed_groups" => route.rules.groups = p.many(&key, value, parse_group),
            "skip_auth" => match value {
                toml::Value::Boolean(b) => route.skip_auth = b,
                _ => p.problem(format!("{key}: must be true or false"), None),
            },
            _ => p.problem("unknown key".into(), Some(key)),
        }
    }
    if route.skip_auth && !route.rules.is_empty() {
        let message = "skip_auth = true cannot have allowed_* rules (nobody is signed in to check)";
        p.problem(message.into(), None);
    }
    route
}

/// Reads the values of one route table, recording problems under its name.
struct Fields<'a> {
    name: &'a str,
    problems: &'a mut Vec<Problem>,
}

impl Fields<'_> {
    fn problem(&mut self, message: String, got: Option<String>) {
        self.problems.push(Problem::new(self.name, message, got));
    }

    fn one<T>(
        &mut self,
        key: &str,
        value: toml::Value,
        parse: fn(&str) -> Result<T, String>,
    ) -> Option<T> {
        let toml::Value::String(s) = value else {
            self.problem(format!("{key}: must be a string"), None);
            return None;
        };
        parse(&s)
            .map_err(|message| self.problem(format!("{key}: {message}"), Some(s)))
            .ok()
    }

    /// An array of strings (or one string), each parsed.
    fn many<T>(
        &mut self,
        key: &str,
        value: toml::Value,
        parse: fn(&str) -> Result<T, String>,
    ) -> Vec<T> {
        let items = match value {
            toml::Value::Array(items) => items,
            one => vec![one],
        };
        items
            .into_iter()
            .filter_map(|item| self.one(key, item, parse))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routes(text: &str) -> (Vec<Route>, Vec<String>) {
        let mut table: toml::Table = text.parse().unwrap();
        let mut problems = Vec::new();
        let got = read_routes(table.remove("route").unwrap(), &mut problems);
        (got, problems.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn route_tables_become_routes_in_order() {
        let (got, problems) = routes(
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
        let (got, problems) = routes(
            r#"
            [[route]]
            hosts = "x"
            path_prefix = "/a/../b"
            methods = ["get", "PUT"]
            allowed_emails = ["a@b@c.com", "ok@x.com"]
            skip_auth = "yes"

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
            "route[1]: skip_auth: must be true or false",
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

    #[test]
    fn route_must_be_an_array_of_tables() {
        let (got, problems) = routes("route = \"x\"");
        assert!(got.is_empty());
        assert_eq!(
            problems,
            vec!["route: must be an array of tables, written [[route]]"]
        );
        let (_, problems) = routes("route = [1]");
        assert_eq!(problems, vec!["route[1]: must be a table"]);
    }
}
