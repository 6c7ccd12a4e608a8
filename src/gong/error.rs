//! What can go wrong talking to Gong, with what to do about it.

use std::fmt;
use std::time::Duration;

use crate::endpoint::Endpoint;

/// Gong's `requestId` and error messages, which Gong support asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorDetail {
    pub request_id: Option<String>,
    pub messages: Vec<String>,
}

impl fmt::Display for ErrorDetail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(id) = &self.request_id {
            write!(f, " [requestId {id}]")?;
        }
        if !self.messages.is_empty() {
            write!(f, " Gong says: {}", self.messages.join("; "))?;
        }
        Ok(())
    }
}

/// A failed request to Gong (after any retries).
#[derive(Debug, thiserror::Error)]
pub enum GongError {
    #[error(
        "Gong rejected the credentials (401) on {endpoint}: check GONG_ACCESS_KEY / GONG_ACCESS_KEY_SECRET (or GONG_BEARER_TOKEN){detail}"
    )]
    Unauthorized { endpoint: Endpoint, detail: ErrorDetail },

    /// A 401 after which other credentials were at hand (a token file
    /// rewritten, an OAuth token refreshed): the request is sent again.
    #[error("Gong refused the credentials (401) on {endpoint}; trying again with renewed ones{detail}")]
    Renewed { endpoint: Endpoint, detail: ErrorDetail },

    /// A 401 or 403 whose message is Gong's "You don't have permission to
    /// use '`<scope>`' in your app": the credentials are fine but lack this
    /// endpoint's scope. Scopes belong to OAuth apps (Gong's API keys page
    /// offers a name, a lifetime and trusted IPs, no scopes).
    #[error(
        "Gong denied {endpoint} ({status}): missing the scope '{scope}', which the OAuth app must be granted in Gong (an API key has no scopes to grant: ask Gong which permission it lacks); other endpoints keep exporting{detail}",
        scope = endpoint.scope()
    )]
    MissingScope { endpoint: Endpoint, status: u16, detail: ErrorDetail },

    /// A 403 whose body names no scope. The evidence conflicts on what it
    /// means: PostHog's Gong source reads a 403 as a missing scope, another
    /// integration saw one on a revoked token, and Gong refuses requests from
    /// outside an OAuth integration's trusted IPs. So it is its own reason.
    #[error(
        "Gong refused {endpoint} (403) without naming a scope: a revoked or expired key or token, a request from outside the trusted IPs set for it in Gong, or a missing scope ('{scope}' for this endpoint); other endpoints keep exporting{detail}",
        scope = endpoint.scope()
    )]
    Forbidden { endpoint: Endpoint, detail: ErrorDetail },

    /// Getting an OAuth access token failed: Gong refused the refresh
    /// token or the app (not retriable), or its token endpoint failed.
    #[error("cannot get an OAuth access token for {endpoint}: {reason}")]
    TokenRefresh { endpoint: Endpoint, retriable: bool, reason: String },

    /// A 404 that is not Gong's "nothing found" (no JSON error object with
    /// a requestId): a wrong URL, a proxy, an unknown route.
    #[error(
        "{url} answered 404 without Gong's error object: not a Gong API route; check --gong.base-url (the API root, without /v2)"
    )]
    NotFound { endpoint: Endpoint, url: String },

    #[error("Gong rate-limited {endpoint} (429){}{detail}", retry_after.map(|d| format!(", Retry-After {}s", d.as_secs())).unwrap_or_default())]
    RateLimited { endpoint: Endpoint, retry_after: Option<Duration>, detail: ErrorDetail },

    #[error(
        "Gong asked to wait {}s before the next request to {endpoint} (429), more than the {}s left before the next cycle: this cycle gives up on {endpoint} (the daily quota of 10,000 requests may be spent){detail}",
        retry_after.as_secs(), time_left.as_secs()
    )]
    RetryAfterTooLong { endpoint: Endpoint, retry_after: Duration, time_left: Duration, detail: ErrorDetail },

    #[error("Gong failed on {endpoint} ({status}){detail}")]
    Server { endpoint: Endpoint, status: u16, detail: ErrorDetail },

    #[error("Gong rejected the request to {endpoint} ({status}){detail}")]
    Rejected { endpoint: Endpoint, status: u16, detail: ErrorDetail },

    #[error("request to {endpoint} timed out after {}s: Gong is slow or unreachable; --gong.timeout sets the limit", timeout.as_secs_f64())]
    Timeout { endpoint: Endpoint, timeout: Duration },

    #[error("cannot reach Gong for {endpoint}: {reason}; check --gong.base-url and the network")]
    Connect { endpoint: Endpoint, reason: String },

    /// A body that is not JSON or ends early (a cut connection, a proxy's
    /// page): asking again may succeed.
    #[error("Gong's answer on {endpoint} is not the JSON expected{detail}: {reason}")]
    Decode { endpoint: Endpoint, reason: String, detail: ErrorDetail },

    /// Whole JSON of another shape than Gong documents: the same request
    /// would get the same answer, so it is not retried.
    #[error(
        "Gong's answer on {endpoint} is JSON but not in the shape its reference documents{detail}: {reason}; the part keeps its last good data (please report this with the requestId)"
    )]
    Shape { endpoint: Endpoint, reason: String, detail: ErrorDetail },

    #[error(
        "Gong's answer on {endpoint} is larger than --gong.max-response-size ({limit} bytes): the request failed and its part keeps its last good data; raise the flag only if Gong's pages really are this large"
    )]
    TooLarge { endpoint: Endpoint, limit: u64 },

    #[error(
        "Gong answered {endpoint} with a redirect ({status}) to '{location}', which is not followed (a POST would be re-sent as a GET): set --gong.base-url to the API address Gong's API settings page names"
    )]
    Redirected { endpoint: Endpoint, status: u16, location: String },

    #[error(
        "Gong's paging on {endpoint} does not end: {reason}; the query stops and its part keeps its last good data{detail}"
    )]
    Paging { endpoint: Endpoint, reason: String, detail: ErrorDetail },

    /// Records dated outside the days asked for, in the company's zone (a
    /// range off by a day, or Gong dating by another zone): kept as the days
    /// asked, they would overwrite those days; asking again gets the same.
    #[error(
        "Gong's answer on {endpoint} is about other days than asked: asked {asked}, received {received} (company days in {zone}); nothing of it is kept and the part keeps its last good data"
    )]
    WrongDays { endpoint: Endpoint, asked: String, received: String, zone: String },

    /// Most records of a whole answer could not be used (every label value
    /// a megabyte long, IDs missing): published, the rest would make most
    /// users vanish while the poll looked fine.
    #[error(
        "Gong's answer on {endpoint} has {skipped} of {received} records this exporter cannot use (mostly: {reason}); publishing the rest would drop most users, so the part keeps its last good data{detail}"
    )]
    MostlySkipped { endpoint: Endpoint, skipped: u64, received: u64, reason: &'static str, detail: ErrorDetail },

    #[error(
        "this exporter's share of today's Gong requests is spent ({allowance} requests: --gong.daily-limit x --gong.budget-share): no more requests to {endpoint} until the company day ends"
    )]
    BudgetSpent { endpoint: Endpoint, allowance: u64 },
}

impl GongError {
    /// Whether retrying the same request may succeed: throttling, server
    /// faults, timeouts, connection failures and garbled bodies. Credential,
    /// scope and request errors would fail the same way again.
    pub fn is_retriable(&self) -> bool {
        self.retry_reason().is_some()
    }

    /// The `reason` label of `gong_exporter_api_retries_total`.
    pub fn retry_reason(&self) -> Option<&'static str> {
        match self {
            Self::RateLimited { .. } => Some("rate_limited"),
            Self::Server { .. } => Some("server_error"),
            Self::Timeout { .. } => Some("timeout"),
            Self::Connect { .. } => Some("connect"),
            Self::Decode { .. } => Some("decode"),
            Self::Renewed { .. } => Some("credentials_renewed"),
            Self::TokenRefresh { retriable: true, .. } => Some("token_refresh"),
            Self::Unauthorized { .. }
            | Self::TokenRefresh { retriable: false, .. }
            | Self::MissingScope { .. }
            | Self::Forbidden { .. }
            | Self::NotFound { .. }
            | Self::RetryAfterTooLong { .. }
            | Self::Rejected { .. }
            | Self::Shape { .. }
            | Self::TooLarge { .. }
            | Self::Redirected { .. }
            | Self::Paging { .. }
            | Self::WrongDays { .. }
            | Self::MostlySkipped { .. }
            | Self::BudgetSpent { .. } => None,
        }
    }

    /// Whether this is a credential or scope problem.
    pub fn is_auth(&self) -> bool {
        self.auth_failure().is_some()
    }

    /// The `reason` label of `gong_exporter_api_auth_failures_total`:
    /// `credentials` (a 401: wrong or revoked credentials), `scope` (Gong
    /// named the scope this endpoint lacks) or `forbidden` (a 403 that named
    /// none).
    pub fn auth_failure(&self) -> Option<&'static str> {
        match self {
            Self::Unauthorized { .. } => Some("credentials"),
            Self::MissingScope { .. } => Some("scope"),
            Self::Forbidden { .. } => Some("forbidden"),
            Self::TokenRefresh { .. } => Some("token_refresh"),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_facing_messages() {
        let detail = ErrorDetail { request_id: Some("4al018gz".into()), messages: vec!["Access denied".into()] };
        insta::assert_snapshot!(
            GongError::Unauthorized { endpoint: Endpoint::Users, detail: detail.clone() }.to_string(),
            @"Gong rejected the credentials (401) on users: check GONG_ACCESS_KEY / GONG_ACCESS_KEY_SECRET (or GONG_BEARER_TOKEN) [requestId 4al018gz] Gong says: Access denied"
        );
        insta::assert_snapshot!(
            GongError::MissingScope { endpoint: Endpoint::Scorecards, status: 401, detail: ErrorDetail::default() }.to_string(),
            @"Gong denied scorecards (401): missing the scope 'api:stats:scorecards', which the OAuth app must be granted in Gong (an API key has no scopes to grant: ask Gong which permission it lacks); other endpoints keep exporting"
        );
        insta::assert_snapshot!(
            GongError::Forbidden { endpoint: Endpoint::Scorecards, detail: ErrorDetail::default() }.to_string(),
            @"Gong refused scorecards (403) without naming a scope: a revoked or expired key or token, a request from outside the trusted IPs set for it in Gong, or a missing scope ('api:stats:scorecards' for this endpoint); other endpoints keep exporting"
        );
        insta::assert_snapshot!(
            GongError::Decode { endpoint: Endpoint::Interaction, reason: "expected value at line 1 column 1".into(), detail }.to_string(),
            @"Gong's answer on interaction is not the JSON expected [requestId 4al018gz] Gong says: Access denied: expected value at line 1 column 1"
        );
    }

    #[test]
    fn only_transient_failures_are_retried() {
        let e = Endpoint::Users;
        let d = ErrorDetail::default;
        assert!(GongError::RateLimited { endpoint: e, retry_after: None, detail: d() }.is_retriable());
        assert!(GongError::Server { endpoint: e, status: 503, detail: d() }.is_retriable());
        assert!(GongError::Timeout { endpoint: e, timeout: Duration::from_secs(1) }.is_retriable());
        assert!(GongError::Decode { endpoint: e, reason: String::new(), detail: d() }.is_retriable());
        assert!(!GongError::Unauthorized { endpoint: e, detail: d() }.is_retriable());
        assert!(!GongError::MissingScope { endpoint: e, status: 401, detail: d() }.is_retriable());
        assert!(!GongError::Rejected { endpoint: e, status: 400, detail: d() }.is_retriable());
        // The same request would be as large, redirected, endless or
        // misshapen again.
        assert!(!GongError::Shape { endpoint: e, reason: String::new(), detail: d() }.is_retriable());
        assert!(!GongError::TooLarge { endpoint: e, limit: 1 }.is_retriable());
        assert!(!GongError::Redirected { endpoint: e, status: 302, location: String::new() }.is_retriable());
        assert!(!GongError::Paging { endpoint: e, reason: String::new(), detail: d() }.is_retriable());
        assert!(!GongError::BudgetSpent { endpoint: e, allowance: 1 }.is_retriable());
        let zone = String::new;
        assert!(!GongError::WrongDays { endpoint: e, asked: zone(), received: zone(), zone: zone() }.is_retriable());
    }
}
