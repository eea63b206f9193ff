//! Isolated databases for tests: a fresh SQLite file, or a fresh PostgreSQL schema when
//! `SIMFLEET_TEST_DATABASE_URL` is set. Under `CI=true` the PostgreSQL URL is required,
//! so that the PostgreSQL half of a suite can never be skipped silently there.

use crate::{Dialect, Store, StoreOptions};

pub const PG_URL_VAR: &str = "SIMFLEET_TEST_DATABASE_URL";

/// A migrated store that lives as long as this value.
pub struct TestDb {
    pub store: Store,
    pub url: String,
    pub options: StoreOptions,
    _dir: Option<tempfile::TempDir>,
    schema: Option<String>,
}

impl TestDb {
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        let options = StoreOptions { max_connections: 4, pg_schema: None };
        let store = Store::connect(&url, &options).await.expect("open SQLite");
        store.migrate().await.expect("migrate SQLite");
        TestDb { store, url, options, _dir: Some(dir), schema: None }
    }

    /// `None` when no PostgreSQL is configured (and not under CI).
    pub async fn postgres() -> Option<TestDb> {
        let url = match std::env::var(PG_URL_VAR) {
            Ok(url) if !url.is_empty() => url,
            _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
                panic!("{PG_URL_VAR} must be set under CI: the PostgreSQL suite may not be skipped")
            }
            _ => {
                eprintln!("note: {PG_URL_VAR} is not set; PostgreSQL variant not run");
                return None;
            }
        };
        let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
        let admin = Store::connect(&url, &StoreOptions { max_connections: 1, pg_schema: None })
            .await
            .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at {PG_URL_VAR}: {e}"));
        admin.execute_raw(&format!("CREATE SCHEMA {schema}")).await.expect("create schema");
        admin.close().await;
        let options = StoreOptions { max_connections: 5, pg_schema: Some(schema.clone()) };
        let store = Store::connect(&url, &options).await.expect("connect to schema");
        store.migrate().await.expect("migrate PostgreSQL");
        Some(TestDb { store, url, options, _dir: None, schema: Some(schema) })
    }

    pub async fn for_dialect(dialect: Dialect) -> Option<TestDb> {
        match dialect {
            Dialect::Sqlite => Some(Self::sqlite().await),
            Dialect::Postgres => Self::postgres().await,
        }
    }

    /// Closes the store and opens a new one on the same database (and runs the migrations
    /// again, as a restarted process does): what a new process would see.
    pub async fn reopen(mut self) -> TestDb {
        self.store.close().await;
        let store = Store::connect(&self.url, &self.options).await.expect("reopen the database");
        store.migrate().await.expect("migrate again");
        self.store = store;
        self
    }

    /// Drops the PostgreSQL schema (the SQLite file goes with the temp dir).
    pub async fn cleanup(self) {
        self.store.close().await;
        if let Some(schema) = self.schema {
            if let Ok(admin) = Store::connect(&self.url, &StoreOptions { max_connections: 1, pg_schema: None }).await {
                let _ = admin.execute_raw(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).await;
                admin.close().await;
            }
        }
    }
}

/// Declares each listed `async fn name(db: &TestDb)` as two tests, `sqlite::name` and
/// `postgres::name`.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = $crate::testing::TestDb::sqlite().await;
                    super::$name(&db).await;
                    db.cleanup().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(db) = $crate::testing::TestDb::postgres().await else { return };
                    super::$name(&db).await;
                    db.cleanup().await;
                }
            )*
        }
    };
}
