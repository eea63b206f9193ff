//! The HTTP core: every operation goes through [`Client::execute`], which applies the 429 gate,
//! the rate limiter, the circuit breaker, authentication, retries, tracing and metrics.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use futures::future::BoxFuture;
use futures::FutureExt;
use reqwest::header::{HeaderMap, AUTHORIZATION, CONTENT_TYPE, LOCATION, RETRY_AFTER};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use crate::auth::TokenCache;
use crate::config::ClientConfig;
use crate::error::{from_status, Error, Result};
use crate::metrics::{ClientMetrics, Metrics};
use crate::models::{Created, Page, TokenRequest, TokenResponse};
use crate::retry::{backoff, BreakerState, CircuitBreaker, NotBefore, RateLimiter};

/// How a request authenticates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AuthMode {
    Bearer,
    /// HTTP Basic with the client credentials (token endpoint only).
    Basic,
}

/// Everything needed to send (and re-send) one request.
#[derive(Debug)]
pub(crate) struct Call {
    pub method: Method,
    /// Path template for tracing/metrics, e.g. `/v1/sims/{iccid}/usage`.
    pub template: &'static str,
    pub path: String,
    pub query: Vec<(&'static str, String)>,
    pub body: Option<Vec<u8>>,
    pub auth: AuthMode,
    /// Safe to repeat after a 5xx / timeout / connection error.
    pub idempotent: bool,
}

impl Call {
    pub fn new(method: Method, template: &'static str, path: String) -> Self {
        let idempotent = matches!(method, Method::GET | Method::PUT | Method::DELETE | Method::HEAD);
        Call { method, template, path, query: Vec::new(), body: None, auth: AuthMode::Bearer, idempotent }
    }

    pub fn get(template: &'static str, path: String) -> Self {
        Self::new(Method::GET, template, path)
    }

    pub fn query(mut self, key: &'static str, value: Option<impl ToString>) -> Self {
        if let Some(v) = value {
            self.query.push((key, v.to_string()));
        }
        self
    }

    pub fn json<T: serde::Serialize + ?Sized>(mut self, body: &T) -> Result<Self> {
        self.body = Some(serde_json::to_vec(body).map_err(|e| Error::InvalidRequest { message: e.to_string() })?);
        Ok(self)
    }
}

/// A successful answer.
#[derive(Debug)]
pub(crate) struct Answer {
    pub headers: HeaderMap,
    pub body: bytes::Bytes,
    pub template: &'static str,
}

impl Answer {
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.body)
            .map_err(|e| Error::Decode { operation: self.template.to_string(), message: e.to_string() })
    }

    fn header_num<N: std::str::FromStr>(&self, name: &str) -> Result<Option<N>> {
        match self.headers.get(name) {
            None => Ok(None),
            Some(v) => v.to_str().ok().and_then(|s| s.trim().parse().ok()).map(Some).ok_or_else(|| Error::Decode {
                operation: self.template.to_string(),
                message: format!("invalid {name} header"),
            }),
        }
    }

    /// A bare JSON array plus the `X-*` paging headers.
    pub fn page<T: DeserializeOwned>(&self) -> Result<Page<T>> {
        let h = self.page_headers()?;
        Ok(Page {
            items: self.json()?,
            total_count: h.total_count,
            total_pages: h.total_pages,
            current_page: h.current_page,
            per_page: h.per_page,
        })
    }

    /// Only the `X-*` paging headers (items left empty).
    pub fn page_headers(&self) -> Result<Page<serde_json::Value>> {
        Ok(Page {
            items: Vec::new(),
            total_count: self.header_num("x-total-count")?,
            total_pages: self.header_num("x-total-pages")?,
            current_page: self.header_num("x-current-page")?,
            per_page: self.header_num("x-count-per-page")?,
        })
    }

    pub fn created(&self) -> Created {
        Created { location: self.headers.get(LOCATION).and_then(|v| v.to_str().ok()).map(str::to_owned) }
    }
}

pub(crate) struct Inner {
    pub config: ClientConfig,
    http: reqwest::Client,
    tokens: TokenCache,
    limiter: Option<RateLimiter>,
    not_before: NotBefore,
    breaker: CircuitBreaker,
    pub metrics: Metrics,
}

/// Typed async client of the 1NCE Management API. Cheap to clone (shared state: token,
/// rate limiter, 429 gate, breaker, metrics).
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.inner.config)
            .field("breaker", &self.breaker_state())
            .finish_non_exhaustive()
    }
}

enum Outcome {
    Done(Result<Answer>),
    /// Try again after `after`; `backoff` retries (5xx, timeouts, connection errors) use up
    /// `max_retries`, 429 waits and the 401 re-authentication have their own budgets.
    Retry {
        after: Duration,
        backoff: bool,
    },
}

impl Client {
    /// Builds a client. Fails only if the TLS backend cannot initialise or the base URL is
    /// not an http(s) URL.
    pub fn new(config: ClientConfig) -> Result<Self> {
        if !(config.base_url.starts_with("http://") || config.base_url.starts_with("https://")) {
            return Err(Error::InvalidRequest {
                message: format!("base URL must start with http:// or https://, got {:?}", config.base_url),
            });
        }
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .pool_max_idle_per_host(config.pool_max_idle_per_host)
            .user_agent(concat!("simfleet-onence/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::InvalidRequest { message: format!("cannot build HTTP client: {e}") })?;
        let mut config = config;
        config.base_url = config.base_url.trim_end_matches('/').to_string();
        Ok(Client {
            inner: Arc::new(Inner {
                tokens: TokenCache::new(config.token_refresh_margin),
                limiter: config.rate_limit_per_sec.map(RateLimiter::new),
                not_before: NotBefore::new(),
                breaker: CircuitBreaker::new(config.breaker_threshold, config.breaker_cooldown),
                metrics: Metrics::default(),
                http,
                config,
            }),
        })
    }

    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// Counters since the client was built.
    pub fn metrics(&self) -> ClientMetrics {
        self.inner.metrics.snapshot()
    }

    /// Current circuit-breaker state.
    pub fn breaker_state(&self) -> BreakerState {
        self.inner.breaker.state()
    }

    /// Fetches a token now (normally done lazily by the first call).
    pub async fn authenticate(&self) -> Result<()> {
        self.bearer().await.map(|_| ())
    }

    async fn bearer(&self) -> Result<crate::auth::Bearer> {
        self.inner.tokens.get(|| self.fetch_token()).await
    }

    /// `POST /oauth/token` with HTTP Basic and `{"grant_type":"client_credentials"}`.
    async fn fetch_token(&self) -> Result<(SecretString, Duration)> {
        let mut call = Call::new(Method::POST, "/oauth/token", "/oauth/token".into()).json(&TokenRequest::default())?;
        call.auth = AuthMode::Basic;
        // Asking for a token twice creates nothing: safe to retry.
        call.idempotent = true;
        let answer = self.execute(&call).await.map_err(|e| match e {
            Error::Validation { status, message, .. } => Error::Auth { status, message },
            other => other,
        })?;
        crate::metrics::Metrics::inc(&self.inner.metrics.token_refreshes);
        let t: TokenResponse = answer.json()?;
        let ttl = Duration::from_secs(t.expires_in.unwrap_or(3600));
        Ok((SecretString::from(t.access_token), ttl))
    }

    /// Runs one logical operation (counts it once, errors once).
    pub(crate) async fn call(&self, call: Call) -> Result<Answer> {
        Metrics::inc(&self.inner.metrics.calls);
        let r = self.execute(&call).await;
        if r.is_err() {
            Metrics::inc(&self.inner.metrics.errors);
        }
        r
    }

    pub(crate) async fn call_json<T: DeserializeOwned>(&self, call: Call) -> Result<T> {
        let a = self.call(call).await?;
        a.json().inspect_err(|_| Metrics::inc(&self.inner.metrics.errors))
    }

    pub(crate) async fn call_page<T: DeserializeOwned>(&self, call: Call) -> Result<Page<T>> {
        let a = self.call(call).await?;
        a.page().inspect_err(|_| Metrics::inc(&self.inner.metrics.errors))
    }

    pub(crate) async fn call_unit(&self, call: Call) -> Result<()> {
        self.call(call).await.map(|_| ())
    }

    pub(crate) async fn call_created(&self, call: Call) -> Result<Created> {
        self.call(call).await.map(|a| a.created())
    }

    /// The retry loop. Boxed because fetching a token re-enters it.
    pub(crate) fn execute<'a>(&'a self, call: &'a Call) -> BoxFuture<'a, Result<Answer>> {
        async move {
            let (mut attempt, mut rl_waits, mut reauthed) = (0u32, 0u32, false);
            loop {
                match self.attempt(call, attempt, &mut rl_waits, &mut reauthed).await {
                    Outcome::Done(r) => return r,
                    Outcome::Retry { after, backoff } => {
                        Metrics::inc(&self.inner.metrics.retries);
                        attempt += u32::from(backoff);
                        if !after.is_zero() {
                            tokio::time::sleep(after).await;
                        }
                    }
                }
            }
        }
        .boxed()
    }

    async fn attempt(&self, call: &Call, attempt: u32, rl_waits: &mut u32, reauthed: &mut bool) -> Outcome {
        let inner = &self.inner;
        let cfg = &inner.config;
        inner.not_before.wait().await;
        // Token first: its own request takes its own limiter slot and breaker permit.
        let bearer = match call.auth {
            AuthMode::Bearer => match self.bearer().await {
                Ok(b) => Some(b),
                Err(e) => return Outcome::Done(Err(e)),
            },
            AuthMode::Basic => None,
        };
        if let Some(l) = &inner.limiter {
            l.acquire().await;
        }
        // The gate may have moved while we queued on the limiter.
        inner.not_before.wait().await;
        let Some(permit) = inner.breaker.permit() else {
            return Outcome::Done(Err(Error::CircuitOpen));
        };
        let url = format!("{}{}", cfg.base_url, call.path);
        let mut req = inner.http.request(call.method.clone(), &url);
        if !call.query.is_empty() {
            req = req.query(&call.query);
        }
        req = match &bearer {
            Some(b) => req.header(AUTHORIZATION, &b.header),
            None => {
                let raw = format!("{}:{}", cfg.client_id, cfg.client_secret.expose_secret());
                req.header(AUTHORIZATION, format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(raw)))
            }
        };
        if let Some(body) = &call.body {
            req = req.header(CONTENT_TYPE, "application/json").body(body.clone());
        }
        let started = Instant::now();
        Metrics::inc(&inner.metrics.requests);
        let sent = req.send().await;
        let result = match sent {
            Ok(resp) => {
                let status = resp.status();
                let headers = resp.headers().clone();
                resp.bytes().await.map(|body| (status, headers, body))
            }
            Err(e) => Err(e),
        };
        let latency = started.elapsed().as_secs_f64();
        let latency_ms = latency * 1000.0;
        crate::metrics::record_latency(call.template, result.as_ref().map(|r| r.0.as_u16()).ok(), latency);
        let (status, headers, body) = match result {
            Ok(r) => r,
            Err(e) => {
                let err = transport_error(&e);
                tracing::warn!(method = %call.method, path = call.template, attempt, latency_ms, error = %err, "1NCE request failed");
                if inner.breaker.on_failure(&permit) {
                    Metrics::inc(&inner.metrics.breaker_opened);
                }
                return self.retry_or(call, attempt, err);
            }
        };
        tracing::debug!(method = %call.method, path = call.template, status = status.as_u16(), attempt, latency_ms, "1NCE request");
        if status.is_success() {
            inner.breaker.on_success();
            return Outcome::Done(Ok(Answer { headers, body, template: call.template }));
        }
        match status.as_u16() {
            429 => {
                inner.breaker.release(&permit);
                Metrics::inc(&inner.metrics.rate_limited);
                let wait = retry_after(&headers).unwrap_or(cfg.default_retry_after);
                inner.not_before.set(Instant::now() + wait);
                tracing::warn!(method = %call.method, path = call.template, retry_after_ms = wait.as_millis() as u64, "1NCE rate limit (429)");
                if *rl_waits >= cfg.max_rate_limit_retries {
                    return Outcome::Done(Err(Error::RateLimited { retry_after: Some(wait) }));
                }
                *rl_waits += 1;
                // A 429 was not processed: retrying is safe for every method. The shared gate
                // holds us (and everybody else) until Retry-After has elapsed.
                Outcome::Retry { after: Duration::ZERO, backoff: false }
            }
            401 if call.auth == AuthMode::Bearer && !*reauthed => {
                inner.breaker.on_success();
                *reauthed = true;
                if let Some(b) = &bearer {
                    inner.tokens.invalidate(b.generation).await;
                }
                tracing::info!(path = call.template, "1NCE token rejected, re-authenticating once");
                Outcome::Retry { after: Duration::ZERO, backoff: false }
            }
            500..=599 => {
                if inner.breaker.on_failure(&permit) {
                    Metrics::inc(&inner.metrics.breaker_opened);
                }
                self.retry_or(call, attempt, Error::Upstream { status: status.as_u16() })
            }
            s => {
                inner.breaker.on_success();
                Outcome::Done(Err(from_status(s, &body)))
            }
        }
    }

    fn retry_or(&self, call: &Call, attempt: u32, err: Error) -> Outcome {
        let cfg = &self.inner.config;
        if call.idempotent && attempt < cfg.max_retries {
            Outcome::Retry { after: backoff(cfg.backoff_base, cfg.backoff_max, attempt), backoff: true }
        } else {
            Outcome::Done(Err(err))
        }
    }
}

/// `Retry-After` in seconds (the HTTP-date form is also accepted).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(3600.0)));
    }
    let when = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    (when.with_timezone(&chrono::Utc) - chrono::Utc::now()).to_std().ok()
}

/// Classifies a reqwest failure without leaking the URL's query or headers.
fn transport_error(e: &reqwest::Error) -> Error {
    if e.is_timeout() {
        Error::Timeout
    } else {
        let mut message = e.without_url_ref().to_string();
        let mut src = std::error::Error::source(e);
        while let Some(s) = src {
            message.push_str(": ");
            message.push_str(&s.to_string());
            src = s.source();
        }
        Error::Connect { message }
    }
}

trait WithoutUrl {
    fn without_url_ref(&self) -> String;
}

impl WithoutUrl for reqwest::Error {
    fn without_url_ref(&self) -> String {
        if self.is_connect() {
            "connection failed".into()
        } else if self.is_body() || self.is_decode() {
            "response body broken off".into()
        } else if self.is_request() {
            "request failed".into()
        } else {
            "transport error".into()
        }
    }
}
