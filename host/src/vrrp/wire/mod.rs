//! Wire formats, smoltcp style: a `Packet<T>` view that checks lengths and
//! reads fields in place, and a `Repr` with `parse` and `emit` that carries
//! the meaning. Parsing never panics; every failure is a [`WireError`].
//!
//! Besides VRRP itself this holds what the driver needs to build or check the
//! frames around it: a minimal IPv4 header view (raw IPv4 sockets hand us the
//! header, and we must check TTL and the pseudo-header addresses), Ethernet,
//! gratuitous ARP and unsolicited neighbour advertisements.

pub mod arp;
pub mod checksum;
pub mod error;
pub mod ethernet;
pub mod ipv4;
pub mod ndisc;
pub mod packet;
pub mod repr;

pub use arp::ArpRepr;
pub use error::WireError;
pub use ethernet::{EthernetRepr, MacAddr};
pub use ipv4::Ipv4Header;
pub use ndisc::NaRepr;
pub use packet::{Family, Packet as VrrpPacket, peek_vrid};
pub use repr::{AdvertInterval, Auth, Version, VrrpRepr};

/// IP protocol number of VRRP (both versions).
pub const IP_PROTO_VRRP: u8 = 112;
/// The IPv4 multicast group VRRP adverts go to.
pub const MULTICAST_V4: std::net::Ipv4Addr = std::net::Ipv4Addr::new(224, 0, 0, 18);
/// The IPv6 multicast group VRRP adverts go to (ff02::12).
pub const MULTICAST_V6: std::net::Ipv6Addr =
    std::net::Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
/// TTL / hop limit VRRP packets are sent with and must arrive with.
pub const TTL: u8 = 255;

#[cfg(test)]
mod tests;
