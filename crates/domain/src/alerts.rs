//! Alert kinds, severities and states; the quota forecast and the robust usage baseline.
//!
//! The store evaluates the same rules in set-based SQL over the whole fleet; the functions here
//! are their definitions for one SIM (used by the per-SIM API and checked against the SQL by tests).

use crate::sim::string_enum;
use chrono::{Days, NaiveDate};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

string_enum!(
    /// What an alert is about. One rule per kind.
    AlertKind {
        DataQuotaLow = "data_quota_low",
        SmsQuotaLow = "sms_quota_low",
        QuotaExhausted = "quota_exhausted",
        QuotaExpiring = "quota_expiring",
        ForecastExhaustion = "forecast_exhaustion",
        Offline = "offline",
        UsageAnomaly = "usage_anomaly",
        StatusChangedExternally = "status_changed_externally",
        ProviderActionFailed = "provider_action_failed",
        SyncJobFailed = "sync_job_failed",
        SmsReceived = "sms_received",
    }
);

string_enum!(
    /// How urgent an alert is.
    Severity { Info = "info", Warning = "warning", Critical = "critical" }
);

string_enum!(
    /// open → acknowledged → resolved; resolved is final (a returning condition opens a new alert).
    AlertState { Open = "open", Acknowledged = "acknowledged", Resolved = "resolved" }
);

/// Days of usage the forecast averages over.
pub const FORECAST_WINDOW_DAYS: u64 = 14;
/// Days before the evaluated day that form a SIM's usage baseline.
pub const ANOMALY_WINDOW_DAYS: u64 = 28;
/// Fewer stored days than this in the window: no baseline, so no anomaly.
pub const ANOMALY_MIN_DAYS: usize = 7;
/// A day below this many bytes is never an anomaly, however flat the baseline (MAD 0).
pub const ANOMALY_MIN_BYTES: i64 = 1_048_576;
/// The smallest k a rule or query may use: below it, ordinary day-to-day variation would flag
/// about one day in five. Days above median + this × MAD are what the store keeps.
pub const ANOMALY_MIN_K: i64 = 2;

/// A rule's defaults and what its threshold means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleSpec {
    pub kind: AlertKind,
    pub severity: Severity,
    pub threshold: i64,
    /// Unit of `threshold`, shown to users.
    pub threshold_unit: &'static str,
    pub description: &'static str,
    /// Whether the seeded rule is on. `sms_received` starts off: many devices report by SMS
    /// routinely, and an alert per reporting SIM would drown the others.
    pub enabled: bool,
}

impl AlertKind {
    /// The rule seeded for this kind on first start.
    pub fn spec(self) -> RuleSpec {
        use AlertKind::*;
        let (severity, threshold, threshold_unit, description) = match self {
            DataQuotaLow => (Severity::Warning, 20, "percent", "Data quota remaining below N % of its total"),
            SmsQuotaLow => (Severity::Warning, 20, "percent", "SMS quota remaining below N % of its total"),
            QuotaExhausted => (Severity::Critical, 0, "none", "Data or SMS quota used up"),
            QuotaExpiring => (Severity::Warning, 30, "days", "Quota expires within N days (or has expired)"),
            ForecastExhaustion => (
                Severity::Warning,
                14,
                "days",
                "At the average daily use of the last 14 days, the data quota runs out within N days",
            ),
            Offline => (Severity::Warning, 48, "hours", "An active SIM has not been seen on the network for N hours"),
            UsageAnomaly => (
                Severity::Info,
                5,
                "k",
                "Yesterday's data use above median + k × MAD of the 28 days before (and at least 1 MiB)",
            ),
            StatusChangedExternally => {
                (Severity::Info, 24, "hours", "The provider status was changed outside simfleet in the last N hours")
            }
            ProviderActionFailed => {
                (Severity::Warning, 24, "hours", "A provider action failed for the SIM in the last N hours")
            }
            SyncJobFailed => (Severity::Critical, 0, "none", "The latest run of a sync job failed"),
            SmsReceived => (
                Severity::Info,
                24,
                "hours",
                "The device sent an SMS (MO) in the last N hours, as the SMS sync reports",
            ),
        };
        let enabled = self != SmsReceived;
        RuleSpec { kind: self, severity, threshold, threshold_unit, description, enabled }
    }
}

impl AlertState {
    /// The state an acknowledgement leads to, if allowed.
    pub fn acknowledge(self) -> Option<AlertState> {
        (self == AlertState::Open).then_some(AlertState::Acknowledged)
    }

    /// The state a resolution leads to, if allowed.
    pub fn resolve(self) -> Option<AlertState> {
        (self != AlertState::Resolved).then_some(AlertState::Resolved)
    }
}

/// Remaining below `percent` % of `total` (and not yet used up).
pub fn quota_low(remaining: i64, total: Option<i64>, percent: i64) -> bool {
    match total {
        Some(total) if total > 0 => remaining > 0 && (remaining as i128) * 100 < (total as i128) * percent as i128,
        _ => false,
    }
}

/// Where a SIM's data quota is heading.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Forecast {
    /// How the figures were computed.
    pub method: String,
    /// `exhausted`, `no_history`, `no_usage` or `projected`.
    pub status: String,
    pub remaining_bytes: i64,
    /// Days of stored usage the average covers (at most the window).
    pub days_observed: u32,
    /// Average bytes per day over those days.
    pub daily_rate_bytes: f64,
    /// Days until the quota is used up at that rate (0 when already exhausted).
    pub days_left: Option<f64>,
    /// The day the quota runs out at that rate.
    pub exhaustion_date: Option<NaiveDate>,
}

/// Linear forecast: the average daily use over the trailing window (`daily`, one value per
/// stored day, at most [`FORECAST_WINDOW_DAYS`]) continues until `remaining` is used up.
pub fn forecast(remaining: i64, daily: &[i64], today: NaiveDate) -> Forecast {
    let method = format!(
        "linear: remaining bytes divided by the average daily data use over the last {FORECAST_WINDOW_DAYS} days"
    );
    let n = daily.len();
    let sum: i64 = daily.iter().sum();
    let rate = if n == 0 { 0.0 } else { sum as f64 / n as f64 };
    let base = Forecast {
        method,
        status: String::new(),
        remaining_bytes: remaining,
        days_observed: n as u32,
        daily_rate_bytes: rate,
        days_left: None,
        exhaustion_date: None,
    };
    if remaining <= 0 {
        return Forecast { status: "exhausted".into(), days_left: Some(0.0), exhaustion_date: Some(today), ..base };
    }
    if n == 0 {
        return Forecast { status: "no_history".into(), ..base };
    }
    if sum <= 0 {
        return Forecast { status: "no_usage".into(), ..base };
    }
    let days_left = remaining as f64 / rate;
    let date = today.checked_add_days(Days::new(days_left.ceil().min(36_500.0) as u64));
    Forecast { status: "projected".into(), days_left: Some(days_left), exhaustion_date: date, ..base }
}

/// The forecast rule in exact integer form (as the SQL evaluates it): still some quota left,
/// some use, and `remaining / (sum / days_observed) < within_days`.
pub fn exhausts_within(remaining: i64, window_sum: i64, days_observed: i64, within_days: i64) -> bool {
    remaining > 0
        && window_sum > 0
        && (remaining as i128) * (days_observed as i128) < (window_sum as i128) * within_days as i128
}

/// A SIM's robust usage baseline: median and median absolute deviation of its daily use.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct Baseline {
    pub median: f64,
    pub mad: f64,
    pub days: u32,
}

impl Baseline {
    /// `None` with fewer than [`ANOMALY_MIN_DAYS`] values: too little history to judge.
    pub fn of(values: &[i64]) -> Option<Baseline> {
        if values.len() < ANOMALY_MIN_DAYS {
            return None;
        }
        let median = median(values.iter().map(|v| *v as f64).collect());
        let mad = self::median(values.iter().map(|v| (*v as f64 - median).abs()).collect());
        Some(Baseline { median, mad, days: values.len() as u32 })
    }

    pub fn threshold(&self, k: i64) -> f64 {
        self.median + k as f64 * self.mad
    }

    /// A day is an anomaly when it is above the threshold and not negligible.
    pub fn is_anomaly(&self, value: i64, k: i64) -> bool {
        value >= ANOMALY_MIN_BYTES && value as f64 > self.threshold(k)
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: i64 = 1_048_576;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn kinds_round_trip_and_have_specs() {
        for k in AlertKind::ALL {
            assert_eq!(AlertKind::parse(k.as_str()), Some(*k));
            assert!(!k.spec().description.is_empty());
        }
        assert_eq!(AlertKind::DataQuotaLow.spec().threshold, 20);
    }

    #[test]
    fn state_machine() {
        assert_eq!(AlertState::Open.acknowledge(), Some(AlertState::Acknowledged));
        assert_eq!(AlertState::Acknowledged.acknowledge(), None);
        assert_eq!(AlertState::Acknowledged.resolve(), Some(AlertState::Resolved));
        assert_eq!(AlertState::Resolved.resolve(), None);
    }

    #[test]
    fn quota_low_thresholds() {
        assert!(quota_low(19, Some(100), 20));
        assert!(!quota_low(20, Some(100), 20));
        assert!(!quota_low(0, Some(100), 20), "exhausted is its own rule");
        assert!(!quota_low(-5, Some(100), 20));
        assert!(!quota_low(5, None, 20));
        assert!(!quota_low(5, Some(0), 20));
    }

    #[test]
    fn forecast_no_history() {
        let f = forecast(500 * MIB, &[], day("2026-11-22"));
        assert_eq!(f.status, "no_history");
        assert_eq!((f.days_left, f.exhaustion_date), (None, None));
    }

    #[test]
    fn forecast_zero_usage_never_exhausts() {
        let f = forecast(500 * MIB, &[0; 14], day("2026-11-22"));
        assert_eq!(f.status, "no_usage");
        assert_eq!(f.daily_rate_bytes, 0.0);
        assert_eq!(f.exhaustion_date, None);
        assert!(!exhausts_within(500 * MIB, 0, 14, 30));
    }

    #[test]
    fn forecast_flat_usage() {
        // 10 MiB a day, 95 MiB left: 9.5 days, so it runs out on the 10th day from today.
        let f = forecast(95 * MIB, &[10 * MIB; 14], day("2026-11-22"));
        assert_eq!(f.status, "projected");
        assert_eq!(f.daily_rate_bytes, (10 * MIB) as f64);
        assert_eq!(f.days_left, Some(9.5));
        assert_eq!(f.exhaustion_date, Some(day("2026-12-02")));
        assert!(exhausts_within(95 * MIB, 140 * MIB, 14, 10));
        assert!(!exhausts_within(95 * MIB, 140 * MIB, 14, 9));
        // Exactly N days left is not "within" N days.
        assert!(!exhausts_within(100 * MIB, 140 * MIB, 14, 10));
    }

    #[test]
    fn forecast_uses_the_days_observed() {
        // A SIM active for 4 days: 2 MiB a day on average.
        let f = forecast(10 * MIB, &[MIB, 3 * MIB, 2 * MIB, 2 * MIB], day("2026-01-30"));
        assert_eq!(f.days_observed, 4);
        assert_eq!(f.days_left, Some(5.0));
        assert_eq!(f.exhaustion_date, Some(day("2026-02-04")));
        assert!(exhausts_within(10 * MIB, 8 * MIB, 4, 6));
    }

    #[test]
    fn forecast_already_exhausted() {
        let f = forecast(-3, &[MIB; 14], day("2026-11-22"));
        assert_eq!(f.status, "exhausted");
        assert_eq!(f.days_left, Some(0.0));
        assert_eq!(f.exhaustion_date, Some(day("2026-11-22")));
        assert!(!exhausts_within(0, 14 * MIB, 14, 30), "exhausted is its own rule");
    }

    #[test]
    fn baseline_needs_history() {
        assert_eq!(Baseline::of(&[]), None);
        assert_eq!(Baseline::of(&[1, 2, 3, 4, 5, 6]), None);
    }

    #[test]
    fn baseline_median_and_mad_by_hand() {
        // Sorted: 1 1 2 2 4 6 9 → median 2; deviations 1 1 0 0 2 4 7 → sorted 0 0 1 1 2 4 7 → MAD 1.
        let b = Baseline::of(&[1, 2, 4, 1, 6, 2, 9]).unwrap();
        assert_eq!((b.median, b.mad, b.days), (2.0, 1.0, 7));
        assert_eq!(b.threshold(5), 7.0);
        // Even count: median of the two middle values.
        let b = Baseline::of(&[1, 2, 3, 4, 5, 6, 7, 8]).unwrap();
        assert_eq!((b.median, b.mad), (4.5, 2.0));
    }

    #[test]
    fn a_single_spike_is_an_anomaly() {
        // 28 days around 10 MiB; a 100 MiB day stands out, an 11 MiB day does not.
        let window: Vec<i64> = (0..28).map(|i| 10 * MIB + (i % 3 - 1) * MIB / 2).collect();
        let b = Baseline::of(&window).unwrap();
        assert_eq!(b.median, (10 * MIB) as f64);
        assert_eq!(b.mad, (MIB / 2) as f64);
        assert!(b.is_anomaly(100 * MIB, 5));
        assert!(!b.is_anomaly(11 * MIB, 5));
        // The spike inside a window barely moves the robust baseline.
        let mut with_spike = window.clone();
        with_spike[3] = 500 * MIB;
        assert_eq!(Baseline::of(&with_spike).unwrap().median, (10 * MIB) as f64);
    }

    #[test]
    fn flat_and_zero_usage() {
        // Flat usage has MAD 0: any day above it counts, but only from 1 MiB on.
        let flat = Baseline::of(&[2 * MIB; 28]).unwrap();
        assert_eq!(flat.mad, 0.0);
        assert!(flat.is_anomaly(2 * MIB + 1, 5));
        assert!(!flat.is_anomaly(2 * MIB, 5));
        let zero = Baseline::of(&[0; 28]).unwrap();
        assert!(!zero.is_anomaly(MIB - 1, 5));
        assert!(zero.is_anomaly(MIB, 5));
    }
}
