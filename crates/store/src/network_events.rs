//! Network events per SIM as the provider reports them (attach, PDP context, location update,
//! status change …): appended by the `events` sync job, read by the API and the dashboard.

use crate::db::{with_db, with_tx, Store};
use crate::error::StoreResult;
use crate::model::{Page, PageRequest};
use crate::sql::{bind_args, Sql};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::HashMap;

/// An event to record; `(sim, occurred_at, event_type)` identifies it, so re-reading one is harmless.
#[derive(Debug, Clone, PartialEq)]
pub struct NewNetworkEvent {
    pub sim_id: i64,
    pub occurred_at: DateTime<Utc>,
    pub event_type: String,
    pub severity: Option<String>,
    pub alert: bool,
    pub country: Option<String>,
    pub operator: Option<String>,
    pub mcc: Option<String>,
    pub mnc: Option<String>,
    pub imei: Option<String>,
    pub imsi: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct NetworkEvent {
    #[serde(skip)]
    pub id: i64,
    pub occurred_at: DateTime<Utc>,
    pub event_type: String,
    /// `INFO`, `WARN` or `CRITICAL` as the provider grades it.
    pub severity: Option<String>,
    /// The provider flags the event as needing attention.
    pub alert: bool,
    pub country: Option<String>,
    pub operator: Option<String>,
    pub mcc: Option<String>,
    pub mnc: Option<String>,
    pub imei: Option<String>,
    pub imsi: Option<String>,
}

impl crate::paging::HasId for NetworkEvent {
    fn id(&self) -> i64 {
        self.id
    }
}

/// Rows per INSERT: 12 parameters each, well under SQLite's limit of 32,766.
const BATCH: usize = 1000;

impl Store {
    /// The time of each SIM's newest stored network event: where the next sync stops reading.
    pub async fn last_network_event_times(&self) -> StoreResult<HashMap<i64, DateTime<Utc>>> {
        let rows: Vec<(i64, DateTime<Utc>)> = with_db!(self, c => sqlx::query_as(
            "SELECT sim_id, MAX(occurred_at) FROM sim_network_events GROUP BY sim_id",
        )
        .fetch_all(c)
        .await)?;
        Ok(rows.into_iter().collect())
    }

    /// Appends events in one transaction, skipping those already stored; returns how many were new.
    /// Give each SIM's events oldest first, so that ids follow time.
    pub async fn insert_network_events(&self, events: &[NewNetworkEvent]) -> StoreResult<u64> {
        let mut tx = self.begin().await?;
        let mut added = 0;
        for chunk in events.chunks(BATCH) {
            let mut sql = Sql::new(
                "INSERT INTO sim_network_events (sim_id, occurred_at, event_type, severity, alert, country, operator, \
                 mcc, mnc, imei, imsi) VALUES ",
            );
            let values: Vec<String> = chunk
                .iter()
                .map(|e| {
                    let p = [
                        sql.arg(e.sim_id),
                        sql.arg(e.occurred_at),
                        sql.arg(e.event_type.as_str()),
                        sql.arg(e.severity.clone()),
                        if e.alert { "TRUE".to_owned() } else { "FALSE".to_owned() },
                        sql.arg(e.country.clone()),
                        sql.arg(e.operator.clone()),
                        sql.arg(e.mcc.clone()),
                        sql.arg(e.mnc.clone()),
                        sql.arg(e.imei.clone()),
                        sql.arg(e.imsi.clone()),
                    ];
                    format!("({})", p.join(", "))
                })
                .collect();
            sql.push(&values.join(", ")).push(" ON CONFLICT (sim_id, occurred_at, event_type) DO NOTHING");
            let text = sql.text_for(tx.dialect());
            added += with_tx!(&mut tx, c => bind_args!(sqlx::query(&text), &sql.args).execute(&mut *c).await.map(|r| r.rows_affected()))?;
        }
        tx.commit().await?;
        Ok(added)
    }

    /// A SIM's network events, newest first.
    pub async fn sim_network_events(&self, sim_id: i64, page: PageRequest<'_>) -> StoreResult<Page<NetworkEvent>> {
        let mut sql = Sql::new(
            "SELECT e.id, e.occurred_at, e.event_type, e.severity, e.alert, e.country, e.operator, e.mcc, e.mnc, \
             e.imei, e.imsi FROM sim_network_events e WHERE e.sim_id = ",
        );
        let p = sql.arg(sim_id);
        sql.push(&p);
        self.id_page(sql, "e", true, page).await
    }

    /// Deletes network events that happened before `cutoff`; returns how many.
    pub async fn prune_network_events(&self, cutoff: DateTime<Utc>) -> StoreResult<u64> {
        self.write(Sql::with("DELETE FROM sim_network_events WHERE occurred_at < $1", vec![cutoff.into()])).await
    }
}
