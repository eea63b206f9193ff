//! simfleet's domain: validated identifiers, the SIM lifecycle, roles and money.
//!
//! Pure types and rules without I/O, shared by the store, the HTTP layer and the sync engine.

pub mod alerts;
pub mod ids;
pub mod lifecycle;
pub mod money;
pub mod role;
pub mod sim;

pub use alerts::{AlertKind, AlertState, Severity};
pub use ids::{Iccid, IdError, Imei, Imsi, Msisdn};
pub use lifecycle::{Action, SimStatus, TransitionError};
pub use money::{Money, MoneyError};
pub use role::Role;
pub use sim::{EventKind, Provider, SimType};
