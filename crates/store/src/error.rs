use std::fmt;

/// What went wrong in the store, in terms callers can act on; sqlx stays inside.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The thing asked for does not exist.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A uniqueness or reference rule would be broken. `field` names the column when known.
    #[error("{message}")]
    Conflict { field: Option<&'static str>, message: String },
    /// The request is understood but breaks a rule that depends on stored state
    /// (e.g. a forbidden lifecycle transition, an expired activation code).
    #[error(transparent)]
    Rule(#[from] RuleViolation),
    // No `#[source]`: the message already carries sqlx's, and error chains would repeat it.
    #[error("database error: {0}")]
    Database(sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
    /// The database could not be reached (down, restarting, pool exhausted): worth retrying.
    pub fn is_unreachable(&self) -> bool {
        match self {
            StoreError::Database(sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_)) => true,
            StoreError::Database(err) => is_connection_lost(err),
            _ => false,
        }
    }
}

/// PostgreSQL's answer on a connection it is closing: shut down or restarting (SQLSTATE class
/// 57P, operator intervention) or a broken connection (class 08). A pooled connection is
/// only tested after it sat idle, so the first query after a restart can meet one of these.
fn is_connection_lost(err: &sqlx::Error) -> bool {
    let code = err.as_database_error().and_then(|db| db.code());
    code.is_some_and(|code| code.starts_with("57P") || code.starts_with("08"))
}

/// A domain rule broken by the request given the current state.
#[derive(Debug, thiserror::Error)]
pub enum RuleViolation {
    #[error(transparent)]
    Transition(#[from] simfleet_domain::TransitionError),
    /// A precondition that is not a plain state transition, with the field it concerns.
    #[error("{message}")]
    Precondition { field: Option<&'static str>, message: String },
}

pub type StoreResult<T> = Result<T, StoreError>;

impl StoreError {
    pub fn conflict(field: &'static str, message: impl fmt::Display) -> Self {
        StoreError::Conflict { field: Some(field), message: message.to_string() }
    }

    pub fn precondition(field: Option<&'static str>, message: impl fmt::Display) -> Self {
        StoreError::Rule(RuleViolation::Precondition { field, message: message.to_string() })
    }
}

/// Constraint names and messages as both engines report them, mapped to the field they concern.
const UNIQUE_FIELDS: &[(&str, &str)] = &[
    ("iccid", "iccid"),
    ("msisdn", "msisdn"),
    ("username", "username"),
    ("tariff_plans.name", "name"),
    ("tariff_plans_name", "name"),
    ("code", "code"),
    ("customers_email", "email"),
    ("customers.email", "email"),
    ("email", "email"),
];

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        if let sqlx::Error::RowNotFound = err {
            return StoreError::NotFound("row");
        }
        if let Some(db) = err.as_database_error() {
            let text = format!("{} {}", db.constraint().unwrap_or(""), db.message());
            if db.is_unique_violation() {
                let field = UNIQUE_FIELDS.iter().find(|(needle, _)| text.contains(needle)).map(|(_, f)| *f);
                let message = match field {
                    Some(f) => format!("a record with this {f} already exists"),
                    None => "a record with these values already exists".to_owned(),
                };
                return StoreError::Conflict { field, message };
            }
            if db.is_foreign_key_violation() {
                return StoreError::Conflict {
                    field: None,
                    message: "the record is still referenced, or refers to one that does not exist".to_owned(),
                };
            }
        }
        StoreError::Database(err)
    }
}
