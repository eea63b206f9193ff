//! Instances starting together on PostgreSQL: migrations run under an advisory lock, so
//! concurrent `migrate` calls on a fresh schema all succeed and apply everything once.

use simfleet_store::testing::PG_URL_VAR;
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
