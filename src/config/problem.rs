//! What a configuration problem looks like: one line naming the setting.

use std::fmt;

/// One thing wrong with the configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The setting's flag name (`client-id`), `config` for the file itself,
    /// `route[2]` or `provider[1].client_id` inside tables.
    pub setting: String,
    /// What is wrong.
    pub message: String,
    /// The offending value, already `[redacted]` for secrets.
    pub got: Option<String>,
}

impl Problem {
    pub fn new(setting: &str, message: impl Into<String>, got: Option<String>) -> Self {
        Self {
            setting: setting.to_string(),
            message: message.into(),
            got,
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.setting, self.message)?;
        match &self.got {
            Some(got) => write!(f, " (got {got:?})"),
            None => Ok(()),
        }
    }
}

/// Every problem found, one per line when displayed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError(pub Vec<Problem>);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_lines_have_the_agreed_shape() {
        let p = Problem::new("session-ttl", "must be more than zero", Some("0".into()));
        assert_eq!(
            p.to_string(),
            r#"session-ttl: must be more than zero (got "0")"#
        );
        let e = ConfigError(vec![
            p.clone(),
            Problem::new("client-id", "is required but not set", None),
        ]);
        assert_eq!(
            e.to_string(),
            "session-ttl: must be more than zero (got \"0\")\nclient-id: is required but not set"
        );
    }
}
