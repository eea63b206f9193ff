//! Imports of SIM lists: a preview that checks validated rows against the inventory and keeps
//! them, then a commit that applies exactly those rows in one transaction.
//!
//! The rows arrive already validated by `simfleet-io` and with PIN/PUK sealed by the server:
//! the store never sees a plaintext secret. A committed file (by SHA-256) is never committed
//! again.

use crate::db::{with_db, with_tx, Dialect, Store, Tx};
use crate::error::{StoreError, StoreResult};
use crate::model::{NewSim, Page, PageRequest};
use crate::paging::HasId;
use crate::sim_tags;
use crate::sims::{clean_tags, insert_sims_bulk};
use crate::sql::{bind_args, Arg, Sql};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use simfleet_domain::{EventKind, SimStatus, SimType};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// At most this many row errors are kept with an import (the counts stay exact).
const MAX_KEPT_ERRORS: usize = 10_000;

/// A validated row of an import file, secrets sealed. `None` leaves a SIM's field as it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportRow {
    pub row: u32,
    pub iccid: String,
    pub msisdn: Option<String>,
    pub imsi: Option<String>,
    pub imei: Option<String>,
    pub pin_enc: Option<String>,
    pub puk_enc: Option<String>,
    pub sim_type: Option<SimType>,
    pub label: Option<String>,
    pub tags: Option<Vec<String>>,
    pub customer_email: Option<String>,
    pub tariff_plan: Option<String>,
}

/// A problem with one cell of an import (`row` as a spreadsheet shows it, header = 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportIssue {
    pub row: u32,
    pub column: String,
    pub value: String,
    pub reason: String,
}

#[derive(Debug, Clone)]
pub struct NewImport {
    pub file_name: String,
    pub file_hash: String,
    /// `csv` or `xlsx`.
    pub format: String,
    /// Non-empty data rows in the file.
    pub total_rows: i64,
    /// Rows valid on their own.
    pub rows: Vec<ImportRow>,
    /// Problems found in the file itself, and how many rows they concern.
    pub errors: Vec<ImportIssue>,
    pub invalid_rows: i64,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ImportStatus {
    Previewed,
    Committed,
    Failed,
}

impl ImportStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ImportStatus::Previewed => "previewed",
            ImportStatus::Committed => "committed",
            ImportStatus::Failed => "failed",
        }
    }
    fn parse(s: &str) -> ImportStatus {
        match s {
            "committed" => ImportStatus::Committed,
            "failed" => ImportStatus::Failed,
            _ => ImportStatus::Previewed,
        }
    }
}

/// An import as recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct Import {
    pub id: i64,
    pub file_name: String,
    pub file_hash: String,
    pub format: String,
    pub status: ImportStatus,
    pub total_rows: i64,
    pub to_create: i64,
    pub to_update: i64,
    pub unchanged: i64,
    pub invalid: i64,
    /// What the commit did (set once committed).
    pub created: Option<i64>,
    pub updated: Option<i64>,
    /// Row errors, in row order; empty in lists.
    pub errors: Vec<ImportIssue>,
    pub warnings: Vec<String>,
    pub failure: Option<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub committed_at: Option<DateTime<Utc>>,
    pub committed_by: Option<String>,
}

/// Compares a stored sealed secret with a sealed one from the file (the server opens both).
pub type SecretsEqual<'a> = &'a (dyn Fn(&str, &str) -> bool + Send + Sync);

const COLUMNS: &str = "i.id, i.file_name, i.file_hash, i.format, i.status, i.total_rows, i.to_create, i.to_update, \
    i.unchanged, i.invalid, i.created, i.updated, i.errors, i.warnings, i.failure, i.created_by, i.created_at, \
    i.committed_at, i.committed_by";
const LIST_COLUMNS: &str =
    "i.id, i.file_name, i.file_hash, i.format, i.status, i.total_rows, i.to_create, i.to_update, \
    i.unchanged, i.invalid, i.created, i.updated, '[]' AS errors, i.warnings, i.failure, i.created_by, i.created_at, \
    i.committed_at, i.committed_by";

#[derive(sqlx::FromRow)]
struct ImportDbRow {
    id: i64,
    file_name: String,
    file_hash: String,
    format: String,
    status: String,
    total_rows: i64,
    to_create: i64,
    to_update: i64,
    unchanged: i64,
    invalid: i64,
    created: Option<i64>,
    updated: Option<i64>,
    errors: String,
    warnings: String,
    failure: Option<String>,
    created_by: String,
    created_at: DateTime<Utc>,
    committed_at: Option<DateTime<Utc>>,
    committed_by: Option<String>,
}

impl HasId for ImportDbRow {
    fn id(&self) -> i64 {
        self.id
    }
}

fn corrupt(what: &str, e: serde_json::Error) -> StoreError {
    StoreError::Database(sqlx::Error::Decode(format!("imports.{what}: {e}").into()))
}

impl ImportDbRow {
    fn into_import(self) -> StoreResult<Import> {
        Ok(Import {
            errors: serde_json::from_str(&self.errors).map_err(|e| corrupt("errors", e))?,
            warnings: serde_json::from_str(&self.warnings).map_err(|e| corrupt("warnings", e))?,
            status: ImportStatus::parse(&self.status),
            id: self.id,
            file_name: self.file_name,
            file_hash: self.file_hash,
            format: self.format,
            total_rows: self.total_rows,
            to_create: self.to_create,
            to_update: self.to_update,
            unchanged: self.unchanged,
            invalid: self.invalid,
            created: self.created,
            updated: self.updated,
            failure: self.failure,
            created_by: self.created_by,
            created_at: self.created_at,
            committed_at: self.committed_at,
            committed_by: self.committed_by,
        })
    }
}

/// What a SIM currently holds, for comparison with a row.
struct Existing {
    id: i64,
    iccid: String,
    msisdn: Option<String>,
    imsi: Option<String>,
    imei: Option<String>,
    sim_type: String,
    pin_enc: Option<String>,
    puk_enc: Option<String>,
    label: Option<String>,
    customer_id: Option<i64>,
    tariff_plan_id: Option<i64>,
}

/// The fields of one existing SIM that a row changes (`None`: unchanged).
#[derive(Debug, Default)]
struct Update {
    id: i64,
    msisdn: Option<String>,
    imsi: Option<String>,
    imei: Option<String>,
    sim_type: Option<SimType>,
    pin_enc: Option<String>,
    puk_enc: Option<String>,
    label: Option<String>,
    customer_id: Option<i64>,
    tariff_plan_id: Option<i64>,
    tags: Option<Vec<String>>,
}

/// The outcome of checking rows against the inventory.
struct Plan {
    creates: Vec<NewSim>,
    updates: Vec<Update>,
    unchanged: usize,
    /// Problems found against the database, and the rows they concern.
    errors: Vec<ImportIssue>,
    invalid_rows: BTreeSet<u32>,
}

/// Runs `SELECT {columns} FROM {from} WHERE {column}` matches one of `keys`, inside the open
/// transaction, answered as JSON documents of row arrays: rows one by one cost far more in the
/// driver than the lookups themselves (see `Store::fetch_sims`). PostgreSQL gets all keys as
/// one array in one statement; SQLite, which has no arrays, gets `IN` lists of 1,000.
async fn select_in<T: serde::de::DeserializeOwned>(
    tx: &mut Tx,
    columns: &str,
    from: &str,
    column: &str,
    keys: &[String],
) -> StoreResult<Vec<T>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let mut documents: Vec<String> = Vec::new();
    if let Tx::Postgres(c) = tx {
        let sql = format!(
            "SELECT coalesce(json_agg(json_build_array({columns})), '[]'::json)::text FROM {from} WHERE {column} = ANY($1)"
        );
        documents.push(sqlx::query_scalar(&sql).bind(keys).fetch_one(&mut **c).await?);
    } else {
        for start in (0..keys.len()).step_by(1000) {
            let mut sql =
                Sql::new(format!("SELECT json_group_array(json_array({columns})) FROM {from} WHERE {column} IN ("));
            let ph: Vec<String> =
                keys[start..keys.len().min(start + 1000)].iter().map(|k| sql.arg(k.as_str())).collect();
            sql.push(&ph.join(", ")).push(")");
            let text = sql.text_for(Dialect::Sqlite);
            documents
                .push(with_tx!(tx, c => bind_args!(sqlx::query_scalar(&text), &sql.args).fetch_one(&mut *c).await)?);
        }
    }
    let mut out = Vec::new();
    for json in documents {
        let rows: Vec<T> = serde_json::from_str(&json).map_err(|e| corrupt(from, e))?;
        out.extend(rows);
    }
    Ok(out)
}

async fn plan(tx: &mut Tx, rows: &[ImportRow], same_secret: SecretsEqual<'_>) -> StoreResult<Plan> {
    type ExistingRow = (
        i64,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<i64>,
        Option<i64>,
    );
    let found: Vec<ExistingRow> = select_in(
        tx,
        "id, iccid, msisdn, imsi, imei, type, pin_enc, puk_enc, label, customer_id, tariff_plan_id",
        "sims",
        "iccid",
        &rows.iter().map(|r| r.iccid.clone()).collect::<Vec<_>>(),
    )
    .await?;
    let existing: HashMap<String, Existing> = found
        .into_iter()
        .map(|(id, iccid, msisdn, imsi, imei, sim_type, pin_enc, puk_enc, label, customer_id, tariff_plan_id)| {
            let e = Existing {
                id,
                iccid,
                msisdn,
                imsi,
                imei,
                sim_type,
                pin_enc,
                puk_enc,
                label,
                customer_id,
                tariff_plan_id,
            };
            (e.iccid.clone(), e)
        })
        .collect();

    // Current tags of the existing SIMs whose row sets tags.
    let tag_ids: Vec<i64> =
        rows.iter().filter(|r| r.tags.is_some()).filter_map(|r| existing.get(&r.iccid).map(|e| e.id)).collect();
    let tags = sim_tags::tags_of_many(tx, &tag_ids).await?;

    let msisdns: Vec<String> = rows.iter().filter_map(|r| r.msisdn.clone()).collect();
    let owners: Vec<(String, String)> = select_in(tx, "msisdn, iccid", "sims", "msisdn", &msisdns).await?;
    let owners: HashMap<String, String> = owners.into_iter().collect();

    let mut emails: Vec<String> =
        rows.iter().filter_map(|r| r.customer_email.as_ref().map(|e| e.to_lowercase())).collect();
    emails.sort();
    emails.dedup();
    let customers: Vec<(i64, String)> = select_in(tx, "id, lower(email)", "customers", "lower(email)", &emails).await?;
    let customers: HashMap<String, i64> = customers.into_iter().map(|(id, e)| (e, id)).collect();

    let mut plans: Vec<String> = rows.iter().filter_map(|r| r.tariff_plan.clone()).collect();
    plans.sort();
    plans.dedup();
    let tariffs: Vec<(i64, String)> = select_in(tx, "id, name", "tariff_plans", "name", &plans).await?;
    let tariffs: HashMap<String, i64> = tariffs.into_iter().map(|(id, n)| (n, id)).collect();

    let mut plan = Plan {
        creates: Vec::new(),
        updates: Vec::new(),
        unchanged: 0,
        errors: Vec::new(),
        invalid_rows: BTreeSet::new(),
    };
    for r in rows {
        let mut issue = |column: &str, value: &str, reason: String| {
            plan.errors.push(ImportIssue { row: r.row, column: column.into(), value: value.into(), reason });
            plan.invalid_rows.insert(r.row);
        };
        let current = existing.get(&r.iccid);
        if let Some(m) = &r.msisdn {
            if let Some(owner) = owners.get(m).filter(|o| **o != r.iccid) {
                issue("msisdn", m, format!("already belongs to SIM {owner}"));
            }
        }
        let customer_id = match &r.customer_email {
            Some(email) => match customers.get(&email.to_lowercase()) {
                Some(id) => Some(*id),
                None => {
                    issue("customer_email", email, "no customer has this e-mail address".into());
                    None
                }
            },
            None => None,
        };
        let tariff_plan_id = match &r.tariff_plan {
            Some(name) => match tariffs.get(name) {
                Some(id) => Some(*id),
                None => {
                    issue("tariff_plan", name, "no tariff plan has this name".into());
                    None
                }
            },
            None => None,
        };
        if plan.invalid_rows.contains(&r.row) {
            continue;
        }
        match current {
            None => plan.creates.push(NewSim {
                iccid: r.iccid.clone(),
                imsi: r.imsi.clone(),
                msisdn: r.msisdn.clone(),
                imei: r.imei.clone(),
                sim_type: r.sim_type.unwrap_or(SimType::DataOnly),
                status: SimStatus::Available,
                pin_enc: r.pin_enc.clone(),
                puk_enc: r.puk_enc.clone(),
                label: r.label.clone(),
                tags: r.tags.clone().unwrap_or_default(),
                customer_id,
                tariff_plan_id,
                ..NewSim::available(r.iccid.clone())
            }),
            Some(e) => {
                let differs = |new: &Option<String>, old: &Option<String>| {
                    new.as_ref().filter(|n| Some(*n) != old.as_ref()).cloned()
                };
                let secret = |new: &Option<String>, old: &Option<String>| match (new, old) {
                    (Some(n), Some(o)) if same_secret(o, n) => None,
                    (Some(n), _) => Some(n.clone()),
                    (None, _) => None,
                };
                let new_tags = r.tags.as_ref().map(|t| clean_tags(t));
                let old_tags = tags.get(&e.id).cloned().unwrap_or_default();
                let u = Update {
                    id: e.id,
                    msisdn: differs(&r.msisdn, &e.msisdn),
                    imsi: differs(&r.imsi, &e.imsi),
                    imei: differs(&r.imei, &e.imei),
                    sim_type: r.sim_type.filter(|t| t.as_str() != e.sim_type),
                    pin_enc: secret(&r.pin_enc, &e.pin_enc),
                    puk_enc: secret(&r.puk_enc, &e.puk_enc),
                    label: differs(&r.label, &e.label),
                    customer_id: customer_id.filter(|c| Some(*c) != e.customer_id),
                    tariff_plan_id: tariff_plan_id.filter(|t| Some(*t) != e.tariff_plan_id),
                    tags: new_tags.filter(|t| *t != old_tags),
                };
                let changes = u.msisdn.is_some()
                    || u.imsi.is_some()
                    || u.imei.is_some()
                    || u.sim_type.is_some()
                    || u.pin_enc.is_some()
                    || u.puk_enc.is_some()
                    || u.label.is_some()
                    || u.customer_id.is_some()
                    || u.tariff_plan_id.is_some()
                    || u.tags.is_some();
                if changes {
                    plan.updates.push(u);
                } else {
                    plan.unchanged += 1;
                }
            }
        }
    }
    Ok(plan)
}

/// Applies the planned updates in bulk: SIMs are grouped by the set of fields they change, and
/// each group is updated 500 SIMs per statement that sets only those fields (so that only the
/// indexes of changed columns are touched).
async fn apply_updates(
    tx: &mut Tx,
    updates: &[Update],
    note: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    const FIELDS: [&str; 9] =
        ["msisdn", "imsi", "imei", "type", "pin_enc", "puk_enc", "label", "customer_id", "tariff_plan_id"];
    let values = |u: &Update| -> [Option<Arg>; 9] {
        let t = |v: &Option<String>| v.clone().map(Arg::Text);
        [
            t(&u.msisdn),
            t(&u.imsi),
            t(&u.imei),
            u.sim_type.map(|t| Arg::Text(t.as_str().to_owned())),
            t(&u.pin_enc),
            t(&u.puk_enc),
            t(&u.label),
            u.customer_id.map(Arg::I64),
            u.tariff_plan_id.map(Arg::I64),
        ]
    };
    let mut groups: BTreeMap<u16, Vec<&Update>> = BTreeMap::new();
    for u in updates {
        let mask = values(u).iter().enumerate().filter(|(_, v)| v.is_some()).fold(0u16, |m, (i, _)| m | (1 << i));
        groups.entry(mask).or_default().push(u);
    }
    for (mask, group) in groups {
        let fields: Vec<usize> = (0..FIELDS.len()).filter(|i| mask & (1 << i) != 0).collect();
        for chunk in group.chunks(500) {
            let mut sql = Sql::new(format!(
                "WITH v(id{}) AS (VALUES ",
                fields.iter().map(|&i| format!(", {}", FIELDS[i])).collect::<String>()
            ));
            let rows: Vec<String> = chunk
                .iter()
                .map(|u| {
                    let vals = values(u);
                    let mut cells = vec![format!("CAST({} AS BIGINT)", sql.arg(u.id))];
                    for &i in &fields {
                        let ty = if i >= 7 { "BIGINT" } else { "TEXT" };
                        let p = sql.arg(vals[i].clone().expect("in the group's mask"));
                        cells.push(format!("CAST({p} AS {ty})"));
                    }
                    format!("({})", cells.join(", "))
                })
                .collect();
            sql.push(&rows.join(", "));
            let ts = sql.arg(now);
            let sets: String = fields.iter().map(|&i| format!("{0} = v.{0}, ", FIELDS[i])).collect();
            sql.push(&format!(") UPDATE sims SET {sets}updated_at = {ts} FROM v WHERE sims.id = v.id"));
            let text = sql.text_for(tx.dialect());
            with_tx!(tx, c => bind_args!(sqlx::query(&text), &sql.args).execute(&mut *c).await.map(|r| r.rows_affected()))?;
        }
    }
    // Tags: only the SIMs whose tags change.
    let retagged: Vec<(i64, &[String])> = updates.iter().filter_map(|u| u.tags.as_deref().map(|t| (u.id, t))).collect();
    sim_tags::replace_tags(tx, &retagged).await?;
    let ids: Vec<i64> = updates.iter().map(|u| u.id).collect();
    if !ids.is_empty() {
        crate::events::insert_events_for(tx, &ids, EventKind::Updated, Some(note), actor, now).await?;
    }
    Ok(())
}

fn keep_errors(mut errors: Vec<ImportIssue>) -> Vec<ImportIssue> {
    errors.sort_by_key(|e| e.row);
    errors.truncate(MAX_KEPT_ERRORS);
    errors
}

async fn committed_with_hash(tx: &mut Tx, hash: &str) -> StoreResult<Option<(i64, String, Option<DateTime<Utc>>)>> {
    Ok(with_tx!(tx, c => sqlx::query_as(
        "SELECT id, file_name, committed_at FROM imports WHERE file_hash = $1 AND status = 'committed' ORDER BY id LIMIT 1",
    )
    .bind(hash)
    .fetch_optional(&mut *c)
    .await)?)
}

/// Records `import` (its counts, errors and status) and returns its id. `rows` are the
/// validated rows a later commit applies; `None` once committed.
async fn insert_import(tx: &mut Tx, import: &Import, file_invalid: i64, rows: Option<String>) -> StoreResult<i64> {
    let errors = serde_json::to_string(&import.errors).map_err(|e| corrupt("errors", e))?;
    let warnings = serde_json::to_string(&import.warnings).map_err(|e| corrupt("warnings", e))?;
    Ok(with_tx!(tx, c => sqlx::query_scalar(
        "INSERT INTO imports (file_name, file_hash, format, status, total_rows, to_create, to_update, unchanged, invalid, \
         file_invalid, errors, warnings, rows, created_by, created_at, created, updated, committed_at, committed_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19) RETURNING id",
    )
    .bind(&import.file_name)
    .bind(&import.file_hash)
    .bind(&import.format)
    .bind(import.status.as_str())
    .bind(import.total_rows)
    .bind(import.to_create)
    .bind(import.to_update)
    .bind(import.unchanged)
    .bind(import.invalid)
    .bind(file_invalid)
    .bind(&errors)
    .bind(&warnings)
    .bind(&rows)
    .bind(&import.created_by)
    .bind(import.created_at)
    .bind(import.created)
    .bind(import.updated)
    .bind(import.committed_at)
    .bind(&import.committed_by)
    .fetch_one(&mut *c)
    .await)?)
}

/// Records `import` as previewed with its validated rows, for a later commit, and sets its id.
async fn record_preview(tx: &mut Tx, import: &mut Import, input: &NewImport) -> StoreResult<()> {
    let rows_json = serde_json::to_string(&input.rows).map_err(|e| corrupt("rows", e))?;
    import.id = insert_import(tx, import, input.invalid_rows, Some(rows_json)).await?;
    Ok(())
}

fn already_committed(id: i64, name: &str, at: Option<DateTime<Utc>>) -> String {
    let at = at.map(|t| format!(" on {}", t.format("%Y-%m-%d %H:%M UTC"))).unwrap_or_default();
    format!("this file was already committed as import #{id} ({name}){at}")
}

impl Store {
    /// Checks rows against the inventory without recording anything (a dry run).
    pub async fn check_import(&self, input: &NewImport, same_secret: SecretsEqual<'_>) -> StoreResult<Import> {
        let mut tx = self.begin().await?;
        let (import, _) = self.preview_in(&mut tx, input, same_secret, "").await?;
        drop(tx);
        Ok(import)
    }

    /// Checks rows against the inventory and records the import as `previewed`, keeping its
    /// validated rows for the commit.
    pub async fn preview_import(
        &self,
        input: &NewImport,
        same_secret: SecretsEqual<'_>,
        actor: &str,
    ) -> StoreResult<Import> {
        let mut tx = self.begin().await?;
        let (mut import, _) = self.preview_in(&mut tx, input, same_secret, actor).await?;
        record_preview(&mut tx, &mut import, input).await?;
        tx.commit().await?;
        Ok(import)
    }

    /// Validates and commits an import in one transaction, planned once: what `preview_import`
    /// followed at once by `commit_import` does, for the command line, where nobody reads the
    /// preview in between. With invalid rows and without `skip_invalid` nothing is applied and
    /// the import is kept as previewed, as `preview_import` keeps it.
    pub async fn import_now(
        &self,
        input: &NewImport,
        skip_invalid: bool,
        same_secret: SecretsEqual<'_>,
        actor: &str,
    ) -> StoreResult<Import> {
        let mut tx = self.begin().await?;
        let (mut import, plan) = self.preview_in(&mut tx, input, same_secret, actor).await?;
        if import.invalid > 0 && !skip_invalid {
            record_preview(&mut tx, &mut import, input).await?;
            tx.commit().await?;
            return Ok(import);
        }
        if let Some((other, name, at)) = committed_with_hash(&mut tx, &input.file_hash).await? {
            return Err(StoreError::conflict("file", already_committed(other, &name, at)));
        }
        let now = crate::now();
        import.status = ImportStatus::Committed;
        import.created = Some(plan.creates.len() as i64);
        import.updated = Some(plan.updates.len() as i64);
        import.committed_at = Some(now);
        import.committed_by = Some(actor.to_owned());
        let id = insert_import(&mut tx, &import, input.invalid_rows, None).await?;
        let note = format!("import #{id} ({})", import.file_name);
        insert_sims_bulk(&mut tx, &plan.creates, EventKind::Imported, Some(&note), actor, now).await?;
        apply_updates(&mut tx, &plan.updates, &note, actor, now).await?;
        tx.commit().await?;
        self.analyze_after_bulk(plan.creates.len() + plan.updates.len()).await?;
        self.get_import(id).await
    }

    async fn preview_in(
        &self,
        tx: &mut Tx,
        input: &NewImport,
        same_secret: SecretsEqual<'_>,
        actor: &str,
    ) -> StoreResult<(Import, Plan)> {
        let mut plan = plan(tx, &input.rows, same_secret).await?;
        let mut warnings = input.warnings.clone();
        if let Some((id, name, at)) = committed_with_hash(tx, &input.file_hash).await? {
            warnings.push(format!("{}; committing it again will be refused", already_committed(id, &name, at)));
        }
        let mut errors = input.errors.clone();
        errors.append(&mut plan.errors);
        if errors.len() > MAX_KEPT_ERRORS {
            warnings.push(format!("only the first {MAX_KEPT_ERRORS} of {} row errors are listed", errors.len()));
        }
        let import = Import {
            id: 0,
            file_name: input.file_name.clone(),
            file_hash: input.file_hash.clone(),
            format: input.format.clone(),
            status: ImportStatus::Previewed,
            total_rows: input.total_rows,
            to_create: plan.creates.len() as i64,
            to_update: plan.updates.len() as i64,
            unchanged: plan.unchanged as i64,
            invalid: input.invalid_rows + plan.invalid_rows.len() as i64,
            created: None,
            updated: None,
            errors: keep_errors(errors),
            warnings,
            failure: None,
            created_by: actor.to_owned(),
            created_at: crate::now(),
            committed_at: None,
            committed_by: None,
        };
        Ok((import, plan))
    }

    pub async fn get_import(&self, id: i64) -> StoreResult<Import> {
        let sql = format!("SELECT {COLUMNS} FROM imports i WHERE i.id = $1");
        let row: Option<ImportDbRow> = with_db!(self, c => sqlx::query_as(&sql).bind(id).fetch_optional(c).await)?;
        row.ok_or(StoreError::NotFound("import"))?.into_import()
    }

    /// Imports, newest first, without their row errors.
    pub async fn list_imports(&self, page: PageRequest<'_>) -> StoreResult<Page<Import>> {
        let sql = Sql::new(format!("SELECT {LIST_COLUMNS} FROM imports i WHERE 1=1"));
        let rows: Page<ImportDbRow> = self.id_page(sql, "i", true, page).await?;
        Ok(Page {
            items: rows.items.into_iter().map(ImportDbRow::into_import).collect::<StoreResult<_>>()?,
            next_cursor: rows.next_cursor,
            total: rows.total,
        })
    }

    /// Applies a previewed import in one transaction. All or nothing unless `skip_invalid`,
    /// which applies the valid rows only. Refused when the file was committed before, or when
    /// the inventory changed since the preview in a way that changes its outcome.
    pub async fn commit_import(
        &self,
        id: i64,
        skip_invalid: bool,
        same_secret: SecretsEqual<'_>,
        actor: &str,
    ) -> StoreResult<Import> {
        match self.commit_in_tx(id, skip_invalid, same_secret, actor).await {
            Ok(applied) => {
                self.analyze_after_bulk(applied).await?;
                self.get_import(id).await
            }
            Err(e @ StoreError::Database(_)) => {
                // Nothing was applied (the transaction rolled back); say so on the import.
                let failure = format!("commit failed: {e}");
                let sql = Sql::with(
                    "UPDATE imports SET status = 'failed', failure = $1 WHERE id = $2 AND status <> 'committed'",
                    vec![failure.into(), id.into()],
                );
                let _ = self.write(sql).await;
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    async fn commit_in_tx(
        &self,
        id: i64,
        skip_invalid: bool,
        same_secret: SecretsEqual<'_>,
        actor: &str,
    ) -> StoreResult<usize> {
        let mut tx = self.begin().await?;
        let lock = if tx.dialect() == Dialect::Postgres { " FOR UPDATE" } else { "" };
        let sql = format!("SELECT {COLUMNS} FROM imports i WHERE i.id = $1{lock}");
        let row: Option<ImportDbRow> =
            with_tx!(&mut tx, c => sqlx::query_as(&sql).bind(id).fetch_optional(&mut *c).await)?;
        let import = row.ok_or(StoreError::NotFound("import"))?.into_import()?;
        if import.status == ImportStatus::Committed {
            let by = import.committed_by.as_deref().unwrap_or("?");
            return Err(StoreError::conflict(
                "import",
                format!("import #{id} was already committed by {by}; nothing was applied again"),
            ));
        }
        if let Some((other, name, at)) = committed_with_hash(&mut tx, &import.file_hash).await? {
            return Err(StoreError::conflict("file", already_committed(other, &name, at)));
        }
        let (rows_json, file_invalid): (Option<String>, i64) = with_tx!(&mut tx, c => sqlx::query_as(
            "SELECT rows, file_invalid FROM imports WHERE id = $1",
        )
        .bind(id)
        .fetch_one(&mut *c)
        .await)?;
        let rows: Vec<ImportRow> =
            serde_json::from_str(rows_json.as_deref().unwrap_or("[]")).map_err(|e| corrupt("rows", e))?;
        let plan = plan(&mut tx, &rows, same_secret).await?;
        let invalid = file_invalid + plan.invalid_rows.len() as i64;
        if (plan.creates.len() as i64, plan.updates.len() as i64, invalid)
            != (import.to_create, import.to_update, import.invalid)
        {
            return Err(StoreError::conflict(
                "import",
                format!(
                    "the inventory changed since import #{id} was previewed (it planned {} to create, {} to update, {} invalid; \
                     now {} to create, {} to update, {} invalid): upload the file again to preview the current state",
                    import.to_create,
                    import.to_update,
                    import.invalid,
                    plan.creates.len(),
                    plan.updates.len(),
                    invalid
                ),
            ));
        }
        if invalid > 0 && !skip_invalid {
            let first = import.errors.first().map(|e| format!(" (first: row {}, {}: {})", e.row, e.column, e.reason));
            return Err(StoreError::precondition(
                Some("skip_invalid"),
                format!(
                    "import #{id} has {invalid} invalid row(s){}; nothing was applied: fix the file and upload it again, \
                     or commit with skip_invalid to apply only the {} valid row(s)",
                    first.unwrap_or_default(),
                    plan.creates.len() + plan.updates.len() + plan.unchanged
                ),
            ));
        }
        let now = crate::now();
        let note = format!("import #{id} ({})", import.file_name);
        insert_sims_bulk(&mut tx, &plan.creates, EventKind::Imported, Some(&note), actor, now).await?;
        apply_updates(&mut tx, &plan.updates, &note, actor, now).await?;
        with_tx!(&mut tx, c => sqlx::query(
            "UPDATE imports SET status = 'committed', created = $1, updated = $2, rows = NULL, failure = NULL, \
             committed_at = $3, committed_by = $4 WHERE id = $5",
        )
        .bind(plan.creates.len() as i64)
        .bind(plan.updates.len() as i64)
        .bind(now)
        .bind(actor)
        .bind(id)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected()))?;
        tx.commit().await?;
        Ok(plan.creates.len() + plan.updates.len())
    }

    /// E-mail addresses of customers and names of tariff plans by id, for exports.
    pub async fn reference_names(
        &self,
        customer_ids: &[i64],
        tariff_ids: &[i64],
    ) -> StoreResult<(HashMap<i64, Option<String>>, HashMap<i64, String>)> {
        let mut customers = HashMap::new();
        let mut tariffs = HashMap::new();
        for chunk in customer_ids.chunks(1000) {
            let mut sql = Sql::new("SELECT id, email FROM customers WHERE id IN (");
            let ph: Vec<String> = chunk.iter().map(|id| sql.arg(*id)).collect();
            sql.push(&ph.join(", ")).push(")");
            let rows: Vec<(i64, Option<String>)> =
                with_db!(self, c => bind_args!(sqlx::query_as(&sql.text), &sql.args).fetch_all(c).await)?;
            customers.extend(rows);
        }
        for chunk in tariff_ids.chunks(1000) {
            let mut sql = Sql::new("SELECT id, name FROM tariff_plans WHERE id IN (");
            let ph: Vec<String> = chunk.iter().map(|id| sql.arg(*id)).collect();
            sql.push(&ph.join(", ")).push(")");
            let rows: Vec<(i64, String)> =
                with_db!(self, c => bind_args!(sqlx::query_as(&sql.text), &sql.args).fetch_all(c).await)?;
            tariffs.extend(rows);
        }
        Ok((customers, tariffs))
    }
}
