//! From verified claims to the [`Identity`] the upstream sees.

use crate::config::ProviderKind;
use crate::identity::Identity;

use super::verify::Claims;

/// Builds the identity; the email only when the IdP verified it (a Cognito user
/// can change their own email, and a federated IdP can assert any).
pub fn from_claims(claims: &Claims, kind: ProviderKind, allow_unverified_email: bool) -> Identity {
    let verified = claims.email_verified.as_ref().is_some_and(|f| f.is_true());
    let email = claims
        .email
        .as_ref()
        .filter(|_| verified || allow_unverified_email)
        .map(|e| e.trim().to_lowercase())
        .filter(|e| !e.is_empty());
    let username = username(claims, kind);
    Identity {
        sub: claims.sub.clone(),
        email,
        name: display_name(claims).unwrap_or_else(|| username.clone()),
        username,
        groups: groups(claims, kind),
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

/// `cognito:groups` (an array, absent when the user has none); for other IdPs
/// also `groups`. Non-string members are ignored.
fn groups(claims: &Claims, kind: ProviderKind) -> Vec<String> {
    let value = match kind {
        ProviderKind::Cognito => claims.cognito_groups.as_ref(),
        ProviderKind::Oidc => claims.groups.as_ref().or(claims.cognito_groups.as_ref()),
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
