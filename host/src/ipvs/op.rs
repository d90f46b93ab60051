//! One write to the kernel's IPVS table.

use std::fmt;
use std::net::SocketAddr;

use super::netlink::Request;
use super::{Dest, Service, ServiceKey};

/// A change to apply; the reconciler's plan is a list of these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    AddService(Service),
    EditService(Service),
    DelService(ServiceKey),
    AddDest(ServiceKey, Dest),
    EditDest(ServiceKey, Dest),
    DelDest(ServiceKey, SocketAddr),
}

impl Op {
    pub fn service_key(&self) -> ServiceKey {
        match self {
            Op::AddService(s) | Op::EditService(s) => s.key,
            Op::DelService(k) | Op::AddDest(k, _) | Op::EditDest(k, _) | Op::DelDest(k, _) => *k,
        }
    }

    pub fn request(&self) -> Request<'_> {
        match self {
            Op::AddService(s) => Request::NewService(s),
            Op::EditService(s) => Request::SetService(s),
            Op::DelService(k) => Request::DelService(k),
            Op::AddDest(k, d) => Request::NewDest(k, d),
            Op::EditDest(k, d) => Request::SetDest(k, d),
            Op::DelDest(k, a) => Request::DelDest(k, a),
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::AddService(s) => write!(f, "add virtual server {}", s.key),
            Op::EditService(s) => write!(f, "edit virtual server {}", s.key),
            Op::DelService(k) => write!(f, "delete virtual server {k}"),
            Op::AddDest(k, d) => write!(f, "add real server {} to {k}", d.addr),
            Op::EditDest(k, d) => write!(f, "edit real server {} of {k}", d.addr),
            Op::DelDest(k, a) => write!(f, "delete real server {a} from {k}"),
        }
    }
}
