//! From verified claims to the [`Identity`] the upstream sees.

use crate::config::ProviderKind;
use crate::identity::Identity;

use super::verify::Claims;

/// Builds the identity; the email only when the IdP verified it (a Cognito user
/// can change their own email, and a federated IdP can assert any). Groups come
/// from the `groups_claim` (`groups-claim` setting).
pub fn from_claims(
    claims: &Claims,
    kind: ProviderKind,
    allow_unverified_email: bool,
    groups_claim: &str,
) -> Identity {
    let verified = claims.email_verified.as_ref().is_some_and(|f| f.is_true());
    let email = claims
        .email
        .as_ref()
        .filter(|_| verified || allow_unverified_email)
        .map(|e| crate::identity::normalize_email(e))
        .filter(|e| !e.is_empty());
    let username = username(claims, kind);
    Identity {
        sub: claims.sub.clone(),
        email_verified: verified && email.is_some(),
        email,
        name: display_name(claims).unwrap_or_else(|| username.clone()),
        username,
        groups: groups(claims, kind, groups_claim),
        ..Identity::default()
    }
}

fn username(claims: &Claims, kind: ProviderKind) -> String {
    let preferred = match kind {
        ProviderKind::Cognito => [&claims.cognito_username, &claims.preferred_username],
        ProviderKind::Oidc => [&claims.preferred_username, &claims.cognito_username],
    };
    preferred
        .into_iter()
        .flatten()
        .find(|s| !s.is_empty())
        .cloned()
        .unwrap_or_else(|| claims.sub.clone())
}

/// `name`, else `given_name family_name`.
fn display_name(claims: &Claims) -> Option<String> {
    if let Some(name) = claims.name.as_ref().filter(|n| !n.trim().is_empty()) {
        return Some(name.trim().to_string());
    }
    let parts: Vec<&str> = [&claims.given_name, &claims.family_name]
        .into_iter()
        .flatten()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// The configured claim: `cognito:groups` (an array, absent when the user has
/// none), `groups` (for other IdPs, falling back to `cognito:groups`), or any
/// other claim by name. Non-string members are ignored.
fn groups(claims: &Claims, kind: ProviderKind, claim: &str) -> Vec<String> {
    let value = match claim {
        "cognito:groups" => claims.cognito_groups.as_ref(),
        "groups" if kind == ProviderKind::Oidc => {
            claims.groups.as_ref().or(claims.cognito_groups.as_ref())
        }
        "groups" => claims.groups.as_ref(),
        other => claims.other.get(other),
    };
    match value {
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        Some(serde_json::Value::String(one)) => vec![one.clone()],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(json: &str) -> Claims {
        serde_json::from_str(json).unwrap()
    }

    /// The identity with the default groups claim of `kind`.
    fn from_claims(claims: &Claims, kind: ProviderKind, allow_unverified: bool) -> Identity {
        let claim = match kind {
            ProviderKind::Cognito => "cognito:groups",
            ProviderKind::Oidc => "groups",
        };
        super::from_claims(claims, kind, allow_unverified, claim)
    }

    #[test]
    fn name_falls_back_to_given_family_then_username() {
        let c = claims(r#"{"sub":"s","exp":1,"name":"José Ñúñez","cognito:username":"jose"}"#);
        assert_eq!(
            from_claims(&c, ProviderKind::Cognito, false).name,
            "José Ñúñez"
        );
        let c = claims(
            r#"{"sub":"s","exp":1,"given_name":"Ada","family_name":"Lovelace","cognito:username":"ada"}"#,
        );
        assert_eq!(
            from_claims(&c, ProviderKind::Cognito, false).name,
            "Ada Lovelace"
        );
        let c = claims(r#"{"sub":"s","exp":1,"cognito:username":"bob"}"#);
        let id = from_claims(&c, ProviderKind::Cognito, false);
        assert_eq!((id.name.as_str(), id.username.as_str()), ("bob", "bob"));
        let c = claims(r#"{"sub":"s-1","exp":1}"#);
        assert_eq!(from_claims(&c, ProviderKind::Oidc, false).username, "s-1");
    }

    #[test]
    fn unverified_email_is_left_out_unless_allowed() {
        let c = claims(r#"{"sub":"s","exp":1,"email":"Bob@Example.COM","email_verified":false}"#);
        assert_eq!(from_claims(&c, ProviderKind::Cognito, false).email, None);
        assert_eq!(
            from_claims(&c, ProviderKind::Cognito, true)
                .email
                .as_deref(),
            Some("bob@example.com")
        );
        let c = claims(r#"{"sub":"s","exp":1,"email":"Bob@Example.COM","email_verified":true}"#);
        assert_eq!(
            from_claims(&c, ProviderKind::Cognito, false)
                .email
                .as_deref(),
            Some("bob@example.com")
        );
        let c = claims(r#"{"sub":"s","exp":1,"email":"bob@example.com"}"#);
        assert_eq!(from_claims(&c, ProviderKind::Cognito, false).email, None);
    }

    #[test]
    fn emails_are_lower_cased_in_ascii_only() {
        let c =
            claims(r#"{"sub":"s","exp":1,"email":"\u212Aate@Example.COM","email_verified":true}"#);
        assert_eq!(
            from_claims(&c, ProviderKind::Cognito, false)
                .email
                .as_deref(),
            Some("\u{212A}ate@example.com")
        );
    }

    #[test]
    fn email_verified_says_whether_the_email_shown_was_verified() {
        let c = claims(r#"{"sub":"s","exp":1,"email":"b@x.com","email_verified":false}"#);
        let id = from_claims(&c, ProviderKind::Cognito, true);
        assert_eq!(
            (id.email.as_deref(), id.email_verified),
            (Some("b@x.com"), false)
        );
        let c = claims(r#"{"sub":"s","exp":1,"email":"b@x.com","email_verified":"true"}"#);
        assert!(from_claims(&c, ProviderKind::Cognito, false).email_verified);
        let c = claims(r#"{"sub":"s","exp":1,"email_verified":true}"#);
        assert!(!from_claims(&c, ProviderKind::Cognito, false).email_verified);
    }

    #[test]
    fn a_configured_groups_claim_is_read_by_name() {
        let c = claims(
            r#"{"sub":"s","exp":1,"cognito:groups":["c"],"groups":["g"],"custom:roles":["r1","r2"]}"#,
        );
        let id = super::from_claims(&c, ProviderKind::Cognito, false, "custom:roles");
        assert_eq!(id.groups, vec!["r1", "r2"]);
        let id = super::from_claims(&c, ProviderKind::Cognito, false, "groups");
        assert_eq!(id.groups, vec!["g"]);
        let id = super::from_claims(&c, ProviderKind::Oidc, false, "cognito:groups");
        assert_eq!(id.groups, vec!["c"]);
        let id = super::from_claims(&c, ProviderKind::Oidc, false, "absent");
        assert!(id.groups.is_empty());
    }

    #[test]
    fn groups_come_from_cognito_groups_and_tolerate_odd_shapes() {
        let c = claims(r#"{"sub":"s","exp":1,"cognito:groups":["a","b,c",3]}"#);
        assert_eq!(
            from_claims(&c, ProviderKind::Cognito, false).groups,
            vec!["a", "b,c"]
        );
        let c = claims(r#"{"sub":"s","exp":1,"groups":{"x":1}}"#);
        assert!(from_claims(&c, ProviderKind::Oidc, false).groups.is_empty());
        let c = claims(r#"{"sub":"s","exp":1,"groups":["g"]}"#);
        assert_eq!(from_claims(&c, ProviderKind::Oidc, false).groups, vec!["g"]);
        assert!(from_claims(&c, ProviderKind::Cognito, false)
            .groups
            .is_empty());
    }
}
