//! authorization.yml

use serde::{Deserialize, Serialize};

/// Request body of `POST /oauth/token`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRequest {
    pub grant_type: String,
}

impl Default for TokenRequest {
    fn default() -> Self {
        TokenRequest { grant_type: "client_credentials".into() }
    }
}

/// `Bearer_Token_200`. The schema says `userId`/`scope`, the example `user_id`/`score`: both
/// are accepted. The token itself is deliberately not `Debug`-printed.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenResponse {
    pub status_code: Option<u16>,
    pub access_token: String,
    pub token_type: Option<String>,
    pub expires_in: Option<u64>,
    #[serde(rename = "userId", alias = "user_id")]
    pub user_id: Option<String>,
    #[serde(alias = "score")]
    pub scope: Option<String>,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("status_code", &self.status_code)
            .field("access_token", &"[redacted]")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("user_id", &self.user_id)
            .field("scope", &self.scope)
            .finish()
    }
}

/// `Bearer_Token_400`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenError {
    pub status_code: Option<u16>,
    pub error_code: Option<String>,
    pub message: Option<String>,
}
