//! The difference between a desired and an actual table, as the ops that
//! turn one into the other. Pure: no I/O, so every case is a unit test.

use super::{Op, ServiceKey, Table};

/// Ops that make the owned part of `actual` equal to `desired`.
///
/// `actual` holds what the kernel has for the keys we read; `owned` says
/// which of its services are ours. An owned service that is not desired is
/// deleted; a service that is not owned is never touched. Within a service
/// destinations are added and edited before stale ones are deleted, so a
/// swap (e.g. real servers out, sorry server in) never leaves the service
/// with nothing to schedule to.
pub fn plan(desired: &Table, actual: &Table, owned: impl Fn(&ServiceKey) -> bool) -> Vec<Op> {
    plan_with(desired, actual, owned, |_| false)
}

/// [`plan`], skipping the services for which `in_sync` is true: the caller
/// knows they match (their destinations need not even be in `actual`).
pub fn plan_with(
    desired: &Table,
    actual: &Table,
    owned: impl Fn(&ServiceKey) -> bool,
    in_sync: impl Fn(&ServiceKey) -> bool,
) -> Vec<Op> {
    let mut ops = Vec::new();
    for (key, want) in &desired.services {
        if in_sync(key) {
            continue;
        }
        match actual.services.get(key) {
            None => {
                ops.push(Op::AddService(want.service.clone()));
                ops.extend(want.dests.values().map(|d| Op::AddDest(*key, *d)));
            }
            Some(have) => {
                if have.service != want.service {
                    ops.push(Op::EditService(want.service.clone()));
                }
                for (addr, d) in &want.dests {
                    match have.dests.get(addr) {
                        None => ops.push(Op::AddDest(*key, *d)),
                        Some(h) if h != d => ops.push(Op::EditDest(*key, *d)),
                        Some(_) => {}
                    }
                }
                for addr in have.dests.keys() {
                    if !want.dests.contains_key(addr) {
                        ops.push(Op::DelDest(*key, *addr));
                    }
                }
            }
        }
    }
    for key in actual.services.keys() {
        if !desired.services.contains_key(key) && owned(key) {
            ops.push(Op::DelService(*key));
        }
    }
    ops
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipvs::{Dest, Forward, Protocol, Scheduler, Service, VirtualService};

    fn key(port: u16) -> ServiceKey {
        ServiceKey::Inet {
            protocol: Protocol::Tcp,
            addr: format!("192.0.2.1:{port}").parse().unwrap(),
        }
    }

    fn dest(last: u8, weight: u32) -> Dest {
        Dest::new(
            format!("198.51.100.{last}:80").parse().unwrap(),
            Forward::Masq,
            weight,
        )
    }

    fn vs(port: u16, dests: &[Dest]) -> VirtualService {
        let mut v = VirtualService::new(Service::new(key(port), Scheduler::Wrr));
        for d in dests {
            v = v.with_dest(*d);
        }
        v
    }

    fn table(services: Vec<VirtualService>) -> Table {
        let mut t = Table::new();
        for s in services {
            t.insert(s);
        }
        t
    }

    #[test]
    fn equal_tables_need_nothing() {
        let t = table(vec![vs(80, &[dest(2, 1), dest(3, 2)])]);
        assert!(plan(&t, &t.clone(), |_| true).is_empty());
    }

    #[test]
    fn missing_service_is_added_with_its_dests() {
        let want = table(vec![vs(80, &[dest(2, 1)])]);
        let ops = plan(&want, &Table::new(), |_| true);
        assert_eq!(
            ops,
            vec![
                Op::AddService(want.services[0].service.clone()),
                Op::AddDest(key(80), dest(2, 1)),
            ]
        );
    }

    #[test]
    fn only_differences_are_written() {
        let want = table(vec![vs(80, &[dest(2, 5), dest(4, 1)])]);
        let mut have = table(vec![vs(80, &[dest(2, 1), dest(3, 1)])]);
        have.services[0].service.scheduler = Scheduler::Rr;
        let ops = plan(&want, &have, |_| true);
        assert_eq!(
            ops,
            vec![
                Op::EditService(want.services[0].service.clone()),
                Op::EditDest(key(80), dest(2, 5)),
                Op::AddDest(key(80), dest(4, 1)),
                Op::DelDest(key(80), dest(3, 1).addr),
            ]
        );
    }

    #[test]
    fn services_in_sync_are_skipped() {
        let want = table(vec![vs(80, &[dest(2, 1)]), vs(81, &[dest(2, 1)])]);
        // The kernel listing without destinations for 80 (trusted) and 81.
        let have = table(vec![vs(80, &[]), vs(81, &[])]);
        let ops = plan_with(&want, &have, |_| true, |k| *k == key(80));
        assert_eq!(ops, vec![Op::AddDest(key(81), dest(2, 1))]);
    }

    #[test]
    fn foreign_services_are_left_alone_and_stale_owned_ones_go() {
        let want = table(vec![vs(80, &[])]);
        let have = table(vec![vs(80, &[]), vs(81, &[dest(2, 1)]), vs(82, &[])]);
        let ops = plan(&want, &have, |k| *k == key(81));
        assert_eq!(ops, vec![Op::DelService(key(81))]);
    }
}
