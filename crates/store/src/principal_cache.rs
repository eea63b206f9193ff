//! Principals recently resolved from a credential hash, so that a client reading in a loop
//! does not cost a database round trip per request for its key.
//!
//! Callers say how old an answer they accept (`max_age`); writes pass zero and always read
//! the database. Any change this process makes to users, keys or tokens empties the cache,
//! so a revocation here takes effect at once; another instance sharing the database sees
//! it once its entry is `max_age` old.

use crate::model::Principal;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Beyond this many credentials the cache starts over rather than grow without bound.
const MAX_ENTRIES: usize = 10_000;

struct Entry {
    principal: Principal,
    resolved_at: Instant,
    /// When the credential itself expires.
    expires_at: Option<DateTime<Utc>>,
}

#[derive(Default)]
pub(crate) struct PrincipalCache {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<String, Entry>,
    /// Counts [`PrincipalCache::clear`] calls, so that a lookup which read the database
    /// before a change and finishes after it does not bring back what the change removed.
    generation: u64,
}

/// The cache's state when a lookup missed; [`PrincipalCache::put`] keeps what the lookup then
/// found only if the cache was not cleared in between.
pub(crate) struct Generation(u64);

impl PrincipalCache {
    /// The principal behind `hash` if it was resolved less than `max_age` ago and its
    /// credential has not expired since; otherwise the generation to hand to `put`.
    pub(crate) fn lookup(&self, hash: &str, max_age: Duration) -> Result<Principal, Generation> {
        let inner = self.lock();
        let live = |e: &&Entry| e.resolved_at.elapsed() < max_age && e.expires_at.is_none_or(|t| t > crate::now());
        match inner.entries.get(hash).filter(live) {
            Some(entry) => Ok(entry.principal.clone()),
            None => Err(Generation(inner.generation)),
        }
    }

    /// Keeps what a lookup that missed at `generation` found, unless the cache was cleared since.
    pub(crate) fn put(
        &self,
        hash: &str,
        principal: &Principal,
        expires_at: Option<DateTime<Utc>>,
        generation: Generation,
    ) {
        let mut inner = self.lock();
        if inner.generation != generation.0 {
            return;
        }
        if inner.entries.len() >= MAX_ENTRIES && !inner.entries.contains_key(hash) {
            inner.entries.clear();
        }
        let entry = Entry { principal: principal.clone(), resolved_at: Instant::now(), expires_at };
        inner.entries.insert(hash.to_owned(), entry);
    }

    /// Forgets every principal: called after any change to users, API keys or login tokens.
    pub(crate) fn clear(&self) {
        let mut inner = self.lock();
        inner.entries.clear();
        inner.generation += 1;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}
