//! Typed async client for the 1NCE Management API.
//!
//! * every operation of the official specs (v1 and v2 SIM management, OAuth, orders,
//!   products, support) as a method on [`Client`], with models in [`models`];
//! * OAuth2 client credentials with a cached, single-flight, early-refreshed token and one
//!   transparent retry after a 401;
//! * resilience: timeouts, retries with exponential backoff and jitter for idempotent calls,
//!   `Retry-After` honoured across all callers, a client-side rate limit and a circuit breaker;
//! * volumes converted to bytes in exactly one place, [`volume::mb_to_bytes`] (1 MB = 1,048,576 B);
//! * pagination streams with bounded concurrency ([`Client::stream_sims`], …);
//! * `tracing` for every request and a [`ClientMetrics`] snapshot.
//!
//! ```no_run
//! # async fn demo() -> onence::Result<()> {
//! use futures::TryStreamExt;
//! let client = onence::Client::new(onence::ClientConfig::new("http://127.0.0.1:8080", "sim-client", "sim-secret"))?;
//! let sims: Vec<onence::models::Sim> = client.stream_sims(100, 4).try_collect().await?;
//! for sim in &sims {
//!     let usage = client.get_usage(sim.iccid.as_deref().unwrap_or_default(), None, None).await?;
//!     for day in &usage.stats {
//!         let rx = day.data.as_ref().map(|d| d.rx_bytes());
//!         # let _ = rx;
//!     }
//! }
//! # Ok(()) }
//! ```

mod auth;
mod client;
pub mod config;
pub mod error;
pub mod metrics;
pub mod models;
mod ops;
pub mod paging;
pub mod retry;
pub mod volume;

pub use client::Client;
pub use config::{ClientConfig, DEFAULT_BASE_URL};
pub use error::{Error, Result};
pub use metrics::ClientMetrics;
pub use models::Page;
pub use retry::BreakerState;
pub use secrecy::SecretString;
pub use volume::{mb_to_bytes, BYTES_PER_MB};
