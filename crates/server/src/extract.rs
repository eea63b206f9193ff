//! Request extractors whose rejections are problem+json, not axum's plain text.

use crate::error::ApiError;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

/// A required JSON body.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Body(v)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

/// A JSON body that may be left out entirely (then `T::default()`).
pub struct OptionalBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for OptionalBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = axum::body::Bytes::from_request(req, state).await.map_err(|_| ApiError::PayloadTooLarge)?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalBody(T::default()));
        }
        serde_json::from_slice(&bytes).map(OptionalBody).map_err(|e| json_error(&e))
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => {
            ApiError::BadRequest("send the body as JSON with `Content-Type: application/json`".into())
        }
        JsonRejection::JsonDataError(e) => ApiError::BadRequest(source_text(&e)),
        JsonRejection::JsonSyntaxError(e) => ApiError::BadRequest(source_text(&e)),
        JsonRejection::BytesRejection(_) => ApiError::PayloadTooLarge,
        other => ApiError::BadRequest(other.body_text()),
    }
}

fn source_text(e: &dyn std::error::Error) -> String {
    let inner = std::error::Error::source(e).map(|s| s.to_string()).unwrap_or_else(|| e.to_string());
    format!("invalid JSON body: {inner}")
}

fn json_error(e: &serde_json::Error) -> ApiError {
    ApiError::BadRequest(format!("invalid JSON body: {e}"))
}

/// Query parameters.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Query(v)),
            Err(QueryRejection::FailedToDeserializeQueryString(e)) => Err(ApiError::BadRequest(format!(
                "invalid query parameters: {}",
                source_text(&e).trim_start_matches("invalid JSON body: ")
            ))),
            Err(other) => Err(ApiError::BadRequest(other.body_text())),
        }
    }
}

/// Deserialises a field that distinguishes "absent" (`None`) from `null` (`Some(None)`).
pub fn double_option<'de, T, D>(de: D) -> Result<Option<Option<T>>, D::Error>
where
    T: serde::Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    serde::Deserialize::deserialize(de).map(Some)
}

/// A JSON response body. Serialises into one pre-sized buffer: axum's `Json` writes through
/// `BytesMut` in many small pieces, which dominated the cost of large list pages.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T: serde::Serialize> axum::response::IntoResponse for Json<T> {
    fn into_response(self) -> axum::response::Response {
        let mut buf = Vec::with_capacity(8 * 1024);
        match serde_json::to_writer(&mut buf, &self.0) {
            Ok(()) => ([(axum::http::header::CONTENT_TYPE, "application/json")], buf).into_response(),
            Err(e) => ApiError::Internal(anyhow::anyhow!("cannot serialise the response: {e}")).into_response(),
        }
    }
}
