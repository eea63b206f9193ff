//! A real server on 127.0.0.1:0 over an isolated database, and a client for it.

#![allow(dead_code)]

pub mod provider;
pub mod web;

use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use serde_json::{json, Value};
use simfleet_domain::Role;
use simfleet_server::crypto::{hash_password, SecretBox};
use simfleet_server::{App, AppConfig};
use simfleet_store::testing::TestDb;
use simfleet_store::Dialect;
use tokio::sync::oneshot;

pub const PASSWORD: &str = "correct horse battery";

pub struct TestApp {
    pub base: String,
    pub db: TestDb,
    pub http: reqwest::Client,
    pub admin: String,
    pub operator: String,
    pub viewer: String,
    provider_url: Option<String>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

impl TestApp {
    /// `None` when the PostgreSQL variant is not configured (outside CI).
    pub async fn spawn(dialect: Dialect) -> Option<TestApp> {
        Self::spawn_with(dialect, None).await
    }

    /// With sync jobs against the provider at `provider_url` (a simulator), when given.
    pub async fn spawn_with(dialect: Dialect, provider_url: Option<String>) -> Option<TestApp> {
        let db = TestDb::for_dialect(dialect).await?;
        let hash = hash_password(PASSWORD).unwrap();
        for (name, role) in [("admin", Role::Admin), ("operator", Role::Operator), ("viewer", Role::Viewer)] {
            db.store.create_user(name, &hash, role).await.unwrap();
        }
        Some(Self::start(db, provider_url).await)
    }

    /// Stops this server (as a crash or a deploy would) and starts a new one on the same
    /// database: nothing survives but what was stored.
    pub async fn restart(mut self) -> TestApp {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        let provider_url = self.provider_url.take();
        // Reopen the database as a new process would.
        let db = self.db.reopen().await;
        Self::start(db, provider_url).await
    }

    async fn start(db: TestDb, provider_url: Option<String>) -> TestApp {
        let config = AppConfig { login_max_failures: 3, ..AppConfig::default() };
        let secrets = SecretBox::new(&SecretString::from("test master key, not for production".to_owned()));
        let app = match provider_url.clone() {
            Some(url) => {
                let client = onence::Client::new(onence::ClientConfig::new(
                    url,
                    onence_sim::DEFAULT_CLIENT_ID,
                    onence_sim::DEFAULT_CLIENT_SECRET,
                ))
                .expect("client");
                let syncer = simfleet_sync::Syncer::new(db.store.clone(), client, simfleet_sync::SyncConfig::default())
                    .with_secrets(std::sync::Arc::new(secrets.clone()));
                let runner = simfleet_sync::Runner::new(syncer, Default::default());
                App::with_runner(db.store.clone(), secrets, config, runner).expect("app")
            }
            None => App::new(db.store.clone(), secrets, config).expect("app"),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = oneshot::channel::<()>();
        let router = simfleet_server::router(app);
        let server = tokio::spawn(async move {
            simfleet_server::serve(listener, router, async move {
                let _ = rx.await;
            })
            .await
            .expect("server");
        });
        let mut app = TestApp {
            base,
            db,
            http: reqwest::Client::new(),
            admin: String::new(),
            operator: String::new(),
            viewer: String::new(),
            provider_url,
            shutdown: Some(tx),
            server: Some(server),
        };
        app.admin = app.login("admin").await;
        app.operator = app.login("operator").await;
        app.viewer = app.login("viewer").await;
        app
    }

    pub async fn login(&self, username: &str) -> String {
        let (status, body) = self
            .call(Method::POST, "/api/v1/auth/login", None, Some(json!({"username": username, "password": PASSWORD})))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["token"].as_str().unwrap().to_owned()
    }

    /// Sends a request and returns the status and the JSON body (`Null` when empty).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("request");
        let status = res.status();
        let problem = res.headers().get("content-type").is_some_and(|v| v == "application/problem+json");
        let text = res.text().await.unwrap();
        let value =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        if status.is_client_error() || status.is_server_error() {
            assert!(problem, "error responses are problem+json: {status} {value}");
        }
        (status, value)
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PATCH, path, Some(token), Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, Some(token), None).await
    }

    /// Creates a SIM as the operator and returns its ICCID.
    pub async fn sim(&self, n: u64, extra: Value) -> String {
        let iccid = iccid(n);
        let mut body = json!({ "iccid": iccid });
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        let (status, res) = self.post("/api/v1/sims", &self.operator.clone(), body).await;
        assert_eq!(status, StatusCode::CREATED, "{res}");
        iccid
    }

    pub async fn customer(&self, name: &str) -> i64 {
        let (status, res) = self.post("/api/v1/customers", &self.operator.clone(), json!({ "name": name })).await;
        assert_eq!(status, StatusCode::CREATED, "{res}");
        res["id"].as_i64().unwrap()
    }

    /// The id of `job`'s newest run (0 before any).
    pub async fn last_run_id(&self, job: &str) -> i64 {
        let (_, runs) = self.get(&format!("/api/v1/jobs/runs?job={job}&limit=1"), &self.viewer).await;
        runs["items"].as_array().and_then(|a| a.first()).map_or(0, |r| r["id"].as_i64().unwrap())
    }

    /// The first finished run of `job` newer than run `after`.
    pub async fn wait_for_run(&self, job: &str, after: i64) -> Value {
        for _ in 0..600 {
            let (_, runs) = self.get(&format!("/api/v1/jobs/runs?job={job}&limit=1"), &self.viewer).await;
            if let Some(run) = runs["items"].as_array().and_then(|a| a.first()) {
                if run["id"].as_i64().unwrap() > after && run["status"] != "running" {
                    return run.clone();
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("{job} did not finish");
    }

    /// Runs `job` over the API (retrying while another run of it holds the job) and returns
    /// its finished run, whatever its status.
    pub async fn run_job(&self, job: &str) -> Value {
        for _ in 0..600 {
            let after = self.last_run_id(job).await;
            let (status, res) =
                self.call(Method::POST, &format!("/api/v1/jobs/{job}/run"), Some(&self.operator), None).await;
            match status {
                StatusCode::ACCEPTED => return self.wait_for_run(job, after).await,
                StatusCode::CONFLICT => tokio::time::sleep(std::time::Duration::from_millis(25)).await,
                other => panic!("{job}: {other} {res}"),
            }
        }
        panic!("{job} stayed busy");
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        self.db.cleanup().await;
    }
}

pub fn iccid(n: u64) -> String {
    let payload = format!("8988{n:014}");
    format!("{payload}{}", simfleet_domain::ids::luhn_check_digit(&payload))
}

/// Declares each `async fn name(app: &TestApp)` as `sqlite::name` and `postgres::name`.
#[macro_export]
macro_rules! api_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let app = $crate::common::TestApp::spawn(simfleet_store::Dialect::Sqlite).await.unwrap();
                    super::$name(&app).await;
                    app.stop().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(app) = $crate::common::TestApp::spawn(simfleet_store::Dialect::Postgres).await else { return };
                    super::$name(&app).await;
                    app.stop().await;
                }
            )*
        }
    };
}

/// Declares each `async fn name(dialect: Dialect)` as `sqlite::name` and `postgres::name`, for
/// tests that set up their own app (with a simulator, say).
#[macro_export]
macro_rules! dialect_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(simfleet_store::Dialect::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(simfleet_store::Dialect::Postgres).await;
                }
            )*
        }
    };
}

/// A data quota of `remaining` of `total` bytes, as the quota sync stores it.
#[allow(dead_code)]
pub fn data_quota(remaining: i64, total: i64) -> simfleet_store::Quota {
    simfleet_store::Quota {
        kind: "data".into(),
        remaining,
        total: Some(total),
        expiry_date: None,
        last_added: None,
        threshold_percentage: None,
        updated_at: simfleet_store::now(),
    }
}

impl TestApp {
    /// Gives these SIMs a used-up data quota, so the next evaluation raises `quota_exhausted`.
    #[allow(dead_code)]
    pub async fn exhaust_data(&self, iccids: impl IntoIterator<Item = impl AsRef<str>>) {
        let mut rows = Vec::new();
        for iccid in iccids {
            rows.push((self.db.store.get_sim(iccid.as_ref()).await.unwrap().id, data_quota(0, 100)));
        }
        self.db.store.upsert_quotas(&rows).await.unwrap();
    }
}
