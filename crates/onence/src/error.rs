//! The client's single error type. Messages never contain credentials or tokens.

use std::time::Duration;

/// Everything an operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 401 (after one transparent token refresh), 403, or the token endpoint refused us.
    #[error("authentication/authorization failed (HTTP {status}): {message}")]
    Auth { status: u16, message: String },
    /// 404.
    #[error("not found: {message}")]
    NotFound { message: String },
    /// 400 / 409 / 422 and other 4xx: the request was understood and rejected. `error_code` is
    /// the spec's `errorCode` (v1/auth) or `error_token` (v2) when the body carries one.
    #[error("request rejected (HTTP {status}{}): {message}", error_code.as_deref().map(|c| format!(", {c}")).unwrap_or_default())]
    Validation { status: u16, error_code: Option<String>, message: String },
    /// 429 after exhausting the rate-limit retry budget.
    #[error("rate limited by 1NCE (retry after {retry_after:?})")]
    RateLimited { retry_after: Option<Duration> },
    /// 5xx after retries (or at once for non-idempotent calls).
    #[error("1NCE upstream error (HTTP {status})")]
    Upstream { status: u16 },
    /// The request or the response body timed out.
    #[error("request timed out")]
    Timeout,
    /// Connection refused/reset or the body broke off mid-way.
    #[error("connection error: {message}")]
    Connect { message: String },
    /// The response could not be decoded (malformed or truncated JSON, bad headers, …).
    #[error("cannot decode response of {operation}: {message}")]
    Decode { operation: String, message: String },
    /// The circuit breaker is open: calls fail fast until the cool-down ends.
    #[error("circuit breaker open: 1NCE API considered unavailable")]
    CircuitOpen,
    /// A caller-side mistake detected before sending (bad base URL, unserialisable body).
    #[error("invalid request: {message}")]
    InvalidRequest { message: String },
}

impl Error {
    /// True for failures worth retrying later (transient), false for definite answers.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Error::RateLimited { .. }
                | Error::Upstream { .. }
                | Error::Timeout
                | Error::Connect { .. }
                | Error::CircuitOpen
        )
    }

    /// True when the provider certainly did not act on the request: it refused it, shed it
    /// (429, 503) or it was never sent. False when the request may have been applied and only
    /// its answer was lost (time-outs, broken connections, other 5xx, unreadable answers).
    pub fn certainly_not_applied(&self) -> bool {
        match self {
            Error::Auth { .. } | Error::NotFound { .. } | Error::Validation { .. } => true,
            Error::RateLimited { .. } | Error::CircuitOpen | Error::InvalidRequest { .. } => true,
            Error::Upstream { status } => *status == 503,
            Error::Timeout | Error::Connect { .. } | Error::Decode { .. } => false,
        }
    }
}

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Error body shapes of the specs: v1/auth `{statusCode, errorCode, message}`, v2
/// `{error_code, error_token, message}`, top-up `{message}`.
#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct ErrorBody {
    #[serde(rename = "errorCode")]
    pub error_code: Option<String>,
    pub error_token: Option<String>,
    pub message: Option<String>,
}

impl ErrorBody {
    pub fn parse(body: &[u8]) -> Self {
        serde_json::from_slice(body).unwrap_or_default()
    }
    pub fn code(&self) -> Option<String> {
        self.error_code.clone().or_else(|| self.error_token.clone())
    }
}

/// Maps a non-success, non-retried status to an error.
pub(crate) fn from_status(status: u16, body: &[u8]) -> Error {
    let b = ErrorBody::parse(body);
    let message = b.message.clone().unwrap_or_else(|| format!("HTTP {status}"));
    match status {
        401 | 403 => Error::Auth { status, message },
        404 => Error::NotFound { message },
        429 => Error::RateLimited { retry_after: None },
        500..=599 => Error::Upstream { status },
        _ => Error::Validation { status, error_code: b.code(), message },
    }
}
