//! simfleet's storage: the only code that speaks SQL.
//!
//! One [`Store`] API over two engines. SQL text is shared wherever the dialects agree
//! (placeholders are written `$1…$n`, which sqlx accepts for both), and each query is
//! compiled once per engine by the [`with_db!`] / [`with_tx!`] macros, so there is a single
//! code path to read and test. Where the dialects differ, the code branches on
//! [`Store::dialect`] in the open.
//!
//! SQLite uses two pools: many readers, and a single writer connection, so that write
//! transactions queue in-process instead of failing with `SQLITE_BUSY`.

mod activation_codes;
mod audit;
mod customers;
mod db;
mod error;
mod events;
mod imports;
mod lifecycle;
pub mod model;
mod outbox;
mod paging;
mod provider;
mod rollups;
mod sims;
mod sql;
mod stats;
mod tariffs;
#[cfg(feature = "testing")]
pub mod testing;
mod users;

pub use audit::AuditFilter;
pub use db::{Dialect, Store, StoreOptions, Tx};
pub use error::{RuleViolation, StoreError, StoreResult};
pub use imports::{Import, ImportIssue, ImportRow, ImportStatus, NewImport, SecretsEqual};
pub use lifecycle::ActionRequest;
pub use model::*;
pub use outbox::{OutboxItem, ProviderAction};
pub use provider::{Connectivity, DailyUsage, JobRun, ProviderRef, ProviderSim, Quota, SimSyncOutcome};
pub use rollups::{FleetDay, TopConsumer};
pub use sql::Cursor;
pub use stats::bucket_start;

/// The current time, truncated to microseconds: the precision both engines keep, so a
/// timestamp read back compares equal to the one written.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    use chrono::{DurationRound, TimeDelta};
    chrono::Utc::now().duration_trunc(TimeDelta::microseconds(1)).expect("microsecond truncation cannot overflow")
}
