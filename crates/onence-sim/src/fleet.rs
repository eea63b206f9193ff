//! Deterministic fleet generation: identifiers, profiles, connectivity and the daily usage model.
//!
//! SIM records are materialised once at start (a few hundred bytes each); the usage history is
//! never stored but recomputed on demand from `(seed, sim index, day)`.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::rng::{below, hash, luhn_digit, unit};

/// Data volumes are kept in millionths of a megabyte ("µMB") so that the decimal MB strings of
/// the API (six decimals) are exact and sums never drift.
pub const UMB_PER_MB: u64 = 1_000_000;
/// Default lifetime data quota (MB) and SMS quota of a 1NCE Lifetime Flat SIM.
pub const DEFAULT_DATA_MB: u64 = 500;
pub const DEFAULT_SMS: u64 = 250;

const SALT_ID: u64 = 1;
const SALT_PROFILE: u64 = 2;
const SALT_DAY: u64 = 3;
const SALT_CONN: u64 = 4;
const SALT_MISC: u64 = 5;

/// How busy a device is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    Idle,
    Normal,
    Heavy,
}

/// Administrative status of a SIM (the API's `Enabled` / `Disabled`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SimStatus {
    Enabled,
    Disabled,
}

impl SimStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SimStatus::Enabled => "Enabled",
            SimStatus::Disabled => "Disabled",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "Enabled" => Some(SimStatus::Enabled),
            "Disabled" => Some(SimStatus::Disabled),
            _ => None,
        }
    }
}

/// Network attachment state (the API's `ONLINE` / `ATTACHED` / `OFFLINE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum LinkState {
    Online,
    Attached,
    Offline,
}

impl LinkState {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkState::Online => "ONLINE",
            LinkState::Attached => "ATTACHED",
            LinkState::Offline => "OFFLINE",
        }
    }
}

/// A visited network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Operator {
    pub id: u32,
    pub name: &'static str,
    pub mcc: &'static str,
    pub mnc: &'static str,
    pub country: &'static str,
    pub country_id: u32,
    pub iso: &'static str,
    pub country_code: &'static str,
}

pub const OPERATORS: [Operator; 5] = [
    Operator {
        id: 2,
        name: "Telekom Deutschland",
        mcc: "262",
        mnc: "01",
        country: "Germany",
        country_id: 74,
        iso: "de",
        country_code: "49",
    },
    Operator {
        id: 3,
        name: "Vodafone DE",
        mcc: "262",
        mnc: "02",
        country: "Germany",
        country_id: 74,
        iso: "de",
        country_code: "49",
    },
    Operator {
        id: 11,
        name: "Vodafone UK",
        mcc: "234",
        mnc: "15",
        country: "United Kingdom",
        country_id: 210,
        iso: "gb",
        country_code: "44",
    },
    Operator {
        id: 17,
        name: "T-Mobile USA",
        mcc: "310",
        mnc: "260",
        country: "United States",
        country_id: 211,
        iso: "us",
        country_code: "1",
    },
    Operator {
        id: 23,
        name: "Orange",
        mcc: "208",
        mnc: "01",
        country: "France",
        country_id: 67,
        iso: "fr",
        country_code: "33",
    },
];

/// Connectivity of one SIM as seen by the core network.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Connectivity {
    pub state: LinkState,
    pub last_seen: DateTime<Utc>,
    pub operator: Operator,
    pub lac: u32,
    pub cell_id: u32,
    pub rat: &'static str,
}

/// A lifetime quota. Data amounts are in µMB ([`UMB_PER_MB`]), SMS amounts in messages.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Quota {
    /// Sum of the initial volume and all top-ups (v2 `accumulated_total_volume`).
    pub accumulated: u64,
    /// v2 `total_volume`: initial volume, or the remaining volume at the last top-up plus the top-up.
    pub total: i64,
    pub last_added: u64,
    pub threshold_percentage: u8,
    pub expiry: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub last_change: DateTime<Utc>,
}

/// One SIM of the simulated account. Everything here is mutable state; usage is not stored.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SimRecord {
    pub index: usize,
    /// 19 digits, without check digit, as the API's `iccid`.
    pub iccid: String,
    /// 20 digits, `iccid` plus its Luhn check digit.
    pub iccid_with_luhn: String,
    pub imsi: String,
    pub imsi_2: String,
    pub msisdn: String,
    /// 15 digits with a valid Luhn check digit.
    pub imei: String,
    pub imei_lock: bool,
    pub status: SimStatus,
    pub label: Option<String>,
    pub ip_address: String,
    pub activation: DateTime<Utc>,
    pub profile: Profile,
    /// Sends and receives a lot of SMS (exhausts the SMS quota).
    pub sms_heavy: bool,
    /// The SIM's lifetime has run out: modifications answer 422 until it is extended.
    pub expired: bool,
    pub auto_topup: bool,
    pub data_quota: Quota,
    pub sms_quota: Quota,
    pub connectivity: Connectivity,
}

/// Usage of one SIM on one day. Data in µMB.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayUsage {
    pub rx_umb: u64,
    pub tx_umb: u64,
    pub sms_mo: u64,
    pub sms_mt: u64,
}

impl DayUsage {
    pub fn data_umb(&self) -> u64 {
        self.rx_umb + self.tx_umb
    }
    pub fn sms(&self) -> u64 {
        self.sms_mo + self.sms_mt
    }
}

/// ICCID (19 digits, no check digit) of the SIM at `index`; indices beyond the fleet give
/// well-formed ICCIDs of SIMs that belong to another customer.
pub fn iccid_for(index: usize) -> String {
    format!("898830300{:010}", 1_000_000 + index as u64)
}

/// The generator: a pure function of the seed.
#[derive(Clone, Copy, Debug)]
pub struct Generator {
    pub seed: u64,
    pub today: NaiveDate,
    pub history_days: u32,
}

impl Generator {
    /// First day of the usage history window.
    pub fn history_start(&self) -> NaiveDate {
        self.today - Duration::days(i64::from(self.history_days) - 1)
    }

    pub fn sim(&self, index: usize) -> SimRecord {
        let s = self.seed;
        let i = index as u64;
        let h = |salt: u64, k: u64| hash(s, salt, i, k);
        let iccid = iccid_for(index);
        let iccid_with_luhn = format!("{iccid}{}", luhn_digit(&iccid));
        let imsi = format!("901405{:09}", 100_000_000 + i);
        let imsi_2 = format!("901406{:09}", 100_000_000 + i);
        let msisdn = format!("882285{:09}", 100_000_000 + i);
        const TACS: [&str; 4] = ["35209900", "86795103", "35873510", "86199204"];
        let tac = TACS[below(h(SALT_ID, 1), TACS.len() as u64) as usize];
        let imei_body = format!("{tac}{:06}", below(h(SALT_ID, 2), 1_000_000));
        let imei = format!("{imei_body}{}", luhn_digit(&imei_body));
        let n = i + 1;
        let ip_address = format!("10.{}.{}.{}", (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff);

        let p = unit(h(SALT_PROFILE, 0));
        let profile = if p < 0.2 {
            Profile::Idle
        } else if p < 0.9 {
            Profile::Normal
        } else {
            Profile::Heavy
        };
        let sms_heavy = unit(h(SALT_PROFILE, 1)) < 0.04;
        let status = if unit(h(SALT_MISC, 1)) < 0.9 { SimStatus::Enabled } else { SimStatus::Disabled };
        let label = match below(h(SALT_MISC, 2), 10) {
            0..=1 => None,
            k => Some(format!("{}-{:05}", ["meter", "tracker", "gateway", "sensor"][(k % 4) as usize], i)),
        };
        let today_start = Utc.from_utc_datetime(&self.today.and_hms_opt(0, 0, 0).unwrap_or_default());
        let activation = today_start - Duration::days(30 + below(h(SALT_MISC, 3), 700) as i64)
            + Duration::seconds(below(h(SALT_MISC, 4), 86_400) as i64);
        let expired = unit(h(SALT_MISC, 5)) < 0.005;
        let expiry = if expired {
            today_start - Duration::days(1 + below(h(SALT_MISC, 6), 60) as i64)
        } else {
            activation + Duration::days(3650)
        };
        let quota = |amount: u64| Quota {
            accumulated: amount,
            total: amount as i64,
            last_added: amount,
            threshold_percentage: 20,
            expiry,
            created_at: activation,
            last_change: activation,
        };
        let connectivity = self.connectivity(index, profile, today_start);
        SimRecord {
            index,
            iccid,
            iccid_with_luhn,
            imsi,
            imsi_2,
            msisdn,
            imei,
            imei_lock: unit(h(SALT_MISC, 7)) < 0.3,
            status,
            label,
            ip_address,
            activation,
            profile,
            sms_heavy,
            expired,
            auto_topup: false,
            data_quota: quota(DEFAULT_DATA_MB * UMB_PER_MB),
            sms_quota: quota(DEFAULT_SMS),
            connectivity,
        }
    }

    fn connectivity(&self, index: usize, profile: Profile, today_start: DateTime<Utc>) -> Connectivity {
        let h = |k: u64| hash(self.seed, SALT_CONN, index as u64, k);
        let r = unit(h(0));
        let offline_share = if profile == Profile::Idle { 0.5 } else { 0.12 };
        let (state, last_seen) = if r < offline_share {
            // Offline for days: nothing heard since.
            (
                LinkState::Offline,
                today_start - Duration::days(2 + below(h(1), 40) as i64)
                    + Duration::seconds(below(h(2), 86_400) as i64),
            )
        } else if r < offline_share + 0.25 {
            (LinkState::Attached, today_start - Duration::hours(below(h(3), 30) as i64))
        } else {
            (LinkState::Online, today_start - Duration::minutes(below(h(4), 300) as i64))
        };
        Connectivity {
            state,
            last_seen,
            operator: OPERATORS[below(h(5), OPERATORS.len() as u64) as usize],
            lac: 10_000 + below(h(6), 50_000) as u32,
            cell_id: 1 + below(h(7), 65_000) as u32,
            rat: ["4G", "NB-IoT", "2G", "3G"][below(h(8), 4) as usize],
        }
    }

    /// Generated usage of `sim` on `day`: weekly rhythm, random daily noise, rare spikes, no
    /// usage before activation, outside the history window or after the device went silent.
    pub fn usage(&self, sim: &SimRecord, day: NaiveDate) -> DayUsage {
        if day > self.today
            || day < self.history_start()
            || day < sim.activation.date_naive()
            || day > sim.connectivity.last_seen.date_naive()
        {
            return DayUsage::default();
        }
        let dn = day.num_days_from_ce() as u64;
        let h = |k: u64| hash(self.seed, SALT_DAY, sim.index as u64, dn.wrapping_mul(16) + k);
        let level = unit(hash(self.seed, SALT_PROFILE, sim.index as u64, 9));
        let base_mb = match sim.profile {
            Profile::Idle => {
                if unit(h(0)) < 0.85 {
                    0.0
                } else {
                    0.001 + 0.02 * level
                }
            }
            Profile::Normal => 0.02 + 1.2 * level,
            Profile::Heavy => 2.0 + 2.5 * level,
        };
        let weekend = matches!(day.weekday(), chrono::Weekday::Sat | chrono::Weekday::Sun);
        let rhythm = if weekend { 0.55 } else { 1.0 };
        let noise = 0.4 + 1.2 * unit(h(1));
        let spike = if unit(h(2)) < 0.005 { 10.0 + 30.0 * unit(h(3)) } else { 1.0 };
        let total_umb = (base_mb * rhythm * noise * spike * UMB_PER_MB as f64) as u64;
        let rx_share = 0.55 + 0.3 * unit(h(4));
        let rx_umb = (total_umb as f64 * rx_share) as u64;
        let (p_mo, p_mt, max) = if sim.sms_heavy {
            (0.9, 0.8, 3)
        } else if sim.profile == Profile::Idle {
            (0.01, 0.005, 1)
        } else {
            (0.08, 0.04, 1)
        };
        let sms_mo = if unit(h(5)) < p_mo { 1 + below(h(6), max) } else { 0 };
        let sms_mt = if unit(h(7)) < p_mt { 1 + below(h(8), max) } else { 0 };
        DayUsage { rx_umb, tx_umb: total_umb - rx_umb, sms_mo, sms_mt }
    }
}

/// Formats µMB as the API's decimal MB string with six decimals, e.g. `"0.002803"`.
pub fn umb_to_mb_string(umb: u64) -> String {
    format!("{}.{:06}", umb / UMB_PER_MB, umb % UMB_PER_MB)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::luhn_valid;

    fn gen() -> Generator {
        Generator { seed: 7, today: NaiveDate::from_ymd_opt(2026, 11, 22).unwrap(), history_days: 180 }
    }

    #[test]
    fn identifiers_are_well_formed_and_deterministic() {
        let g = gen();
        for i in [0usize, 1, 99_999] {
            let s = g.sim(i);
            assert_eq!(s, g.sim(i));
            assert_eq!(s.iccid.len(), 19);
            assert!(s.iccid.starts_with("89"));
            assert_eq!(s.iccid_with_luhn.len(), 20);
            assert!(luhn_valid(&s.iccid_with_luhn));
            assert_eq!(s.imsi.len(), 15);
            assert_eq!(s.imei.len(), 15);
            assert!(luhn_valid(&s.imei));
            assert!(s.ip_address.starts_with("10."));
            assert!(s.msisdn.chars().all(|c| c.is_ascii_digit()));
        }
    }

    #[test]
    fn usage_is_deterministic_and_has_profiles() {
        let g = gen();
        let mut heavy_total = 0u64;
        let mut exhausted = 0;
        for i in 0..500 {
            let s = g.sim(i);
            let mut sum = 0;
            let mut d = g.history_start();
            while d <= g.today {
                let u = g.usage(&s, d);
                assert_eq!(u, g.usage(&s, d));
                sum += u.data_umb();
                d = d.succ_opt().unwrap();
            }
            if s.profile == Profile::Heavy {
                heavy_total += sum;
            }
            if sum > DEFAULT_DATA_MB * UMB_PER_MB {
                exhausted += 1;
            }
        }
        assert!(heavy_total > 0);
        assert!(exhausted > 0, "some SIMs should have exhausted their data quota");
        assert_eq!(umb_to_mb_string(2_803), "0.002803");
        assert_eq!(umb_to_mb_string(12_000_001), "12.000001");
    }
}
