//! Bearer token cache: fetched with OAuth2 client credentials, refreshed before expiry,
//! single-flight (one tokio mutex serialises refreshes, so concurrent callers wait for the one
//! request in flight instead of starting their own).

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Mutex;
use tokio::time::Instant;

#[derive(Default)]
struct Cached {
    token: Option<(SecretString, Instant)>,
    /// Bumped on every new token, so a 401 only invalidates the token it was seen with.
    generation: u64,
}

/// A token handed to a request, with the generation it belongs to.
pub(crate) struct Bearer {
    pub header: String,
    pub generation: u64,
}

pub(crate) struct TokenCache {
    margin: Duration,
    cached: Mutex<Cached>,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache").field("margin", &self.margin).field("token", &"[redacted]").finish()
    }
}

impl TokenCache {
    pub fn new(margin: Duration) -> Self {
        TokenCache { margin, cached: Mutex::new(Cached::default()) }
    }

    /// Returns a valid token, fetching one with `fetch` (returns token and lifetime) if none
    /// is cached or the cached one is about to expire.
    pub async fn get<F, Fut>(&self, fetch: F) -> crate::Result<Bearer>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = crate::Result<(SecretString, Duration)>>,
    {
        let mut c = self.cached.lock().await;
        if let Some((token, refresh_at)) = &c.token {
            if Instant::now() < *refresh_at {
                return Ok(Bearer { header: format!("Bearer {}", token.expose_secret()), generation: c.generation });
            }
        }
        let (token, ttl) = fetch().await?;
        // Refresh `margin` early, but never earlier than half the lifetime (short test TTLs).
        let margin = self.margin.min(ttl / 2);
        let header = format!("Bearer {}", token.expose_secret());
        c.generation += 1;
        c.token = Some((token, Instant::now() + ttl - margin));
        Ok(Bearer { header, generation: c.generation })
    }

    /// Drops the token of `generation` (after a 401); a newer token is kept.
    pub async fn invalidate(&self, generation: u64) {
        let mut c = self.cached.lock().await;
        if c.generation == generation {
            c.token = None;
        }
    }
}
