//! Router, the gate middleware (counting, latency, rate limit, faults, bearer auth) and
//! [`spawn`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::SimConfig;
use crate::faults::{Counters, FaultControl, Faults, LogEntry, Mangle, Verdict};
use crate::fleet::Generator;
use crate::routes::{admin, misc, v1, v1_error, v2, App};
use crate::state::SimState;

/// Where to listen: an address (use `127.0.0.1:0` for an ephemeral port) or a bound listener.
pub enum Bind {
    Addr(SocketAddr),
    Listener(TcpListener),
}

impl From<SocketAddr> for Bind {
    fn from(a: SocketAddr) -> Self {
        Bind::Addr(a)
    }
}

impl From<TcpListener> for Bind {
    fn from(l: TcpListener) -> Self {
        Bind::Listener(l)
    }
}

/// A running simulator. Dropping it stops the server.
pub struct SimHandle {
    addr: SocketAddr,
    base_url: String,
    state: Arc<SimState>,
    faults: Arc<FaultControl>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for SimHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimHandle").field("base_url", &self.base_url).finish_non_exhaustive()
    }
}

impl SimHandle {
    /// `http://127.0.0.1:PORT` — pass it to the client as its base URL.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    /// The live state: read SIMs, usage and quotas, or change them "outside simfleet".
    pub fn state(&self) -> &Arc<SimState> {
        &self.state
    }
    /// Fault control (also reachable at `POST /_sim/faults`).
    pub fn fault_control(&self) -> &Arc<FaultControl> {
        &self.faults
    }
    pub fn set_faults(&self, faults: Faults) {
        self.faults.set(faults);
    }
    pub fn faults(&self) -> Faults {
        self.faults.get()
    }
    pub fn counters(&self) -> Counters {
        self.faults.counters()
    }
    pub fn request_log(&self) -> Vec<LogEntry> {
        self.faults.request_log()
    }
    pub fn reset_counters(&self) {
        self.faults.reset_counters();
    }
    /// Stops accepting, lets in-flight requests finish (at most 2 s).
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(2), task).await.is_err() {
                abort.abort();
            }
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Builds the fleet and serves it. Must be called inside a Tokio runtime.
pub async fn spawn(config: SimConfig, bind: impl Into<Bind>) -> std::io::Result<SimHandle> {
    let listener = match bind.into() {
        Bind::Addr(a) => TcpListener::bind(a).await?,
        Bind::Listener(l) => l,
    };
    let addr = listener.local_addr()?;
    let base_url = format!("http://{addr}");
    let gen = Generator {
        seed: config.seed,
        today: config.today.unwrap_or_else(|| Utc::now().date_naive()),
        history_days: config.history_days.max(1),
    };
    let state = Arc::new(SimState::new(gen, config.sims, Duration::from_secs(config.token_ttl_secs)));
    let faults = Arc::new(FaultControl::new(
        config.seed,
        Faults {
            rate_limit_per_sec: config.rate_limit_per_sec,
            error_rate: config.fault_rate,
            latency_ms: config.latency_ms,
            ..Faults::default()
        },
    ));
    let app = App {
        state: state.clone(),
        faults: faults.clone(),
        config: Arc::new(config),
        base_url: base_url.clone().into(),
    };
    let router = router(app);
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let serve = axum::serve(listener, router).with_graceful_shutdown(async {
            let _ = rx.await;
        });
        if let Err(e) = serve.await {
            tracing::error!(error = %e, "simulator server failed");
        }
    });
    Ok(SimHandle { addr, base_url, state, faults, shutdown: Some(tx), task: Some(task) })
}

/// All routes of the simulated API plus `/_sim/*`.
pub fn router(app: App) -> Router {
    Router::new()
        .route("/oauth/token", post(misc::token))
        // v1 SIM management (23 operations)
        .route("/v1/sims", get(v1::list_sims).post(v1::multi_config))
        .route("/v1/sims/simTransfer", post(v1::sim_transfer))
        .route("/v1/sims/topup", post(v1::topup_multi))
        .route("/v1/sims/autoTopup", post(v1::auto_topup))
        .route("/v1/sims/limits", get(v1::get_limits).post(v1::set_limits))
        .route("/v1/sims/extension", post(v1::extension))
        .route("/v1/sims/{iccid}", get(v1::get_sim).put(v1::put_sim))
        .route("/v1/sims/{iccid}/status", get(v1::get_status))
        .route("/v1/sims/{iccid}/connectivity_info", get(v1::connectivity_info))
        .route("/v1/sims/{iccid}/reset", post(v1::reset_connectivity))
        .route("/v1/sims/{iccid}/events", get(v1::events))
        .route("/v1/sims/{iccid}/usage", get(v1::usage))
        .route("/v1/sims/{iccid}/quota/data", get(v1::quota_data))
        .route("/v1/sims/{iccid}/quota/sms", get(v1::quota_sms))
        .route("/v1/sims/{iccid}/sms", get(v1::list_sms).post(v1::post_sms))
        .route("/v1/sims/{iccid}/sms/{id}", get(v1::get_sms).delete(v1::delete_sms))
        .route("/v1/sims/{iccid}/topup", post(v1::topup))
        // `{service}` shares the router slot of `{iccid}`.
        .route("/v1/sims/{iccid}/limits", get(v1::selectable_limits))
        // v2 SIM management (13 operations)
        .route("/v2/sims", get(v2::list_sims))
        .route("/v2/sims/{iccid}", get(v2::get_sim).put(v2::put_sim))
        .route("/v2/sims/{iccid}/reset", post(v2::reset))
        .route("/v2/sims/{iccid}/quota/data", get(v2::quota_data))
        .route("/v2/sims/{iccid}/quota/sms", get(v2::quota_sms))
        .route("/v2/sims/{iccid}/status", get(v2::status))
        .route("/v2/sims/{iccid}/sms", get(v2::list_sms).post(v2::post_sms))
        .route("/v2/sims/{iccid}/sms/{id}", get(v2::get_sms).delete(v2::delete_sms))
        .route("/v2/sims/{iccid}/events", get(v2::events))
        .route("/v2/sims/{iccid}/topup", post(v2::topup))
        // orders, products, support
        .route("/v1/orders", get(misc::list_orders).post(misc::create_order))
        .route("/v1/orders/{order_number}", get(misc::get_order))
        .route("/v1/products", get(misc::products))
        .route("/v1/support", get(misc::list_support).post(misc::create_support))
        // simulator control
        .route("/_sim/counters", get(admin::counters))
        .route("/_sim/counters/reset", post(admin::reset_counters))
        .route("/_sim/faults", get(admin::get_faults).post(admin::set_faults))
        .route("/_sim/tokens/revoke", post(admin::revoke_tokens))
        .fallback(|| async { v1_error(StatusCode::NOT_FOUND, "NotFound", "No such resource") })
        .layer(middleware::from_fn_with_state(app.clone(), gate))
        .with_state(app)
}

async fn gate(State(app): State<App>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    if path.starts_with("/_sim/") {
        return next.run(req).await;
    }
    let arrived = Instant::now();
    let method = req.method().clone();
    let token_ep = path == "/oauth/token";
    app.faults.count_request(token_ep);
    let resp = gate_inner(&app, req, next, token_ep, method == Method::GET).await;
    app.faults.record(arrived, method.as_str(), &path, resp.status().as_u16());
    resp
}

async fn gate_inner(app: &App, req: Request, next: Next, token_ep: bool, is_get: bool) -> Response {
    let latency = app.faults.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    match app.faults.admit(token_ep) {
        Verdict::Pass => {}
        Verdict::RateLimited { retry_after_secs } => {
            let limit = app.faults.get().rate_limit_per_sec.unwrap_or(0);
            let mut r = v1_error(StatusCode::TOO_MANY_REQUESTS, "TooManyRequests", "Rate limit exceeded, retry later.");
            let h = r.headers_mut();
            h.insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            h.insert("x-rate-limit-limit", HeaderValue::from(limit));
            h.insert("x-rate-limit-remaining", HeaderValue::from(0));
            h.insert("x-rate-limit-reset", HeaderValue::from(retry_after_secs));
            return r;
        }
        Verdict::ServerError(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return (
                status,
                Json(json!({"error_code": 1000, "error_token": "InternalServerError", "message": "Injected fault"})),
            )
                .into_response();
        }
    }
    if !token_ep {
        let token = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !app.state.token_valid(token) {
            app.faults.count_unauthorized();
            let mut r = v1_error(StatusCode::UNAUTHORIZED, "Unauthorized", "Missing, invalid or expired bearer token.");
            r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return r;
        }
    }
    let resp = next.run(req).await;
    if resp.status().is_success() && !is_get && !token_ep && app.faults.drop_write() {
        // The handler applied the change; announce a body and break off before it.
        let (mut parts, _) = resp.into_parts();
        parts.headers.insert(header::CONTENT_LENGTH, HeaderValue::from(2));
        let stream = futures::stream::iter(vec![Err::<Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "injected write drop",
        ))]);
        return Response::from_parts(parts, Body::from_stream(stream));
    }
    if !resp.status().is_success() || !(is_get || token_ep) {
        return resp;
    }
    let mangle = app.faults.mangle(token_ep);
    if mangle == Mangle::None {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
    let half = bytes.slice(..bytes.len() / 2);
    match mangle {
        Mangle::None => Response::from_parts(parts, Body::from(bytes)),
        Mangle::Truncate => {
            parts.headers.insert(header::CONTENT_LENGTH, HeaderValue::from(half.len()));
            Response::from_parts(parts, Body::from(half))
        }
        Mangle::Malformed => {
            let junk = Bytes::from_static(b"{\"iccid\": 8988<html><body>502 Bad Gateway</body></html>");
            parts.headers.insert(header::CONTENT_LENGTH, HeaderValue::from(junk.len()));
            Response::from_parts(parts, Body::from(junk))
        }
        Mangle::Drop => {
            // Announce the full length, send half, then fail the stream: hyper aborts the
            // connection and the client sees a reset mid-body.
            parts.headers.insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
            let stream = futures::stream::iter(vec![
                Ok::<Bytes, std::io::Error>(half),
                Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "injected drop")),
            ]);
            Response::from_parts(parts, Body::from_stream(stream))
        }
    }
}
