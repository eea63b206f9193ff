//! Idempotency keys: a request that places something at the provider and is sent again with
//! the same key gets the first one's result instead of placing it twice.

use crate::db::{with_db, Store};
use crate::error::StoreResult;
use crate::sql::Sql;
use chrono::TimeDelta;

/// How long a key is remembered.
const KEPT_FOR: TimeDelta = TimeDelta::days(7);

/// What a claimed key says about the request that carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyClaim {
    /// First use: go ahead, then [`Store::finish_request_key`] or [`Store::release_request_key`].
    New,
    /// A request with the same key and the same content finished with this result.
    Done(String),
    /// A request with the same key is being placed, or its outcome was never learnt.
    Pending,
    /// The key was used for a request with other content.
    Mismatch,
}

impl Store {
    /// Claims `key` in `scope` for a request whose content hashes to `request_hash`.
    pub async fn claim_request_key(&self, scope: &str, key: &str, request_hash: &str) -> StoreResult<KeyClaim> {
        let now = crate::now();
        self.write(Sql::with("DELETE FROM request_keys WHERE created_at < $1", vec![(now - KEPT_FOR).into()])).await?;
        loop {
            let inserted = self
                .write(Sql::with(
                    "INSERT INTO request_keys (scope, key, request_hash, result, created_at) \
                     VALUES ($1, $2, $3, NULL, $4) ON CONFLICT (scope, key) DO NOTHING",
                    vec![scope.into(), key.into(), request_hash.into(), now.into()],
                ))
                .await?;
            if inserted == 1 {
                return Ok(KeyClaim::New);
            }
            let held: Option<(String, Option<String>)> = with_db!(self, c => sqlx::query_as(
                "SELECT request_hash, result FROM request_keys WHERE scope = $1 AND key = $2",
            )
            .bind(scope)
            .bind(key)
            .fetch_optional(c)
            .await)?;
            // None: the request that held the key was refused and released it in between.
            if let Some((hash, result)) = held {
                return Ok(match result {
                    _ if hash != request_hash => KeyClaim::Mismatch,
                    Some(result) => KeyClaim::Done(result),
                    None => KeyClaim::Pending,
                });
            }
        }
    }

    /// Records the result of the request that claimed `key`.
    pub async fn finish_request_key(&self, scope: &str, key: &str, result: &str) -> StoreResult<()> {
        self.write(Sql::with(
            "UPDATE request_keys SET result = $1 WHERE scope = $2 AND key = $3",
            vec![result.into(), scope.into(), key.into()],
        ))
        .await?;
        Ok(())
    }

    /// Forgets `key`: its request certainly placed nothing, so it may be sent again.
    pub async fn release_request_key(&self, scope: &str, key: &str) -> StoreResult<()> {
        self.write(Sql::with(
            "DELETE FROM request_keys WHERE scope = $1 AND key = $2 AND result IS NULL",
            vec![scope.into(), key.into()],
        ))
        .await?;
        Ok(())
    }
}
