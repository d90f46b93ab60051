//! The IPVS task of the daemon (wired in below).
