use crate::error::{StoreError, StoreResult};
use crate::principal_cache::PrincipalCache;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Postgres, Sqlite};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Connections kept by the pool (PostgreSQL) or readers (SQLite).
    pub max_connections: u32,
    /// PostgreSQL only: the schema to work in (tests give each run its own).
    pub pg_schema: Option<String>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions { max_connections: 10, pg_schema: None }
    }
}

/// A PostgreSQL connection idle for this long is pinged before it is lent out, so that one
/// the server or a proxy closed meanwhile is replaced instead of failing a request. One in
/// use moments ago is lent as it is (pinging every time was a round trip per query, a tenth
/// of this process's work on a list page); if the server went away in that moment, the
/// request answers 503 and sqlx's ping on release drops the connection.
const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

#[derive(Clone)]
pub(crate) enum Db {
    Sqlite { read: SqlitePool, write: SqlitePool },
    Postgres(PgPool),
}

/// The store: cheap to clone, shared by every request and job.
#[derive(Clone)]
pub struct Store {
    pub(crate) db: Db,
    pub(crate) principals: Arc<PrincipalCache>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({:?})", self.dialect())
    }
}

/// Runs `$body` with `$conn` bound to a reading pool of whichever engine is in use.
/// The body is compiled once per engine.
macro_rules! with_db {
    ($store:expr, $conn:ident => $body:expr) => {
        match &$store.db {
            $crate::db::Db::Sqlite { read, .. } => {
                let $conn = read;
                $body
            }
            $crate::db::Db::Postgres(pool) => {
                let $conn = pool;
                $body
            }
        }
    };
}
pub(crate) use with_db;

/// Runs `$body` with `$conn` bound to the open transaction's connection
/// (`&mut SqliteConnection` or `&mut PgConnection`; reborrow it with `&mut *$conn`).
macro_rules! with_tx {
    ($tx:expr, $conn:ident => $body:expr) => {
        match $tx {
            $crate::db::Tx::Sqlite(tx) => {
                let $conn: &mut sqlx::SqliteConnection = &mut *tx;
                $body
            }
            $crate::db::Tx::Postgres(tx) => {
                let $conn: &mut sqlx::PgConnection = &mut *tx;
                $body
            }
        }
    };
}
pub(crate) use with_tx;

/// A write transaction. Dropping it without [`Tx::commit`] rolls everything back.
pub enum Tx {
    Sqlite(sqlx::Transaction<'static, Sqlite>),
    Postgres(sqlx::Transaction<'static, Postgres>),
}

impl Tx {
    pub async fn commit(self) -> StoreResult<()> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await?,
            Tx::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }

    pub fn dialect(&self) -> Dialect {
        match self {
            Tx::Sqlite(_) => Dialect::Sqlite,
            Tx::Postgres(_) => Dialect::Postgres,
        }
    }
}

impl Store {
    /// Connects to `sqlite://PATH` (created when missing) or `postgres://…`.
    pub async fn connect(url: &str, options: &StoreOptions) -> StoreResult<Store> {
        if url.starts_with("sqlite:") {
            Self::connect_sqlite(url, options).await
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Self::connect_postgres(url, options).await
        } else {
            Err(sqlx::Error::Configuration(
                format!("unsupported database URL scheme in {:?}: use sqlite:// or postgres://", scheme(url)).into(),
            )
            .into())
        }
    }

    async fn connect_sqlite(url: &str, options: &StoreOptions) -> StoreResult<Store> {
        let connect = SqliteConnectOptions::from_str(url)?;
        if let Some(dir) = connect.get_filename().parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Database(sqlx::Error::Io(e)))?;
        }
        let connect = connect
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            .pragma("cache_size", "-65536")
            .pragma("temp_store", "memory");
        // The writer connects first so that the database file and WAL mode exist for the readers.
        // A SQLite connection is a file handle, not a socket: nothing to test before lending it.
        let write = SqlitePoolOptions::new()
            .test_before_acquire(false)
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(connect.clone())
            .await?;
        // Each connection has its own page cache, and the pool opens a new reader whenever the
        // last one is still on its way back: with 64 MiB each, an export of 1,000,000 SIMs
        // peaked at 170-220 MB of RSS instead of 60-80. The OS caches the file for all of them.
        let read = SqlitePoolOptions::new()
            .test_before_acquire(false)
            .max_connections(options.max_connections.max(1))
            .connect_with(connect.read_only(true).pragma("cache_size", "-16384"))
            .await?;
        Ok(Store { db: Db::Sqlite { read, write }, principals: Arc::default() })
    }

    async fn connect_postgres(url: &str, options: &StoreOptions) -> StoreResult<Store> {
        let mut connect = PgConnectOptions::from_str(url)?;
        if let Some(schema) = &options.pg_schema {
            connect = connect.options([("search_path", schema.as_str())]);
        }
        let pool = PgPoolOptions::new()
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= PING_AFTER_IDLE {
                        sqlx::Connection::ping(conn).await?;
                    }
                    Ok(true)
                })
            })
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(connect)
            .await?;
        Ok(Store { db: Db::Postgres(pool), principals: Arc::default() })
    }

    pub fn dialect(&self) -> Dialect {
        match self.db {
            Db::Sqlite { .. } => Dialect::Sqlite,
            Db::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Applies pending migrations. Safe to run from several instances at once:
    /// on PostgreSQL the migrator holds an advisory lock; SQLite serialises writers.
    pub async fn migrate(&self) -> StoreResult<()> {
        match &self.db {
            Db::Sqlite { write, .. } => SQLITE_MIGRATIONS.run(write).await?,
            Db::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await?,
        }
        self.run_pending_backfills().await?;
        self.seed_alert_rules().await
    }

    /// True when the database answers and every migration this build knows is applied.
    pub async fn ready(&self) -> StoreResult<bool> {
        let expected = match self.dialect() {
            Dialect::Sqlite => SQLITE_MIGRATIONS.iter().count(),
            Dialect::Postgres => POSTGRES_MIGRATIONS.iter().count(),
        } as i64;
        let applied: Result<i64, sqlx::Error> = with_db!(self, c => {
            sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success").fetch_one(c).await
        });
        match applied {
            Ok(n) => Ok(n >= expected),
            Err(e) if is_missing_table(&e) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn begin(&self) -> StoreResult<Tx> {
        Ok(match &self.db {
            Db::Sqlite { write, .. } => Tx::Sqlite(write.begin().await?),
            Db::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        })
    }

    /// Runs a statement outside the store's API. For tests and maintenance only.
    pub async fn execute_raw(&self, sql: &str) -> StoreResult<()> {
        match &self.db {
            Db::Sqlite { write, .. } => sqlx::raw_sql(sql).execute(write).await.map(drop)?,
            Db::Postgres(pool) => sqlx::raw_sql(sql).execute(pool).await.map(drop)?,
        }
        Ok(())
    }

    pub async fn close(&self) {
        match &self.db {
            Db::Sqlite { read, write } => {
                read.close().await;
                write.close().await;
            }
            Db::Postgres(pool) => pool.close().await,
        }
    }
}

/// The migrations table is missing: a database nobody migrated yet (PostgreSQL's
/// `undefined_table`, SQLite's "no such table").
fn is_missing_table(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .is_some_and(|db| db.code().as_deref() == Some("42P01") || db.message().starts_with("no such table"))
}

fn scheme(url: &str) -> &str {
    url.split(':').next().unwrap_or(url)
}
