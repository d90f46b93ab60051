//! Helpers shared by the integration tests of this crate.
#![allow(dead_code)]

pub mod chaos;
pub mod pcap;
pub use belay::vrrp;
