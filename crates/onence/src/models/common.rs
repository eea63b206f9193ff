//! Shared helpers: pages, created-resource answers, payment methods, lenient numbers.

use serde::{Deserialize, Serialize};

/// One page of a paged listing plus the page counters of the `X-*` headers (or body fields).
#[derive(Clone, Debug, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// `X-Total-Count`
    pub total_count: Option<u64>,
    /// `X-Total-Pages`
    pub total_pages: Option<u32>,
    /// `X-Current-Page`
    pub current_page: Option<u32>,
    /// `X-Count-Per-Page`
    pub per_page: Option<u32>,
}

/// Answer of an operation that creates something (201), with its `Location` if any.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Created {
    pub location: Option<String>,
}

impl Created {
    /// The trailing path segment of `Location` (e.g. the order number of a top-up).
    pub fn id(&self) -> Option<&str> {
        self.location.as_deref().and_then(|l| l.trim_end_matches('/').rsplit('/').next())
    }
}

/// `payment_method` of top-ups and extensions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PaymentMethod {
    Banktransfer,
    Creditcard,
    Monthlyinvoice,
    Boleto,
}

impl PaymentMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentMethod::Banktransfer => "banktransfer",
            PaymentMethod::Creditcard => "creditcard",
            PaymentMethod::Monthlyinvoice => "monthlyinvoice",
            PaymentMethod::Boleto => "boleto",
        }
    }
}

/// Deserialisers for spec fields typed `number` that are identifiers in practice: accept
/// `590`, `590.0` and `"590"`.
pub(crate) mod lenient {
    use serde::{Deserialize, Deserializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Num {
        U(u64),
        I(i64),
        F(f64),
        S(String),
    }

    pub fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        let v: Option<Num> = Option::deserialize(d)?;
        Ok(match v {
            None => None,
            Some(Num::U(u)) => Some(u),
            Some(Num::I(i)) => u64::try_from(i).ok(),
            Some(Num::F(f)) if f >= 0.0 && f.fract() == 0.0 && f < 1.8e19 => Some(f as u64),
            Some(Num::F(_)) => None,
            Some(Num::S(s)) => s.trim().parse().ok(),
        })
    }
}
