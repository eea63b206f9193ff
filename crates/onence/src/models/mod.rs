//! Request and response types, field for field as in the official OpenAPI documents.
//!
//! Every response field is optional (the specs mark almost nothing required and 1NCE omits
//! fields freely); unknown fields are ignored. Volumes stay as the API sends them (decimal MB
//! strings or numbers); the `*_bytes()` accessors convert them through [`crate::volume`].

pub mod common;
pub mod orders;
pub mod products;
pub mod sims;
pub mod support;
pub mod token;
pub mod v2;

pub use common::*;
pub use orders::*;
pub use products::*;
pub use sims::*;
pub use support::*;
pub use token::*;
pub use v2::*;
