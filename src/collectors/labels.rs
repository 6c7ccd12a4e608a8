//! What every collector's families share: how IDs and windows are written
//! as label values, the label set of a per-user series, the option that
//! drops emails, and the HELP suffix that says the data is cached.

use std::fmt::Write as _;

use prometheus_client::encoding::{EncodeLabel, EncodeLabelSet, EncodeLabelValue, LabelSetEncoder, LabelValueEncoder};

use crate::gong::models::GongId;
use crate::windows::Window;

/// Appended to every data family's HELP.
pub const CACHED: &str = "Polled from Gong in the background and cached; a scrape never calls Gong.";

/// Choices the operator makes about labels.
#[derive(Debug, Clone, Copy)]
pub struct LabelOptions {
    /// `--metrics.user-email`: `false` drops every email label.
    pub include_email: bool,
}

impl LabelOptions {
    /// `email`, unless emails are left out.
    pub fn email<'a>(&self, email: &'a str) -> Option<&'a str> {
        self.include_email.then_some(email)
    }
}

impl EncodeLabelValue for GongId {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        write!(encoder, "{}", self.0)
    }
}

impl EncodeLabelValue for Window {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        write!(encoder, "{self}")
    }
}

/// A label value that may be absent: written as the empty string, which
/// Prometheus treats as no label.
pub struct OptionalId(pub Option<GongId>);

impl EncodeLabelValue for OptionalId {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        match self.0 {
            Some(id) => id.encode(encoder),
            None => Ok(()),
        }
    }
}

/// Writes one `key="value"` pair.
pub fn label(encoder: &mut LabelSetEncoder, key: &str, value: impl EncodeLabelValue) -> std::fmt::Result {
    (key, value).encode(encoder.encode_label())
}

/// `{user_id, user_email, window}`, `user_email` left out when disabled.
pub struct UserSeries<'a> {
    pub user_id: GongId,
    pub email: Option<&'a str>,
    /// `None` for the cumulative counters, which span all days.
    pub window: Option<Window>,
    pub stat: Option<&'a str>,
}

impl EncodeLabelSet for UserSeries<'_> {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> std::fmt::Result {
        label(encoder, "user_id", self.user_id)?;
        if let Some(email) = self.email {
            label(encoder, "user_email", email)?;
        }
        if let Some(window) = self.window {
            label(encoder, "window", window)?;
        }
        if let Some(stat) = self.stat {
            label(encoder, "stat", stat)?;
        }
        Ok(())
    }
}
