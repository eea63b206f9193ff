//! order-management.yml schemas.

use serde::{Deserialize, Serialize};

use super::common::lenient;

/// `Ordered_product`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderedProduct {
    pub product_id: i64,
    pub quantity: i64,
}

/// `DeliveryAddress`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryAddress {
    /// `"1"` Mr, `"2"` Ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub salutation: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub street: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address_line2: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub house_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// ISO 3166-1 alpha-2.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

/// `Additional_Order` (request of `POST /v1/orders`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdditionalOrder {
    pub products: Vec<OrderedProduct>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery_address: Option<DeliveryAddress>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_reference: Option<String>,
}

/// `Link`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub rel: Option<String>,
    pub href: Option<String>,
}

/// `SIM` (inside an order).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderSim {
    pub iccid: Option<String>,
    #[serde(rename = "_links")]
    pub links: Option<Vec<Link>>,
}

/// `Product_information`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductInformation {
    pub product_id: Option<i64>,
    pub quantity: Option<i64>,
}

/// `Order`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    #[serde(default, deserialize_with = "lenient::opt_u64", skip_serializing_if = "Option::is_none")]
    pub order_number: Option<u64>,
    /// FIRST_ORDER, ADDITIONAL_ORDER, TOPUP, BULK_TOPUP, TARIFF_CHANGE.
    pub order_type: Option<String>,
    pub order_date: Option<String>,
    pub order_status: Option<String>,
    pub invoice_number: Option<String>,
    pub invoice_amount: Option<String>,
    pub currency: Option<String>,
    pub shipping_address: Option<DeliveryAddress>,
    pub sims: Option<Vec<OrderSim>>,
    pub products: Option<Vec<ProductInformation>>,
}
