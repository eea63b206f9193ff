//! support-management.yml schemas.

use serde::{Deserialize, Serialize};

/// `Communication`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Communication {
    pub communication_date: Option<String>,
    /// `IN` / `OUT`.
    pub direction: Option<String>,
    pub id: Option<String>,
    pub originator: Option<String>,
    pub subject: Option<String>,
    pub text: Option<String>,
    /// PORTAL, PHONE_IN, PHONE_OUT, MAIL_IN, MAIL_OUT.
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

/// `ManagementApiServiceRequest` (request of `POST /v1/support`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewServiceRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_to_mail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sender_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// `Service_request`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceRequest {
    pub case_id: Option<String>,
    pub communications: Option<Vec<Communication>>,
    pub create_date: Option<String>,
    pub solved_date: Option<String>,
    /// OPEN, IN_PROGRESS, CLOSED.
    pub status: Option<String>,
    pub subject: Option<String>,
    pub text: Option<String>,
}
