//! How the client authenticates to Gong. The client owns this type: the
//! command line only decides which variant to build from flags, env vars
//! and files.

use reqwest::header::HeaderValue;

use crate::secret::Secret;

/// How the exporter authenticates to Gong.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// `Authorization: Basic base64(key:secret)`.
    Basic { access_key: String, secret: Secret },
    /// `Authorization: Bearer <token>`.
    Bearer(Secret),
}

impl Credentials {
    /// The `Authorization` header value, marked sensitive so it stays out
    /// of `Debug` output and HTTP/2 header tables.
    pub(super) fn authorization(&self) -> HeaderValue {
        let mut value = match self {
            Self::Basic { access_key, secret } => {
                use base64::Engine as _;
                let pair = format!("{access_key}:{}", secret.expose());
                let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
                HeaderValue::from_str(&format!("Basic {encoded}"))
            }
            Self::Bearer(token) => HeaderValue::from_str(&format!("Bearer {}", token.expose())),
        }
        .unwrap_or_else(|_| HeaderValue::from_static("Invalid"));
        value.set_sensitive(true);
        value
    }
}
