//! A string that must never be printed: access key secrets and bearer tokens.

use std::fmt;
use std::str::FromStr;

use subtle::ConstantTimeEq as _;

/// A credential whose `Debug` and `Display` print a placeholder, so it cannot
/// leak through logs, panics or `{:?}` of a config struct. No `==`: a
/// comparison that stops at the first differing byte tells, by its timing,
/// how much of a guess was right; [`Secret::constant_time_eq`] does not.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Wraps a credential.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The credential itself, for the one place that must send it (the
    /// `Authorization` header).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the credential is `candidate`, in a time that depends on
    /// their lengths only, not on where they differ.
    pub fn constant_time_eq(&self, candidate: &str) -> bool {
        self.0.as_bytes().ct_eq(candidate.as_bytes()).into()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::new(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let secret = Secret::new("hunter2-very-secret");
        assert!(!format!("{secret:?}").contains("hunter2"));
        assert!(!format!("{secret}").contains("hunter2"));
        assert!(!format!("{:#?}", Some(&secret)).contains("hunter2"));
        assert_eq!(secret.expose(), "hunter2-very-secret");
    }

    #[test]
    fn constant_time_eq_is_true_only_for_the_same_bytes() {
        let secret = Secret::new("hunter2");
        assert!(secret.constant_time_eq("hunter2"));
        for other in ["", "hunter", "hunter22", "Hunter2", "hunter3", "hunter2 "] {
            assert!(!secret.constant_time_eq(other), "{other:?}");
        }
        assert!(Secret::new("").constant_time_eq(""));
    }
}
