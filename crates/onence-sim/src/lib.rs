//! A stateful simulator of the 1NCE Management API (v1 and v2 SIM management, orders, products,
//! support and OAuth), for tests, demos and benchmarks.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let sim = onence_sim::spawn(onence_sim::SimConfig::new(1_000, 7), "127.0.0.1:0".parse::<std::net::SocketAddr>().unwrap()).await?;
//! println!("1NCE API at {}", sim.base_url()); // credentials: sim-client / sim-secret
//! let first = &sim.state().sims()[0];
//! sim.state().set_status(&first.iccid, onence_sim::SimStatus::Disabled);
//! # Ok(()) }
//! ```

pub mod config;
pub mod faults;
pub mod fleet;
pub mod rng;
pub mod routes;
pub mod server;
pub mod state;
pub mod views;

pub use config::{SimConfig, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET};
pub use faults::{Counters, FaultControl, Faults, LogEntry};
pub use fleet::{
    umb_to_mb_string, Connectivity, DayUsage, LinkState, Profile, Quota, SimRecord, SimStatus, UMB_PER_MB,
};
pub use server::{router, spawn, Bind, SimHandle};
pub use state::{Limits, Lookup, Order, QuotaView, ServiceRequest, SimEvent, SimState, Sms, SmsStatus};
