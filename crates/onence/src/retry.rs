//! Resilience building blocks: rate limiter, shared "not before" gate (429), backoff with
//! jitter, circuit breaker.

use std::sync::Mutex;
use std::time::Duration;

use rand::Rng;
use tokio::time::Instant;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Evenly spaced rate limiter (GCRA without burst): each caller reserves the next free slot
/// `1/rate` after the previous one and sleeps until it. Exact long-run rate, no 429 bait.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    interval: Duration,
    next: Mutex<Instant>,
}

impl RateLimiter {
    pub fn new(per_sec: u32) -> Self {
        RateLimiter {
            interval: Duration::from_secs_f64(1.0 / f64::from(per_sec.max(1))),
            next: Mutex::new(Instant::now()),
        }
    }

    pub async fn acquire(&self) {
        let slot = {
            let mut next = lock(&self.next);
            let now = Instant::now();
            let slot = (*next).max(now);
            *next = slot + self.interval;
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

/// The instant before which no request may be sent, shared by all callers (set by 429s).
#[derive(Debug)]
pub(crate) struct NotBefore(Mutex<Option<Instant>>);

impl NotBefore {
    pub fn new() -> Self {
        NotBefore(Mutex::new(None))
    }

    /// Pushes the gate to `until` (never pulls it earlier).
    pub fn set(&self, until: Instant) {
        let mut g = lock(&self.0);
        if g.is_none_or(|t| t < until) {
            *g = Some(until);
        }
    }

    /// Waits until the gate is open (re-checking, as another 429 may push it further).
    pub async fn wait(&self) {
        loop {
            let until = *lock(&self.0);
            match until {
                Some(t) if t > Instant::now() => tokio::time::sleep_until(t).await,
                _ => return,
            }
        }
    }
}

/// Exponential backoff with jitter: `base * 2^attempt`, capped, then a uniform factor in
/// `[0.5, 1.0]` so that synchronized callers spread out.
pub(crate) fn backoff(base: Duration, max: Duration, attempt: u32) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.min(16)).min(max);
    exp.mul_f64(rand::thread_rng().gen_range(0.5..=1.0))
}

/// Observable state of the circuit breaker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum BreakerState {
    /// Calls flow normally.
    Closed,
    /// Calls fail fast with `Error::CircuitOpen` until the cool-down ends.
    Open,
    /// Cool-down over: one probe call is let through; its outcome closes or re-opens.
    HalfOpen,
}

#[derive(Debug)]
struct BreakerInner {
    state: BreakerState,
    failures: u32,
    opened_at: Instant,
    probe_in_flight: bool,
}

/// Counts consecutive transient failures (5xx, timeouts, connection errors). Definite answers
/// (2xx, 4xx) count as successes: the API is up.
#[derive(Debug)]
pub(crate) struct CircuitBreaker {
    threshold: u32,
    cooldown: Duration,
    inner: Mutex<BreakerInner>,
}

/// Permission to send one request.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Permit {
    Normal,
    Probe,
}

impl CircuitBreaker {
    pub fn new(threshold: u32, cooldown: Duration) -> Self {
        CircuitBreaker {
            threshold: threshold.max(1),
            cooldown,
            inner: Mutex::new(BreakerInner {
                state: BreakerState::Closed,
                failures: 0,
                opened_at: Instant::now(),
                probe_in_flight: false,
            }),
        }
    }

    pub fn state(&self) -> BreakerState {
        let g = lock(&self.inner);
        if g.state == BreakerState::Open && g.opened_at.elapsed() >= self.cooldown {
            BreakerState::HalfOpen
        } else {
            g.state
        }
    }

    /// `None` = fail fast.
    pub fn permit(&self) -> Option<Permit> {
        let mut g = lock(&self.inner);
        match g.state {
            BreakerState::Closed => Some(Permit::Normal),
            BreakerState::Open if g.opened_at.elapsed() >= self.cooldown => {
                g.state = BreakerState::HalfOpen;
                g.probe_in_flight = true;
                Some(Permit::Probe)
            }
            BreakerState::Open => None,
            BreakerState::HalfOpen if !g.probe_in_flight => {
                g.probe_in_flight = true;
                Some(Permit::Probe)
            }
            BreakerState::HalfOpen => None,
        }
    }

    pub fn on_success(&self) {
        let mut g = lock(&self.inner);
        g.failures = 0;
        g.probe_in_flight = false;
        g.state = BreakerState::Closed;
    }

    /// Records a transient failure; returns true if this opened the breaker.
    pub fn on_failure(&self, permit: &Permit) -> bool {
        let mut g = lock(&self.inner);
        g.failures += 1;
        let open = *permit == Permit::Probe || (g.state == BreakerState::Closed && g.failures >= self.threshold);
        if open {
            g.probe_in_flight = false;
            g.state = BreakerState::Open;
            g.opened_at = Instant::now();
        }
        open
    }

    /// A probe ended without a verdict (e.g. 429): let another one try.
    pub fn release(&self, permit: &Permit) {
        if *permit == Permit::Probe {
            lock(&self.inner).probe_in_flight = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn breaker_opens_half_opens_and_closes() {
        let b = CircuitBreaker::new(3, Duration::from_millis(0));
        for _ in 0..2 {
            let p = b.permit().unwrap();
            assert!(!b.on_failure(&p));
        }
        let p = b.permit().unwrap();
        assert!(b.on_failure(&p));
        // cooldown 0 → half-open, exactly one probe
        assert_eq!(b.state(), BreakerState::HalfOpen);
        let probe = b.permit().unwrap();
        assert_eq!(probe, Permit::Probe);
        assert!(b.permit().is_none());
        b.on_success();
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn breaker_stays_open_during_cooldown() {
        let b = CircuitBreaker::new(1, Duration::from_secs(60));
        let p = b.permit().unwrap();
        b.on_failure(&p);
        assert_eq!(b.state(), BreakerState::Open);
        assert!(b.permit().is_none());
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let base = Duration::from_millis(100);
        let max = Duration::from_secs(1);
        for attempt in 0..10 {
            let d = backoff(base, max, attempt);
            let cap = base.saturating_mul(1 << attempt).min(max);
            assert!(d <= cap && d >= cap / 2, "{attempt}: {d:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn limiter_spaces_requests() {
        let l = RateLimiter::new(10);
        let start = Instant::now();
        for _ in 0..11 {
            l.acquire().await;
        }
        assert_eq!(start.elapsed(), Duration::from_secs(1));
    }
}
