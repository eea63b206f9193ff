//! The SIM inventory: reading, listing, creating and updating SIMs.

use crate::db::{with_db, with_tx, Db, Dialect, Store, Tx};
use crate::error::{StoreError, StoreResult};
use crate::events::{insert_event, insert_events_for};
use crate::model::*;
use crate::pg_copy::{copy_in, CopyRows};
use crate::sim_tags;
use crate::sql::{bind_args, prefix_upper_bound, Cursor, Sql};
use chrono::{DateTime, Utc};
use simfleet_domain::{EventKind, Provider, SimStatus, SimType};
use std::collections::HashMap;

/// A SIM's columns; `PgSimRow` reads them by position, in this order.
pub(crate) const SIM_COLUMNS: &str =
    "s.id, s.iccid, s.imsi, s.msisdn, s.imei, s.type, s.status, s.pin_enc, s.puk_enc, \
     s.label, s.customer_id, s.tariff_plan_id, s.provider, s.provider_status, s.imei_lock, s.ip_address, \
     s.created_at, s.updated_at, s.activation_code";

/// A SIM as a query returns it: as a row (single SIM reads) or as an element of the JSON
/// document the SQLite list query builds, which also carries the tags. The field order is
/// the column order of `SIM_COLUMNS` and of that document: both are read by position.
#[derive(sqlx::FromRow, serde::Deserialize)]
pub(crate) struct SimRow {
    id: i64,
    iccid: String,
    imsi: Option<String>,
    msisdn: Option<String>,
    imei: Option<String>,
    #[sqlx(rename = "type")]
    #[serde(rename = "type")]
    sim_type: String,
    status: String,
    pin_enc: Option<String>,
    puk_enc: Option<String>,
    label: Option<String>,
    customer_id: Option<i64>,
    tariff_plan_id: Option<i64>,
    provider: String,
    provider_status: Option<String>,
    imei_lock: Option<bool>,
    ip_address: Option<String>,
    #[serde(deserialize_with = "stored_time")]
    created_at: DateTime<Utc>,
    #[serde(deserialize_with = "stored_time")]
    updated_at: DateTime<Utc>,
    activation_code: Option<String>,
    /// Filled by the list document; single reads load tags separately.
    #[sqlx(skip)]
    #[serde(default)]
    tags: Vec<String>,
}

impl SimRow {
    pub(crate) fn into_sim(self) -> StoreResult<Sim> {
        let corrupt = |what: &str, v: &str| {
            StoreError::Database(sqlx::Error::Decode(format!("unknown {what} {v:?} in sims row {}", self.id).into()))
        };
        Ok(Sim {
            sim_type: SimType::parse(&self.sim_type).ok_or_else(|| corrupt("type", &self.sim_type))?,
            status: SimStatus::parse(&self.status).ok_or_else(|| corrupt("status", &self.status))?,
            provider: Provider::parse(&self.provider).ok_or_else(|| corrupt("provider", &self.provider))?,
            id: self.id,
            iccid: self.iccid,
            imsi: self.imsi,
            msisdn: self.msisdn,
            imei: self.imei,
            pin_enc: self.pin_enc,
            puk_enc: self.puk_enc,
            label: self.label,
            tags: self.tags,
            customer_id: self.customer_id,
            tariff_plan_id: self.tariff_plan_id,
            activation_code: self.activation_code,
            provider_status: self.provider_status,
            imei_lock: self.imei_lock,
            ip_address: self.ip_address,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// A SIM as PostgreSQL returns it: the columns of `SIM_COLUMNS`, then its tags as an array.
struct PgSimRow(SimRow);

/// Read by position: looking 21 names up in each of a page's rows was a twentieth of the
/// server's time per list page.
impl sqlx::FromRow<'_, sqlx::postgres::PgRow> for PgSimRow {
    fn from_row(row: &sqlx::postgres::PgRow) -> Result<Self, sqlx::Error> {
        use sqlx::Row;
        let sim = SimRow {
            id: row.try_get(0)?,
            iccid: row.try_get(1)?,
            imsi: row.try_get(2)?,
            msisdn: row.try_get(3)?,
            imei: row.try_get(4)?,
            sim_type: row.try_get(5)?,
            status: row.try_get(6)?,
            pin_enc: row.try_get(7)?,
            puk_enc: row.try_get(8)?,
            label: row.try_get(9)?,
            customer_id: row.try_get(10)?,
            tariff_plan_id: row.try_get(11)?,
            provider: row.try_get(12)?,
            provider_status: row.try_get(13)?,
            imei_lock: row.try_get(14)?,
            ip_address: row.try_get(15)?,
            created_at: row.try_get(16)?,
            updated_at: row.try_get(17)?,
            activation_code: row.try_get(18)?,
            tags: row.try_get(19)?,
        };
        Ok(PgSimRow(sim))
    }
}

/// Normalises tags: trimmed, no empties, no duplicates, sorted.
pub(crate) fn clean_tags(tags: &[String]) -> Vec<String> {
    let mut out: Vec<String> = tags.iter().map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()).collect();
    out.sort();
    out.dedup();
    out
}

impl Store {
    pub async fn get_sim(&self, iccid: &str) -> StoreResult<Sim> {
        let read = match &self.db {
            Db::Postgres(pool) => {
                let sql = format!("SELECT {SIM_COLUMNS}, s.tags FROM sims s WHERE s.iccid = $1");
                let row: Option<PgSimRow> = sqlx::query_as(&sql).bind(iccid).fetch_optional(pool).await?;
                return row.ok_or(StoreError::NotFound("SIM"))?.0.into_sim();
            }
            Db::Sqlite { read, .. } => read,
        };
        let sql = format!("SELECT {SIM_COLUMNS} FROM sims s WHERE s.iccid = $1");
        let row: Option<SimRow> = sqlx::query_as(&sql).bind(iccid).fetch_optional(read).await?;
        let row = row.ok_or(StoreError::NotFound("SIM"))?;
        let tags: Vec<String> = sqlx::query_scalar(sim_tags::SQLITE_TAGS_OF_SIM).bind(row.id).fetch_all(read).await?;
        SimRow { tags, ..row }.into_sim()
    }

    /// Lists SIMs matching `filter` in `sort` order, one keyset page at a time.
    pub async fn list_sims(&self, filter: &SimFilter, sort: SimSort, page: PageRequest<'_>) -> StoreResult<Page<Sim>> {
        let limit = page.limit.clamp(1, 1000) as i64;
        let search = match filter.q.as_deref() {
            Some(q) => {
                let ranges = search_ranges(q);
                let matched = self.ranges_with_matches(&ranges).await?;
                if matched.is_empty() && !ranges.is_empty() {
                    let total = page.with_total.then_some(0);
                    return Ok(Page { items: Vec::new(), next_cursor: None, total });
                }
                matched
            }
            None => Vec::new(),
        };
        let total = if page.with_total { Some(self.count_matching(filter, &search).await?) } else { None };
        let mut sql = Sql::new("SELECT s.* FROM sims s WHERE 1=1");
        push_filter(&mut sql, filter, &search, self.dialect());

        let (column, tiebreak) = match sort.field {
            SimSortField::Iccid => ("s.iccid", None),
            SimSortField::CreatedAt => ("s.created_at", Some("s.id")),
            SimSortField::UpdatedAt => ("s.updated_at", Some("s.id")),
        };
        let op = if sort.descending { "<" } else { ">" };
        if let Some(raw) = page.cursor {
            let cursor = Cursor::decode(raw)
                .ok_or_else(|| StoreError::precondition(Some("cursor"), "is not a cursor returned by this list"))?;
            let key = match sort.field {
                SimSortField::Iccid => sql.arg(cursor.key.clone()),
                _ => {
                    let time = DateTime::parse_from_rfc3339(&cursor.key)
                        .map_err(|_| StoreError::precondition(Some("cursor"), "does not belong to this sort order"))?;
                    sql.arg(time.with_timezone(&Utc))
                }
            };
            match tiebreak {
                None => sql.push(&format!(" AND {column} {op} {key}")),
                Some(tb) => {
                    let id = sql.arg(cursor.id);
                    sql.push(&format!(" AND ({column}, {tb}) {op} ({key}, {id})"))
                }
            };
        }
        let dir = if sort.descending { "DESC" } else { "ASC" };
        sql.push(&format!(" ORDER BY {column} {dir}"));
        if let Some(tb) = tiebreak {
            sql.push(&format!(", {tb} {dir}"));
        }
        // A literal, not a bound value: with `LIMIT $n` PostgreSQL cannot cost a generic plan
        // and plans every execution again, which was a third of its time per page.
        sql.push(&format!(" LIMIT {}", limit + 1));

        // How many rows match a search, a tag or a customer decides which index is fast (a rare
        // tag wants its own index, a common one the ICCID order), so those queries are planned
        // for their values each time. The plain status lists reuse a cached plan, and so does
        // an ICCID prefix in ICCID order: its range scan of the ICCID index is right for any prefix.
        let iccid_search =
            matches!(search.as_slice(), [only] if only.column == "s.iccid") && sort.field == SimSortField::Iccid;
        let plan_each_time = (filter.q.is_some() && !iccid_search)
            || filter.tag.is_some()
            || filter.customer_id.is_some()
            || filter.tariff_plan_id.is_some();
        let mut items = self.fetch_sims(sql, plan_each_time).await?;
        // Aggregation keeps the subquery's order in practice; sorting again makes it certain.
        items.sort_by(|a, b| {
            let ord = match sort.field {
                SimSortField::Iccid => a.iccid.cmp(&b.iccid),
                SimSortField::CreatedAt => (a.created_at, a.id).cmp(&(b.created_at, b.id)),
                SimSortField::UpdatedAt => (a.updated_at, a.id).cmp(&(b.updated_at, b.id)),
            };
            if sort.descending {
                ord.reverse()
            } else {
                ord
            }
        });
        let more = items.len() as i64 > limit;
        items.truncate(limit as usize);
        let next_cursor = match (more, items.last()) {
            (true, Some(last)) => Some(
                Cursor {
                    key: match sort.field {
                        SimSortField::Iccid => last.iccid.clone(),
                        SimSortField::CreatedAt => last.created_at.to_rfc3339(),
                        SimSortField::UpdatedAt => last.updated_at.to_rfc3339(),
                    },
                    id: last.id,
                }
                .encode(),
            ),
            _ => None,
        };
        Ok(Page { items, next_cursor, total })
    }

    /// Runs `inner` (a `SELECT s.* FROM sims s …`) and returns its SIMs with their tags and
    /// activation code in one round trip. PostgreSQL sends rows in its binary protocol, which
    /// costs both sides far less than building and parsing JSON. SQLite builds one JSON
    /// document instead: the driver hands each row across threads, which costs more than the
    /// query itself. With `plan_each_time`, PostgreSQL plans the query for its bound values
    /// (an unnamed statement) instead of possibly reusing a generic plan.
    async fn fetch_sims(&self, inner: Sql, plan_each_time: bool) -> StoreResult<Vec<Sim>> {
        let pool = match &self.db {
            Db::Postgres(pool) => pool,
            Db::Sqlite { read, .. } => return fetch_sims_sqlite(read, inner).await,
        };
        let outer = format!("SELECT {SIM_COLUMNS}, s.tags FROM ({}) s", inner.text);
        let query = sqlx::query_as(&outer).persistent(!plan_each_time);
        let rows: Vec<PgSimRow> = bind_args!(query, &inner.args).fetch_all(pool).await?;
        rows.into_iter().map(|r| r.0.into_sim()).collect()
    }

    pub async fn count_sims(&self, filter: &SimFilter) -> StoreResult<i64> {
        let search = filter.q.as_deref().map(search_ranges).unwrap_or_default();
        self.count_matching(filter, &search).await
    }

    /// Counts the SIMs matching `filter` and any of the `search` ranges of its `q`.
    async fn count_matching(&self, filter: &SimFilter, search: &[SearchRange]) -> StoreResult<i64> {
        let mut sql = Sql::new("SELECT COUNT(*) FROM sims s WHERE 1=1");
        push_filter(&mut sql, filter, search, self.dialect());
        Ok(with_db!(self, c => bind_args!(sqlx::query_scalar(&sql.text), &sql.args).fetch_one(c).await)?)
    }

    /// The ranges of a search that some SIM falls in. A search is mostly an ICCID prefix, yet
    /// it must also look at the MSISDN, IMSI and label: as one condition with OR, both engines
    /// gather the matches of every column and sort them, where a single range is read in
    /// order and stops after a page (PostgreSQL: 1,700 against 3,400 pages/s in pgbench). One
    /// probe of each index first leaves only the columns that match.
    async fn ranges_with_matches(&self, ranges: &[SearchRange]) -> StoreResult<Vec<SearchRange>> {
        if ranges.len() <= 1 {
            return Ok(ranges.to_vec());
        }
        let mut sql = Sql::new("");
        for (n, range) in ranges.iter().enumerate() {
            if n > 0 {
                sql.push(" UNION ALL ");
            }
            let condition = range.push_condition(&mut sql);
            sql.push(&format!("SELECT CAST({n} AS BIGINT) WHERE EXISTS (SELECT 1 FROM sims s WHERE {condition})"));
        }
        let found: Vec<i64> =
            with_db!(self, c => bind_args!(sqlx::query_scalar(&sql.text), &sql.args).fetch_all(c).await)?;
        Ok(found.into_iter().map(|n| ranges[n as usize].clone()).collect())
    }

    /// Creates one SIM and its `CREATED` event.
    pub async fn create_sim(&self, sim: &NewSim, actor: &str) -> StoreResult<Sim> {
        let mut tx = self.begin().await?;
        let id = insert_sim(&mut tx, sim, crate::now()).await?;
        insert_event(
            &mut tx,
            id,
            &NewEvent { kind: EventKind::Created, old_status: None, new_status: Some(sim.status), note: None, actor },
        )
        .await?;
        tx.commit().await?;
        self.get_sim(&sim.iccid).await
    }

    /// Creates many SIMs in one transaction with one `event` each; all or nothing.
    /// Batched: a few statements per thousand SIMs, not one per SIM.
    pub async fn create_sims_bulk(
        &self,
        sims: &[NewSim],
        event: EventKind,
        note: Option<&str>,
        actor: &str,
    ) -> StoreResult<u64> {
        let mut tx = self.begin().await?;
        insert_sims_bulk(&mut tx, sims, event, note, actor, crate::now()).await?;
        tx.commit().await?;
        self.analyze_after_bulk(sims.len()).await?;
        Ok(sims.len() as u64)
    }

    /// After a large load on PostgreSQL: fresh statistics, or the planner keeps costing the
    /// tables as they were before the load. `sim_events` is left to autovacuum: no list or
    /// filter plan depends on how many events there are.
    pub(crate) async fn analyze_after_bulk(&self, rows: usize) -> StoreResult<()> {
        if rows >= 10_000 && self.dialect() == Dialect::Postgres {
            self.execute_raw("ANALYZE sims").await?;
        }
        Ok(())
    }

    /// Applies `patch` to one SIM and records what changed.
    pub async fn update_sim(&self, iccid: &str, patch: &SimPatch, actor: &str) -> StoreResult<Sim> {
        let mut tx = self.begin().await?;
        let current = sim_in_tx(&mut tx, iccid).await?;
        apply_patch(&mut tx, &[current.id], patch, actor).await?;
        tx.commit().await?;
        self.get_sim(iccid).await
    }

    /// Applies the same `patch` to every listed SIM, in one transaction: all or none.
    pub async fn bulk_update_sims(&self, iccids: &[String], patch: &SimPatch, actor: &str) -> StoreResult<u64> {
        if patch.msisdn.as_ref().is_some_and(|m| m.is_some()) && iccids.len() > 1 {
            return Err(StoreError::precondition(Some("msisdn"), "cannot give several SIMs the same MSISDN"));
        }
        let mut tx = self.begin().await?;
        let ids = ids_for_iccids(&mut tx, iccids).await?;
        apply_patch(&mut tx, &ids, patch, actor).await?;
        tx.commit().await?;
        Ok(ids.len() as u64)
    }

    /// Adds `tag` to every listed SIM (keeping their other tags), in one transaction; each
    /// SIM that did not have it gets an `UPDATED` event. Returns the SIMs that gained it.
    pub async fn add_tag_to_sims(&self, iccids: &[String], tag: &str, actor: &str) -> StoreResult<u64> {
        let mut tx = self.begin().await?;
        let ids = ids_for_iccids(&mut tx, iccids).await?;
        let new = sim_tags::add_tag(&mut tx, &ids, tag).await?;
        let note = format!("tag {tag} added");
        insert_events_for(&mut tx, &new, EventKind::Updated, Some(&note), actor, crate::now()).await?;
        if !new.is_empty() {
            let mut sql = Sql::new("UPDATE sims SET updated_at = ");
            let now = sql.arg(crate::now());
            let list: Vec<String> = new.iter().map(|id| sql.arg(*id)).collect();
            sql.push(&format!("{now} WHERE id IN ({})", list.join(", ")));
            let text = sql.text_for(tx.dialect());
            with_tx!(&mut tx, c => bind_args!(sqlx::query(&text), &sql.args).execute(&mut *c).await.map(|r| r.rows_affected()))?;
        }
        tx.commit().await?;
        Ok(new.len() as u64)
    }

    /// Event history of one SIM, newest first.
    pub async fn sim_events(&self, iccid: &str, page: PageRequest<'_>) -> StoreResult<Page<SimEvent>> {
        let sim = self.get_sim(iccid).await?;
        crate::events::list_events(self, sim.id, page).await
    }
}

/// Inserts SIMs with one `event` each inside `tx`, a few statements per thousand SIMs.
pub(crate) async fn insert_sims_bulk(
    tx: &mut Tx,
    sims: &[NewSim],
    event: EventKind,
    note: Option<&str>,
    actor: &str,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    if let Tx::Postgres(c) = tx {
        for chunk in sims.chunks(100_000) {
            copy_sims_pg(c, chunk, event, note, actor, now).await?;
        }
        return Ok(());
    }
    // 18 parameters a row, under SQLite's limit of 32,766.
    for chunk in sims.chunks(1800) {
        let ids = insert_sims_batch(tx, chunk, now).await?;
        insert_events_for(tx, &ids, event, note, actor, now).await?;
        let tags: Vec<(i64, Vec<String>)> = chunk.iter().zip(&ids).map(|(s, id)| (*id, clean_tags(&s.tags))).collect();
        let rows: Vec<(i64, &str)> =
            tags.iter().flat_map(|(id, tags)| tags.iter().map(move |t| (*id, t.as_str()))).collect();
        sim_tags::insert_sqlite(tx, &rows).await?;
    }
    Ok(())
}

/// PostgreSQL: the SIMs' ids are drawn from their sequence first, so the SIMs (with their
/// tags) and their events each go straight into their table with one COPY. Staging tables and an
/// `INSERT … SELECT … RETURNING` cost 25–30% more for 100,000 SIMs (see ARCHITECTURE.md).
async fn copy_sims_pg(
    c: &mut sqlx::PgConnection,
    sims: &[NewSim],
    event: EventKind,
    note: Option<&str>,
    actor: &str,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let ids: Vec<i64> = sqlx::query_scalar(
        // Materialized, or PostgreSQL looks the sequence up again for every id (8 times slower).
        "WITH seq AS MATERIALIZED (SELECT pg_get_serial_sequence('sims', 'id')::regclass AS id) \
         SELECT nextval(seq.id) FROM seq, generate_series(1, $1) ORDER BY 1",
    )
    .bind(sims.len() as i64)
    .fetch_all(&mut *c)
    .await?;
    let now = now.to_rfc3339();
    let mut rows = CopyRows::with_capacity(sims.len() * 200);
    let mut events = CopyRows::with_capacity(sims.len() * 80);
    for (s, &id) in sims.iter().zip(&ids) {
        rows.int(id)
            .text(Some(&s.iccid))
            .text(s.imsi.as_deref())
            .text(s.msisdn.as_deref())
            .text(s.imei.as_deref())
            .text(Some(s.sim_type.as_str()))
            .text(Some(s.status.as_str()))
            .text(s.pin_enc.as_deref())
            .text(s.puk_enc.as_deref())
            .text(s.label.as_deref())
            .opt_int(s.customer_id)
            .opt_int(s.tariff_plan_id)
            .text(Some(s.provider.as_str()))
            .text(s.provider_ref.as_deref())
            .text(s.provider_status.as_deref())
            .opt_bool(s.imei_lock)
            .text(s.ip_address.as_deref())
            .text(Some(&now))
            .text(Some(&now))
            .text_array(&clean_tags(&s.tags));
        rows.end_row();
        let old_status = (!matches!(event, EventKind::Created | EventKind::Imported)).then(|| s.status.as_str());
        events
            .int(id)
            .text(Some(event.as_str()))
            .text(old_status)
            .text(Some(s.status.as_str()))
            .text(note)
            .text(Some(actor))
            .text(Some(&now));
        events.end_row();
    }
    copy_in(
        c,
        "sims (id, iccid, imsi, msisdn, imei, type, status, pin_enc, puk_enc, label, customer_id, tariff_plan_id, \
         provider, provider_ref, provider_status, imei_lock, ip_address, created_at, updated_at, tags)",
        rows,
    )
    .await?;
    copy_in(c, "sim_events (sim_id, kind, old_status, new_status, note, actor, created_at)", events).await?;
    Ok(())
}

/// SQLite's half of [`Store::fetch_sims`]: the SIMs as one JSON document.
async fn fetch_sims_sqlite(pool: &sqlx::SqlitePool, inner: Sql) -> StoreResult<Vec<Sim>> {
    // Each SIM as an array in `SimRow`'s field order: serde reads a struct from an array by
    // position, and leaving the names out halved the document SQLite writes and serde reads.
    let outer = format!(
        "SELECT json_group_array(json_array({}, \
         CASE q.imei_lock WHEN 1 THEN json('true') WHEN 0 THEN json('false') END, \
         q.ip_address, q.created_at, q.updated_at, q.activation_code, \
         json((SELECT json_group_array(t.tag) FROM (SELECT tag FROM sim_tags WHERE sim_id = q.id ORDER BY tag) t)))) \
         FROM ({}) q",
        SQLITE_LIST_COLUMNS,
        inner.text_for(Dialect::Sqlite)
    );
    let json: String = bind_args!(sqlx::query_scalar(&outer), &inner.args).fetch_one(pool).await?;
    let rows: Vec<SimRow> = serde_json::from_str(&json)
        .map_err(|e| StoreError::Database(sqlx::Error::Decode(format!("SIM list document: {e}").into())))?;
    rows.into_iter().map(SimRow::into_sim).collect()
}

/// A timestamp of the SQLite list document, as sqlx stores them: `2026-12-03T08:14:30.451828+00:00`.
/// Read field by field: chrono's general parser was a twentieth of the server's work on a
/// page of 100 SIMs. Any other form goes to chrono.
fn stored_time<'de, D: serde::Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    let text = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
    parse_utc(&text)
        .or_else(|| DateTime::parse_from_rfc3339(&text).ok().map(|t| t.with_timezone(&Utc)))
        .ok_or_else(|| serde::de::Error::custom(format!("not an RFC 3339 timestamp: {text:?}")))
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction](+00:00|Z)`, or `None`.
fn parse_utc(text: &str) -> Option<DateTime<Utc>> {
    let b = text.as_bytes();
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        let digits = b.get(range)?;
        digits.iter().try_fold(0u32, |n, &c| c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0')))
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (mut nanos, mut at) = (0, 19);
    if b[at] == b'.' {
        let digits = b[at + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if !(1..=9).contains(&digits) {
            return None;
        }
        nanos = num(at + 1..at + 1 + digits)? * 10u32.pow(9 - digits as u32);
        at += 1 + digits;
    }
    if !matches!(&b[at..], b"+00:00" | b"Z") {
        return None;
    }
    let date = chrono::NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)?;
    let time = chrono::NaiveTime::from_hms_nano_opt(num(11..13)?, num(14..16)?, num(17..19)?, nanos)?;
    Some(date.and_time(time).and_utc())
}

/// `SimRow`'s fields up to `provider_status`, in order, for the SQLite list document.
const SQLITE_LIST_COLUMNS: &str = "q.id, q.iccid, q.imsi, q.msisdn, q.imei, q.type, q.status, q.pin_enc, q.puk_enc, \
    q.label, q.customer_id, q.tariff_plan_id, q.provider, q.provider_status";

/// Adds `f`'s conditions to `sql`. Status, type and provider are written as literals: they
/// are fixed names this code chose, not user text, and PostgreSQL keeps a prepared
/// statement's plan only when bound values cannot change it much (see `list_sims`).
/// `search`: the prefix ranges of `f.q` to match, any of them (see `search_ranges`).
fn push_filter(sql: &mut Sql, f: &SimFilter, search: &[SearchRange], dialect: Dialect) {
    if !f.statuses.is_empty() {
        let names: Vec<String> = f.statuses.iter().map(|s| format!("'{}'", s.as_str())).collect();
        sql.push(&format!(" AND s.status IN ({})", names.join(", ")));
    }
    if let Some(t) = f.sim_type {
        sql.push(&format!(" AND s.type = '{}'", t.as_str()));
    }
    if let Some(id) = f.customer_id {
        let p = sql.arg(id);
        sql.push(&format!(" AND s.customer_id = {p}"));
    }
    if let Some(id) = f.tariff_plan_id {
        let p = sql.arg(id);
        sql.push(&format!(" AND s.tariff_plan_id = {p}"));
    }
    if let Some(p) = f.provider {
        sql.push(&format!(" AND s.provider = '{}'", p.as_str()));
    }
    if let Some(tag) = &f.tag {
        let p = sql.arg(tag.trim());
        sql.push(&format!(" AND {}", sim_tags::has_tag(dialect, &p)));
    }
    let ors: Vec<String> = search.iter().map(|r| r.push_condition(sql)).collect();
    if !ors.is_empty() {
        sql.push(&format!(" AND ({})", ors.join(" OR ")));
    }
}

/// One column's prefix match as an index range, so that both engines use their B-trees:
/// neither would index `LIKE` reliably.
#[derive(Clone)]
struct SearchRange {
    column: &'static str,
    low: String,
    high: String,
}

impl SearchRange {
    fn push_condition(&self, sql: &mut Sql) -> String {
        let (column, low, high) = (self.column, sql.arg(self.low.clone()), sql.arg(self.high.clone()));
        format!("({column} >= {low} AND {column} < {high})")
    }
}

/// The ranges a search `q` matches: a prefix of the ICCID, MSISDN or IMSI when it is made of
/// digits (an MSISDN's leading `+` is ignored), and of the label, case-insensitively.
fn search_ranges(q: &str) -> Vec<SearchRange> {
    let q = q.trim();
    let mut ranges = Vec::new();
    if q.is_empty() {
        return ranges;
    }
    let digits = q.strip_prefix('+').unwrap_or(q);
    if digits.bytes().all(|b| b.is_ascii_digit()) {
        if let Some(high) = prefix_upper_bound(digits) {
            for column in ["s.iccid", "s.msisdn", "s.imsi"] {
                ranges.push(SearchRange { column, low: digits.to_owned(), high: high.clone() });
            }
        }
    }
    let lower = q.to_lowercase();
    if let Some(high) = prefix_upper_bound(&lower) {
        ranges.push(SearchRange { column: "lower(s.label)", low: lower, high });
    }
    ranges
}

/// The SIM with this ICCID, read inside the transaction that will change it.
pub(crate) async fn sim_in_tx(tx: &mut Tx, iccid: &str) -> StoreResult<Sim> {
    match tx {
        Tx::Postgres(c) => {
            let sql = format!("SELECT {SIM_COLUMNS}, s.tags FROM sims s WHERE s.iccid = $1 FOR UPDATE OF s");
            let row: Option<PgSimRow> = sqlx::query_as(&sql).bind(iccid).fetch_optional(&mut **c).await?;
            row.ok_or(StoreError::NotFound("SIM"))?.0.into_sim()
        }
        Tx::Sqlite(c) => {
            let sql = format!("SELECT {SIM_COLUMNS} FROM sims s WHERE s.iccid = $1");
            let row: Option<SimRow> = sqlx::query_as(&sql).bind(iccid).fetch_optional(&mut **c).await?;
            let row = row.ok_or(StoreError::NotFound("SIM"))?;
            let tags = sqlx::query_scalar(sim_tags::SQLITE_TAGS_OF_SIM).bind(row.id).fetch_all(&mut **c).await?;
            SimRow { tags, ..row }.into_sim()
        }
    }
}

async fn ids_for_iccids(tx: &mut Tx, iccids: &[String]) -> StoreResult<Vec<i64>> {
    let mut ids = Vec::with_capacity(iccids.len());
    for chunk in iccids.chunks(1000) {
        let mut sql = Sql::new("SELECT iccid, id FROM sims WHERE iccid IN (");
        let ph: Vec<String> = chunk.iter().map(|i| sql.arg(i.as_str())).collect();
        sql.push(&ph.join(", ")).push(")");
        let found: Vec<(String, i64)> =
            with_tx!(tx, c => bind_args!(sqlx::query_as(&sql.text), &sql.args).fetch_all(&mut *c).await)?;
        let found: HashMap<String, i64> = found.into_iter().collect();
        if let Some(missing) = chunk.iter().find(|i| !found.contains_key(*i)) {
            return Err(StoreError::precondition(Some("iccids"), format!("SIM {missing} does not exist")));
        }
        ids.extend(chunk.iter().map(|i| found[i]));
    }
    Ok(ids)
}

pub(crate) async fn insert_sim(tx: &mut Tx, s: &NewSim, now: DateTime<Utc>) -> StoreResult<i64> {
    let ids = insert_sims_batch(tx, std::slice::from_ref(s), now).await?;
    let tags = clean_tags(&s.tags);
    if !tags.is_empty() {
        sim_tags::replace_tags(tx, &[(ids[0], &tags)]).await?;
    }
    Ok(ids[0])
}

/// Inserts SIMs and returns their ids in input order.
pub(crate) async fn insert_sims_batch(tx: &mut Tx, sims: &[NewSim], now: DateTime<Utc>) -> StoreResult<Vec<i64>> {
    const COLS: &str =
        "iccid, imsi, msisdn, imei, type, status, pin_enc, puk_enc, label, customer_id, tariff_plan_id, provider, \
        provider_ref, provider_status, imei_lock, ip_address, created_at, updated_at";
    let rows: Vec<(i64, String)> = match tx {
        Tx::Postgres(c) => {
            let col = |f: fn(&NewSim) -> Option<String>| sims.iter().map(f).collect::<Vec<_>>();
            let sql = format!(
                "INSERT INTO sims ({COLS}) SELECT i, imsi, m, imei, t, st, pin, puk, l, cu, ta, pr, pref, pst, il, ip, $17, $17 \
                 FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], \
                 $8::text[], $9::text[], $10::int8[], $11::int8[], $12::text[], $13::text[], $14::text[], $15::bool[], $16::text[]) \
                 AS u(i, imsi, m, imei, t, st, pin, puk, l, cu, ta, pr, pref, pst, il, ip) \
                 RETURNING id, iccid"
            );
            sqlx::query_as(&sql)
                .bind(sims.iter().map(|s| s.iccid.clone()).collect::<Vec<_>>())
                .bind(col(|s| s.imsi.clone()))
                .bind(col(|s| s.msisdn.clone()))
                .bind(col(|s| s.imei.clone()))
                .bind(sims.iter().map(|s| s.sim_type.as_str()).collect::<Vec<_>>())
                .bind(sims.iter().map(|s| s.status.as_str()).collect::<Vec<_>>())
                .bind(col(|s| s.pin_enc.clone()))
                .bind(col(|s| s.puk_enc.clone()))
                .bind(col(|s| s.label.clone()))
                .bind(sims.iter().map(|s| s.customer_id).collect::<Vec<_>>())
                .bind(sims.iter().map(|s| s.tariff_plan_id).collect::<Vec<_>>())
                .bind(sims.iter().map(|s| s.provider.as_str()).collect::<Vec<_>>())
                .bind(col(|s| s.provider_ref.clone()))
                .bind(col(|s| s.provider_status.clone()))
                .bind(sims.iter().map(|s| s.imei_lock).collect::<Vec<_>>())
                .bind(col(|s| s.ip_address.clone()))
                .bind(now)
                .fetch_all(&mut **c)
                .await?
        }
        Tx::Sqlite(c) => {
            // Anonymous `?` bound in order: SQLite parses them in linear time (see `sql`).
            let row = "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
            let sql =
                format!("INSERT INTO sims ({COLS}) VALUES {} RETURNING id, iccid", vec![row; sims.len()].join(","));
            let mut q = sqlx::query_as(&sql);
            for s in sims {
                // Borrowed `&str`s: binding `&String` would copy every value.
                q = q
                    .bind(s.iccid.as_str())
                    .bind(s.imsi.as_deref())
                    .bind(s.msisdn.as_deref())
                    .bind(s.imei.as_deref())
                    .bind(s.sim_type.as_str())
                    .bind(s.status.as_str())
                    .bind(s.pin_enc.as_deref())
                    .bind(s.puk_enc.as_deref())
                    .bind(s.label.as_deref())
                    .bind(s.customer_id)
                    .bind(s.tariff_plan_id)
                    .bind(s.provider.as_str())
                    .bind(s.provider_ref.as_deref())
                    .bind(s.provider_status.as_deref())
                    .bind(s.imei_lock)
                    .bind(s.ip_address.as_deref())
                    .bind(now)
                    .bind(now);
            }
            q.fetch_all(&mut **c).await?
        }
    };
    let by_iccid: HashMap<&str, i64> = rows.iter().map(|(id, iccid)| (iccid.as_str(), *id)).collect();
    Ok(sims.iter().map(|s| by_iccid[s.iccid.as_str()]).collect())
}

async fn apply_patch(tx: &mut Tx, ids: &[i64], patch: &SimPatch, actor: &str) -> StoreResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let now = crate::now();
    let mut sql = Sql::default();
    let mut sets = Vec::new();
    let mut changed = Vec::new();
    let mut set_text = |sql: &mut Sql, col: &'static str, v: &Option<Option<String>>| {
        if let Some(v) = v {
            let p = match v {
                Some(s) => sql.arg(s.as_str()),
                None => "NULL".to_owned(),
            };
            sets.push(format!("{col} = {p}"));
            changed.push(col);
        }
    };
    set_text(&mut sql, "imsi", &patch.imsi);
    set_text(&mut sql, "msisdn", &patch.msisdn);
    set_text(&mut sql, "imei", &patch.imei);
    set_text(&mut sql, "pin_enc", &patch.pin_enc);
    set_text(&mut sql, "puk_enc", &patch.puk_enc);
    set_text(&mut sql, "label", &patch.label);
    if let Some(t) = patch.sim_type {
        let p = sql.arg(t.as_str());
        sets.push(format!("type = {p}"));
        changed.push("type");
    }
    for (col, v) in [("customer_id", patch.customer_id), ("tariff_plan_id", patch.tariff_plan_id)] {
        if let Some(v) = v {
            let p = match v {
                Some(id) => sql.arg(id),
                None => "NULL".to_owned(),
            };
            sets.push(format!("{col} = {p}"));
            changed.push(col);
        }
    }
    if patch.tags.is_some() {
        changed.push("tags");
    }
    if changed.is_empty() {
        return Ok(());
    }
    let ts = sql.arg(now);
    sets.push(format!("updated_at = {ts}"));
    for chunk in ids.chunks(1000) {
        let mut stmt = Sql { text: String::new(), args: sql.args.clone() };
        let ph: Vec<String> = chunk.iter().map(|id| stmt.arg(*id)).collect();
        stmt.text = format!("UPDATE sims SET {} WHERE id IN ({})", sets.join(", "), ph.join(", "));
        with_tx!(tx, c => bind_args!(sqlx::query(&stmt.text), &stmt.args).execute(&mut *c).await.map(|r| r.rows_affected()))?;
        if let Some(tags) = &patch.tags {
            let tags = clean_tags(tags);
            let sims: Vec<(i64, &[String])> = chunk.iter().map(|id| (*id, tags.as_slice())).collect();
            sim_tags::replace_tags(tx, &sims).await?;
        }
    }
    if let Some(label) = &patch.label {
        crate::outbox::enqueue_for_provider_sims(tx, ids, &crate::outbox::ProviderAction::SetLabel(label.clone()), now)
            .await?;
    }
    let assigned = patch.customer_id.is_some_and(|c| c.is_some());
    let kind = if assigned { EventKind::Assigned } else { EventKind::Updated };
    let note = format!("changed {}", changed.join(", "));
    insert_events_for(tx, ids, kind, Some(&note), actor, now).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    #[test]
    fn stored_times_read_as_chrono_reads_them() {
        for text in [
            "2026-12-03T08:14:30.451828+00:00",
            "2026-12-03T08:14:30+00:00",
            "2026-12-03T08:14:30.4Z",
            "2024-02-29T23:59:59.123456789+00:00",
            "0001-01-01T00:00:00Z",
        ] {
            let chrono = DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc);
            assert_eq!(super::parse_utc(text), Some(chrono), "{text}");
        }
        // Left to chrono, or wrong.
        for text in [
            "2026-12-03T09:14:30+01:00",
            "2026-02-30T08:14:30Z",
            "2026-12-03T08:14:30.Z",
            "2026-12-03T08:14:30.1234567890Z",
            "2026-12-03 08:14:30Z",
            "2026-12-03T08:14:3a+00:00",
            "2026-12-03T08:14:30+00:00x",
        ] {
            assert_eq!(super::parse_utc(text), None, "{text}");
        }
    }
}
