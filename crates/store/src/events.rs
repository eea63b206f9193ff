//! SIM event history, written in the same transaction as the change it records.

use crate::db::{with_db, with_tx, Store, Tx};
use crate::error::{StoreError, StoreResult};
use crate::model::{NewEvent, Page, PageRequest, SimEvent};
use crate::sql::{bind_args, Cursor, Sql};
use chrono::{DateTime, Utc};
use simfleet_domain::{EventKind, SimStatus};

pub(crate) async fn insert_event(tx: &mut Tx, sim_id: i64, e: &NewEvent<'_>) -> StoreResult<()> {
    with_tx!(tx, c => sqlx::query(
        "INSERT INTO sim_events (sim_id, kind, old_status, new_status, note, actor, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(sim_id)
    .bind(e.kind.as_str())
    .bind(e.old_status.map(SimStatus::as_str))
    .bind(e.new_status.map(SimStatus::as_str))
    .bind(e.note.as_deref())
    .bind(e.actor)
    .bind(crate::now())
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Records the same kind of event for many SIMs, with the status each has now: one
/// `INSERT … SELECT` per thousand SIMs (one per contiguous id range on SQLite, which is what
/// a bulk insert produces), not one statement per SIM. Creation events have no old status;
/// others record the status unchanged.
pub(crate) async fn insert_events_for(
    tx: &mut Tx,
    sim_ids: &[i64],
    kind: EventKind,
    note: Option<&str>,
    actor: &str,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let creates = matches!(kind, EventKind::Created | EventKind::Imported);
    let select = format!(
        "INSERT INTO sim_events (sim_id, kind, old_status, new_status, note, actor, created_at) \
         SELECT id, $1, {}, status, $2, $3, $4 FROM sims WHERE ",
        if creates { "NULL" } else { "status" }
    );
    let fixed = |sql: &mut Sql| {
        sql.arg(kind.as_str());
        sql.arg(note.map(str::to_owned));
        sql.arg(actor);
        sql.arg(now);
    };
    if let Tx::Postgres(c) = tx {
        let mut sql = Sql::new(format!("{select}id = ANY($5)"));
        fixed(&mut sql);
        bind_args!(sqlx::query(&sql.text), &sql.args).bind(sim_ids).execute(&mut **c).await?;
        return Ok(());
    }
    let mut sorted = sim_ids.to_vec();
    sorted.sort_unstable();
    let contiguous = sorted.windows(2).all(|w| w[1] == w[0] + 1);
    let chunks: Vec<&[i64]> = if contiguous { vec![&sorted[..]] } else { sorted.chunks(1000).collect() };
    for chunk in chunks.into_iter().filter(|c| !c.is_empty()) {
        let mut sql = Sql::new(select.clone());
        fixed(&mut sql);
        if contiguous {
            let (lo, hi) = (sql.arg(chunk[0]), sql.arg(chunk[chunk.len() - 1]));
            sql.push(&format!("id BETWEEN {lo} AND {hi}"));
        } else {
            let ph: Vec<String> = chunk.iter().map(|id| sql.arg(*id)).collect();
            sql.push(&format!("id IN ({})", ph.join(", ")));
        }
        let text = sql.text_for(tx.dialect());
        with_tx!(tx, c => bind_args!(sqlx::query(&text), &sql.args).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    }
    Ok(())
}

#[derive(sqlx::FromRow)]
struct EventRow {
    id: i64,
    iccid: String,
    kind: String,
    old_status: Option<String>,
    new_status: Option<String>,
    note: Option<String>,
    actor: String,
    created_at: DateTime<Utc>,
}

pub(crate) async fn list_events(store: &Store, sim_id: i64, page: PageRequest<'_>) -> StoreResult<Page<SimEvent>> {
    let limit = page.limit.clamp(1, 1000) as i64;
    let mut sql = Sql::new(
        "SELECT e.id, s.iccid, e.kind, e.old_status, e.new_status, e.note, e.actor, e.created_at \
         FROM sim_events e JOIN sims s ON s.id = e.sim_id WHERE e.sim_id = ",
    );
    let p = sql.arg(sim_id);
    sql.push(&p);
    if let Some(raw) = page.cursor {
        let cursor = Cursor::decode(raw)
            .ok_or_else(|| StoreError::precondition(Some("cursor"), "is not a cursor returned by this list"))?;
        let p = sql.arg(cursor.id);
        sql.push(&format!(" AND e.id < {p}"));
    }
    let p = sql.arg(limit + 1);
    sql.push(&format!(" ORDER BY e.id DESC LIMIT {p}"));
    let mut rows: Vec<EventRow> =
        with_db!(store, c => bind_args!(sqlx::query_as(&sql.text), &sql.args).fetch_all(c).await)?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = if more { rows.last().map(|r| Cursor { key: String::new(), id: r.id }.encode()) } else { None };
    let total = if page.with_total {
        Some(
            with_db!(store, c => sqlx::query_scalar("SELECT COUNT(*) FROM sim_events WHERE sim_id = $1").bind(sim_id).fetch_one(c).await)?,
        )
    } else {
        None
    };
    Ok(Page {
        items: rows
            .into_iter()
            .map(|r| SimEvent {
                id: r.id,
                iccid: r.iccid,
                kind: r.kind,
                old_status: r.old_status,
                new_status: r.new_status,
                note: r.note,
                actor: r.actor,
                created_at: r.created_at,
            })
            .collect(),
        next_cursor,
        total,
    })
}

impl Store {
    /// Records an event that changes nothing else (e.g. PIN/PUK revealed to a user).
    pub async fn add_sim_event(&self, sim_id: i64, event: &NewEvent<'_>) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        insert_event(&mut tx, sim_id, event).await?;
        tx.commit().await
    }
}
