//! A string that must never be printed: access key secrets and bearer tokens.

use std::fmt;
use std::io::Read as _;
use std::path::Path;
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

/// The largest credential file read: tokens are a few KiB at most, and a
/// path that turns out to be `/dev/zero` must not fill memory.
const MAX_FILE_BYTES: u64 = 64 * 1024;

/// Why a credential file cannot be used (what it holds is never said).
#[derive(Debug, thiserror::Error)]
pub enum SecretFileError {
    #[error("{0}")]
    Unreadable(std::io::Error),
    #[error("it is empty")]
    Empty,
    #[error("it is larger than {MAX_FILE_BYTES} bytes, which no credential is")]
    TooLarge,
    /// A newline or other control character cannot go into an HTTP header.
    #[error("it contains a control character (a newline or tab inside the value?): remove it")]
    ControlCharacter,
}

/// A credential read from a file, trimmed because editors and `kubectl
/// create secret` add trailing newlines.
pub fn read_file(path: &Path) -> Result<Secret, SecretFileError> {
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|file| file.take(MAX_FILE_BYTES + 1).read_to_string(&mut text))
        .map_err(SecretFileError::Unreadable)?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(SecretFileError::TooLarge);
    }
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(SecretFileError::Empty);
    }
    if trimmed.chars().any(char::is_control) {
        return Err(SecretFileError::ControlCharacter);
    }
    Ok(Secret::new(trimmed))
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
