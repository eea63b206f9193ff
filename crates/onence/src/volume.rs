//! The one place where 1NCE volumes become bytes.
//!
//! 1NCE reports data volumes in **megabytes** as decimal strings (`"0.002803"`) or JSON numbers.
//! The unit is binary: the v2 spec states "1 megabyte = 1024 kilobytes", and the documented
//! Lifetime Flat quota of 500 MB is 524,288,000 bytes. So **1 MB = 1,048,576 bytes**.
//!
//! The conversion is exact decimal arithmetic on the digits (no `f64`), rounded to the nearest
//! byte, halves away from zero. Negative volumes (an overdrawn v2 quota) stay negative.

use std::fmt;

/// Bytes per megabyte as used by the 1NCE API.
pub const BYTES_PER_MB: u64 = 1_048_576;

/// A volume string that is not a plain decimal number, or is too large.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VolumeError {
    pub input: String,
}

impl fmt::Display for VolumeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not a decimal MB volume: {:?}", self.input)
    }
}

impl std::error::Error for VolumeError {}

/// Converts a decimal megabyte string (`"12"`, `"0.002803"`, `"-1.5"`) to bytes.
pub fn mb_to_bytes(mb: &str) -> Result<i64, VolumeError> {
    let err = || VolumeError { input: mb.to_string() };
    let s = mb.trim();
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let valid = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !valid(int) || !valid(frac) {
        return Err(err());
    }
    // Trailing zeros carry no value; beyond 30 significant decimals u128 could overflow.
    let frac = frac.trim_end_matches('0');
    let int = int.trim_start_matches('0');
    if int.len() + frac.len() > 30 {
        return Err(err());
    }
    let scale = 10u128.pow(frac.len() as u32);
    let mantissa: u128 = format!("{int}{frac}").parse::<u128>().unwrap_or(0);
    // round(mantissa * BYTES_PER_MB / scale), halves away from zero
    let bytes = (mantissa * u128::from(BYTES_PER_MB) * 2 + scale) / (2 * scale);
    let bytes = i64::try_from(bytes).map_err(|_| err())?;
    Ok(if negative { -bytes } else { bytes })
}

/// Converts a JSON-number megabyte volume to bytes via its shortest decimal representation
/// (Rust prints the shortest string that round-trips, never in exponent form), so `435.787951`
/// converts exactly as `"435.787951"` would.
pub fn mb_number_to_bytes(mb: f64) -> Result<i64, VolumeError> {
    if !mb.is_finite() {
        return Err(VolumeError { input: mb.to_string() });
    }
    mb_to_bytes(&format!("{mb}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_exactly() {
        assert_eq!(mb_to_bytes("500"), Ok(524_288_000));
        assert_eq!(mb_to_bytes("1"), Ok(1_048_576));
        assert_eq!(mb_to_bytes("0.5"), Ok(524_288));
        assert_eq!(mb_to_bytes("0.000001"), Ok(1)); // 1.048576 bytes → 1
        assert_eq!(mb_to_bytes("0.0000005"), Ok(1)); // 0.524288 → 1
        assert_eq!(mb_to_bytes("0.0000004"), Ok(0)); // 0.4194304 → 0
        assert_eq!(mb_to_bytes("0.002803"), Ok(2939)); // 2939.158528
        assert_eq!(mb_to_bytes("-1.5"), Ok(-1_572_864));
        assert_eq!(mb_to_bytes(".25"), Ok(262_144));
        assert_eq!(mb_to_bytes("12.000000"), Ok(12 * 1_048_576));
        assert_eq!(mb_number_to_bytes(435.787951), mb_to_bytes("435.787951"));
        assert_eq!(mb_number_to_bytes(0.1 + 0.2), mb_to_bytes("0.30000000000000004"));
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", "-", ".", "1e3", "abc", "1.2.3", "NaN", "1,5"] {
            assert!(mb_to_bytes(bad).is_err(), "{bad}");
        }
        assert!(mb_to_bytes("99999999999999999999").is_err()); // overflows i64 bytes
    }

    #[test]
    fn sums_do_not_drift() {
        // 1,000 × 0.001 MB must be exactly 1 MB worth of micro-rounding: each 0.001 MB is
        // 1048.576 → 1049 bytes; the function is deterministic per value, never via f64.
        let each = mb_to_bytes("0.001").unwrap();
        assert_eq!(each, 1049);
        assert_eq!(mb_to_bytes("1.000").unwrap(), 1_048_576);
    }
}
