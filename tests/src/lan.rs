//! A LAN of hosts: one namespace per host, each with `eth0` on a bridge that
//! lives in its own hub namespace (so nothing touches the host's interfaces).

use crate::netns::Netns;

/// Hosts joined by a bridge. Dropped hosts first, then the hub.
pub struct Lan {
    pub hosts: Vec<Netns>,
    pub hub: Netns,
}

impl Lan {
    /// A bridge with no hosts yet.
    pub fn new() -> Lan {
        let hub = Netns::new("hub");
        // No STP, no forwarding delay, no multicast snooping: VRRP multicast must flood.
        hub.ip(&[
            "link",
            "add",
            "br0",
            "type",
            "bridge",
            "stp_state",
            "0",
            "forward_delay",
            "0",
            "mcast_snooping",
            "0",
        ]);
        hub.link_set("br0", true);
        Lan {
            hosts: Vec::new(),
            hub,
        }
    }

    /// A LAN with `n` hosts named `h0..h{n-1}`.
    pub fn with_hosts(n: usize) -> Lan {
        let mut lan = Lan::new();
        for i in 0..n {
            lan.add_host(&format!("h{i}"));
        }
        lan
    }

    /// Adds a host namespace whose `eth0` is plugged into the bridge, with a
    /// stable MAC `02:00:00:00:00:<index+1>`; returns its index.
    pub fn add_host(&mut self, role: &str) -> usize {
        let idx = self.hosts.len();
        let host = Netns::new(role);
        let port = format!("p{idx}");
        self.hub.ip(&[
            "link",
            "add",
            &port,
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            host.name(),
        ]);
        self.hub.ip(&["link", "set", &port, "master", "br0"]);
        self.hub.link_set(&port, true);
        let mac = format!("02:00:00:00:00:{:02x}", idx + 1);
        host.ip(&["link", "set", "eth0", "address", &mac]);
        host.link_set("eth0", true);
        self.hosts.push(host);
        idx
    }

    /// The bridge-side port of host `idx` (cut it to simulate a pulled cable
    /// while the host still sees its own link up).
    pub fn port(&self, idx: usize) -> String {
        format!("p{idx}")
    }

    pub fn host(&self, idx: usize) -> &Netns {
        &self.hosts[idx]
    }
}

impl Default for Lan {
    fn default() -> Self {
        Lan::new()
    }
}
