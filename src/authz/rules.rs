//! Who may pass: allowed email domains, emails and groups, and the parsers
//! that check each configured item.

use crate::identity::{normalize_email, Identity};

/// Rules for one route (or the global ones). Every kind that is given must
/// hold; an empty kind allows everyone, so empty rules allow any signed-in user.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rules {
    /// Lower case; `example.com` matches exactly, `.example.com` its subdomains.
    pub email_domains: Vec<String>,
    /// [`normalize_email`]ed, one `@` each.
    pub emails: Vec<String>,
    /// Case-sensitive; one group in common is enough.
    pub groups: Vec<String>,
}

impl Rules {
    pub fn is_empty(&self) -> bool {
        self.email_domains.is_empty() && self.emails.is_empty() && self.groups.is_empty()
    }

    /// Email rules look at verified emails only, even when unverified ones
    /// are allowed into the identity headers.
    pub fn allow(&self, who: &Identity) -> bool {
        let email = who
            .email
            .as_deref()
            .filter(|_| who.email_verified)
            .map(normalize_email);
        let domain_ok = self.email_domains.is_empty()
            || email
                .as_deref()
                .and_then(domain_of)
                .is_some_and(|d| self.email_domains.iter().any(|r| domain_matches(r, d)));
        let email_ok = self.emails.is_empty()
            || email
                .as_deref()
                .is_some_and(|e| self.emails.iter().any(|a| a == e));
        let group_ok = self.groups.is_empty() || who.groups.iter().any(|g| self.groups.contains(g));
        domain_ok && email_ok && group_ok
    }

    /// Forward-auth's per-request rules from the auth URL's query
    /// (`?allowed_groups=a,b&allowed_emails=x@y&allowed_email_domains=z`).
    /// Items that are not valid can never match, so they are kept as given.
    pub fn from_query(query: Option<&str>) -> Self {
        let mut rules = Rules::default();
        let list = |v: &str| {
            v.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
        };
        for (key, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            match key.as_ref() {
                "allowed_groups" => rules.groups.extend(list(&value)),
                "allowed_emails" => rules.emails.extend(list(&normalize_email(&value))),
                "allowed_email_domains" => rules
                    .email_domains
                    .extend(list(&value.to_ascii_lowercase())),
                _ => {}
            }
        }
        rules
    }
}

/// The domain of an address with exactly one `@` and a non-empty local part.
fn domain_of(email: &str) -> Option<&str> {
    let (local, domain) = email.split_once('@')?;
    (!local.is_empty() && !domain.is_empty() && !domain.contains('@')).then_some(domain)
}

/// `example.com` matches itself only; `.example.com` any name ending with it.
pub fn domain_matches(rule: &str, name: &str) -> bool {
    if rule.starts_with('.') {
        name.len() > rule.len() && name.ends_with(rule)
    } else {
        name == rule
    }
}

/// A DNS name, lower-cased, optionally with a leading `.` for subdomains: the
/// one parser of every domain setting (rules, `cookie-domain`,
/// `allowed-redirect-domains`) and of redirect hosts.
pub fn parse_domain(s: &str) -> Result<String, String> {
    const WHAT: &str = "must be a host name like example.com or .example.com";
    let s = s.trim().to_ascii_lowercase();
    let name = s.strip_prefix('.').unwrap_or(&s);
    let ok = !name.is_empty()
        && name.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if ok {
        Ok(s)
    } else {
        Err(WHAT.into())
    }
}

/// An email address, [`normalize_email`]ed: exactly one `@`, something on both sides.
pub fn parse_email(s: &str) -> Result<String, String> {
    let s = normalize_email(s.trim());
    let printable = s.chars().all(|c| !c.is_whitespace() && !c.is_control());
    match domain_of(&s) {
        Some(domain) if printable && parse_domain(domain).is_ok() && !domain.starts_with('.') => {
            Ok(s)
        }
        _ => Err("must be an email address with exactly one @".into()),
    }
}

/// A group name as the IdP spells it (case-sensitive), without control characters.
pub fn parse_group(s: &str) -> Result<String, String> {
    let s = s.trim();
    if s.is_empty() || s.chars().any(char::is_control) {
        return Err("must be a group name without control characters".into());
    }
    Ok(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(email: Option<&str>, verified: bool, groups: &[&str]) -> Identity {
        Identity {
            sub: "s".into(),
            email: email.map(str::to_string),
            email_verified: verified,
            name: "n".into(),
            username: "u".into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            ..Default::default()
        }
    }

    fn domains(d: &[&str]) -> Rules {
        Rules {
            email_domains: d.iter().map(|s| s.to_string()).collect(),
            ..Rules::default()
        }
    }

    #[test]
    fn domains_match_exactly_or_as_subdomains() {
        let r = domains(&["example.com", ".corp.example"]);
        assert!(r.allow(&who(Some("a@example.com"), true, &[])));
        assert!(r.allow(&who(Some("A@Example.COM"), true, &[])));
        assert!(!r.allow(&who(Some("a@sub.example.com"), true, &[])));
        assert!(!r.allow(&who(Some("a@evilexample.com"), true, &[])));
        assert!(r.allow(&who(Some("a@eu.corp.example"), true, &[])));
        assert!(!r.allow(&who(Some("a@corp.example"), true, &[])));
        assert!(!r.allow(&who(Some("a@x.corp.example.evil"), true, &[])));
    }

    #[test]
    fn an_email_with_two_ats_never_matches_a_domain() {
        let r = domains(&["example.com", ".example.com"]);
        assert!(!r.allow(&who(Some("a@evil.com@example.com"), true, &[])));
        assert!(!r.allow(&who(Some("a@b@x.example.com"), true, &[])));
        assert!(!r.allow(&who(Some("@example.com"), true, &[])));
    }

    #[test]
    fn email_rules_need_a_verified_email() {
        let r = Rules {
            emails: vec!["a@example.com".into()],
            ..Rules::default()
        };
        assert!(r.allow(&who(Some("a@example.com"), true, &[])));
        assert!(!r.allow(&who(Some("a@example.com"), false, &[])));
        assert!(!r.allow(&who(None, true, &[])));
        assert!(!domains(&["example.com"]).allow(&who(Some("a@example.com"), false, &[])));
    }

    #[test]
    fn every_given_kind_must_hold_and_groups_need_one_in_common() {
        let r = Rules {
            email_domains: vec!["example.com".into()],
            emails: vec![],
            groups: vec!["admins".into(), "ops".into()],
        };
        assert!(r.allow(&who(Some("a@example.com"), true, &["dev", "ops"])));
        assert!(!r.allow(&who(Some("a@example.com"), true, &["Ops"])));
        assert!(!r.allow(&who(Some("a@other.com"), true, &["ops"])));
        assert!(Rules::default().allow(&who(None, false, &[])));
    }

    /// Unicode lower-casing maps the Kelvin sign U+212A to `k`: it must not
    /// turn another address into an allowed one.
    #[test]
    fn emails_compare_after_ascii_lower_casing_only() {
        let r = Rules {
            emails: vec![parse_email("Kate@Example.com").unwrap()],
            ..Rules::default()
        };
        assert!(r.allow(&who(Some("KATE@example.COM"), true, &[])));
        assert!(!r.allow(&who(Some("\u{212A}ate@example.com"), true, &[])));
        assert!(!r.allow(&who(Some("kate@example.com\0"), true, &[])));
        let r = Rules::from_query(Some("allowed_emails=kate@example.com"));
        assert!(!r.allow(&who(Some("\u{212A}ATE@example.com"), true, &[])));
        assert!(!domains(&["example.com"]).allow(&who(Some("a@exampl\u{212A}.com"), true, &[])));
        assert!(!domains(&["ks.com"]).allow(&who(Some("a@\u{212A}s.com"), true, &[])));
    }

    #[test]
    fn query_rules_take_all_three_kinds() {
        let r = Rules::from_query(Some(
            "allowed_groups=admins,ops&allowed_emails=A@x.com&allowed_email_domains=X.com",
        ));
        assert_eq!(r.groups, vec!["admins", "ops"]);
        assert_eq!(r.emails, vec!["a@x.com"]);
        assert_eq!(r.email_domains, vec!["x.com"]);
        assert!(r.allow(&who(Some("a@x.com"), true, &["ops"])));
        assert!(!r.allow(&who(Some("a@x.com"), true, &["dev"])));
        assert!(Rules::from_query(Some("allowed_groups=")).is_empty());
    }

    #[test]
    fn parsers_accept_good_items_and_explain_bad_ones() {
        assert_eq!(parse_domain(" .Example.COM").unwrap(), ".example.com");
        for bad in [
            "",
            ".",
            "a..b",
            "a@b.com",
            "*",
            "exa mple.com",
            "a.com:80",
            "-a.com",
            "a-.com",
        ] {
            assert!(parse_domain(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_email("Ann@Example.com").unwrap(), "ann@example.com");
        for bad in ["ann", "a@b@c.com", "@c.com", "a@", "a b@c.com", "a@.c.com"] {
            assert!(parse_email(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_group(" Engineering, Platform ").unwrap(),
            "Engineering, Platform"
        );
        assert!(parse_group("a\nb").is_err());
    }
}
