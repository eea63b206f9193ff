//! The outbox: provider actions written in the same transaction as the local change they
//! follow, then delivered by a worker with retries. Per SIM, actions are delivered strictly in
//! order: only the oldest pending action of a SIM can be claimed.

use crate::db::{with_db, with_tx, Dialect, Store, Tx};
use crate::error::StoreResult;
use crate::events::insert_event;
use crate::model::NewEvent;
use crate::sql::{bind_args, Sql};
use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use simfleet_domain::{EventKind, SimStatus};

/// What a provider action asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderAction {
    /// Let the SIM use the network (`true`) or not.
    SetEnabled(bool),
    SetLabel(Option<String>),
}

impl ProviderAction {
    fn name(&self) -> &'static str {
        match self {
            ProviderAction::SetEnabled(_) => "set_status",
            ProviderAction::SetLabel(_) => "set_label",
        }
    }

    fn payload(&self) -> String {
        match self {
            ProviderAction::SetEnabled(on) => serde_json::json!({ "status": if *on { "Enabled" } else { "Disabled" } }),
            ProviderAction::SetLabel(label) => serde_json::json!({ "label": label }),
        }
        .to_string()
    }

    /// The provider-side effect of a move to `status`: only ACTIVE lets a SIM on the network.
    pub fn for_status(status: SimStatus) -> ProviderAction {
        ProviderAction::SetEnabled(status == SimStatus::Active)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct OutboxItem {
    pub id: i64,
    pub sim_id: i64,
    pub iccid: String,
    /// The provider's id of the SIM, for its API.
    pub provider_ref: Option<String>,
    /// The provider status simfleet last saw or set.
    pub provider_status: Option<String>,
    pub action: String,
    /// JSON: `{"status": "Enabled"}` or `{"label": "…"}`.
    pub payload: String,
    /// `pending`, `done` or `failed`.
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub done_at: Option<DateTime<Utc>>,
}

const ITEM_COLUMNS: &str =
    "o.id, o.sim_id, s.iccid, s.provider_ref, s.provider_status, o.action, o.payload, o.status, \
    o.attempts, o.next_attempt_at, o.last_error, o.created_at, o.done_at FROM outbox o JOIN sims s ON s.id = o.sim_id";

/// Queues `action` for `sim_id` inside the caller's transaction.
pub(crate) async fn enqueue(tx: &mut Tx, sim_id: i64, action: &ProviderAction, now: DateTime<Utc>) -> StoreResult<()> {
    with_tx!(tx, c => sqlx::query(
        "INSERT INTO outbox (sim_id, action, payload, status, next_attempt_at, created_at, updated_at) VALUES ($1, $2, $3, 'pending', $4, $4, $4)",
    )
    .bind(sim_id)
    .bind(action.name())
    .bind(action.payload())
    .bind(now)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Queues the same action for those of `sim_ids` that belong to a provider.
pub(crate) async fn enqueue_for_provider_sims(
    tx: &mut Tx,
    sim_ids: &[i64],
    action: &ProviderAction,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    for chunk in sim_ids.chunks(1000) {
        let mut sql = Sql::new(
            "INSERT INTO outbox (sim_id, action, payload, status, next_attempt_at, created_at, updated_at) \
             SELECT id, $1, $2, 'pending', $3, $3, $3 FROM sims WHERE provider <> 'none' AND id IN (",
        );
        sql.arg(action.name());
        sql.arg(action.payload());
        sql.arg(now);
        let ph: Vec<String> = chunk.iter().map(|id| sql.arg(*id)).collect();
        sql.push(&ph.join(", ")).push(")");
        let text = sql.text_for(tx.dialect());
        with_tx!(tx, c => bind_args!(sqlx::query(&text), &sql.args).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    }
    Ok(())
}

impl Store {
    /// Claims up to `limit` due actions, at most one per SIM (its oldest pending one), for
    /// `lease`: a worker that dies leaves them to be claimed again when the lease runs out.
    pub async fn claim_outbox(&self, limit: i64, lease: TimeDelta) -> StoreResult<Vec<OutboxItem>> {
        let now = crate::now();
        let skip_locked = if self.dialect() == Dialect::Postgres { " FOR UPDATE SKIP LOCKED" } else { "" };
        let sql = format!(
            "UPDATE outbox SET claimed_until = $1, attempts = attempts + 1, updated_at = $2 WHERE id IN ( \
               SELECT id FROM outbox WHERE id IN (SELECT MIN(id) FROM outbox WHERE status = 'pending' GROUP BY sim_id) \
               AND next_attempt_at <= $2 AND (claimed_until IS NULL OR claimed_until < $2) ORDER BY id LIMIT $3{skip_locked}) \
             RETURNING id"
        );
        let mut tx = self.begin().await?;
        let ids: Vec<i64> = with_tx!(&mut tx, c => sqlx::query_scalar(&sql).bind(now + lease).bind(now).bind(limit).fetch_all(&mut *c).await)?;
        tx.commit().await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut sel = Sql::new(format!("SELECT {ITEM_COLUMNS} WHERE o.id IN ("));
        let ph: Vec<String> = ids.iter().map(|id| sel.arg(*id)).collect();
        sel.push(&ph.join(", ")).push(") ORDER BY o.id");
        Ok(with_db!(self, c => bind_args!(sqlx::query_as(&sel.text), &sel.args).fetch_all(c).await)?)
    }

    /// Marks an action delivered. A delivered status change becomes the SIM's known provider
    /// status, so that the next SIM sync does not mistake it for a change made elsewhere.
    pub async fn complete_outbox(&self, item: &OutboxItem, provider_status: Option<&str>) -> StoreResult<()> {
        let now = crate::now();
        let mut tx = self.begin().await?;
        with_tx!(&mut tx, c => sqlx::query("UPDATE outbox SET status = 'done', done_at = $1, updated_at = $1, claimed_until = NULL, last_error = NULL WHERE id = $2")
            .bind(now).bind(item.id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
        if let Some(status) = provider_status {
            with_tx!(&mut tx, c => sqlx::query("UPDATE sims SET provider_status = $1 WHERE id = $2")
                .bind(status).bind(item.sim_id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
        }
        tx.commit().await
    }

    /// Leaves an action pending, to be tried again at `next_attempt_at`.
    pub async fn retry_outbox(&self, id: i64, error: &str, next_attempt_at: DateTime<Utc>) -> StoreResult<()> {
        self.write(Sql::with(
            "UPDATE outbox SET last_error = $1, next_attempt_at = $2, claimed_until = NULL, updated_at = $3 WHERE id = $4",
            vec![error.into(), next_attempt_at.into(), crate::now().into(), id.into()],
        ))
        .await?;
        Ok(())
    }

    /// Gives up on an action and records why in the SIM's history.
    pub async fn fail_outbox(&self, item: &OutboxItem, error: &str, actor: &str) -> StoreResult<()> {
        let now = crate::now();
        let mut tx = self.begin().await?;
        with_tx!(&mut tx, c => sqlx::query("UPDATE outbox SET status = 'failed', last_error = $1, claimed_until = NULL, updated_at = $2 WHERE id = $3")
            .bind(error).bind(now).bind(item.id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
        let note = format!("{} {} not applied by the provider: {error}", item.action, item.payload);
        insert_event(
            &mut tx,
            item.sim_id,
            &NewEvent {
                kind: EventKind::ProviderActionFailed,
                old_status: None,
                new_status: None,
                note: Some(note),
                actor,
            },
        )
        .await?;
        tx.commit().await
    }

    /// A SIM's provider actions, newest first.
    pub async fn sim_outbox(&self, sim_id: i64) -> StoreResult<Vec<OutboxItem>> {
        let sql = format!("SELECT {ITEM_COLUMNS} WHERE o.sim_id = $1 ORDER BY o.id DESC LIMIT 100");
        Ok(with_db!(self, c => sqlx::query_as(&sql).bind(sim_id).fetch_all(c).await)?)
    }
}
