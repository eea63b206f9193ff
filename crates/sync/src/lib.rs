//! Sync jobs: each reads one aspect of the provider's account and writes it to the store in
//! batches, recording a job run with its counts and per-SIM errors. A job that fails for one
//! SIM carries on with the others and ends `partial`; one that cannot start ends `failed`.

pub mod account;
mod jobs;
pub mod metrics;
pub mod notify;
mod runner;

pub use account::refusal_kind;
pub use jobs::{Job, JobOutcome, SyncConfig, Syncer};
pub use notify::{Notifier, SecretOpener};
/// The provider client, for callers that map its errors.
pub use onence;
pub use runner::{default_interval, RunError, Runner};
