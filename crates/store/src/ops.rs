//! Numbers for operations: queue backlogs and connection pool usage, read at metrics scrape.

use crate::db::{with_db, Db, Store};
use crate::error::StoreResult;
use chrono::{DateTime, Utc};

/// Provider actions waiting for delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxBacklog {
    pub pending: i64,
    /// When the oldest pending action was queued.
    pub oldest_pending: Option<DateTime<Utc>>,
}

/// Connections of one pool (SQLite has a reader pool and a single-writer pool).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolUsage {
    pub pool: &'static str,
    /// Open connections, idle or in use.
    pub open: u32,
    pub idle: u32,
    pub max: u32,
}

impl Store {
    /// Pending outbox actions and the age of the oldest (one index range over `status`).
    pub async fn outbox_backlog(&self) -> StoreResult<OutboxBacklog> {
        let (pending, oldest_pending): (i64, Option<DateTime<Utc>>) = with_db!(self, c => {
            sqlx::query_as("SELECT COUNT(*), MIN(created_at) FROM outbox WHERE status = 'pending'").fetch_one(c).await
        })?;
        Ok(OutboxBacklog { pending, oldest_pending })
    }

    /// When each job last finished without failing (`success` or `partial`).
    pub async fn last_job_successes(&self) -> StoreResult<Vec<(String, Option<DateTime<Utc>>)>> {
        Ok(with_db!(self, c => sqlx::query_as(
            "SELECT job, finished_at FROM job_runs WHERE id IN \
             (SELECT MAX(id) FROM job_runs WHERE status IN ('success', 'partial') GROUP BY job)",
        )
        .fetch_all(c)
        .await)?)
    }

    /// Current usage of the connection pools; no query.
    pub fn pool_usage(&self) -> Vec<PoolUsage> {
        match &self.db {
            Db::Sqlite { read, write } => vec![
                PoolUsage {
                    pool: "read",
                    open: read.size(),
                    idle: read.num_idle() as u32,
                    max: read.options().get_max_connections(),
                },
                PoolUsage {
                    pool: "write",
                    open: write.size(),
                    idle: write.num_idle() as u32,
                    max: write.options().get_max_connections(),
                },
            ],
            Db::Postgres(pool) => vec![PoolUsage {
                pool: "main",
                open: pool.size(),
                idle: pool.num_idle() as u32,
                max: pool.options().get_max_connections(),
            }],
        }
    }
}
