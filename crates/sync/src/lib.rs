//! Sync jobs: each reads one aspect of the provider's account and writes it to the store in
//! batches, recording a job run with its counts and per-SIM errors. A job that fails for one
//! SIM carries on with the others and ends `partial`; one that cannot start ends `failed`.

mod jobs;
mod runner;

pub use jobs::{Job, JobOutcome, SyncConfig, Syncer};
pub use runner::{default_interval, RunError, Runner};
