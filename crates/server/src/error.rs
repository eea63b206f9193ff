//! One error type for the whole HTTP layer, rendered as RFC 9457 `application/problem+json`.
//!
//! Every error kind has a stable `type` URI so that scripts can branch on it. Server-side
//! failures are logged once here and never leak internals to the client.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use simfleet_store::{RuleViolation, StoreError};
use utoipa::ToSchema;

pub const PROBLEM_JSON: &str = "application/problem+json";
const TYPE_BASE: &str = "https://simfleet.dev/problems/";

/// A field that failed validation, and why.
#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// Stable identifier of the error kind, e.g. `https://simfleet.dev/problems/invalid-transition`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// For `invalid-transition`: the SIM's current state and the actions it allows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_actions: Option<Vec<String>>,
    /// For `sim-expired`: the endpoint that extends the SIM (the only change the provider accepts).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extension_endpoint: Option<String>,
}

#[derive(Debug)]
pub enum ApiError {
    /// The body is not valid JSON or does not have the expected shape.
    BadRequest(String),
    /// Well-formed input with invalid values, per field.
    Validation(Vec<FieldError>),
    Unauthorized(String),
    Forbidden(String),
    NotFound(String),
    Conflict {
        detail: String,
        field: Option<String>,
    },
    Transition(simfleet_domain::TransitionError),
    /// Input valid on its own but not in the current state of things.
    Unprocessable {
        detail: String,
        field: Option<String>,
    },
    TooManyRequests {
        detail: String,
        retry_after_secs: u64,
    },
    PayloadTooLarge,
    Unavailable(String),
    /// The provider refused or failed a request made on the spot; `slug` names why
    /// (`sim-expired`, `sim-not-owned`, `invalid-payment-method`, `provider-rejected`,
    /// `provider-unavailable`).
    Provider {
        status: StatusCode,
        slug: &'static str,
        title: &'static str,
        detail: String,
        field: Option<&'static str>,
    },
    Internal(anyhow::Error),
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        ApiError::Validation(vec![FieldError { field: field.into(), message: message.into() }])
    }

    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        use ApiError::*;
        match self {
            BadRequest(_) => (StatusCode::BAD_REQUEST, "bad-request", "Malformed request"),
            Validation(_) => (StatusCode::UNPROCESSABLE_ENTITY, "validation", "Invalid input"),
            Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized", "Authentication required"),
            Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", "Not allowed for your role"),
            NotFound(_) => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            Conflict { .. } => (StatusCode::CONFLICT, "conflict", "Conflict with existing data"),
            Transition(_) => (StatusCode::CONFLICT, "invalid-transition", "Lifecycle action not allowed"),
            Unprocessable { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "precondition", "Action not possible"),
            TooManyRequests { .. } => (StatusCode::TOO_MANY_REQUESTS, "too-many-requests", "Too many requests"),
            PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large", "Request body too large"),
            Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", "Service unavailable"),
            Provider { status, slug, title, .. } => (*status, slug, title),
            Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal", "Internal server error"),
        }
    }

    pub fn problem(&self) -> Problem {
        let (status, slug, title) = self.parts();
        let mut p = Problem {
            kind: format!("{TYPE_BASE}{slug}"),
            title: title.into(),
            status: status.as_u16(),
            detail: String::new(),
            errors: Vec::new(),
            current_status: None,
            allowed_actions: None,
            extension_endpoint: None,
        };
        use ApiError::*;
        match self {
            BadRequest(d) | Unauthorized(d) | Forbidden(d) | NotFound(d) | Unavailable(d) => p.detail = d.clone(),
            Validation(errors) => {
                p.detail = errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; ");
                p.errors = errors.clone();
            }
            Conflict { detail, field } | Unprocessable { detail, field } => {
                p.detail = detail.clone();
                if let Some(f) = field {
                    p.errors = vec![FieldError { field: f.clone(), message: detail.clone() }];
                }
            }
            Transition(e) => {
                let allowed: Vec<String> = e.allowed.iter().map(|a| a.as_str().to_owned()).collect();
                p.detail = format!(
                    "{e}; allowed from {}: {}",
                    e.current,
                    if allowed.is_empty() { "none (terminal state)".to_owned() } else { allowed.join(", ") }
                );
                p.current_status = Some(e.current.as_str().to_owned());
                p.allowed_actions = Some(allowed);
            }
            TooManyRequests { detail, .. } => p.detail = detail.clone(),
            Provider { detail, field, slug, .. } => {
                p.detail = detail.clone();
                if let Some(f) = field {
                    p.errors = vec![FieldError { field: (*f).into(), message: detail.clone() }];
                }
                if *slug == "sim-expired" {
                    p.extension_endpoint = Some("/api/v1/sims/extension".into());
                }
            }
            PayloadTooLarge => p.detail = "the request body exceeds the allowed size".into(),
            Internal(_) => p.detail = "an unexpected error occurred; it has been logged".into(),
        }
        p
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(err) = &self {
            tracing::error!(error = format!("{err:#}"), "request failed");
        }
        let problem = self.problem();
        let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut res = (status, serde_json::to_string(&problem).unwrap_or_default()).into_response();
        res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let ApiError::TooManyRequests { retry_after_secs, .. } = self {
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
        }
        if matches!(self, ApiError::Unauthorized(_)) {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if matches!(self, ApiError::PayloadTooLarge) {
            // The rest of the body is not read, so the connection cannot carry another request:
            // saying so keeps a client from sending its next request on it.
            res.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        res
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => ApiError::NotFound(format!("{what} not found")),
            StoreError::Conflict { field, message } => {
                ApiError::Conflict { detail: message, field: field.map(Into::into) }
            }
            StoreError::Rule(RuleViolation::Transition(t)) => ApiError::Transition(t),
            StoreError::Rule(RuleViolation::Precondition { field, message }) => {
                ApiError::Unprocessable { detail: message, field: field.map(Into::into) }
            }
            e if e.is_unreachable() => {
                tracing::warn!(error = %e, "database unreachable");
                ApiError::Unavailable("the database is unreachable; try again shortly".into())
            }
            other => ApiError::Internal(other.into()),
        }
    }
}

impl From<anyhow::Error> for ApiError {
    /// Provider and store errors keep their meaning through `anyhow`.
    fn from(e: anyhow::Error) -> Self {
        let e = match e.downcast::<simfleet_sync::onence::Error>() {
            Ok(provider) => return provider.into(),
            Err(e) => e,
        };
        match e.downcast::<StoreError>() {
            Ok(store) => store.into(),
            Err(e) => ApiError::Internal(e),
        }
    }
}

impl From<simfleet_sync::onence::Error> for ApiError {
    fn from(e: simfleet_sync::onence::Error) -> Self {
        let detail = format!("the provider answered: {e}");
        if e.is_transient() {
            return ApiError::Provider {
                status: StatusCode::SERVICE_UNAVAILABLE,
                slug: "provider-unavailable",
                title: "Provider unavailable",
                detail,
                field: None,
            };
        }
        let (status, slug, title, field) = match simfleet_sync::refusal_kind(&e) {
            "sim-expired" => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "sim-expired",
                "SIM expired at the provider: only an extension is possible",
                None,
            ),
            "sim-not-owned" => {
                (StatusCode::UNPROCESSABLE_ENTITY, "sim-not-owned", "SIM does not belong to the provider account", None)
            }
            "invalid-payment-method" => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-payment-method",
                "Payment method refused by the provider",
                Some("payment_method"),
            ),
            "provider-not-found" => (StatusCode::NOT_FOUND, "provider-not-found", "Not found at the provider", None),
            _ => (StatusCode::UNPROCESSABLE_ENTITY, "provider-rejected", "Refused by the provider", None),
        };
        ApiError::Provider { status, slug, title, detail, field }
    }
}

/// Collects field errors so that a client learns about every bad field at once.
#[derive(Debug, Default)]
pub struct Validator {
    errors: Vec<FieldError>,
}

impl Validator {
    pub fn add(&mut self, field: &str, message: impl std::fmt::Display) {
        self.errors.push(FieldError { field: field.into(), message: message.to_string() });
    }

    /// Runs `parse` on a present value, recording its error under `field`.
    pub fn check<T, E: std::fmt::Display>(
        &mut self,
        field: &str,
        value: Option<&str>,
        parse: impl Fn(&str) -> Result<T, E>,
    ) -> Option<T> {
        match value.map(&parse) {
            Some(Ok(v)) => Some(v),
            Some(Err(e)) => {
                self.add(field, e);
                None
            }
            None => None,
        }
    }

    pub fn finish(self) -> ApiResult<()> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(self.errors))
        }
    }
}
