//! SMS of provider SIMs (mobile-originated and mobile-terminated), mirrored by the `sms` sync.

use crate::db::{with_db, with_tx, Store};
use crate::error::StoreResult;
use crate::paging::HasId;
use crate::sql::{bind_args, Sql};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// An SMS as the provider reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProviderSms {
    pub provider_id: i64,
    /// `MO` or `MT`.
    pub direction: String,
    /// DELIVERED, PENDING, FAILED, EXPIRED, …
    pub status: String,
    pub payload: Option<String>,
    pub udh: Option<String>,
    pub dcs: Option<i64>,
    pub source_address: Option<String>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct SmsRow {
    pub id: i64,
    pub iccid: String,
    pub provider_id: i64,
    pub direction: String,
    pub status: String,
    pub payload: Option<String>,
    pub udh: Option<String>,
    pub dcs: Option<i64>,
    pub source_address: Option<String>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub synced_at: DateTime<Utc>,
}

impl HasId for SmsRow {
    fn id(&self) -> i64 {
        self.id
    }
}

/// Filters of SMS lists.
#[derive(Debug, Default, Clone)]
pub struct SmsFilter {
    pub sim_id: Option<i64>,
    pub direction: Option<String>,
    pub status: Option<String>,
}

const SMS_COLUMNS: &str = "m.id, s.iccid, m.provider_id, m.direction, m.status, m.payload, m.udh, m.dcs, \
    m.source_address, m.submitted_at, m.delivered_at, m.expires_at, m.synced_at FROM sms_messages m JOIN sims s ON s.id = m.sim_id";

impl Store {
    /// Replaces what is known of the SMS of each SIM in `sims` with what the provider reports
    /// (messages it no longer lists, e.g. cancelled ones, are removed), in one transaction.
    pub async fn replace_sim_sms(&self, sims: &[(i64, Vec<ProviderSms>)]) -> StoreResult<()> {
        let now = crate::now();
        let mut tx = self.begin().await?;
        for (sim_id, messages) in sims {
            let mut keep = Sql::new("DELETE FROM sms_messages WHERE sim_id = $1");
            keep.arg(*sim_id);
            if !messages.is_empty() {
                let ph: Vec<String> = messages.iter().map(|m| keep.arg(m.provider_id)).collect();
                keep.push(&format!(" AND provider_id NOT IN ({})", ph.join(", ")));
            }
            let text = keep.text_for(tx.dialect());
            with_tx!(&mut tx, c => bind_args!(sqlx::query(&text), &keep.args).execute(&mut *c).await.map(|r| r.rows_affected()))?;
            for chunk in messages.chunks(500) {
                let mut sql = Sql::new(
                    "INSERT INTO sms_messages (sim_id, provider_id, direction, status, payload, udh, dcs, source_address, \
                     submitted_at, delivered_at, expires_at, synced_at) VALUES ",
                );
                let rows: Vec<String> = chunk
                    .iter()
                    .map(|m| {
                        let v = [
                            sql.arg(*sim_id),
                            sql.arg(m.provider_id),
                            sql.arg(m.direction.as_str()),
                            sql.arg(m.status.as_str()),
                            sql.arg(m.payload.clone()),
                            sql.arg(m.udh.clone()),
                            sql.arg(m.dcs),
                            sql.arg(m.source_address.clone()),
                            sql.arg(m.submitted_at),
                            sql.arg(m.delivered_at),
                            sql.arg(m.expires_at),
                            sql.arg(now),
                        ];
                        format!("({})", v.join(", "))
                    })
                    .collect();
                sql.push(&rows.join(", ")).push(
                    " ON CONFLICT (sim_id, provider_id) DO UPDATE SET status = excluded.status, \
                     delivered_at = excluded.delivered_at, expires_at = excluded.expires_at, synced_at = excluded.synced_at",
                );
                let text = sql.text_for(tx.dialect());
                with_tx!(&mut tx, c => bind_args!(sqlx::query(&text), &sql.args).execute(&mut *c).await.map(|r| r.rows_affected()))?;
            }
        }
        tx.commit().await
    }

    /// SMS, newest first.
    pub async fn list_sms(&self, f: &SmsFilter, page: crate::PageRequest<'_>) -> StoreResult<crate::Page<SmsRow>> {
        let mut sql = Sql::new(format!("SELECT {SMS_COLUMNS} WHERE 1=1"));
        if let Some(sim) = f.sim_id {
            let p = sql.arg(sim);
            sql.push(&format!(" AND m.sim_id = {p}"));
        }
        if let Some(d) = &f.direction {
            let p = sql.arg(d.as_str());
            sql.push(&format!(" AND m.direction = {p}"));
        }
        if let Some(s) = &f.status {
            let p = sql.arg(s.as_str());
            sql.push(&format!(" AND m.status = {p}"));
        }
        self.id_page(sql, "m", true, page).await
    }

    /// Forgets one SMS the provider cancelled, and records the cancellation in the SIM's history.
    pub async fn cancel_sms(&self, sim_id: i64, provider_id: i64, actor: &str) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        with_tx!(&mut tx, c => sqlx::query("DELETE FROM sms_messages WHERE sim_id = $1 AND provider_id = $2")
            .bind(sim_id).bind(provider_id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
        let note = format!("SMS {provider_id} cancelled at the provider");
        let event = crate::model::NewEvent {
            kind: simfleet_domain::EventKind::ProviderActionApplied,
            old_status: None,
            new_status: None,
            note: Some(note),
            actor,
        };
        crate::events::insert_event(&mut tx, sim_id, &event).await?;
        tx.commit().await
    }

    /// The SIM ids and provider references of the given ICCIDs (provider SIMs only).
    pub async fn provider_refs_of(&self, iccids: &[String]) -> StoreResult<Vec<crate::ProviderRef>> {
        let mut out = Vec::with_capacity(iccids.len());
        for chunk in iccids.chunks(1000) {
            let mut sql = Sql::new(
                "SELECT id AS sim_id, iccid, provider_ref FROM sims WHERE provider_ref IS NOT NULL AND iccid IN (",
            );
            let ph: Vec<String> = chunk.iter().map(|i| sql.arg(i.as_str())).collect();
            sql.push(&ph.join(", ")).push(")");
            let text = sql.text_for(self.dialect());
            let rows: Vec<crate::ProviderRef> =
                with_db!(self, c => bind_args!(sqlx::query_as(&text), &sql.args).fetch_all(c).await)?;
            out.extend(rows);
        }
        Ok(out)
    }
}
