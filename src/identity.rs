//! Who the user is, as the sidecar tells the upstream.
//!
//! Made by the provider from a verified ID token, kept in the session,
//! rendered into identity headers by the proxy.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// The IdP's stable user id (`sub`).
    pub sub: String,
    /// Lower-cased email, present only when the IdP verified it (or the
    /// configuration allows unverified emails).
    pub email: Option<String>,
    /// Whether the IdP verified `email`; authorization rules look at verified
    /// emails only, even when unverified ones are allowed into the headers.
    #[serde(default)]
    pub email_verified: bool,
    /// `name`, else `given_name family_name`, else the username.
    pub name: String,
    /// `cognito:username` (or `preferred_username` / `sub` for other IdPs).
    pub username: String,
    /// `cognito:groups` (or a configured claim); empty when absent.
    pub groups: Vec<String>,
    /// The name of the provider that verified it (`default`, or a
    /// `[[provider]]` table's): two IdPs' `sub` values may collide, the pair
    /// does not. Empty in sessions stored before it existed.
    #[serde(default)]
    pub provider: String,
    /// That provider's issuer (the ID token's `iss`).
    #[serde(default)]
    pub issuer: String,
}

impl Identity {
    /// Who the access log names: the email when known, else the `sub`.
    pub fn log_name(&self) -> String {
        self.email.clone().unwrap_or_else(|| self.sub.clone())
    }
}

/// The one form emails are stored and compared in: ASCII letters lower-cased,
/// everything else kept byte for byte. Mail systems treat ASCII case alike in
/// practice (Cognito too); Unicode case mapping is not used because it merges
/// distinct addresses (the Kelvin sign U+212A lower-cases to `k`, so
/// `\u{212A}ate@example.com` would become `kate@example.com`). No trimming
/// and no Unicode normalization either: two different strings stay different.
pub fn normalize_email(raw: &str) -> String {
    raw.to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::normalize_email;

    #[test]
    fn emails_lower_case_ascii_only_and_never_merge() {
        assert_eq!(normalize_email("Erin@EXAMPLE.com"), "erin@example.com");
        assert_ne!(
            normalize_email("\u{212A}ate@example.com"),
            "kate@example.com"
        );
        assert_ne!(normalize_email("\u{017F}am@example.com"), "sam@example.com");
        assert_eq!(normalize_email("Élodie@x.com"), "Élodie@x.com");
        assert_eq!(normalize_email(" a@x.com"), " a@x.com");
    }
}

/// The claims of the provider's userInfo answer, in the order it sent them:
/// what an Application Load Balancer signs into `x-amzn-oidc-data`, kept as
/// they came (Cognito's `email_verified` stays the string `"true"`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UserInfoClaims(Vec<(String, serde_json::Value)>);

impl UserInfoClaims {
    /// The value of `name`, if the answer had it.
    pub fn get(&self, name: &str) -> Option<&serde_json::Value> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    /// The claims in order, skipping those named in `except`.
    pub fn iter_except<'a>(
        &'a self,
        except: &'a [&str],
    ) -> impl Iterator<Item = (&'a str, &'a serde_json::Value)> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| !except.contains(&k.as_str()))
            .map(|(k, v)| (k.as_str(), v))
    }

    /// Rough heap size, for the memory-weighted session cache.
    pub fn weight(&self) -> usize {
        self.0
            .iter()
            .map(|(k, v)| k.len() + v.to_string().len() + 32)
            .sum()
    }
}

impl Serialize for UserInfoClaims {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for UserInfoClaims {
    /// A JSON object, in document order; a repeated name keeps its first value.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Ordered;
        impl<'de> serde::de::Visitor<'de> for Ordered {
            type Value = UserInfoClaims;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object of claims")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                let mut claims: Vec<(String, serde_json::Value)> = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, serde_json::Value>()? {
                    if !claims.iter().any(|(seen, _)| *seen == k) {
                        claims.push((k, v));
                    }
                }
                Ok(UserInfoClaims(claims))
            }
        }
        d.deserialize_map(Ordered)
    }
}

#[cfg(test)]
mod userinfo_tests {
    use super::*;

    #[test]
    fn userinfo_claims_keep_their_order_and_types() {
        let body = r#"{"sub":"0b1c","email_verified":"true","custom:x":"1","email":"a@b","username":"u","sub":"dup"}"#;
        let claims: UserInfoClaims = serde_json::from_str(body).unwrap();
        assert_eq!(claims.get("sub"), Some(&serde_json::json!("0b1c")));
        assert_eq!(
            claims.get("email_verified"),
            Some(&serde_json::json!("true"))
        );
        let names: Vec<&str> = claims.iter_except(&["email"]).map(|(k, _)| k).collect();
        assert_eq!(names, ["sub", "email_verified", "custom:x", "username"]);
        let again = serde_json::to_string(&claims).unwrap();
        assert_eq!(
            again,
            r#"{"sub":"0b1c","email_verified":"true","custom:x":"1","email":"a@b","username":"u"}"#
        );
        assert_eq!(
            serde_json::from_str::<UserInfoClaims>(&again).unwrap(),
            claims
        );
        assert!(serde_json::from_str::<UserInfoClaims>("[1]").is_err());
    }
}
