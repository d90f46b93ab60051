//! IPVS (the kernel's LVS load balancer): a generic-netlink client and a
//! reconciler that keeps the kernel's table equal to the desired one.
