//! Lifecycle actions: each checks the state machine, changes the SIM and records the
//! event in one transaction.

use crate::db::{with_tx, Dialect, Store, Tx};
use crate::error::{StoreError, StoreResult};
use crate::events::insert_event;
use crate::model::{NewEvent, Sim};
use crate::outbox::{enqueue, ProviderAction};
use crate::sims::sim_in_tx;
use chrono::{DateTime, Utc};
use simfleet_domain::lifecycle::swap_successor_status;
use simfleet_domain::{Action, EventKind, Provider, SimStatus};

/// A lifecycle action other than a swap, with what it needs.
#[derive(Debug, Clone)]
pub struct ActionRequest<'a> {
    pub action: Action,
    /// `reserve`: the customer to reserve for (required unless the SIM already has one).
    pub customer_id: Option<i64>,
    /// `reserve`: an optional tariff plan to set at the same time.
    pub tariff_plan_id: Option<i64>,
    /// `activate`: an activation code to consume.
    pub activation_code: Option<&'a str>,
    /// Reason or note recorded with the event.
    pub note: Option<String>,
    pub actor: &'a str,
}

impl<'a> ActionRequest<'a> {
    pub fn new(action: Action, actor: &'a str) -> Self {
        ActionRequest { action, customer_id: None, tariff_plan_id: None, activation_code: None, note: None, actor }
    }
}

impl Store {
    /// Applies a lifecycle action (not `swap`, see [`Store::swap_sim`]) and returns the SIM after it.
    pub async fn apply_action(&self, iccid: &str, req: &ActionRequest<'_>) -> StoreResult<Sim> {
        if req.action == Action::Swap {
            return Err(StoreError::precondition(Some("new_iccid"), "a swap needs the new SIM's ICCID"));
        }
        let mut tx = self.begin().await?;
        let sim = sim_in_tx(&mut tx, iccid).await?;
        let target = req.action.target_from(sim.status).map_err(StoreError::from_transition)?;
        let now = crate::now();

        let mut customer = sim.customer_id;
        let mut tariff = sim.tariff_plan_id;
        if req.action == Action::Reserve {
            if let Some(id) = req.customer_id {
                require_exists(&mut tx, "customers", id, "customer_id", "customer").await?;
                customer = Some(id);
            }
            if customer.is_none() {
                return Err(StoreError::precondition(Some("customer_id"), "a SIM can only be reserved for a customer"));
            }
            if let Some(id) = req.tariff_plan_id {
                require_exists(&mut tx, "tariff_plans", id, "tariff_plan_id", "tariff plan").await?;
                tariff = Some(id);
            }
        }
        if let Some(code) = req.activation_code {
            if req.action != Action::Activate {
                return Err(StoreError::precondition(Some("activation_code"), "only activation consumes a code"));
            }
            consume_code(&mut tx, code, sim.id, now).await?;
        }

        set_status(&mut tx, sim.id, sim.status, target, customer, tariff, sim.msisdn.as_deref(), now).await?;
        if sim.provider != Provider::None
            && ProviderAction::for_status(sim.status) != ProviderAction::for_status(target)
        {
            enqueue(&mut tx, sim.id, &ProviderAction::for_status(target), now).await?;
        }
        insert_event(
            &mut tx,
            sim.id,
            &NewEvent {
                kind: EventKind::for_action(req.action),
                old_status: Some(sim.status),
                new_status: Some(target),
                note: req.note.clone(),
                actor: req.actor,
            },
        )
        .await?;
        tx.commit().await?;
        self.get_sim(iccid).await
    }

    /// Moves the MSISDN, customer and tariff plan of `old_iccid` to the AVAILABLE card
    /// `new_iccid` and terminates the old card, atomically. Returns (old, new).
    pub async fn swap_sim(
        &self,
        old_iccid: &str,
        new_iccid: &str,
        note: Option<&str>,
        actor: &str,
    ) -> StoreResult<(Sim, Sim)> {
        if old_iccid == new_iccid {
            return Err(StoreError::precondition(Some("new_iccid"), "must be a different SIM"));
        }
        let mut tx = self.begin().await?;
        let old = sim_in_tx(&mut tx, old_iccid).await?;
        Action::Swap.target_from(old.status).map_err(StoreError::from_transition)?;
        let new = match sim_in_tx(&mut tx, new_iccid).await {
            Err(StoreError::NotFound(_)) => {
                return Err(StoreError::precondition(Some("new_iccid"), format!("SIM {new_iccid} does not exist")))
            }
            other => other?,
        };
        if new.status != SimStatus::Available {
            return Err(StoreError::precondition(
                Some("new_iccid"),
                format!("the new SIM must be AVAILABLE, but {new_iccid} is {}", new.status),
            ));
        }
        let now = crate::now();
        let successor = swap_successor_status(old.status);
        // The old card gives up its MSISDN first: MSISDNs are unique.
        set_status(&mut tx, old.id, old.status, SimStatus::Terminated, old.customer_id, old.tariff_plan_id, None, now)
            .await?;
        set_status(
            &mut tx,
            new.id,
            new.status,
            successor,
            old.customer_id,
            old.tariff_plan_id,
            old.msisdn.as_deref(),
            now,
        )
        .await?;
        for (sim, from, to) in [(&old, old.status, SimStatus::Terminated), (&new, new.status, successor)] {
            if sim.provider != Provider::None && ProviderAction::for_status(from) != ProviderAction::for_status(to) {
                enqueue(&mut tx, sim.id, &ProviderAction::for_status(to), now).await?;
            }
        }
        let note_for = |text: String| Some(note.map(|n| format!("{text}: {n}")).unwrap_or(text));
        insert_event(
            &mut tx,
            old.id,
            &NewEvent {
                kind: EventKind::Swapped,
                old_status: Some(old.status),
                new_status: Some(SimStatus::Terminated),
                note: note_for(format!("replaced by {new_iccid}")),
                actor,
            },
        )
        .await?;
        insert_event(
            &mut tx,
            new.id,
            &NewEvent {
                kind: EventKind::Swapped,
                old_status: Some(new.status),
                new_status: Some(successor),
                note: note_for(format!("replaces {old_iccid}")),
                actor,
            },
        )
        .await?;
        tx.commit().await?;
        Ok((self.get_sim(old_iccid).await?, self.get_sim(new_iccid).await?))
    }
}

impl StoreError {
    fn from_transition(e: simfleet_domain::TransitionError) -> StoreError {
        StoreError::Rule(e.into())
    }
}

/// Changes status and assignment, guarded by the status read earlier so that a concurrent
/// change is detected rather than overwritten.
#[allow(clippy::too_many_arguments)]
async fn set_status(
    tx: &mut Tx,
    id: i64,
    from: SimStatus,
    to: SimStatus,
    customer_id: Option<i64>,
    tariff_plan_id: Option<i64>,
    msisdn: Option<&str>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let done = with_tx!(tx, c => sqlx::query(
        "UPDATE sims SET status = $1, customer_id = $2, tariff_plan_id = $3, msisdn = $4, updated_at = $5 WHERE id = $6 AND status = $7",
    )
    .bind(to.as_str())
    .bind(customer_id)
    .bind(tariff_plan_id)
    .bind(msisdn)
    .bind(now)
    .bind(id)
    .bind(from.as_str())
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    if done != 1 {
        return Err(StoreError::Conflict {
            field: Some("status"),
            message: "the SIM was changed concurrently; try again".into(),
        });
    }
    Ok(())
}

async fn require_exists(tx: &mut Tx, table: &str, id: i64, field: &'static str, what: &str) -> StoreResult<()> {
    let sql = format!("SELECT COUNT(*) FROM {table} WHERE id = $1");
    let n: i64 = with_tx!(tx, c => sqlx::query_scalar(&sql).bind(id).fetch_one(&mut *c).await)?;
    if n == 0 {
        return Err(StoreError::precondition(Some(field), format!("{what} {id} does not exist")));
    }
    Ok(())
}

/// id, status, expiry, linked SIM.
type CodeRow = (i64, String, Option<DateTime<Utc>>, Option<i64>);

async fn consume_code(tx: &mut Tx, code: &str, sim_id: i64, now: DateTime<Utc>) -> StoreResult<()> {
    let lock = if tx.dialect() == Dialect::Postgres { " FOR UPDATE" } else { "" };
    let sql = format!("SELECT id, status, expires_at, sim_id FROM activation_codes WHERE code = $1{lock}");
    let row: Option<CodeRow> = with_tx!(tx, c => sqlx::query_as(&sql).bind(code).fetch_optional(&mut *c).await)?;
    let field = Some("activation_code");
    let Some((id, status, expires_at, linked)) = row else {
        return Err(StoreError::precondition(field, "unknown activation code"));
    };
    if status == "USED" {
        return Err(StoreError::precondition(field, "this activation code has already been used"));
    }
    if status == "EXPIRED" || expires_at.is_some_and(|t| t <= now) {
        return Err(StoreError::precondition(field, "this activation code has expired"));
    }
    if linked.is_some_and(|s| s != sim_id) {
        return Err(StoreError::precondition(field, "this activation code belongs to another SIM"));
    }
    with_tx!(tx, c => sqlx::query("UPDATE activation_codes SET status = 'USED', sim_id = $1, used_at = $2, updated_at = $2 WHERE id = $3")
        .bind(sim_id).bind(now).bind(id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}
