//! Operations: instances starting together on PostgreSQL (migrations run under an advisory
//! lock, so concurrent `migrate` calls on a fresh schema all succeed and apply everything
//! once), and readiness telling an unmigrated database from one that went away.

use simfleet_store::testing::{TestDb, PG_URL_VAR};
use simfleet_store::{Store, StoreOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_migrations_on_a_fresh_schema_do_not_race() {
    let Ok(url) = std::env::var(PG_URL_VAR) else {
        assert!(std::env::var("CI").map_or(true, |v| v != "true"), "{PG_URL_VAR} is required under CI");
        return;
    };
    let admin = Store::connect(&url, &StoreOptions { max_connections: 1, pg_schema: None }).await.unwrap();
    for round in 0..3 {
        let schema = format!("t_migrate_{}", uuid::Uuid::new_v4().simple());
        admin.execute_raw(&format!("CREATE SCHEMA {schema}")).await.unwrap();
        let options = StoreOptions { max_connections: 2, pg_schema: Some(schema.clone()) };
        let mut stores = Vec::new();
        for _ in 0..4 {
            stores.push(Store::connect(&url, &options).await.unwrap());
        }
        let results = futures::future::join_all(stores.iter().map(|s| s.migrate())).await;
        for r in &results {
            assert!(r.is_ok(), "round {round}: {r:?}");
        }
        for s in &stores {
            assert!(s.ready().await.unwrap(), "fully migrated");
        }
        // Each migration recorded once.
        stores[0]
            .execute_raw(
                "DO $$ BEGIN IF (SELECT COUNT(*) FROM _sqlx_migrations) <> (SELECT COUNT(DISTINCT version) FROM _sqlx_migrations) \
                 THEN RAISE EXCEPTION 'a migration was applied twice'; END IF; END $$",
            )
            .await
            .unwrap();
        for s in stores {
            s.close().await;
        }
        admin.execute_raw(&format!("DROP SCHEMA {schema} CASCADE")).await.unwrap();
    }
    admin.close().await;
}

simfleet_store::backend_tests!(a_database_without_migrations_is_not_ready_rather_than_down);

async fn a_database_without_migrations_is_not_ready_rather_than_down(db: &TestDb) {
    assert!(db.store.ready().await.unwrap(), "a migrated database is ready");
    db.store.execute_raw("DROP TABLE _sqlx_migrations").await.unwrap();
    assert!(!db.store.ready().await.expect("a missing table is an answer, not an outage"));
}

/// What a server shutting down or restarting says on an open connection (57P01) is an
/// outage worth retrying, not a broken schema or an internal error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_the_server_terminates_counts_as_unreachable() {
    let Some(db) = TestDb::postgres().await else { return };
    let err = db.store.execute_raw("SELECT pg_terminate_backend(pg_backend_pid())").await.unwrap_err();
    assert!(err.is_unreachable(), "{err}");
    assert!(db.store.ready().await.unwrap(), "the pool replaces the terminated connection");
    db.cleanup().await;
}
