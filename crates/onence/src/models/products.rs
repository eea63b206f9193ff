//! product-information.yml schemas.

use serde::{Deserialize, Serialize};

/// `Charge`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Charge {
    pub name: Option<String>,
    pub amount_net: Option<f64>,
    pub currency: Option<String>,
}

/// `Product`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Product {
    pub id: Option<i64>,
    pub product: Option<String>,
    pub material: Option<String>,
    pub package_size: Option<i64>,
    #[serde(rename = "minQuantity")]
    pub min_quantity: Option<i64>,
    #[serde(rename = "maxQuantity")]
    pub max_quantity: Option<i64>,
    #[serde(rename = "maxQuantityPerCustomer")]
    pub max_quantity_per_customer: Option<i64>,
    pub min_contract_duration: Option<i64>,
    pub one_time_charges: Option<Vec<Charge>>,
    pub recurring_charges: Option<Vec<Charge>>,
}
