//! sim-management-v2.yml schemas (those that differ from v1).

use serde::{Deserialize, Serialize};

use super::sims::SimStatus;
use crate::volume::{mb_number_to_bytes, VolumeError};

/// `SimsSim` has exactly the fields of v1's `SIM_card`.
pub type SimV2 = super::sims::Sim;

/// `SimsSimUpdateReq`: every field optional.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimUpdateV2 {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iccid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub imei_lock: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<SimStatus>,
}

/// `{id, description}` pairs used all over v2.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdDescription {
    pub id: Option<i64>,
    pub description: Option<String>,
}

/// `SimsQuota`: data in MB (1 MB = 1024 KB), SMS in messages; `volume` can be negative.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct QuotaV2 {
    pub id: Option<i64>,
    /// 0 EXHAUSTED, 1 ACTIVE, 2 EXPIRED.
    pub status: Option<IdDescription>,
    pub volume: Option<f64>,
    pub total_volume: Option<f64>,
    pub accumulated_total_volume: Option<f64>,
    pub last_volume_added: Option<f64>,
    /// `sms` or `data`.
    pub service: Option<String>,
    pub threshold_percentage: Option<i64>,
    pub threshold_volume: Option<f64>,
    pub expiry_date: Option<String>,
    pub created_at: Option<String>,
}

impl QuotaV2 {
    pub fn volume_bytes(&self) -> Option<Result<i64, VolumeError>> {
        self.volume.map(mb_number_to_bytes)
    }
    pub fn total_volume_bytes(&self) -> Option<Result<i64, VolumeError>> {
        self.total_volume.map(mb_number_to_bytes)
    }
    pub fn accumulated_total_volume_bytes(&self) -> Option<Result<i64, VolumeError>> {
        self.accumulated_total_volume.map(mb_number_to_bytes)
    }
}

/// `SimsConnectivityStatus` / `SimsDataTrafficLimitState`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Described {
    pub description: Option<String>,
}

/// `SimsLocation.operator.country`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountryRef {
    pub id: Option<i64>,
    pub name: Option<String>,
    pub iso_code: Option<String>,
}

/// `SimsLocation.operator`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorV2 {
    pub id: Option<i64>,
    pub name: Option<String>,
    pub mnc: Option<String>,
    pub country: Option<CountryRef>,
}

/// `SimsLocation.country`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocationCountryV2 {
    pub country_id: Option<String>,
    pub name: Option<String>,
    pub country_code: Option<String>,
    pub mcc: Option<String>,
    pub iso_code: Option<String>,
}

/// `SimsLocation`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocationV2 {
    pub iccid: Option<String>,
    pub imsi: Option<String>,
    pub last_updated: Option<String>,
    pub sgsn_number: Option<String>,
    pub vlr_number: Option<String>,
    pub operator_id: Option<String>,
    pub msc: Option<String>,
    pub sgsn_ip_address: Option<String>,
    pub mme_name: Option<String>,
    pub mme_realm: Option<String>,
    pub sgsn_name: Option<String>,
    pub sgsn_realm: Option<String>,
    pub operator: Option<OperatorV2>,
    pub country: Option<LocationCountryV2>,
}

/// `gtp_v1_uli`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GtpV1Uli {
    pub lac: Option<String>,
    pub ci: Option<String>,
    pub sac: Option<String>,
    pub rac: Option<String>,
}

/// `{lac, ci}` / `{lac, sac}` / `{lac, rac}` parts of `gtp_v2_uli`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AreaId {
    pub lac: Option<String>,
    pub ci: Option<String>,
    pub sac: Option<String>,
    pub rac: Option<String>,
}

/// `gtp_v2_uli`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GtpV2Uli {
    pub cgi: Option<AreaId>,
    pub sai: Option<AreaId>,
    pub rai: Option<AreaId>,
    pub tac: Option<String>,
    pub eci: Option<String>,
    pub lac: Option<String>,
    pub menbi: Option<String>,
    pub emenbi: Option<String>,
}

/// `SimsPdpContext`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PdpContextV2 {
    pub pdp_context_id: Option<String>,
    pub endpoint_id: Option<String>,
    pub tariff_id: Option<String>,
    pub ratezone_id: Option<String>,
    pub organisation_id: Option<String>,
    pub imsi_id: Option<String>,
    pub imsi: Option<String>,
    pub sim_id: Option<String>,
    pub tx_teid_data_plane: Option<String>,
    pub tx_teid_control_plane: Option<String>,
    pub rx_teid: Option<String>,
    pub rx_teid_data_plane: Option<String>,
    pub rx_teid_control_plane: Option<String>,
    pub gtp_version: Option<String>,
    pub nsapi: Option<String>,
    pub sgsn_control_plane_ip_address: Option<String>,
    pub sgsn_data_plane_ip_address: Option<String>,
    pub ggsn_control_plane_ip_address: Option<String>,
    pub ggsn_data_plane_ip_address: Option<String>,
    pub created: Option<String>,
    pub mcc: Option<String>,
    pub mnc: Option<String>,
    pub operator_id: Option<String>,
    pub lac: Option<String>,
    pub ci: Option<String>,
    pub sac: Option<String>,
    pub rac: Option<String>,
    pub gtp_v1_uli: Option<GtpV1Uli>,
    pub gtp_v2_uli: Option<GtpV2Uli>,
    pub ue_ip_address: Option<String>,
    pub imeisv: Option<String>,
    pub rat_type: Option<super::sims::RatType>,
    pub region: Option<String>,
    pub apn: Option<String>,
    pub ipcan_session_id: Option<String>,
}

/// `SimsConnectivityDetail`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectivityDetail {
    /// `ONLINE`, `ATTACHED`, `OFFLINE`, `BLOCKED`.
    pub status: Option<Described>,
    /// `REACHED` / `NOT_REACHED`.
    pub data_traffic_limit_state: Option<Described>,
    pub location: Option<LocationV2>,
    pub pdp_contexts: Option<Vec<PdpContextV2>>,
    pub services: Option<Vec<String>>,
}

/// `SimsSms.endpoint`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointRef {
    pub id: Option<i64>,
    pub name: Option<String>,
}

/// `SimsSms.source_address_type`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceAddressTypeV2 {
    pub description: Option<String>,
    pub id: Option<i64>,
}

/// `SimsSms`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmsV2 {
    pub submit_date: Option<String>,
    pub delivery_date: Option<String>,
    pub expiry_date: Option<String>,
    pub final_date: Option<String>,
    pub retry_date: Option<String>,
    pub last_delivery_attempt: Option<String>,
    pub retry_count: Option<i64>,
    pub gsm_map_error: Option<String>,
    pub dcs: Option<i64>,
    pub pid: Option<i64>,
    pub source_address: Option<String>,
    pub endpoint: Option<EndpointRef>,
    pub sim_id: Option<i64>,
    pub iccid: Option<String>,
    pub msisdn: Option<String>,
    pub imsi: Option<String>,
    pub msc: Option<i64>,
    pub udh: Option<String>,
    pub payload: Option<String>,
    pub id: Option<i64>,
    /// 4 DELIVERED, 5 FAILED, 2 PENDING, 6 EXPIRED.
    pub status: Option<IdDescription>,
    /// 1 MT, 2 MO.
    pub sms_type: Option<IdDescription>,
    pub source_address_type: Option<SourceAddressTypeV2>,
}

/// `SMSMessage` (v2 request body; identical fields to v1).
pub type SmsMessageV2 = super::sims::SmsMessage;

/// `EndpointCreateSmsResponse`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateSmsResponse {
    pub id: Option<String>,
}

/// `DeleteItemResponse`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteItemResponse {
    pub id: Option<String>,
}

/// `Event.endpoint`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventEndpoint {
    pub id: Option<i64>,
    pub name: Option<String>,
    pub ip_address: Option<String>,
    pub imei: Option<String>,
}

/// `Event.sim`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventSim {
    pub id: Option<i64>,
    pub iccid: Option<String>,
    pub msisdn: Option<String>,
}

/// `Event.imsi`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventImsi {
    pub id: Option<i64>,
    pub imsi: Option<String>,
}

/// `Event.organisation`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organisation {
    pub id: Option<i64>,
    pub name: Option<String>,
}

/// `Event` (v2). `detail` is a `oneOf` of four loosely-typed objects; it is kept as JSON.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EventV2 {
    pub id: Option<i64>,
    pub event_type: Option<IdDescription>,
    pub timestamp: Option<String>,
    pub alert: Option<bool>,
    pub user: Option<String>,
    pub description: Option<String>,
    pub event_source: Option<IdDescription>,
    pub event_severity: Option<IdDescription>,
    pub organisation: Option<Organisation>,
    pub endpoint: Option<EventEndpoint>,
    pub sim: Option<EventSim>,
    pub imsi: Option<EventImsi>,
    pub detail: Option<serde_json::Value>,
}

/// `v2` error bodies (`NotFound`, `BadRequest`, `Conflict`, `InternalServerError`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ErrorV2 {
    pub error_code: Option<f64>,
    pub error_token: Option<String>,
    pub message: Option<String>,
}
