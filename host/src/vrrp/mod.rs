//! VRRP v2 (RFC 3768) and v3 (RFC 5798 / RFC 9568) for IPv4 and IPv6: a
//! sans-IO protocol core (wire codec, instance state machine) and the I/O
//! driver that feeds it packets and timers and carries out its actions.

pub mod rtnl;
pub mod socket;
