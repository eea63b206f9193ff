//! Validated telecom identifiers.
//!
//! Each type can only be built from a valid value, so code that holds an [`Iccid`] never
//! has to check it again. Parsing trims surrounding whitespace; everything else is strict.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why an identifier was rejected. The message is shown to users next to the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("must contain digits only")]
    NotDigits,
    #[error("must be {expected} digits long, got {actual}")]
    Length { expected: &'static str, actual: usize },
    #[error("check digit is wrong (Luhn)")]
    Luhn,
    #[error("must start with the country code, not 0")]
    NoCountryCode,
}

/// The Luhn sum of `digits`, doubling every second digit from the right when `double_last`
/// is false (as for a number that ends with its check digit).
fn luhn_sum(digits: &str, double_last: bool) -> u32 {
    digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if (i % 2 == 1) != double_last {
                let twice = d * 2;
                if twice > 9 {
                    twice - 9
                } else {
                    twice
                }
            } else {
                d
            }
        })
        .sum()
}

/// True when the last digit is the Luhn check digit of the others.
pub fn luhn_valid(digits: &str) -> bool {
    luhn_sum(digits, false).is_multiple_of(10)
}

/// The Luhn check digit to append to `payload` (ASCII digits).
pub fn luhn_check_digit(payload: &str) -> char {
    let check = (10 - luhn_sum(payload, true) % 10) % 10;
    char::from(b'0' + check as u8)
}

fn digits(value: &str) -> Result<&str, IdError> {
    let value = value.trim();
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(IdError::NotDigits);
    }
    Ok(value)
}

fn check_len(value: &str, min: usize, max: usize, expected: &'static str) -> Result<(), IdError> {
    if value.len() < min || value.len() > max {
        return Err(IdError::Length { expected, actual: value.len() });
    }
    Ok(())
}

macro_rules! identifier {
    ($(#[$doc:meta])* $name:ident, $parse:expr) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn parse(value: &str) -> Result<Self, IdError> {
                let parse: fn(&str) -> Result<String, IdError> = $parse;
                parse(value).map(Self)
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }
        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                Self::parse(&s)
            }
        }
        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }
    };
}

identifier!(
    /// Integrated Circuit Card Identifier: 19 or 20 digits whose last digit is a Luhn check digit.
    Iccid,
    |v| {
        let v = digits(v)?;
        check_len(v, 19, 20, "19 or 20")?;
        if !luhn_valid(v) {
            return Err(IdError::Luhn);
        }
        Ok(v.to_owned())
    }
);

identifier!(
    /// International Mobile Subscriber Identity: exactly 15 digits.
    Imsi,
    |v| {
        let v = digits(v)?;
        check_len(v, 15, 15, "15")?;
        Ok(v.to_owned())
    }
);

identifier!(
    /// Phone number in E.164 form, stored as digits only (country code first, no `+`).
    ///
    /// A leading `+` is accepted and dropped; E.164 allows at most 15 digits, and no real
    /// number with its country code is shorter than 7.
    Msisdn,
    |v| {
        let v = v.trim();
        let v = digits(v.strip_prefix('+').unwrap_or(v))?;
        check_len(v, 7, 15, "7 to 15")?;
        if v.starts_with('0') {
            return Err(IdError::NoCountryCode);
        }
        Ok(v.to_owned())
    }
);

identifier!(
    /// International Mobile Equipment Identity: 15 digits whose last digit is a Luhn check digit.
    Imei,
    |v| {
        let v = digits(v)?;
        check_len(v, 15, 15, "15")?;
        if !luhn_valid(v) {
            return Err(IdError::Luhn);
        }
        Ok(v.to_owned())
    }
);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_valid_values() {
        assert!(Iccid::parse("8988228066602306776").is_ok());
        assert!(Imei::parse("490154203237518").is_ok());
        assert_eq!(Msisdn::parse("+49 151").unwrap_err(), IdError::NotDigits);
        assert_eq!(Msisdn::parse("+4915112345678").unwrap().as_str(), "4915112345678");
        assert!(Imsi::parse("901405100000001").is_ok());
    }

    #[test]
    fn precise_errors() {
        assert_eq!(Iccid::parse("8988228066602306771").unwrap_err(), IdError::Luhn);
        assert_eq!(
            Iccid::parse("898822806660230677").unwrap_err(),
            IdError::Length { expected: "19 or 20", actual: 18 }
        );
        assert_eq!(Iccid::parse("89882280666023067a0").unwrap_err(), IdError::NotDigits);
        assert_eq!(Iccid::parse("").unwrap_err(), IdError::NotDigits);
        assert_eq!(Imsi::parse("90140510000000").unwrap_err(), IdError::Length { expected: "15", actual: 14 });
        assert_eq!(Imei::parse("490154203237519").unwrap_err(), IdError::Luhn);
        assert!(Msisdn::parse("0151123456").is_err());
    }

    #[test]
    fn serde_rejects_invalid() {
        assert!(serde_json::from_str::<Iccid>("\"8988228066602306771\"").is_err());
        let id: Iccid = serde_json::from_str("\"8988228066602306776\"").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"8988228066602306776\"");
    }

    proptest! {
        #[test]
        fn completed_payloads_are_valid_iccids(payload in "89[0-9]{16,17}") {
            let iccid = format!("{payload}{}", luhn_check_digit(&payload));
            prop_assert!(Iccid::parse(&iccid).is_ok());
        }

        #[test]
        fn any_single_digit_change_breaks_luhn(payload in "89[0-9]{17}", pos in 0usize..20, delta in 1u8..10) {
            let iccid = format!("{payload}{}", luhn_check_digit(&payload));
            let mut bytes = iccid.into_bytes();
            bytes[pos] = b'0' + (bytes[pos] - b'0' + delta) % 10;
            let changed = String::from_utf8(bytes).unwrap();
            prop_assert_eq!(Iccid::parse(&changed).unwrap_err(), IdError::Luhn);
        }

        #[test]
        fn parsing_never_panics(s in "\\PC*") {
            let _ = Iccid::parse(&s);
            let _ = Imsi::parse(&s);
            let _ = Msisdn::parse(&s);
            let _ = Imei::parse(&s);
        }
    }
}
