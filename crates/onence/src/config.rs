//! Client configuration.

use std::time::Duration;

use secrecy::SecretString;

/// The production base URL (the value `ONENCE_API_URL` defaults to in simfleet).
pub const DEFAULT_BASE_URL: &str = "https://api.1nce.com/management-api";

/// Client settings. `Debug` never shows the secret (it is a [`SecretString`]).
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// Base URL without trailing slash, e.g. [`DEFAULT_BASE_URL`] or a simulator's URL.
    pub base_url: String,
    pub client_id: String,
    pub client_secret: SecretString,
    /// Client-side rate limit in requests per second (evenly spaced); `None` = unlimited.
    pub rate_limit_per_sec: Option<u32>,
    /// Whole-request timeout (connect + response + body).
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// Retries of idempotent calls on 5xx, timeouts and connection errors.
    pub max_retries: u32,
    /// How many 429s one call may wait out before failing with `RateLimited`.
    pub max_rate_limit_retries: u32,
    /// First backoff delay; doubles per attempt, capped at `backoff_max`, with jitter.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// Wait used when a 429 carries no usable `Retry-After`.
    pub default_retry_after: Duration,
    /// Refresh the token this long before it expires (at most half its lifetime).
    pub token_refresh_margin: Duration,
    /// Consecutive transient failures that open the circuit breaker.
    pub breaker_threshold: u32,
    /// How long the breaker stays open before letting one probe through.
    pub breaker_cooldown: Duration,
    /// Idle HTTP connections kept per host.
    pub pool_max_idle_per_host: usize,
}

impl ClientConfig {
    /// Sensible defaults for the given endpoint and credentials.
    pub fn new(base_url: impl Into<String>, client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        ClientConfig {
            base_url: base_url.into().trim_end_matches('/').to_string(),
            client_id: client_id.into(),
            client_secret: SecretString::from(client_secret.into()),
            rate_limit_per_sec: None,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_retries: 5,
            max_rate_limit_retries: 10,
            backoff_base: Duration::from_millis(200),
            backoff_max: Duration::from_secs(10),
            default_retry_after: Duration::from_secs(1),
            token_refresh_margin: Duration::from_secs(60),
            breaker_threshold: 20,
            breaker_cooldown: Duration::from_secs(15),
            pool_max_idle_per_host: 64,
        }
    }

    /// The production endpoint with the given credentials.
    pub fn production(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        Self::new(DEFAULT_BASE_URL, client_id, client_secret)
    }
}
