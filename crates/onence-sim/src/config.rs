//! Simulator configuration.

use serde::{Deserialize, Serialize};

/// Default credentials accepted by the token endpoint.
pub const DEFAULT_CLIENT_ID: &str = "sim-client";
pub const DEFAULT_CLIENT_SECRET: &str = "sim-secret";

/// Everything that shapes a simulator instance. `SimConfig::default()` gives a small fleet of
/// 100 SIMs with no faults.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct SimConfig {
    /// Number of SIMs in the account.
    pub sims: usize,
    /// Seed of the deterministic generator.
    pub seed: u64,
    /// Server-side rate limit (requests per second, 1 s burst); excess answers 429 + Retry-After.
    pub rate_limit_per_sec: Option<u32>,
    /// Fraction (0..=1) of API requests answered with a 5xx.
    pub fault_rate: f64,
    /// Added latency on every API request.
    pub latency_ms: u64,
    /// Lifetime of issued bearer tokens.
    pub token_ttl_secs: u64,
    /// Days of usage history (the API serves six months).
    pub history_days: u32,
    pub client_id: String,
    pub client_secret: String,
    /// Delay before an asynchronous `POST /v1/sims` multi-configuration is applied.
    pub apply_delay_ms: u64,
    /// Answer the token request with the field names of the spec's *example*
    /// (`user_id`, `score`) instead of its schema (`userId`, `scope`).
    pub token_example_field_names: bool,
    /// Override "today" (`YYYY-MM-DD`); defaults to the current UTC date.
    pub today: Option<chrono::NaiveDate>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            sims: 100,
            seed: 42,
            rate_limit_per_sec: None,
            fault_rate: 0.0,
            latency_ms: 0,
            token_ttl_secs: 3600,
            history_days: 180,
            client_id: DEFAULT_CLIENT_ID.into(),
            client_secret: DEFAULT_CLIENT_SECRET.into(),
            apply_delay_ms: 50,
            token_example_field_names: false,
            today: None,
        }
    }
}

impl SimConfig {
    /// A fleet of `sims` SIMs with the given seed and otherwise default settings.
    pub fn new(sims: usize, seed: u64) -> Self {
        SimConfig { sims, seed, ..Default::default() }
    }
}
