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
    /// Let the SIM work only in the device it is in now (`true`), or in any device.
    SetImeiLock(bool),
    /// Buy more data and SMS volume; the provider answers with an order.
    TopUp {
        payment_method: Option<String>,
    },
    SetAutoTopUp(bool),
    SendSms(SmsDraft),
    ResetConnectivity,
    /// Hand the SIM over to another organisation of the provider.
    Transfer {
        target_organisation: i64,
    },
    /// Extend an expiring or expired SIM (renews its quotas; invoiced).
    Extend {
        product_id: Option<i64>,
        payment_method: Option<String>,
    },
}

/// An MT-SMS to send to a SIM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct SmsDraft {
    pub payload: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub udh: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dcs: Option<i64>,
    /// RFC 3339; the provider's default (one day) when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiry_date: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_address: Option<String>,
}

impl ProviderAction {
    pub fn name(&self) -> &'static str {
        match self {
            ProviderAction::SetEnabled(_) => "set_status",
            ProviderAction::SetLabel(_) => "set_label",
            ProviderAction::SetImeiLock(_) => "set_imei_lock",
            ProviderAction::TopUp { .. } => "top_up",
            ProviderAction::SetAutoTopUp(_) => "set_auto_top_up",
            ProviderAction::SendSms(_) => "send_sms",
            ProviderAction::ResetConnectivity => "reset_connectivity",
            ProviderAction::Transfer { .. } => "transfer",
            ProviderAction::Extend { .. } => "extend",
        }
    }

    pub fn payload(&self) -> String {
        use serde_json::json;
        match self {
            ProviderAction::SetEnabled(on) => json!({ "status": if *on { "Enabled" } else { "Disabled" } }),
            ProviderAction::SetLabel(label) => json!({ "label": label }),
            ProviderAction::SetImeiLock(on) => json!({ "imei_lock": on }),
            ProviderAction::TopUp { payment_method } => json!({ "payment_method": payment_method }),
            ProviderAction::SetAutoTopUp(on) => json!({ "enabled": on }),
            ProviderAction::SendSms(sms) => serde_json::to_value(sms).unwrap_or_default(),
            ProviderAction::ResetConnectivity => json!({}),
            ProviderAction::Transfer { target_organisation } => json!({ "target_organisation": target_organisation }),
            ProviderAction::Extend { product_id, payment_method } => {
                json!({ "product_id": product_id, "payment_method": payment_method })
            }
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
    /// JSON of what the provider answered, e.g. `{"order_number": 2000000005}`.
    pub result: Option<String>,
    /// Why the provider refused: `sim-expired`, `sim-not-owned`, `invalid-payment-method` or `rejected`.
    pub error_kind: Option<String>,
    pub requested_by: Option<String>,
}

const ITEM_COLUMNS: &str =
    "o.id, o.sim_id, s.iccid, s.provider_ref, s.provider_status, o.action, o.payload, o.status, \
    o.attempts, o.next_attempt_at, o.last_error, o.created_at, o.done_at, o.result, o.error_kind, o.requested_by \
    FROM outbox o JOIN sims s ON s.id = o.sim_id";

/// What the provider did with a delivered action, recorded with its completion.
#[derive(Debug, Default)]
pub struct Applied {
    /// A delivered status change: the SIM's provider status from now on.
    pub provider_status: Option<String>,
    /// The provider's answer, kept with the action (JSON).
    pub result: Option<serde_json::Value>,
    /// When set, a `PROVIDER_ACTION_APPLIED` event with this note goes into the SIM's history.
    pub event_note: Option<String>,
    /// An order the action created, stored and linked to its SIMs in the same transaction.
    pub order: Option<crate::orders::ProviderOrder>,
}

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
        self.complete_outbox_with(
            item,
            Applied { provider_status: provider_status.map(str::to_owned), ..Applied::default() },
        )
        .await
    }

    /// Marks an action delivered with what the provider answered, all in one transaction:
    /// the outbox row, the SIM's provider status, the order it created and the SIM's event.
    pub async fn complete_outbox_with(&self, item: &OutboxItem, applied: Applied) -> StoreResult<()> {
        let now = crate::now();
        let result = applied.result.as_ref().map(|r| r.to_string());
        let mut tx = self.begin().await?;
        with_tx!(&mut tx, c => sqlx::query("UPDATE outbox SET status = 'done', done_at = $1, updated_at = $1, claimed_until = NULL, last_error = NULL, result = $2 WHERE id = $3")
            .bind(now).bind(result.as_deref()).bind(item.id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
        if let Some(status) = &applied.provider_status {
            with_tx!(&mut tx, c => sqlx::query("UPDATE sims SET provider_status = $1 WHERE id = $2")
                .bind(status).bind(item.sim_id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
        }
        if let Some(order) = &applied.order {
            crate::orders::upsert_order(&mut tx, order, now).await?;
        }
        if let Some(note) = applied.event_note {
            let actor = item.requested_by.as_deref().unwrap_or("sync");
            let event = NewEvent {
                kind: EventKind::ProviderActionApplied,
                old_status: None,
                new_status: None,
                note: Some(note),
                actor,
            };
            insert_event(&mut tx, item.sim_id, &event).await?;
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
        self.fail_outbox_with(item, error, None, actor).await
    }

    /// Gives up on an action, keeping the kind of refusal (`sim-expired`, …) for the API.
    pub async fn fail_outbox_with(
        &self,
        item: &OutboxItem,
        error: &str,
        error_kind: Option<&str>,
        actor: &str,
    ) -> StoreResult<()> {
        let now = crate::now();
        let mut tx = self.begin().await?;
        with_tx!(&mut tx, c => sqlx::query("UPDATE outbox SET status = 'failed', last_error = $1, error_kind = $2, claimed_until = NULL, updated_at = $3 WHERE id = $4")
            .bind(error).bind(error_kind).bind(now).bind(item.id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
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

impl Store {
    /// Queues `action` for each SIM of `iccids` (all must exist and belong to a provider) with
    /// a `PROVIDER_ACTION_REQUESTED` event naming `actor`, in one transaction. Returns the
    /// queued actions in the order of `iccids`.
    pub async fn queue_provider_actions(
        &self,
        iccids: &[String],
        action: &ProviderAction,
        actor: &str,
    ) -> StoreResult<Vec<OutboxItem>> {
        let now = crate::now();
        let mut tx = self.begin().await?;
        let mut sims: Vec<(i64, String, String)> = Vec::with_capacity(iccids.len());
        for chunk in iccids.chunks(1000) {
            let mut sql = Sql::new("SELECT id, iccid, provider FROM sims WHERE iccid IN (");
            let ph: Vec<String> = chunk.iter().map(|i| sql.arg(i.as_str())).collect();
            sql.push(&ph.join(", ")).push(")");
            let text = sql.text_for(tx.dialect());
            let rows: Vec<(i64, String, String)> =
                with_tx!(&mut tx, c => bind_args!(sqlx::query_as(&text), &sql.args).fetch_all(&mut *c).await)?;
            sims.extend(rows);
        }
        let known: std::collections::HashMap<&str, (i64, &str)> =
            sims.iter().map(|(id, iccid, provider)| (iccid.as_str(), (*id, provider.as_str()))).collect();
        let missing: Vec<&str> = iccids.iter().map(String::as_str).filter(|i| !known.contains_key(i)).collect();
        if !missing.is_empty() {
            return Err(crate::StoreError::precondition(
                Some("iccids"),
                format!("unknown SIMs: {}", missing.join(", ")),
            ));
        }
        let local: Vec<&str> = iccids.iter().map(String::as_str).filter(|i| known[i].1 == "none").collect();
        if !local.is_empty() {
            return Err(crate::StoreError::precondition(
                Some("iccids"),
                format!("these SIMs have no provider to act on: {}", local.join(", ")),
            ));
        }
        let mut ids: Vec<i64> = iccids.iter().map(|i| known[i.as_str()].0).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut queued: Vec<i64> = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(1000) {
            let mut sql = Sql::new(
                "INSERT INTO outbox (sim_id, action, payload, status, next_attempt_at, created_at, updated_at, requested_by) \
                 SELECT id, $1, $2, 'pending', $3, $3, $3, $4 FROM sims WHERE id IN (",
            );
            sql.arg(action.name());
            sql.arg(action.payload());
            sql.arg(now);
            sql.arg(actor);
            let ph: Vec<String> = chunk.iter().map(|id| sql.arg(*id)).collect();
            sql.push(&ph.join(", ")).push(") RETURNING id");
            let text = sql.text_for(tx.dialect());
            let rows: Vec<i64> =
                with_tx!(&mut tx, c => bind_args!(sqlx::query_scalar(&text), &sql.args).fetch_all(&mut *c).await)?;
            queued.extend(rows);
        }
        let note = format!("{} {} queued for the provider", action.name(), action.payload());
        crate::events::insert_events_for(&mut tx, &ids, EventKind::ProviderActionRequested, Some(&note), actor, now)
            .await?;
        let mut items: Vec<OutboxItem> = Vec::with_capacity(queued.len());
        for chunk in queued.chunks(1000) {
            let mut sel = Sql::new(format!("SELECT {ITEM_COLUMNS} WHERE o.id IN ("));
            let ph: Vec<String> = chunk.iter().map(|id| sel.arg(*id)).collect();
            sel.push(&ph.join(", ")).push(") ORDER BY o.id");
            let text = sel.text_for(tx.dialect());
            let rows: Vec<OutboxItem> =
                with_tx!(&mut tx, c => bind_args!(sqlx::query_as(&text), &sel.args).fetch_all(&mut *c).await)?;
            items.extend(rows);
        }
        tx.commit().await?;
        let mut position: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
        for (k, i) in iccids.iter().enumerate() {
            position.entry(i.as_str()).or_insert(k);
        }
        items.sort_by_key(|i| position.get(i.iccid.as_str()).copied().unwrap_or(usize::MAX));
        Ok(items)
    }

    /// One provider action by id.
    pub async fn outbox_item(&self, id: i64) -> StoreResult<OutboxItem> {
        let sql = format!("SELECT {ITEM_COLUMNS} WHERE o.id = $1");
        let row: Option<OutboxItem> = with_db!(self, c => sqlx::query_as(&sql).bind(id).fetch_optional(c).await)?;
        row.ok_or(crate::StoreError::NotFound("provider action"))
    }
}
