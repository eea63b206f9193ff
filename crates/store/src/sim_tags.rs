//! Where a SIM's tags live. PostgreSQL keeps them in the SIM's row, as a sorted `text[]` with a
//! GIN index for the tag filter: a list then reads them with the row instead of one subquery
//! per SIM (a fifth of the server's work per page), and a bulk insert writes one table less.
//! SQLite has no arrays and no index on JSON elements, so it keeps the `sim_tags` table.
//! Tags reach this module cleaned (see `sims::clean_tags`): trimmed, unique and sorted.

use crate::db::{with_tx, Dialect, Tx};
use crate::error::StoreResult;
use crate::sql::{bind_args, Sql};
use std::collections::HashMap;

/// The condition "SIM `s` has the tag bound at `placeholder`".
pub(crate) fn has_tag(dialect: Dialect, placeholder: &str) -> String {
    match dialect {
        Dialect::Postgres => format!("s.tags @> ARRAY[{placeholder}::text]"),
        Dialect::Sqlite => format!("s.id IN (SELECT t.sim_id FROM sim_tags t WHERE t.tag = {placeholder})"),
    }
}

/// SQLite: the tags of the SIM whose id is bound as `$1` (PostgreSQL reads them with the row).
pub(crate) const SQLITE_TAGS_OF_SIM: &str = "SELECT tag FROM sim_tags WHERE sim_id = $1 ORDER BY tag";

/// The tags of each of these SIMs; SIMs without tags are left out.
pub(crate) async fn tags_of_many(tx: &mut Tx, ids: &[i64]) -> StoreResult<HashMap<i64, Vec<String>>> {
    let mut out: HashMap<i64, Vec<String>> = HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    if let Tx::Postgres(c) = tx {
        let rows: Vec<(i64, Vec<String>)> =
            sqlx::query_as("SELECT id, tags FROM sims WHERE id = ANY($1) AND tags <> '{}'")
                .bind(ids)
                .fetch_all(&mut **c)
                .await?;
        out.extend(rows);
        return Ok(out);
    }
    for chunk in ids.chunks(1000) {
        let mut sql = Sql::new("SELECT sim_id, tag FROM sim_tags WHERE sim_id IN (");
        let ph: Vec<String> = chunk.iter().map(|id| sql.arg(*id)).collect();
        sql.push(&ph.join(", ")).push(") ORDER BY sim_id, tag");
        let text = sql.text_for(Dialect::Sqlite);
        let rows: Vec<(i64, String)> =
            with_tx!(tx, c => bind_args!(sqlx::query_as(&text), &sql.args).fetch_all(&mut *c).await)?;
        for (id, tag) in rows {
            out.entry(id).or_default().push(tag);
        }
    }
    Ok(out)
}

/// Gives each listed SIM exactly the tags paired with it.
pub(crate) async fn replace_tags(tx: &mut Tx, sims: &[(i64, &[String])]) -> StoreResult<()> {
    if let Tx::Postgres(c) = tx {
        for chunk in sims.chunks(10_000) {
            // One document for the whole chunk: a list of differently long arrays cannot be
            // bound as one PostgreSQL array.
            let doc = serde_json::to_string(&chunk).expect("ids and strings serialise");
            sqlx::query(
                "UPDATE sims SET tags = ARRAY(SELECT json_array_elements_text(v.value->1)) \
                 FROM json_array_elements($1::json) v WHERE sims.id = (v.value->>0)::bigint",
            )
            .bind(doc)
            .execute(&mut **c)
            .await?;
        }
        return Ok(());
    }
    for chunk in sims.chunks(1000) {
        let mut del = Sql::new("DELETE FROM sim_tags WHERE sim_id IN (");
        let ph: Vec<String> = chunk.iter().map(|(id, _)| del.arg(*id)).collect();
        del.push(&ph.join(", ")).push(")");
        let text = del.text_for(Dialect::Sqlite);
        with_tx!(tx, c => bind_args!(sqlx::query(&text), &del.args).execute(&mut *c).await.map(|r| r.rows_affected()))?;
        let rows: Vec<(i64, &str)> =
            chunk.iter().flat_map(|(id, tags)| tags.iter().map(move |t| (*id, t.as_str()))).collect();
        insert_sqlite(tx, &rows).await?;
    }
    Ok(())
}

/// Adds `tag` to those of the listed SIMs that lack it; returns them.
pub(crate) async fn add_tag(tx: &mut Tx, ids: &[i64], tag: &str) -> StoreResult<Vec<i64>> {
    if let Tx::Postgres(c) = tx {
        // Kept sorted, as every other write keeps them.
        return Ok(sqlx::query_scalar(
            "UPDATE sims SET tags = ARRAY(SELECT t FROM unnest(array_append(tags, $1)) t ORDER BY t) \
             WHERE id = ANY($2) AND NOT tags @> ARRAY[$1::text] RETURNING id",
        )
        .bind(tag)
        .bind(ids)
        .fetch_all(&mut **c)
        .await?);
    }
    let mut new = Vec::new();
    for chunk in ids.chunks(1000) {
        let mut sql = Sql::new("SELECT sim_id FROM sim_tags WHERE ");
        let t = sql.arg(tag);
        let list: Vec<String> = chunk.iter().map(|id| sql.arg(*id)).collect();
        sql.push(&format!("tag = {t} AND sim_id IN ({})", list.join(", ")));
        let text = sql.text_for(Dialect::Sqlite);
        let tagged: Vec<i64> =
            with_tx!(tx, c => bind_args!(sqlx::query_scalar(&text), &sql.args).fetch_all(&mut *c).await)?;
        new.extend(chunk.iter().filter(|id| !tagged.contains(id)));
    }
    insert_sqlite(tx, &new.iter().map(|id| (*id, tag)).collect::<Vec<_>>()).await?;
    Ok(new)
}

/// SQLite: inserts tag rows of SIMs that do not have them yet.
pub(crate) async fn insert_sqlite(tx: &mut Tx, tags: &[(i64, &str)]) -> StoreResult<()> {
    for chunk in tags.chunks(5000) {
        let mut sql = Sql::new("INSERT INTO sim_tags (sim_id, tag) VALUES ");
        let values: Vec<String> = chunk
            .iter()
            .map(|(id, tag)| {
                let (a, b) = (sql.arg(*id), sql.arg(*tag));
                format!("({a}, {b})")
            })
            .collect();
        sql.push(&values.join(", ")).push(" ON CONFLICT DO NOTHING");
        let text = sql.text_for(Dialect::Sqlite);
        with_tx!(tx, c => bind_args!(sqlx::query(&text), &sql.args).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    }
    Ok(())
}
