//! A whole IPVS table (services with their destinations), as desired or as
//! read back from the kernel.

use std::net::SocketAddr;

use indexmap::IndexMap;

use super::{Dest, Service, ServiceKey};

/// One service and its destinations keyed by address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtualService {
    pub service: Service,
    pub dests: IndexMap<SocketAddr, Dest>,
}

impl VirtualService {
    pub fn new(service: Service) -> VirtualService {
        VirtualService {
            service,
            dests: IndexMap::new(),
        }
    }

    /// Adds or replaces a destination.
    pub fn with_dest(mut self, dest: Dest) -> VirtualService {
        self.dests.insert(dest.addr, dest);
        self
    }
}

/// Services keyed by their kernel identity, in insertion order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    pub services: IndexMap<ServiceKey, VirtualService>,
}

impl Table {
    pub fn new() -> Table {
        Table::default()
    }

    /// Adds or replaces a service (with its destinations).
    pub fn insert(&mut self, vs: VirtualService) {
        self.services.insert(vs.service.key, vs);
    }

    pub fn get(&self, key: &ServiceKey) -> Option<&VirtualService> {
        self.services.get(key)
    }

    pub fn len(&self) -> usize {
        self.services.len()
    }

    pub fn is_empty(&self) -> bool {
        self.services.is_empty()
    }

    /// Number of destinations over all services.
    pub fn dest_count(&self) -> usize {
        self.services.values().map(|vs| vs.dests.len()).sum()
    }

    /// Same services and destinations, ignoring order.
    pub fn same_as(&self, other: &Table) -> bool {
        self.services.len() == other.services.len()
            && self.services.iter().all(|(k, vs)| {
                other.services.get(k).is_some_and(|o| {
                    o.service == vs.service
                        && o.dests.len() == vs.dests.len()
                        && vs.dests.iter().all(|(a, d)| o.dests.get(a) == Some(d))
                })
            })
    }
}
