//! What a connectivity provider (1NCE) reports: SIM attributes, daily usage, quotas,
//! connectivity. Written by the sync jobs in batches, read by the API.

use crate::db::{with_db, with_tx, Dialect, Store, Tx};
use crate::error::{StoreError, StoreResult};
use crate::events::{insert_event, insert_events_for};
use crate::model::{NewEvent, NewSim};
use crate::pg_copy::{copy_in, CopyRows};
use crate::sql::{bind_args, Sql};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::Serialize;
use simfleet_domain::{EventKind, Provider, SimStatus};
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

/// A SIM as the provider describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderSim {
    /// The full ICCID with its check digit: the inventory key.
    pub iccid: String,
    /// The provider's own identifier for the SIM, used in its API paths.
    pub provider_ref: String,
    pub imsi: Option<String>,
    pub msisdn: Option<String>,
    pub imei: Option<String>,
    pub imei_lock: Option<bool>,
    pub ip_address: Option<String>,
    /// `true` when the provider lets the SIM use the network (1NCE: Enabled).
    pub enabled: bool,
    /// Only used for SIMs new to the inventory: afterwards the label is simfleet's.
    pub label: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SimSyncOutcome {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    /// Enabled/disabled changes made outside simfleet.
    pub external_status_changes: u64,
}

/// A SIM the provider knows, as the jobs that query it per SIM need it.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ProviderRef {
    pub sim_id: i64,
    pub iccid: String,
    pub provider_ref: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DailyUsage {
    pub day: NaiveDate,
    /// Bytes received by the SIM.
    pub data_rx: i64,
    /// Bytes sent by the SIM.
    pub data_tx: i64,
    pub data_total: i64,
    pub sms_mo: i64,
    pub sms_mt: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Quota {
    /// `data` (bytes) or `sms` (messages).
    pub kind: String,
    pub remaining: i64,
    pub total: Option<i64>,
    pub expiry_date: Option<NaiveDate>,
    pub last_added: Option<i64>,
    pub threshold_percentage: Option<i64>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Connectivity {
    pub status: String,
    pub operator: Option<String>,
    pub country: Option<String>,
    pub rat: Option<String>,
    pub last_seen_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct ExistingRow {
    id: i64,
    iccid: String,
    status: String,
    provider_ref: Option<String>,
    provider_status: Option<String>,
    imsi: Option<String>,
    msisdn: Option<String>,
    imei: Option<String>,
    imei_lock: Option<bool>,
    ip_address: Option<String>,
}

fn provider_status(enabled: bool) -> &'static str {
    if enabled {
        "Enabled"
    } else {
        "Disabled"
    }
}

/// PostgreSQL months whose `usage_daily` partition is known to exist (per process).
static PARTITIONS: Mutex<Option<HashSet<(String, i32, u32)>>> = Mutex::new(None);

impl Store {
    /// Brings the inventory in line with the provider's view of `sims`, in one transaction:
    /// new SIMs are created (`CREATED` event), provider attributes are updated, and an
    /// enabled/disabled change made elsewhere becomes a `STATUS_CHANGED_EXTERNALLY` event that
    /// moves an ACTIVE SIM to SUSPENDED or back. Inventory fields (customer, tariff, PIN/PUK,
    /// label, other lifecycle states) are never touched.
    pub async fn sync_provider_sims(
        &self,
        provider: Provider,
        sims: &[ProviderSim],
        actor: &str,
    ) -> StoreResult<SimSyncOutcome> {
        let mut outcome = SimSyncOutcome::default();
        let now = crate::now();
        let mut tx = self.begin().await?;
        for chunk in sims.chunks(1000) {
            let mut sql = Sql::new(
                "SELECT id, iccid, status, provider_ref, provider_status, imsi, msisdn, imei, imei_lock, ip_address FROM sims WHERE iccid IN (",
            );
            let ph: Vec<String> = chunk.iter().map(|s| sql.arg(s.iccid.as_str())).collect();
            sql.push(&ph.join(", ")).push(")");
            let text = sql.text_for(tx.dialect());
            let rows: Vec<ExistingRow> =
                with_tx!(&mut tx, c => bind_args!(sqlx::query_as(&text), &sql.args).fetch_all(&mut *c).await)?;
            let existing: HashMap<String, ExistingRow> = rows.into_iter().map(|r| (r.iccid.clone(), r)).collect();

            let mut new = Vec::new();
            for p in chunk {
                let Some(cur) = existing.get(&p.iccid) else {
                    new.push(p);
                    continue;
                };
                let status = provider_status(p.enabled);
                let changed_attrs = cur.provider_ref.as_deref() != Some(p.provider_ref.as_str())
                    || cur.provider_status.as_deref() != Some(status)
                    || cur.imsi != p.imsi
                    || cur.msisdn != p.msisdn
                    || cur.imei != p.imei
                    || cur.imei_lock != p.imei_lock
                    || cur.ip_address != p.ip_address;
                if !changed_attrs {
                    outcome.unchanged += 1;
                    continue;
                }
                let local = SimStatus::parse(&cur.status).unwrap_or(SimStatus::Available);
                let external = cur.provider_status.as_deref().is_some_and(|prev| prev != status);
                let new_local = match (external, local, p.enabled) {
                    (true, SimStatus::Active, false) => SimStatus::Suspended,
                    (true, SimStatus::Suspended, true) => SimStatus::Active,
                    _ => local,
                };
                with_tx!(&mut tx, c => sqlx::query(
                    "UPDATE sims SET provider = $1, provider_ref = $2, provider_status = $3, imsi = $4, msisdn = $5, imei = $6, \
                     imei_lock = $7, ip_address = $8, status = $9, updated_at = $10 WHERE id = $11",
                )
                .bind(provider.as_str())
                .bind(p.provider_ref.as_str())
                .bind(status)
                .bind(p.imsi.as_deref())
                .bind(p.msisdn.as_deref())
                .bind(p.imei.as_deref())
                .bind(p.imei_lock)
                .bind(p.ip_address.as_deref())
                .bind(new_local.as_str())
                .bind(now)
                .bind(cur.id)
                .execute(&mut *c)
                .await
                .map(|r| r.rows_affected()))?;
                outcome.updated += 1;
                if external {
                    outcome.external_status_changes += 1;
                    let note = format!("{provider}: {} → {status}", cur.provider_status.as_deref().unwrap_or("?"));
                    insert_event(
                        &mut tx,
                        cur.id,
                        &NewEvent {
                            kind: EventKind::StatusChangedExternally,
                            old_status: Some(local),
                            new_status: Some(new_local),
                            note: Some(note),
                            actor,
                        },
                    )
                    .await?;
                }
            }
            if !new.is_empty() {
                let records: Vec<NewSim> = new
                    .iter()
                    .map(|p| NewSim {
                        imsi: p.imsi.clone(),
                        msisdn: p.msisdn.clone(),
                        imei: p.imei.clone(),
                        status: if p.enabled { SimStatus::Active } else { SimStatus::Suspended },
                        label: p.label.clone(),
                        provider,
                        provider_ref: Some(p.provider_ref.clone()),
                        provider_status: Some(provider_status(p.enabled).to_owned()),
                        imei_lock: p.imei_lock,
                        ip_address: p.ip_address.clone(),
                        ..NewSim::available(p.iccid.clone())
                    })
                    .collect();
                let ids = crate::sims::insert_sims_batch(&mut tx, &records, now).await?;
                let note = format!("found at {provider}");
                insert_events_for(&mut tx, &ids, EventKind::Created, Some(&note), actor, now).await?;
                outcome.created += new.len() as u64;
            }
        }
        tx.commit().await?;
        Ok(outcome)
    }

    /// The provider's SIMs with their provider ids, in id order.
    pub async fn provider_refs(&self, provider: Provider) -> StoreResult<Vec<ProviderRef>> {
        Ok(with_db!(self, c => sqlx::query_as(
            "SELECT id AS sim_id, iccid, provider_ref FROM sims WHERE provider = $1 AND provider_ref IS NOT NULL ORDER BY id",
        )
        .bind(provider.as_str())
        .fetch_all(c)
        .await)?)
    }

    /// The last day with stored usage, per SIM.
    pub async fn last_usage_days(&self) -> StoreResult<HashMap<i64, NaiveDate>> {
        let rows: Vec<(i64, NaiveDate)> = with_db!(self, c => sqlx::query_as("SELECT sim_id, MAX(day) FROM usage_daily GROUP BY sim_id").fetch_all(c).await)?;
        Ok(rows.into_iter().collect())
    }

    /// Inserts or replaces daily usage rows, idempotently, in one transaction.
    pub async fn upsert_usage(&self, rows: &[(i64, DailyUsage)]) -> StoreResult<u64> {
        if rows.is_empty() {
            return Ok(0);
        }
        if self.dialect() == Dialect::Postgres {
            let months: HashSet<(i32, u32)> = rows.iter().map(|(_, u)| (u.day.year(), u.day.month())).collect();
            self.ensure_usage_partitions(months).await?;
        }
        let now = crate::now();
        let mut tx = self.begin().await?;
        const ON_CONFLICT: &str = " ON CONFLICT (sim_id, day) DO UPDATE SET data_rx = excluded.data_rx, data_tx = excluded.data_tx, \
             data_total = excluded.data_total, sms_mo = excluded.sms_mo, sms_mt = excluded.sms_mt, updated_at = excluded.updated_at";
        if let Tx::Postgres(c) = &mut tx {
            upsert_usage_pg(c, rows, now).await?;
            tx.commit().await?;
            return Ok(rows.len() as u64);
        }
        for chunk in rows.chunks(2000) {
            let mut sql =
                Sql::new("INSERT INTO usage_daily (sim_id, day, data_rx, data_tx, data_total, sms_mo, sms_mt, updated_at) VALUES ");
            let values: Vec<String> = chunk
                .iter()
                .map(|(sim_id, u)| {
                    let p = [
                        sql.arg(*sim_id),
                        sql.arg(u.day),
                        sql.arg(u.data_rx),
                        sql.arg(u.data_tx),
                        sql.arg(u.data_total),
                        sql.arg(u.sms_mo),
                        sql.arg(u.sms_mt),
                        sql.arg(now),
                    ];
                    format!("({})", p.join(", "))
                })
                .collect();
            sql.push(&values.join(", ")).push(ON_CONFLICT);
            let text = sql.text_for(tx.dialect());
            with_tx!(&mut tx, c => bind_args!(sqlx::query(&text), &sql.args).execute(&mut *c).await.map(|r| r.rows_affected()))?;
        }
        tx.commit().await?;
        Ok(rows.len() as u64)
    }

    /// Creates the monthly partitions of `usage_daily` for `months` (PostgreSQL).
    async fn ensure_usage_partitions(&self, months: HashSet<(i32, u32)>) -> StoreResult<()> {
        let schema: String = with_db!(self, c => sqlx::query_scalar("SELECT current_schema()").fetch_one(c).await)?;
        let missing: Vec<(i32, u32)> = {
            let guard = PARTITIONS.lock().expect("partition cache");
            months
                .into_iter()
                .filter(|(y, m)| guard.as_ref().is_none_or(|known| !known.contains(&(schema.clone(), *y, *m))))
                .collect()
        };
        for (y, m) in missing {
            let from = NaiveDate::from_ymd_opt(y, m, 1).expect("valid month");
            let to = from.checked_add_months(chrono::Months::new(1)).expect("date in range");
            // Rows already in the default partition for this month move into the new one.
            let sql = format!(
                "DO $$ BEGIN IF to_regclass('usage_daily_{y}_{m:02}') IS NULL THEN \
                   CREATE TEMP TABLE moving ON COMMIT DROP AS SELECT * FROM usage_daily_default WHERE day >= '{from}' AND day < '{to}'; \
                   DELETE FROM usage_daily_default WHERE day >= '{from}' AND day < '{to}'; \
                   CREATE TABLE usage_daily_{y}_{m:02} PARTITION OF usage_daily FOR VALUES FROM ('{from}') TO ('{to}'); \
                   INSERT INTO usage_daily SELECT * FROM moving; \
                 END IF; END $$;"
            );
            // Serialised across instances: two creating the same partition would collide.
            let mut tx = self.begin().await?;
            with_tx!(&mut tx, c => sqlx::query("SELECT pg_advisory_xact_lock(7301)").execute(&mut *c).await.map(|r| r.rows_affected()))?;
            with_tx!(&mut tx, c => sqlx::query(&sql).execute(&mut *c).await.map(|r| r.rows_affected()))?;
            tx.commit().await?;
            PARTITIONS.lock().expect("partition cache").get_or_insert_with(HashSet::new).insert((schema.clone(), y, m));
        }
        Ok(())
    }

    /// Daily usage of one SIM in `[from, to]`, oldest first.
    pub async fn sim_usage(&self, sim_id: i64, from: NaiveDate, to: NaiveDate) -> StoreResult<Vec<DailyUsage>> {
        let rows: Vec<(NaiveDate, i64, i64, i64, i64, i64)> = with_db!(self, c => sqlx::query_as(
            "SELECT day, data_rx, data_tx, data_total, sms_mo, sms_mt FROM usage_daily WHERE sim_id = $1 AND day >= $2 AND day <= $3 ORDER BY day",
        )
        .bind(sim_id)
        .bind(from)
        .bind(to)
        .fetch_all(c)
        .await)?;
        Ok(rows
            .into_iter()
            .map(|(day, data_rx, data_tx, data_total, sms_mo, sms_mt)| DailyUsage {
                day,
                data_rx,
                data_tx,
                data_total,
                sms_mo,
                sms_mt,
            })
            .collect())
    }

    /// Inserts or replaces quotas: `(sim_id, quota)` pairs, in one transaction.
    pub async fn upsert_quotas(&self, quotas: &[(i64, Quota)]) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        for chunk in quotas.chunks(2000) {
            let mut sql = Sql::new(
                "INSERT INTO sim_quotas (sim_id, kind, remaining, total, expiry_date, last_added, threshold_percentage, updated_at) VALUES ",
            );
            let values: Vec<String> = chunk
                .iter()
                .map(|(sim_id, q)| {
                    let p = [
                        sql.arg(*sim_id),
                        sql.arg(q.kind.as_str()),
                        sql.arg(q.remaining),
                        sql.arg(q.total),
                        sql.arg(q.expiry_date),
                        sql.arg(q.last_added),
                        sql.arg(q.threshold_percentage),
                        sql.arg(q.updated_at),
                    ];
                    format!("({})", p.join(", "))
                })
                .collect();
            sql.push(&values.join(", ")).push(
                " ON CONFLICT (sim_id, kind) DO UPDATE SET remaining = excluded.remaining, total = excluded.total, \
                 expiry_date = excluded.expiry_date, last_added = excluded.last_added, \
                 threshold_percentage = excluded.threshold_percentage, updated_at = excluded.updated_at",
            );
            let text = sql.text_for(tx.dialect());
            with_tx!(&mut tx, c => bind_args!(sqlx::query(&text), &sql.args).execute(&mut *c).await.map(|r| r.rows_affected()))?;
        }
        tx.commit().await
    }

    pub async fn sim_quotas(&self, sim_id: i64) -> StoreResult<Vec<Quota>> {
        Ok(with_db!(self, c => sqlx::query_as(
            "SELECT kind, remaining, total, expiry_date, last_added, threshold_percentage, updated_at \
             FROM sim_quotas WHERE sim_id = $1 ORDER BY kind",
        )
        .bind(sim_id)
        .fetch_all(c)
        .await)?)
    }

    /// Inserts or replaces connectivity: `(sim_id, connectivity)` pairs, in one transaction.
    pub async fn upsert_connectivity(&self, items: &[(i64, Connectivity)]) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        for chunk in items.chunks(2000) {
            let mut sql =
                Sql::new("INSERT INTO sim_connectivity (sim_id, status, operator, country, rat, last_seen_at, updated_at) VALUES ");
            let values: Vec<String> = chunk
                .iter()
                .map(|(sim_id, c)| {
                    let p = [
                        sql.arg(*sim_id),
                        sql.arg(c.status.as_str()),
                        sql.arg(c.operator.clone()),
                        sql.arg(c.country.clone()),
                        sql.arg(c.rat.clone()),
                        sql.arg(c.last_seen_at),
                        sql.arg(c.updated_at),
                    ];
                    format!("({})", p.join(", "))
                })
                .collect();
            sql.push(&values.join(", ")).push(
                " ON CONFLICT (sim_id) DO UPDATE SET status = excluded.status, operator = excluded.operator, \
                 country = excluded.country, rat = excluded.rat, last_seen_at = excluded.last_seen_at, updated_at = excluded.updated_at",
            );
            let text = sql.text_for(tx.dialect());
            with_tx!(&mut tx, c => bind_args!(sqlx::query(&text), &sql.args).execute(&mut *c).await.map(|r| r.rows_affected()))?;
        }
        tx.commit().await
    }

    pub async fn sim_connectivity(&self, sim_id: i64) -> StoreResult<Option<Connectivity>> {
        Ok(with_db!(self, c => sqlx::query_as(
            "SELECT status, operator, country, rat, last_seen_at, updated_at FROM sim_connectivity WHERE sim_id = $1",
        )
        .bind(sim_id)
        .fetch_optional(c)
        .await)?)
    }
}

/// One recorded run of a sync job.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct JobRun {
    pub id: i64,
    pub job: String,
    /// `running`, `success`, `partial` (some items failed) or `failed`.
    pub status: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub items_ok: i64,
    pub items_failed: i64,
    /// JSON array of `{ "item", "message" }`.
    pub errors: Option<String>,
    pub instance: Option<String>,
}

impl crate::paging::HasId for JobRun {
    fn id(&self) -> i64 {
        self.id
    }
}

impl Store {
    pub async fn start_job_run(&self, job: &str, instance: &str) -> StoreResult<i64> {
        let mut tx = self.begin().await?;
        let id: i64 = with_tx!(&mut tx, c => sqlx::query_scalar(
            "INSERT INTO job_runs (job, status, started_at, instance) VALUES ($1, 'running', $2, $3) RETURNING id",
        )
        .bind(job)
        .bind(crate::now())
        .bind(instance)
        .fetch_one(&mut *c)
        .await)?;
        tx.commit().await?;
        Ok(id)
    }

    pub async fn finish_job_run(
        &self,
        id: i64,
        status: &str,
        items_ok: i64,
        items_failed: i64,
        errors: &serde_json::Value,
    ) -> StoreResult<()> {
        let errors = (!errors.as_array().is_some_and(Vec::is_empty)).then(|| errors.to_string());
        self.write(Sql::with(
            "UPDATE job_runs SET status = $1, finished_at = $2, items_ok = $3, items_failed = $4, errors = $5 WHERE id = $6",
            vec![status.into(), crate::now().into(), items_ok.into(), items_failed.into(), errors.into(), id.into()],
        ))
        .await?;
        Ok(())
    }

    /// Job runs, newest first, optionally of one job.
    pub async fn list_job_runs(
        &self,
        job: Option<&str>,
        page: crate::PageRequest<'_>,
    ) -> StoreResult<crate::Page<JobRun>> {
        let mut sql = Sql::new(
            "SELECT r.id, r.job, r.status, r.started_at, r.finished_at, r.items_ok, r.items_failed, r.errors, r.instance FROM job_runs r WHERE 1=1",
        );
        if let Some(job) = job {
            let p = sql.arg(job);
            sql.push(&format!(" AND r.job = {p}"));
        }
        self.id_page(sql, "r", true, page).await
    }

    /// The latest run of each job.
    pub async fn last_job_runs(&self) -> StoreResult<Vec<JobRun>> {
        Ok(with_db!(self, c => sqlx::query_as(
            "SELECT r.id, r.job, r.status, r.started_at, r.finished_at, r.items_ok, r.items_failed, r.errors, r.instance \
             FROM job_runs r WHERE r.id IN (SELECT MAX(id) FROM job_runs GROUP BY job) ORDER BY r.job",
        )
        .fetch_all(c)
        .await)?)
    }
}

impl Store {
    /// Takes (or renews) the lease on `job` for `holder` until now + `ttl`, unless another
    /// holder's lease is still running. True when `holder` has it.
    pub async fn acquire_job_lease(&self, job: &str, holder: &str, ttl: chrono::TimeDelta) -> StoreResult<bool> {
        let now = crate::now();
        let mut tx = self.begin().await?;
        let got: Option<String> = with_tx!(&mut tx, c => sqlx::query_scalar(
            "INSERT INTO job_leases (job, holder, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (job) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
             WHERE job_leases.expires_at < $4 OR job_leases.holder = excluded.holder \
             RETURNING holder",
        )
        .bind(job)
        .bind(holder)
        .bind(now + ttl)
        .bind(now)
        .fetch_optional(&mut *c)
        .await)?;
        tx.commit().await?;
        Ok(got.as_deref() == Some(holder))
    }

    /// Who holds the lease on `job`, if anyone (expired or not).
    pub async fn job_lease_holder(&self, job: &str) -> StoreResult<Option<String>> {
        Ok(with_db!(self, c => sqlx::query_scalar("SELECT holder FROM job_leases WHERE job = $1")
            .bind(job)
            .fetch_optional(c)
            .await)?)
    }

    /// Marks runs of `job` still `running` as failed: called by the lease holder, so no such
    /// run can be alive (its process ended without finishing it). Returns how many.
    pub async fn abandon_running_job_runs(&self, job: &str) -> StoreResult<u64> {
        let note = r#"[{"item":"job","message":"abandoned: the process running it ended before it finished"}]"#;
        self.write(Sql::with(
            "UPDATE job_runs SET status = 'failed', finished_at = $1, errors = $2 WHERE job = $3 AND status = 'running'",
            vec![crate::now().into(), note.into(), job.into()],
        ))
        .await
    }

    pub async fn release_job_lease(&self, job: &str, holder: &str) -> StoreResult<()> {
        self.write(Sql::with("DELETE FROM job_leases WHERE job = $1 AND holder = $2", vec![job.into(), holder.into()]))
            .await?;
        Ok(())
    }
}

/// One SIM's usage on one day, as the store is given it.
type UsageRow = (i64, DailyUsage);

/// Usage rows in COPY's format, with `updated_at` as the last column when given.
fn usage_copy_rows(rows: &[&UsageRow], updated_at: Option<&str>) -> CopyRows {
    let mut copy = CopyRows::with_capacity(rows.len() * 80);
    for (sim_id, u) in rows {
        copy.int(*sim_id).date(u.day).int(u.data_rx).int(u.data_tx).int(u.data_total).int(u.sms_mo).int(u.sms_mt);
        if let Some(stamp) = updated_at {
            copy.text(Some(stamp));
        }
        copy.end_row();
    }
    copy
}

/// PostgreSQL: days after a SIM's last stored day (a first sync, each day's new day) are
/// COPYed straight into the table. The others (re-reads, back-filled gaps) are COPYed into a
/// staging table, then the days whose figures changed are updated and the missing ones
/// inserted: a re-read of unchanged days writes nothing, and no row pays for `ON CONFLICT`'s
/// speculative insertion.
async fn upsert_usage_pg(c: &mut sqlx::PgConnection, rows: &[UsageRow], now: DateTime<Utc>) -> StoreResult<()> {
    // Writers of usage (the job, a read-through refresh) take turns: what is new below relies
    // on no one else inserting the same days meanwhile.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('simfleet.usage_daily'))").execute(&mut *c).await?;
    let sim_ids: Vec<i64> = rows.iter().map(|(id, _)| *id).collect::<HashSet<_>>().into_iter().collect();
    // The SIMs must exist: this check stands in for a foreign key (migration 0012).
    let last_days: Vec<(i64, Option<NaiveDate>)> = sqlx::query_as(
        "SELECT s.id, (SELECT max(u.day) FROM usage_daily u WHERE u.sim_id = s.id) FROM sims s WHERE s.id = ANY($1)",
    )
    .bind(&sim_ids)
    .fetch_all(&mut *c)
    .await?;
    if last_days.len() < sim_ids.len() {
        let known: HashSet<i64> = last_days.iter().map(|(id, _)| *id).collect();
        let unknown = sim_ids.iter().find(|id| !known.contains(id)).expect("an id is missing");
        return Err(StoreError::precondition(Some("sim_id"), format!("no SIM has id {unknown}")));
    }
    let last_days: HashMap<i64, NaiveDate> = last_days.into_iter().filter_map(|(id, day)| Some((id, day?))).collect();
    let (new, known): (Vec<&UsageRow>, Vec<&UsageRow>) =
        rows.iter().partition(|(id, u)| last_days.get(id).is_none_or(|last| u.day > *last));

    if !new.is_empty() {
        let copy = usage_copy_rows(&new, Some(&now.to_rfc3339()));
        copy_in(c, "usage_daily (sim_id, day, data_rx, data_tx, data_total, sms_mo, sms_mt, updated_at)", copy).await?;
    }
    if known.is_empty() {
        return Ok(());
    }
    // A batch is small next to the table: probe the primary key per staged row. A hash or merge
    // join would read the whole table for every batch, so ingestion would slow as it grows.
    for setting in ["SET LOCAL enable_hashjoin = off", "SET LOCAL enable_mergejoin = off"] {
        sqlx::query(setting).execute(&mut *c).await?;
    }
    sqlx::query(
        "CREATE TEMP TABLE usage_stage (sim_id int8, day date, data_rx int8, data_tx int8, data_total int8, \
         sms_mo int8, sms_mt int8) ON COMMIT DROP",
    )
    .execute(&mut *c)
    .await?;
    let copy = usage_copy_rows(&known, None);
    copy_in(c, "usage_stage (sim_id, day, data_rx, data_tx, data_total, sms_mo, sms_mt)", copy).await?;
    sqlx::query(
        "UPDATE usage_daily u SET data_rx = s.data_rx, data_tx = s.data_tx, data_total = s.data_total, \
         sms_mo = s.sms_mo, sms_mt = s.sms_mt, updated_at = $1 \
         FROM usage_stage s WHERE u.sim_id = s.sim_id AND u.day = s.day \
         AND (u.data_rx, u.data_tx, u.data_total, u.sms_mo, u.sms_mt) \
             IS DISTINCT FROM (s.data_rx, s.data_tx, s.data_total, s.sms_mo, s.sms_mt)",
    )
    .bind(now)
    .execute(&mut *c)
    .await?;
    sqlx::query(
        "INSERT INTO usage_daily (sim_id, day, data_rx, data_tx, data_total, sms_mo, sms_mt, updated_at) \
         SELECT s.sim_id, s.day, s.data_rx, s.data_tx, s.data_total, s.sms_mo, s.sms_mt, $1 FROM usage_stage s \
         WHERE NOT EXISTS (SELECT 1 FROM usage_daily u WHERE u.sim_id = s.sim_id AND u.day = s.day)",
    )
    .bind(now)
    .execute(&mut *c)
    .await?;
    Ok(())
}
