#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use onence::{Client, ClientConfig};
use onence_sim::{SimConfig, SimHandle};

pub fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

pub async fn sim(config: SimConfig) -> SimHandle {
    onence_sim::spawn(config, loopback()).await.expect("simulator starts")
}

/// Client config for tests: default sim credentials, fast backoff.
pub fn config(sim: &SimHandle) -> ClientConfig {
    let mut c = ClientConfig::new(sim.base_url(), onence_sim::DEFAULT_CLIENT_ID, onence_sim::DEFAULT_CLIENT_SECRET);
    c.backoff_base = Duration::from_millis(5);
    c.backoff_max = Duration::from_millis(100);
    c.timeout = Duration::from_secs(10);
    c
}

pub fn client(sim: &SimHandle) -> Client {
    Client::new(config(sim)).unwrap()
}
