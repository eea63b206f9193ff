//! Shared helpers: one-statement writes and id-ordered keyset pages.

use crate::db::{with_db, Db, Store};
use crate::error::{StoreError, StoreResult};
use crate::model::{Page, PageRequest};
use crate::sql::{bind_args, Cursor, Sql};

/// Rows whose list order is their id.
pub(crate) trait HasId {
    fn id(&self) -> i64;
}

impl Store {
    /// Runs one writing statement (its own transaction) and returns the rows it touched.
    pub(crate) async fn write(&self, sql: Sql) -> StoreResult<u64> {
        let done = match &self.db {
            Db::Sqlite { write, .. } => {
                bind_args!(sqlx::query(&sql.text), &sql.args).execute(write).await?.rows_affected()
            }
            Db::Postgres(pool) => bind_args!(sqlx::query(&sql.text), &sql.args).execute(pool).await?.rows_affected(),
        };
        Ok(done)
    }

    /// Pages `sql` (a SELECT with its WHERE clause, no ORDER BY) by `{alias}.id`, ascending
    /// or descending.
    pub(crate) async fn id_page<T>(
        &self,
        mut sql: Sql,
        alias: &str,
        descending: bool,
        page: PageRequest<'_>,
    ) -> StoreResult<Page<T>>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
            + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
            + Send
            + Unpin
            + HasId,
    {
        let limit = page.limit.clamp(1, 1000) as i64;
        let total = if page.with_total {
            let count = Sql { text: format!("SELECT COUNT(*) FROM ({}) AS counted", sql.text), args: sql.args.clone() };
            Some(with_db!(self, c => bind_args!(sqlx::query_scalar(&count.text), &count.args).fetch_one(c).await)?)
        } else {
            None
        };
        let (op, dir) = if descending { ("<", "DESC") } else { (">", "ASC") };
        if let Some(raw) = page.cursor {
            let cursor = Cursor::decode(raw)
                .ok_or_else(|| StoreError::precondition(Some("cursor"), "is not a cursor returned by this list"))?;
            let p = sql.arg(cursor.id);
            sql.push(&format!(" AND {alias}.id {op} {p}"));
        }
        let p = sql.arg(limit + 1);
        sql.push(&format!(" ORDER BY {alias}.id {dir} LIMIT {p}"));
        let mut items: Vec<T> =
            with_db!(self, c => bind_args!(sqlx::query_as(&sql.text), &sql.args).fetch_all(c).await)?;
        let more = items.len() as i64 > limit;
        items.truncate(limit as usize);
        let next_cursor =
            if more { items.last().map(|r| Cursor { key: String::new(), id: r.id() }.encode()) } else { None };
        Ok(Page { items, next_cursor, total })
    }
}

/// Escapes `%`, `_` and `\` for a LIKE pattern used with `ESCAPE '\'`.
pub(crate) fn like_contains(s: &str) -> String {
    format!("%{}%", s.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"))
}
