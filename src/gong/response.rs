//! Reading Gong's HTTP answers: a body capped at
//! `--gong.max-response-size`, `Retry-After` in either form and capped,
//! and what an error body says (its `requestId` for Gong support, whether
//! it names a missing scope, whether it is Gong's own 404).

use std::time::Duration;

use reqwest::header::HeaderValue;

use super::error::ErrorDetail;
use super::models::ErrorBody;

/// Why a body was not read whole.
pub(super) enum ReadError {
    Http(reqwest::Error),
    /// Longer than `--gong.max-response-size`.
    TooLarge,
}

impl From<reqwest::Error> for ReadError {
    fn from(error: reqwest::Error) -> Self {
        Self::Http(error)
    }
}

/// Reads `response`'s body, at most `limit` bytes: a longer one (announced
/// or streamed) stops as soon as it passes the limit, so an endless body
/// costs `limit` bytes of memory, not everything until the timeout.
pub(super) async fn read_capped(response: &mut reqwest::Response, limit: u64) -> Result<Vec<u8>, ReadError> {
    if response.content_length().is_some_and(|announced| announced > limit) {
        return Err(ReadError::TooLarge);
    }
    let announced = response.content_length().unwrap_or(0).min(limit);
    let mut body = Vec::with_capacity(usize::try_from(announced).unwrap_or(0));
    while let Some(chunk) = response.chunk().await? {
        if (body.len() + chunk.len()) as u64 > limit {
            return Err(ReadError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The longest pause a `Retry-After` can impose: a day, past which Gong's
/// daily quota has renewed. A larger value (a broken or hostile answer)
/// would otherwise stop polling for good, or overflow an `Instant`.
pub const MAX_PAUSE: Duration = Duration::from_secs(24 * 3600);

/// `Retry-After` as seconds or as an HTTP-date (RFC 9110), capped at
/// [`MAX_PAUSE`] (logged); a date in the past is no wait.
pub(super) fn parse_retry_after(value: &HeaderValue) -> Option<Duration> {
    let text = value.to_str().ok()?.trim();
    let wait = match text.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => {
            let at = jiff::fmt::rfc2822::parse(text).ok()?.timestamp();
            Duration::try_from(at.duration_since(jiff::Timestamp::now())).unwrap_or(Duration::ZERO)
        }
    };
    if wait > MAX_PAUSE {
        tracing::warn!(retry_after = text, capped_to = ?MAX_PAUSE, "Gong's Retry-After is longer than a day; waiting a day at most");
        return Some(MAX_PAUSE);
    }
    Some(wait)
}

pub(super) fn error_detail(body: &[u8]) -> ErrorDetail {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(parsed) => ErrorDetail { request_id: parsed.request_id, messages: parsed.errors },
        // A truncated or garbled body often still starts with the requestId,
        // which is what Gong support needs.
        Err(_) => ErrorDetail { request_id: scan_request_id(body), messages: Vec::new() },
    }
}

/// Whether `body` is Gong's JSON error object (`requestId` and `errors`),
/// as its documented 404s ("No stats found for the specified period") are.
pub(super) fn is_gong_error_object(body: &[u8]) -> bool {
    serde_json::from_slice::<ErrorBody>(body).is_ok_and(|parsed| parsed.request_id.is_some())
}

/// Whether Gong's 401 message is about a scope ("You don't have permission
/// to use 'api:stats:interaction' in your app.") rather than the key.
pub(super) fn names_a_permission(detail: &ErrorDetail) -> bool {
    detail.messages.iter().any(|m| m.to_ascii_lowercase().contains("permission"))
}

fn scan_request_id(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body.get(..body.len().min(4096))?).ok()?;
    let after_key = &text[text.find("\"requestId\"")? + "\"requestId\"".len()..];
    let value = after_key.trim_start().strip_prefix(':')?.trim_start().strip_prefix('"')?;
    let id = &value[..value.find('"')?];
    (!id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        .then(|| id.to_owned())
}

/// reqwest's top-level message ("error sending request") hides the cause.
pub(super) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_integer_seconds() {
        assert_eq!(parse_retry_after(&HeaderValue::from_static("7")), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after(&HeaderValue::from_static(" 3600 ")), Some(Duration::from_secs(3600)));
        assert_eq!(parse_retry_after(&HeaderValue::from_static("soon")), None);
    }

    #[test]
    fn retry_after_is_capped_and_may_be_an_http_date() {
        for huge in ["18446744073709551615", "1000000000000", "86401"] {
            assert_eq!(parse_retry_after(&HeaderValue::from_str(huge).unwrap()), Some(MAX_PAUSE), "{huge}");
        }
        let in_a_minute = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(61);
        let date = jiff::fmt::rfc2822::DateTimePrinter::new().timestamp_to_rfc9110_string(&in_a_minute).unwrap();
        let wait = parse_retry_after(&HeaderValue::from_str(&date).unwrap()).unwrap();
        assert!(wait > Duration::from_secs(55) && wait <= Duration::from_secs(61), "{date}: {wait:?}");
        let past = HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(parse_retry_after(&past), Some(Duration::ZERO));
    }

    #[test]
    fn request_id_is_recovered_from_truncated_bodies() {
        let d = error_detail(br#"{"requestId": "4al018gz","records":{"totalRecords":3,"#);
        assert_eq!(d.request_id.as_deref(), Some("4al018gz"));
        assert_eq!(error_detail(br#"{"requestId":"<script>","#).request_id, None);
    }

    #[test]
    fn only_gong_error_objects_are_gong_404s() {
        assert!(is_gong_error_object(
            br#"{"requestId":"4al018gz","errors":["No stats found for the specified period"]}"#
        ));
        assert!(!is_gong_error_object(b"<html><body>Not Found</body></html>"));
        assert!(!is_gong_error_object(
            br#"{"timestamp":"2024-01-01","status":404,"error":"Not Found","path":"/v2/v2/users"}"#
        ));
        assert!(!is_gong_error_object(b""));
    }

    #[test]
    fn a_401_naming_a_permission_is_a_scope_error() {
        let scope = error_detail(
            br#"{"requestId":"x1","errors":["You don't have permission to use 'api:stats:interaction' in your app."]}"#,
        );
        assert!(names_a_permission(&scope));
        assert!(!names_a_permission(&error_detail(br#"{"requestId":"x2","errors":["Access denied"]}"#)));
        assert!(!names_a_permission(&error_detail(b"")));
    }

    #[test]
    fn error_detail_survives_non_json_bodies() {
        assert_eq!(error_detail(b"<html>bad gateway</html>"), ErrorDetail::default());
        let d = error_detail(br#"{"requestId":"abc","errors":["No stats found"]}"#);
        assert_eq!(d.request_id.as_deref(), Some("abc"));
        assert_eq!(d.messages, ["No stats found"]);
    }
}
