//! Exact money amounts.
//!
//! Prices travel as decimal strings (`"12.50"`) and are stored as integers in units of
//! 1/10,000 so that both database engines can compare and add them exactly.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Decimal places kept; more are rejected rather than rounded away.
pub const SCALE: u32 = 4;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("must be a decimal number such as 12.50")]
    NotDecimal,
    #[error("must not be negative")]
    Negative,
    #[error("must have at most 4 decimal places")]
    TooPrecise,
    #[error("is too large")]
    TooLarge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Money(Decimal);

impl Money {
    pub fn parse(s: &str) -> Result<Self, MoneyError> {
        let d: Decimal = s.trim().parse().map_err(|_| MoneyError::NotDecimal)?;
        if d.is_sign_negative() && !d.is_zero() {
            return Err(MoneyError::Negative);
        }
        if d.normalize().scale() > SCALE {
            return Err(MoneyError::TooPrecise);
        }
        let m = Money(d);
        m.try_to_scaled().ok_or(MoneyError::TooLarge)?;
        Ok(m)
    }

    fn try_to_scaled(self) -> Option<i64> {
        let mut d = self.0;
        d.rescale(SCALE);
        i64::try_from(d.mantissa()).ok()
    }

    /// The amount in 1/10,000 units, as stored.
    pub fn to_scaled(self) -> i64 {
        self.try_to_scaled().expect("validated at construction")
    }

    pub fn from_scaled(units: i64) -> Self {
        Money(Decimal::new(units, SCALE).normalize())
    }

    pub fn decimal(self) -> Decimal {
        self.0
    }
}

impl TryFrom<String> for Money {
    type Error = MoneyError;
    fn try_from(s: String) -> Result<Self, MoneyError> {
        Money::parse(&s)
    }
}

impl From<Money> for String {
    fn from(m: Money) -> String {
        m.to_string()
    }
}

impl fmt::Display for Money {
    /// At least two decimal places, as prices are usually written.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = self.0.normalize();
        if d.scale() < 2 {
            d.rescale(2);
        }
        write!(f, "{d}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_round_trip() {
        for (input, shown, units) in [("12.5", "12.50", 125_000), ("0.0001", "0.0001", 1), ("7", "7.00", 70_000)] {
            let m = Money::parse(input).unwrap();
            assert_eq!(m.to_string(), shown);
            assert_eq!(m.to_scaled(), units);
            assert_eq!(Money::from_scaled(units), m);
        }
    }

    #[test]
    fn rejects_what_cannot_be_stored_exactly() {
        assert_eq!(Money::parse("1.00001"), Err(MoneyError::TooPrecise));
        assert_eq!(Money::parse("-1"), Err(MoneyError::Negative));
        assert_eq!(Money::parse("abc"), Err(MoneyError::NotDecimal));
        assert_eq!(Money::parse("99999999999999999999"), Err(MoneyError::TooLarge));
        assert!(Money::parse("1.2300").is_ok());
    }
}
