//! Readiness follows the database: it fails while PostgreSQL is unreachable and recovers when
//! it returns. The test puts a TCP proxy between the server and PostgreSQL and cuts it (every
//! connection dropped, new ones refused), which to the server is the database going away.

use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::Value;
use simfleet_server::crypto::SecretBox;
use simfleet_server::{App, AppConfig};
use simfleet_store::testing::TestDb;
use simfleet_store::Store;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

/// Forwards connections on `listen` to `target` until dropped; dropping it closes them all.
struct Proxy {
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    async fn start(listen: SocketAddr, target: String) -> (Proxy, SocketAddr) {
        let listener = TcpListener::bind(listen).await.expect("bind proxy");
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else { continue };
                let target = target.clone();
                connections.spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        (Proxy { task }, addr)
    }

    /// Stops listening and drops every forwarded connection (the `JoinSet` aborts them).
    async fn cut(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

/// `host:port` of a `postgres://user@host[:port]/db?…` URL, and the URL pointed at `addr`.
fn reroute(url: &str, addr: SocketAddr) -> (String, String) {
    let (scheme, rest) = url.split_once("://").expect("URL has a scheme");
    let (userinfo, hostpart) =
        rest.rsplit_once('@').map(|(u, h)| (format!("{u}@"), h)).unwrap_or((String::new(), rest));
    let end = hostpart.find(['/', '?']).unwrap_or(hostpart.len());
    let host = &hostpart[..end];
    let target = if host.contains(':') { host.to_owned() } else { format!("{host}:5432") };
    (target, format!("{scheme}://{userinfo}{addr}{}", &hostpart[end..]))
}

async fn readiness(http: &reqwest::Client, base: &str) -> (StatusCode, Value) {
    let res = http.get(format!("{base}/health/ready")).send().await.expect("server answers");
    let status = res.status();
    (status, res.json().await.expect("JSON body"))
}

async fn wait_for(http: &reqwest::Client, base: &str, want: StatusCode, within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let (status, body) = readiness(http, base).await;
        if status == want {
            return body;
        }
        assert!(Instant::now() < deadline, "readiness stayed {status} {body} instead of {want}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_fails_while_the_database_is_down_and_recovers() {
    let Some(db) = TestDb::postgres().await else { return };
    let (target, _) = reroute(&db.url, "127.0.0.1:1".parse().unwrap());
    let (proxy, proxy_addr) = Proxy::start("127.0.0.1:0".parse().unwrap(), target.clone()).await;
    let (_, proxied_url) = reroute(&db.url, proxy_addr);
    let store = Store::connect(&proxied_url, &db.options).await.expect("connect through the proxy");
    let secrets = SecretBox::new(&SecretString::from("test master key, not for production".to_owned()));
    let app = App::new(store.clone(), secrets, AppConfig::default()).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = simfleet_server::router(app);
    let server = tokio::spawn(simfleet_server::serve(listener, router, std::future::pending()));
    let http = reqwest::Client::new();

    let (status, body) = readiness(&http, &base).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["database"], "ok");
    assert_eq!(body["provider"]["configured"], false);

    proxy.cut().await;
    let started = Instant::now();
    let body = wait_for(&http, &base, StatusCode::SERVICE_UNAVAILABLE, Duration::from_secs(10)).await;
    assert_eq!(body["status"], "unavailable");
    assert!(["unreachable", "timeout"].contains(&body["database"].as_str().unwrap()), "{body}");
    assert!(started.elapsed() < Duration::from_secs(5), "a probe must answer quickly: {:?}", started.elapsed());
    let res = http.get(format!("{base}/health/live")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "liveness does not depend on the database");

    // The database comes back on the same address.
    let (_proxy, _) = Proxy::start(proxy_addr, target).await;
    let body = wait_for(&http, &base, StatusCode::OK, Duration::from_secs(20)).await;
    assert_eq!(body["database"], "ok");

    server.abort();
    store.close().await;
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_fails_on_an_unmigrated_database() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("fresh.db").display());
    let store = Store::connect(&url, &Default::default()).await.unwrap();
    let secrets = SecretBox::new(&SecretString::from("test master key, not for production".to_owned()));
    let app = App::new(store.clone(), secrets, AppConfig::default()).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(simfleet_server::serve(listener, simfleet_server::router(app), std::future::pending()));
    let http = reqwest::Client::new();
    let (status, body) = readiness(&http, &base).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["database"], "not migrated");
    store.migrate().await.unwrap();
    let (status, body) = readiness(&http, &base).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    server.abort();
}
