//! Users, login tokens and API keys. Only hashes of credentials are stored.

use crate::db::{with_db, with_tx, Store};
use crate::error::{StoreError, StoreResult};
use crate::model::{ApiKey, Principal, User};
use crate::sql::Sql;
use chrono::{DateTime, TimeDelta, Utc};
use simfleet_domain::Role;
use std::time::Duration;

#[derive(sqlx::FromRow)]
struct UserRow {
    id: i64,
    username: String,
    role: String,
    password_hash: String,
    failed_logins: i32,
    locked_until: Option<DateTime<Utc>>,
    last_login_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
}

impl From<UserRow> for User {
    fn from(r: UserRow) -> Self {
        User {
            id: r.id,
            username: r.username,
            role: Role::parse(&r.role).unwrap_or(Role::Viewer),
            password_hash: r.password_hash,
            failed_logins: r.failed_logins,
            locked_until: r.locked_until,
            last_login_at: r.last_login_at,
            created_at: r.created_at,
        }
    }
}

const USER_COLUMNS: &str = "id, username, role, password_hash, failed_logins, locked_until, last_login_at, created_at";

#[derive(sqlx::FromRow)]
struct ApiKeyRow {
    id: i64,
    user_id: i64,
    username: String,
    name: String,
    prefix: String,
    role: String,
    created_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
    last_used_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
}

impl From<ApiKeyRow> for ApiKey {
    fn from(r: ApiKeyRow) -> Self {
        ApiKey {
            id: r.id,
            user_id: r.user_id,
            username: r.username,
            name: r.name,
            prefix: r.prefix,
            role: Role::parse(&r.role).unwrap_or(Role::Viewer),
            created_at: r.created_at,
            expires_at: r.expires_at,
            last_used_at: r.last_used_at,
            revoked_at: r.revoked_at,
        }
    }
}

const KEY_COLUMNS: &str =
    "k.id, k.user_id, u.username, k.name, k.prefix, k.role, k.created_at, k.expires_at, k.last_used_at, k.revoked_at \
    FROM api_keys k JOIN users u ON u.id = k.user_id";

/// key id, key name, user id, username, user role, key role, last used, expiry.
type KeyOwnerRow = (i64, String, i64, String, String, String, Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// How stale `api_keys.last_used_at` may get: one write per key per minute, not per request.
const LAST_USED_RESOLUTION: TimeDelta = TimeDelta::minutes(1);

impl Store {
    pub async fn create_user(&self, username: &str, password_hash: &str, role: Role) -> StoreResult<User> {
        let now = crate::now();
        let mut tx = self.begin().await?;
        with_tx!(&mut tx, c => sqlx::query(
            "INSERT INTO users (username, password_hash, role, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)",
        )
        .bind(username)
        .bind(password_hash)
        .bind(role.as_str())
        .bind(now)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected()))?;
        tx.commit().await?;
        self.user_by_name(username).await?.ok_or(StoreError::NotFound("user"))
    }

    pub async fn user_by_name(&self, username: &str) -> StoreResult<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE username = $1");
        let row: Option<UserRow> = with_db!(self, c => sqlx::query_as(&sql).bind(username).fetch_optional(c).await)?;
        Ok(row.map(Into::into))
    }

    pub async fn list_users(&self) -> StoreResult<Vec<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY username");
        let rows: Vec<UserRow> = with_db!(self, c => sqlx::query_as(&sql).fetch_all(c).await)?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    pub async fn count_users(&self) -> StoreResult<i64> {
        Ok(with_db!(self, c => sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(c).await)?)
    }

    /// Changes a user's role and/or password hash.
    pub async fn update_user(
        &self,
        username: &str,
        role: Option<Role>,
        password_hash: Option<&str>,
    ) -> StoreResult<User> {
        let sql = Sql::with(
            "UPDATE users SET role = COALESCE($1, role), password_hash = COALESCE($2, password_hash), \
             failed_logins = 0, locked_until = NULL, updated_at = $3 WHERE username = $4",
            vec![
                role.map(|r| r.as_str().to_owned()).into(),
                password_hash.map(str::to_owned).into(),
                crate::now().into(),
                username.into(),
            ],
        );
        let changed = self.write(sql).await?;
        self.principals.clear();
        if changed == 0 {
            return Err(StoreError::NotFound("user"));
        }
        self.user_by_name(username).await?.ok_or(StoreError::NotFound("user"))
    }

    /// Deletes a user with its tokens and API keys.
    pub async fn delete_user(&self, username: &str) -> StoreResult<()> {
        let deleted = self.write(Sql::with("DELETE FROM users WHERE username = $1", vec![username.into()])).await?;
        self.principals.clear();
        if deleted == 0 {
            return Err(StoreError::NotFound("user"));
        }
        Ok(())
    }

    /// Counts a failed login; after `max_failures` in a row the account is locked for `lock_for`.
    pub async fn record_login_failure(&self, user_id: i64, max_failures: i32, lock_for: TimeDelta) -> StoreResult<()> {
        let now = crate::now();
        let sql = Sql::with(
            "UPDATE users SET failed_logins = CASE WHEN failed_logins + 1 >= $1 THEN 0 ELSE failed_logins + 1 END, \
             locked_until = CASE WHEN failed_logins + 1 >= $1 THEN $2 ELSE locked_until END WHERE id = $3",
            vec![i64::from(max_failures).into(), (now + lock_for).into(), user_id.into()],
        );
        self.write(sql).await?;
        Ok(())
    }

    pub async fn record_login_success(&self, user_id: i64) -> StoreResult<()> {
        let sql = Sql::with(
            "UPDATE users SET failed_logins = 0, locked_until = NULL, last_login_at = $1 WHERE id = $2",
            vec![crate::now().into(), user_id.into()],
        );
        self.write(sql).await?;
        Ok(())
    }

    pub async fn create_login_token(
        &self,
        user_id: i64,
        token_hash: &str,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let now = crate::now();
        // Expired tokens are removed here, so the table never grows past the live sessions.
        let mut tx = self.begin().await?;
        with_tx!(&mut tx, c => sqlx::query("DELETE FROM auth_tokens WHERE expires_at <= $1").bind(now).execute(&mut *c).await.map(|r| r.rows_affected()))?;
        with_tx!(&mut tx, c => sqlx::query("INSERT INTO auth_tokens (user_id, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(user_id).bind(token_hash).bind(now).bind(expires_at).execute(&mut *c).await.map(|r| r.rows_affected()))?;
        tx.commit().await
    }

    pub async fn delete_login_token(&self, token_hash: &str) -> StoreResult<()> {
        self.write(Sql::with("DELETE FROM auth_tokens WHERE token_hash = $1", vec![token_hash.into()])).await?;
        self.principals.clear();
        Ok(())
    }

    /// The user a live login token belongs to; an answer up to `max_age` old will do
    /// (zero: ask the database).
    pub async fn principal_for_login_token(
        &self,
        token_hash: &str,
        max_age: Duration,
    ) -> StoreResult<Option<Principal>> {
        let generation = match self.principals.lookup(token_hash, max_age) {
            Ok(cached) => return Ok(Some(cached)),
            Err(generation) => generation,
        };
        let row: Option<(i64, String, String, DateTime<Utc>)> = with_db!(self, c => sqlx::query_as(
            "SELECT u.id, u.username, u.role, t.expires_at FROM auth_tokens t JOIN users u ON u.id = t.user_id \
             WHERE t.token_hash = $1 AND t.expires_at > $2",
        )
        .bind(token_hash)
        .bind(crate::now())
        .fetch_optional(c)
        .await)?;
        let Some((user_id, username, role, expires_at)) = row else {
            return Ok(None);
        };
        let principal =
            Principal { user_id, username, role: Role::parse(&role).unwrap_or(Role::Viewer), api_key: None };
        self.principals.put(token_hash, &principal, Some(expires_at), generation);
        Ok(Some(principal))
    }

    /// The user and role of a live, unrevoked API key, with an answer up to `max_age` old
    /// (zero: ask the database); notes when it was used. A key never acts with more rights
    /// than its owner has now.
    pub async fn principal_for_api_key(&self, key_hash: &str, max_age: Duration) -> StoreResult<Option<Principal>> {
        let generation = match self.principals.lookup(key_hash, max_age) {
            Ok(cached) => return Ok(Some(cached)),
            Err(generation) => generation,
        };
        let now = crate::now();
        let row: Option<KeyOwnerRow> = with_db!(self, c => sqlx::query_as(
            "SELECT k.id, k.name, u.id, u.username, u.role, k.role, k.last_used_at, k.expires_at \
             FROM api_keys k JOIN users u ON u.id = k.user_id \
             WHERE k.key_hash = $1 AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > $2)",
        )
        .bind(key_hash)
        .bind(now)
        .fetch_optional(c)
        .await)?;
        let Some((key_id, key_name, user_id, username, user_role, key_role, last_used, expires_at)) = row else {
            return Ok(None);
        };
        if last_used.is_none_or(|t| now - t >= LAST_USED_RESOLUTION) {
            self.write(Sql::with(
                "UPDATE api_keys SET last_used_at = $1 WHERE id = $2",
                vec![now.into(), key_id.into()],
            ))
            .await?;
        }
        let user_role = Role::parse(&user_role).unwrap_or(Role::Viewer);
        let key_role = Role::parse(&key_role).unwrap_or(Role::Viewer);
        let principal =
            Principal { user_id, username, role: user_role.min(key_role), api_key: Some((key_id, key_name)) };
        self.principals.put(key_hash, &principal, expires_at, generation);
        Ok(Some(principal))
    }

    pub async fn create_api_key(
        &self,
        user_id: i64,
        name: &str,
        prefix: &str,
        key_hash: &str,
        role: Role,
        expires_at: Option<DateTime<Utc>>,
    ) -> StoreResult<ApiKey> {
        let mut tx = self.begin().await?;
        let id: i64 = with_tx!(&mut tx, c => sqlx::query_scalar(
            "INSERT INTO api_keys (user_id, name, prefix, key_hash, role, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(user_id)
        .bind(name)
        .bind(prefix)
        .bind(key_hash)
        .bind(role.as_str())
        .bind(crate::now())
        .bind(expires_at)
        .fetch_one(&mut *c)
        .await)?;
        tx.commit().await?;
        self.get_api_key(id).await
    }

    pub async fn get_api_key(&self, id: i64) -> StoreResult<ApiKey> {
        let sql = format!("SELECT {KEY_COLUMNS} WHERE k.id = $1");
        let row: Option<ApiKeyRow> = with_db!(self, c => sqlx::query_as(&sql).bind(id).fetch_optional(c).await)?;
        row.map(Into::into).ok_or(StoreError::NotFound("API key"))
    }

    /// API keys, all of them or those of one user, newest first.
    pub async fn list_api_keys(&self, user_id: Option<i64>) -> StoreResult<Vec<ApiKey>> {
        let sql = format!("SELECT {KEY_COLUMNS} WHERE ($1 IS NULL OR k.user_id = $1) ORDER BY k.id DESC");
        let rows: Vec<ApiKeyRow> = with_db!(self, c => sqlx::query_as(&sql).bind(user_id).fetch_all(c).await)?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    pub async fn revoke_api_key(&self, id: i64) -> StoreResult<ApiKey> {
        let sql = Sql::with(
            "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2",
            vec![crate::now().into(), id.into()],
        );
        let revoked = self.write(sql).await?;
        self.principals.clear();
        if revoked == 0 {
            return Err(StoreError::NotFound("API key"));
        }
        self.get_api_key(id).await
    }
}
