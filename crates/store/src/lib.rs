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
mod alerts;
mod anomalies;
mod audit;
mod customers;
mod db;
mod error;
mod events;
mod imports;
mod lifecycle;
pub mod model;
mod network_events;
mod notify;
mod ops;
mod orders;
mod outbox;
mod paging;
mod pg_copy;
mod principal_cache;
mod provider;
mod reports;
mod request_keys;
mod rollups;
mod sim_tags;
mod sims;
mod sms;
mod sql;
mod stats;
mod support;
mod tariffs;
#[cfg(feature = "testing")]
pub mod testing;
mod users;

pub use alerts::{Alert, AlertFilter, AlertMute, AlertRule, EvaluationOutcome, RuleUpdate, SimAtRisk, SYSTEM_ACTOR};
pub use anomalies::Anomaly;
pub use audit::AuditFilter;
pub use db::{Dialect, Store, StoreOptions, Tx};
pub use error::{RuleViolation, StoreError, StoreResult};
pub use imports::{Import, ImportIssue, ImportRow, ImportStatus, NewImport, SecretsEqual};
pub use lifecycle::ActionRequest;
pub use model::*;
pub use network_events::{NetworkEvent, NewNetworkEvent};
pub use notify::{ChannelInput, Delivery, NotificationChannel, PendingNotification};
pub use ops::{OutboxBacklog, PoolUsage};
pub use orders::{OrderFilter, OrderRow, ProductRow, ProviderOrder};
pub use outbox::{Applied, OutboxItem, ProviderAction, SmsDraft};
pub use provider::{Connectivity, DailyUsage, JobRun, ProviderRef, ProviderSim, Quota, SimSyncOutcome};
pub use reports::{MonthlyReport, ReportAlert, ReportScope, ReportSimUsage, UsageTotals};
pub use request_keys::KeyClaim;
pub use rollups::{FleetDay, TopConsumer};
pub use sms::{ProviderSms, SmsFilter, SmsRow};
pub use sql::Cursor;
pub use stats::bucket_start;
pub use support::{ProviderTicket, TicketRow};

/// The current time, truncated to microseconds: the precision both engines keep, so a
/// timestamp read back compares equal to the one written.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    use chrono::{DurationRound, TimeDelta};
    chrono::Utc::now().duration_trunc(TimeDelta::microseconds(1)).expect("microsecond truncation cannot overflow")
}
