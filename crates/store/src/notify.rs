//! Notification channels and the persisted notification queue.
//!
//! A notification row per (alert, matching channel) is written in the transaction that opens
//! the alert. A delivery worker claims due rows with a lease (`FOR UPDATE SKIP LOCKED` on
//! PostgreSQL; SQLite has a single writer), sends them, and marks them delivered; a worker that
//! dies leaves its claim to expire, so nothing raised is ever lost.

use crate::db::{with_db, with_tx, Dialect, Store, Tx};
use crate::error::{StoreError, StoreResult};
use crate::model::{Page, PageRequest};
use crate::sql::{bind_args, Sql};
use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct NotificationChannel {
    pub id: i64,
    pub name: String,
    /// `email` or `webhook`.
    pub kind: String,
    pub enabled: bool,
    /// Comma-separated severities; empty means all.
    pub severities: String,
    /// Comma-separated alert kinds; empty means all.
    pub kinds: String,
    /// Settings without secrets, as JSON.
    pub config: String,
    /// The SMTP password or webhook secret, sealed by the caller. Never serialised.
    #[serde(skip)]
    pub secret_enc: Option<String>,
    pub digest_minutes: Option<i32>,
    pub next_digest_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl NotificationChannel {
    pub fn severity_list(&self) -> Vec<String> {
        split_list(&self.severities)
    }
    pub fn kind_list(&self) -> Vec<String> {
        split_list(&self.kinds)
    }
}

fn split_list(s: &str) -> Vec<String> {
    s.split(',').filter(|p| !p.is_empty()).map(str::to_owned).collect()
}

/// A channel as created or replaced; secrets arrive already sealed.
#[derive(Debug, Clone)]
pub struct ChannelInput {
    pub name: String,
    pub kind: String,
    pub enabled: bool,
    pub severities: Vec<String>,
    pub kinds: Vec<String>,
    pub config: serde_json::Value,
    /// `None` keeps the stored secret on update.
    pub secret_enc: Option<String>,
    pub digest_minutes: Option<i32>,
}

/// A claimed notification with what the message needs.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct PendingNotification {
    pub id: i64,
    pub channel_id: i64,
    pub alert_id: i64,
    pub attempts: i32,
    pub kind: String,
    pub severity: String,
    pub state: String,
    pub iccid: Option<String>,
    pub job: Option<String>,
    pub message: String,
    pub first_seen: DateTime<Utc>,
}

/// One entry of a channel's delivery log.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Delivery {
    pub id: i64,
    pub alert_id: i64,
    pub kind: String,
    pub severity: String,
    pub iccid: Option<String>,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub next_attempt_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

impl crate::paging::HasId for Delivery {
    fn id(&self) -> i64 {
        self.id
    }
}

const CHANNEL_COLUMNS: &str = "id, name, kind, enabled, severities, kinds, config, secret_enc, digest_minutes, \
    next_digest_at, created_at, updated_at FROM notification_channels";

const PENDING_COLUMNS: &str = "n.id, n.channel_id, n.alert_id, n.attempts, a.kind, a.severity, a.state, s.iccid, a.job, \
    a.message, a.first_seen FROM notifications n JOIN alerts a ON a.id = n.alert_id LEFT JOIN sims s ON s.id = a.sim_id";

/// Queues a notification for every alert opened at `now` and every enabled channel whose
/// filters match it. Runs inside the evaluator's transaction.
pub(crate) async fn queue_for_new_alerts(tx: &mut Tx, now: DateTime<Utc>) -> StoreResult<u64> {
    Ok(with_tx!(tx, c => sqlx::query(
        "INSERT INTO notifications (channel_id, alert_id, status, attempts, next_attempt_at, created_at) \
         SELECT ch.id, a.id, 'pending', 0, $1, $1 FROM alerts a JOIN notification_channels ch ON ch.enabled \
           AND (ch.severities = '' OR (',' || ch.severities || ',') LIKE ('%,' || a.severity || ',%')) \
           AND (ch.kinds = '' OR (',' || ch.kinds || ',') LIKE ('%,' || a.kind || ',%')) \
         WHERE a.first_seen = $1 AND a.state = 'open'",
    )
    .bind(now)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?)
}

impl Store {
    pub async fn create_channel(&self, input: &ChannelInput) -> StoreResult<NotificationChannel> {
        let now = crate::now();
        let mut tx = self.begin().await?;
        let id: i64 = with_tx!(&mut tx, c => sqlx::query_scalar(
            "INSERT INTO notification_channels (name, kind, enabled, severities, kinds, config, secret_enc, digest_minutes, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING id",
        )
        .bind(input.name.as_str())
        .bind(input.kind.as_str())
        .bind(input.enabled)
        .bind(input.severities.join(","))
        .bind(input.kinds.join(","))
        .bind(input.config.to_string())
        .bind(input.secret_enc.as_deref())
        .bind(input.digest_minutes)
        .bind(now)
        .fetch_one(&mut *c)
        .await)?;
        tx.commit().await?;
        self.channel(id).await
    }

    /// Replaces a channel's settings; its secret stays unless a new one is given. A digest
    /// interval starts anew: the old one may be longer than the new, or gone.
    pub async fn update_channel(&self, id: i64, input: &ChannelInput) -> StoreResult<NotificationChannel> {
        let cur = self.channel(id).await?;
        let secret = input.secret_enc.clone().or(cur.secret_enc);
        let mut tx = self.begin().await?;
        with_tx!(&mut tx, c => sqlx::query(
            "UPDATE notification_channels SET name = $1, kind = $2, enabled = $3, severities = $4, kinds = $5, config = $6, \
             secret_enc = $7, digest_minutes = $8, updated_at = $9, next_digest_at = NULL WHERE id = $10",
        )
        .bind(input.name.as_str())
        .bind(input.kind.as_str())
        .bind(input.enabled)
        .bind(input.severities.join(","))
        .bind(input.kinds.join(","))
        .bind(input.config.to_string())
        .bind(secret.as_deref())
        .bind(input.digest_minutes)
        .bind(crate::now())
        .bind(id)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected()))?;
        tx.commit().await?;
        self.channel(id).await
    }

    pub async fn channel(&self, id: i64) -> StoreResult<NotificationChannel> {
        let sql = format!("SELECT {CHANNEL_COLUMNS} WHERE id = $1");
        let ch: Option<NotificationChannel> =
            with_db!(self, c => sqlx::query_as(&sql).bind(id).fetch_optional(c).await)?;
        ch.ok_or(StoreError::NotFound("notification channel"))
    }

    pub async fn channels(&self) -> StoreResult<Vec<NotificationChannel>> {
        let sql = format!("SELECT {CHANNEL_COLUMNS} ORDER BY id");
        Ok(with_db!(self, c => sqlx::query_as(&sql).fetch_all(c).await)?)
    }

    /// Deletes a channel and its queue. True when it existed.
    pub async fn delete_channel(&self, id: i64) -> StoreResult<bool> {
        Ok(self.write(Sql::with("DELETE FROM notification_channels WHERE id = $1", vec![id.into()])).await? > 0)
    }

    /// Claims up to `limit` due notifications for `lease`. Channels waiting for their next
    /// digest are skipped.
    pub async fn claim_notifications(&self, limit: i64, lease: TimeDelta) -> StoreResult<Vec<PendingNotification>> {
        let now = crate::now();
        let skip_locked = if self.dialect() == Dialect::Postgres { " FOR UPDATE OF n SKIP LOCKED" } else { "" };
        let sql = format!(
            "UPDATE notifications SET claimed_until = $1, attempts = attempts + 1 WHERE id IN ( \
               SELECT n.id FROM notifications n JOIN notification_channels ch ON ch.id = n.channel_id \
               WHERE n.status = 'pending' AND n.next_attempt_at <= $2 AND (n.claimed_until IS NULL OR n.claimed_until < $2) \
               AND ch.enabled AND (ch.next_digest_at IS NULL OR ch.next_digest_at <= $2) ORDER BY n.id LIMIT $3{skip_locked}) \
             RETURNING id"
        );
        let mut tx = self.begin().await?;
        let ids: Vec<i64> = with_tx!(&mut tx, c => sqlx::query_scalar(&sql).bind(now + lease).bind(now).bind(limit).fetch_all(&mut *c).await)?;
        tx.commit().await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut sel = Sql::new(format!("SELECT {PENDING_COLUMNS} WHERE n.id IN ("));
        let ph: Vec<String> = ids.iter().map(|id| sel.arg(*id)).collect();
        sel.push(&ph.join(", ")).push(") ORDER BY n.id");
        Ok(with_db!(self, c => bind_args!(sqlx::query_as(&sel.text), &sel.args).fetch_all(c).await)?)
    }

    /// Marks notifications delivered; for a digest channel, also when the next digest may go.
    pub async fn complete_notifications(
        &self,
        ids: &[i64],
        channel_id: i64,
        next_digest_at: Option<DateTime<Utc>>,
    ) -> StoreResult<()> {
        let now = crate::now();
        let mut tx = self.begin().await?;
        let mut sql = Sql::new("UPDATE notifications SET status = 'delivered', delivered_at = $1, claimed_until = NULL, last_error = NULL WHERE id IN (");
        sql.arg(now);
        let ph: Vec<String> = ids.iter().map(|id| sql.arg(*id)).collect();
        sql.push(&ph.join(", ")).push(")");
        let text = sql.text_for(tx.dialect());
        with_tx!(&mut tx, c => bind_args!(sqlx::query(&text), &sql.args).execute(&mut *c).await.map(|r| r.rows_affected()))?;
        if let Some(at) = next_digest_at {
            with_tx!(&mut tx, c => sqlx::query("UPDATE notification_channels SET next_digest_at = $1 WHERE id = $2")
                .bind(at).bind(channel_id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
        }
        tx.commit().await
    }

    /// Leaves notifications pending until `next_attempt_at` (`failed` when `give_up`).
    pub async fn retry_notifications(
        &self,
        ids: &[i64],
        error: &str,
        next_attempt_at: DateTime<Utc>,
        give_up: bool,
    ) -> StoreResult<()> {
        let status = if give_up { "failed" } else { "pending" };
        let mut sql = Sql::new(
            "UPDATE notifications SET status = $1, last_error = $2, next_attempt_at = $3, claimed_until = NULL WHERE id IN (",
        );
        sql.arg(status);
        sql.arg(error);
        sql.arg(next_attempt_at);
        let ph: Vec<String> = ids.iter().map(|id| sql.arg(*id)).collect();
        sql.push(&ph.join(", ")).push(")");
        self.write(sql).await?;
        Ok(())
    }

    /// A channel's delivery log, newest first.
    pub async fn channel_deliveries(&self, channel_id: i64, page: PageRequest<'_>) -> StoreResult<Page<Delivery>> {
        let mut sql = Sql::new(
            "SELECT n.id, n.alert_id, a.kind, a.severity, s.iccid, n.status, n.attempts, n.last_error, n.next_attempt_at, \
             n.created_at, n.delivered_at FROM notifications n JOIN alerts a ON a.id = n.alert_id LEFT JOIN sims s ON s.id = a.sim_id WHERE ",
        );
        let p = sql.arg(channel_id);
        sql.push(&format!("n.channel_id = {p}"));
        self.id_page(sql, "n", true, page).await
    }
}
