//! Fault injection and counters.
//!
//! Faults are changed at runtime through [`FaultControl::set`] or `POST /_sim/faults`. The
//! dice are deterministic (a hash of the seed and a request counter) so failing runs replay.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::rng::{hash, unit};

/// Runtime fault settings. Every field has a neutral default, so a JSON body may set any subset.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    /// Server-side rate limit (requests/s, 1 s burst); excess answers 429 with Retry-After.
    pub rate_limit_per_sec: Option<u32>,
    /// Fraction of API requests answered 500/502/503 (before the handler runs).
    pub error_rate: f64,
    /// Fraction of API requests answered 429 with `Retry-After: 1`, as a provider shedding load.
    pub throttle_rate: f64,
    /// Added latency per API request.
    pub latency_ms: u64,
    /// Fraction of successful responses whose connection is dropped mid-body.
    pub drop_rate: f64,
    /// Fraction of successful JSON responses cut in half (valid HTTP, invalid JSON).
    pub truncate_rate: f64,
    /// Fraction of successful JSON responses replaced by garbage.
    pub malformed_rate: f64,
    /// Fraction of successful writes (POST/PUT/DELETE) whose answer is cut off after the change
    /// was applied: the client cannot tell whether it happened (an unacknowledged write).
    pub write_drop_rate: f64,
    /// A 429 storm: every API request in the next `storm_secs` seconds answers 429 with
    /// `Retry-After` = the seconds left (rounded up). Setting it (re)starts the storm.
    pub storm_secs: u64,
    /// Whether 5xx/drop/truncate/malformed also hit `POST /oauth/token` (default: no).
    pub token_endpoint_faults: bool,
}

/// Counters readable programmatically ([`crate::SimHandle::counters`]) and at `GET /_sim/counters`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// All requests except `/_sim/*`.
    pub requests: u64,
    pub token_requests: u64,
    /// Tokens actually issued (successful token requests).
    pub tokens_issued: u64,
    pub rate_limited: u64,
    pub unauthorized: u64,
    /// 5xx, dropped, truncated and malformed responses.
    pub faults_injected: u64,
    pub errors_5xx: u64,
    pub dropped: u64,
    pub truncated: u64,
    pub malformed: u64,
}

/// One served request, for timing assertions (bounded log).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LogEntry {
    /// Arrival time since the simulator started.
    pub at: Duration,
    pub method: String,
    pub path: String,
    pub status: u16,
}

const LOG_CAP: usize = 200_000;

/// What the dice decided for one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    RateLimited { retry_after_secs: u64 },
    ServerError(u16),
}

/// What to do with the response body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mangle {
    None,
    Drop,
    Truncate,
    Malformed,
}

#[derive(Default)]
struct Counts {
    requests: AtomicU64,
    token_requests: AtomicU64,
    tokens_issued: AtomicU64,
    rate_limited: AtomicU64,
    unauthorized: AtomicU64,
    errors_5xx: AtomicU64,
    dropped: AtomicU64,
    truncated: AtomicU64,
    malformed: AtomicU64,
}

struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Shared fault state.
pub struct FaultControl {
    seed: u64,
    started: Instant,
    faults: Mutex<(Faults, Option<Instant>)>,
    bucket: Mutex<Bucket>,
    dice: AtomicU64,
    counts: Counts,
    log: Mutex<Vec<LogEntry>>,
}

impl std::fmt::Debug for FaultControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultControl").field("faults", &self.get()).field("counters", &self.counters()).finish()
    }
}

impl FaultControl {
    pub fn new(seed: u64, faults: Faults) -> Self {
        let fc = FaultControl {
            seed,
            started: Instant::now(),
            faults: Mutex::new((Faults::default(), None)),
            bucket: Mutex::new(Bucket { tokens: 0.0, last: Instant::now() }),
            dice: AtomicU64::new(0),
            counts: Counts::default(),
            log: Mutex::new(Vec::new()),
        };
        fc.set(faults);
        fc
    }

    /// Replaces the fault settings (a non-zero `storm_secs` starts a storm now).
    pub fn set(&self, faults: Faults) {
        let storm_end = (faults.storm_secs > 0).then(|| Instant::now() + Duration::from_secs(faults.storm_secs));
        let burst = f64::from(faults.rate_limit_per_sec.unwrap_or(0));
        *lock(&self.bucket) = Bucket { tokens: burst, last: Instant::now() };
        *lock(&self.faults) = (faults, storm_end);
    }

    pub fn get(&self) -> Faults {
        lock(&self.faults).0.clone()
    }

    /// Instant the simulator started (base of [`LogEntry::at`]).
    pub fn started(&self) -> Instant {
        self.started
    }

    pub fn counters(&self) -> Counters {
        let c = &self.counts;
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let (e, d, t, m) = (g(&c.errors_5xx), g(&c.dropped), g(&c.truncated), g(&c.malformed));
        Counters {
            requests: g(&c.requests),
            token_requests: g(&c.token_requests),
            tokens_issued: g(&c.tokens_issued),
            rate_limited: g(&c.rate_limited),
            unauthorized: g(&c.unauthorized),
            faults_injected: e + d + t + m,
            errors_5xx: e,
            dropped: d,
            truncated: t,
            malformed: m,
        }
    }

    /// The request log (arrival time, method, path, status), oldest first.
    pub fn request_log(&self) -> Vec<LogEntry> {
        lock(&self.log).clone()
    }

    pub fn reset_counters(&self) {
        let c = &self.counts;
        for a in [
            &c.requests,
            &c.token_requests,
            &c.tokens_issued,
            &c.rate_limited,
            &c.unauthorized,
            &c.errors_5xx,
            &c.dropped,
            &c.truncated,
            &c.malformed,
        ] {
            a.store(0, Ordering::Relaxed);
        }
        lock(&self.log).clear();
    }

    pub(crate) fn record(&self, at: Instant, method: &str, path: &str, status: u16) {
        let mut log = lock(&self.log);
        if log.len() < LOG_CAP {
            log.push(LogEntry { at: at - self.started, method: method.into(), path: path.into(), status });
        }
    }

    pub(crate) fn count_request(&self, token: bool) {
        self.counts.requests.fetch_add(1, Ordering::Relaxed);
        if token {
            self.counts.token_requests.fetch_add(1, Ordering::Relaxed);
        }
    }
    pub(crate) fn count_token_issued(&self) {
        self.counts.tokens_issued.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn count_unauthorized(&self) {
        self.counts.unauthorized.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn latency(&self) -> Duration {
        Duration::from_millis(lock(&self.faults).0.latency_ms)
    }

    fn roll(&self) -> f64 {
        unit(hash(self.seed, 77, self.dice.fetch_add(1, Ordering::Relaxed), 0))
    }

    /// Decides rate limiting and injected 5xx before the handler runs.
    pub(crate) fn admit(&self, token_endpoint: bool) -> Verdict {
        let (faults, storm_end) = lock(&self.faults).clone();
        let now = Instant::now();
        if let Some(end) = storm_end.filter(|e| *e > now) {
            self.counts.rate_limited.fetch_add(1, Ordering::Relaxed);
            let left = (end - now).as_millis().div_ceil(1000) as u64;
            return Verdict::RateLimited { retry_after_secs: left.max(1) };
        }
        if let Some(rate) = faults.rate_limit_per_sec.filter(|r| *r > 0) {
            let rate = f64::from(rate);
            let mut b = lock(&self.bucket);
            b.tokens = (b.tokens + (now - b.last).as_secs_f64() * rate).min(rate);
            b.last = now;
            if b.tokens >= 1.0 {
                b.tokens -= 1.0;
            } else {
                let wait = (1.0 - b.tokens) / rate;
                drop(b);
                self.counts.rate_limited.fetch_add(1, Ordering::Relaxed);
                return Verdict::RateLimited { retry_after_secs: (wait.ceil() as u64).max(1) };
            }
        }
        if !token_endpoint && faults.throttle_rate > 0.0 && self.roll() < faults.throttle_rate {
            self.counts.rate_limited.fetch_add(1, Ordering::Relaxed);
            return Verdict::RateLimited { retry_after_secs: 1 };
        }
        if (!token_endpoint || faults.token_endpoint_faults)
            && faults.error_rate > 0.0
            && self.roll() < faults.error_rate
        {
            self.counts.errors_5xx.fetch_add(1, Ordering::Relaxed);
            let code = [500, 502, 503][(self.dice.load(Ordering::Relaxed) % 3) as usize];
            return Verdict::ServerError(code);
        }
        Verdict::Pass
    }

    /// Decides whether the answer to a successful write is lost (the change stays applied).
    pub(crate) fn drop_write(&self) -> bool {
        let rate = lock(&self.faults).0.write_drop_rate;
        if rate <= 0.0 || self.roll() >= rate {
            return false;
        }
        self.counts.dropped.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// Decides whether a successful response body gets mangled.
    pub(crate) fn mangle(&self, token_endpoint: bool) -> Mangle {
        let faults = lock(&self.faults).0.clone();
        if token_endpoint && !faults.token_endpoint_faults {
            return Mangle::None;
        }
        let total = faults.drop_rate + faults.truncate_rate + faults.malformed_rate;
        if total <= 0.0 {
            return Mangle::None;
        }
        let r = self.roll();
        let (counter, m) = if r < faults.drop_rate {
            (&self.counts.dropped, Mangle::Drop)
        } else if r < faults.drop_rate + faults.truncate_rate {
            (&self.counts.truncated, Mangle::Truncate)
        } else if r < total {
            (&self.counts.malformed, Mangle::Malformed)
        } else {
            return Mangle::None;
        };
        counter.fetch_add(1, Ordering::Relaxed);
        m
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
