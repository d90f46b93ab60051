//! Typed IPVS errors: a kernel errno is turned into what it means for the
//! operation that caused it ("virtual server 192.0.2.1:80/tcp already exists").

use std::io;
use std::net::SocketAddr;

use super::ServiceKey;
use super::netlink::WireError;
use super::op::Op;

#[derive(Debug, thiserror::Error)]
pub enum IpvsError {
    #[error(
        "IPVS is not available: the kernel has no `IPVS` generic netlink family (load it with `modprobe ip_vs`)"
    )]
    Unavailable,
    #[error("permission denied: programming IPVS needs CAP_NET_ADMIN (run as root)")]
    PermissionDenied,
    #[error("virtual server {0} already exists")]
    ServiceExists(ServiceKey),
    #[error("virtual server {0} does not exist")]
    NoSuchService(ServiceKey),
    #[error("real server {dest} already exists in virtual server {service}")]
    DestExists {
        service: ServiceKey,
        dest: SocketAddr,
    },
    #[error("real server {dest} does not exist in virtual server {service}")]
    NoSuchDest {
        service: ServiceKey,
        dest: SocketAddr,
    },
    #[error(
        "virtual server {service}: scheduler `{scheduler}`{} is not available (no such kernel module)",
        pe_suffix(.pe)
    )]
    UnknownScheduler {
        service: ServiceKey,
        scheduler: String,
        pe: Option<String>,
    },
    #[error(
        "real server {dest} in virtual server {service}: weight or threshold out of range (the lower threshold must not exceed the upper one)"
    )]
    DestOutOfRange {
        service: ServiceKey,
        dest: SocketAddr,
    },
    #[error("{op}: address family not supported by this kernel's IPVS")]
    FamilyNotSupported { op: String },
    #[error("{op}: the kernel rejected the request as invalid{}", detail_suffix(.detail))]
    Invalid { op: String, detail: Option<String> },
    #[error("{op}: {source}{}", detail_suffix(.detail))]
    Kernel {
        op: String,
        source: io::Error,
        detail: Option<String>,
    },
    #[error("netlink socket: {0}")]
    Io(#[from] io::Error),
    #[error("no reply from the kernel within {0:?}")]
    Timeout(std::time::Duration),
    #[error("netlink receive buffer overrun: some replies were lost, the table must be read again")]
    Overrun,
    #[error("unexpected reply from the kernel: {0}")]
    Wire(#[from] WireError),
}

fn pe_suffix(pe: &Option<String>) -> String {
    pe.as_ref()
        .map(|p| format!(" or persistence engine `{p}`"))
        .unwrap_or_default()
}

fn detail_suffix(d: &Option<String>) -> String {
    d.as_ref().map(|m| format!(" ({m})")).unwrap_or_default()
}

impl IpvsError {
    /// What a kernel `-errno` for `op` means.
    pub fn from_kernel(op: &Op, errno: i32, detail: Option<String>) -> IpvsError {
        use Op::*;
        match (errno, op) {
            (libc::EPERM | libc::EACCES, _) => IpvsError::PermissionDenied,
            (libc::EEXIST, AddService(s)) => IpvsError::ServiceExists(s.key),
            (libc::EEXIST, AddDest(k, d)) => IpvsError::DestExists {
                service: *k,
                dest: d.addr,
            },
            (libc::ESRCH, _) => IpvsError::NoSuchService(op.service_key()),
            (libc::ENOENT, EditDest(k, d)) => IpvsError::NoSuchDest {
                service: *k,
                dest: d.addr,
            },
            (libc::ENOENT, DelDest(k, a)) => IpvsError::NoSuchDest {
                service: *k,
                dest: *a,
            },
            // The kernel says ENOENT for a missing scheduler or persistence engine.
            (libc::ENOENT, AddService(s) | EditService(s)) => IpvsError::UnknownScheduler {
                service: s.key,
                scheduler: s.scheduler.name().to_owned(),
                pe: s.pe_name.clone(),
            },
            (libc::ERANGE, AddDest(k, d) | EditDest(k, d)) => IpvsError::DestOutOfRange {
                service: *k,
                dest: d.addr,
            },
            (libc::EAFNOSUPPORT, _) => IpvsError::FamilyNotSupported { op: op.to_string() },
            (libc::EINVAL, _) => IpvsError::Invalid {
                op: op.to_string(),
                detail,
            },
            (e, _) => IpvsError::Kernel {
                op: op.to_string(),
                source: io::Error::from_raw_os_error(e),
                detail,
            },
        }
    }

    /// Whether reading the table again and retrying may succeed (the table
    /// changed under us), as opposed to a request that will always fail.
    pub fn is_stale_view(&self) -> bool {
        matches!(
            self,
            IpvsError::ServiceExists(_)
                | IpvsError::NoSuchService(_)
                | IpvsError::DestExists { .. }
                | IpvsError::NoSuchDest { .. }
                | IpvsError::Overrun
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipvs::{Dest, Forward, Protocol, Scheduler, Service};

    fn key() -> ServiceKey {
        ServiceKey::Inet {
            protocol: Protocol::Tcp,
            addr: "192.0.2.1:80".parse().unwrap(),
        }
    }

    #[test]
    fn errnos_read_as_what_they_mean() {
        let svc = Service::new(key(), Scheduler::Wrr);
        let e = IpvsError::from_kernel(&Op::AddService(svc.clone()), libc::EEXIST, None);
        assert_eq!(
            e.to_string(),
            "virtual server 192.0.2.1:80/tcp already exists"
        );
        let e = IpvsError::from_kernel(&Op::AddService(svc), libc::ENOENT, None);
        assert!(
            e.to_string().contains("scheduler `wrr` is not available"),
            "{e}"
        );
        let d = Dest::new("198.51.100.2:80".parse().unwrap(), Forward::Masq, 1);
        let e = IpvsError::from_kernel(&Op::AddDest(key(), d), libc::ESRCH, None);
        assert_eq!(
            e.to_string(),
            "virtual server 192.0.2.1:80/tcp does not exist"
        );
        let e = IpvsError::from_kernel(&Op::DelDest(key(), d.addr), libc::ENOENT, None);
        assert_eq!(
            e.to_string(),
            "real server 198.51.100.2:80 does not exist in virtual server 192.0.2.1:80/tcp"
        );
        let e = IpvsError::from_kernel(&Op::DelService(key()), libc::EBUSY, Some("x".into()));
        assert!(
            e.to_string()
                .starts_with("delete virtual server 192.0.2.1:80/tcp: "),
            "{e}"
        );
        assert!(e.to_string().ends_with("(x)"), "{e}");
    }
}
