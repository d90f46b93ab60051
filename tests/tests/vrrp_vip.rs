//! The VIP manager against the real kernel (rtnetlink in a namespace):
//! desired state reconciled, idempotent, foreign addresses left alone.

use std::net::IpAddr;

use belay::config::vrrp::Vip;
use belay::vrrp::rtnl::Rtnl;
use belay::vrrp::vip::VipSet;
use belay_tests::inject::in_netns;
use belay_tests::{Netns, require_root};

fn vip(s: &str, label: Option<&str>) -> Vip {
    let mut v: Vip = s.parse().unwrap();
    v.label = label.map(str::to_owned);
    v
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn reconcile_adds_and_removes_only_ours_and_is_idempotent() {
    if !require_root("reconcile_adds_and_removes_only_ours_and_is_idempotent") {
        return;
    }
    let ns = Netns::new("vip");
    ns.ip(&[
        "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p",
    ]);
    ns.link_set("eth0p", true);
    ns.link_set("eth0", true);
    ns.add_addr("eth0", "192.0.2.1/24");
    ns.add_addr("eth0", "2001:db8::1/64");
    let ns_name = ns.name().to_owned();
    in_netns(&ns, move || {
        let mut rtnl = Rtnl::open().unwrap();
        let link = rtnl.link_by_name("eth0").unwrap().expect("eth0");
        let v4 = VipSet::new(
            link.index,
            vec![
                vip("192.0.2.100/24", Some("eth0:vip")),
                vip("198.51.100.1/32", None),
            ],
        );
        let d = v4.reconcile(&mut rtnl, true).unwrap();
        assert_eq!(d.added, vec![ip("192.0.2.100"), ip("198.51.100.1")]);
        assert!(d.removed.is_empty());
        assert!(
            v4.reconcile(&mut rtnl, true).unwrap().is_empty(),
            "second apply changed something"
        );
        let present = v4.present(&mut rtnl).unwrap();
        let labelled = present
            .iter()
            .find(|a| a.addr == ip("192.0.2.100"))
            .unwrap();
        assert_eq!(labelled.label.as_deref(), Some("eth0:vip"));
        assert_eq!(labelled.prefix, 24);
        assert!(
            labelled.secondary,
            "a VIP in the primary's subnet is secondary"
        );

        // The takeover fast path is idempotent too.
        assert!(
            v4.install(&mut rtnl, &[ip("192.0.2.100")])
                .unwrap()
                .is_empty()
        );

        let d = v4.reconcile(&mut rtnl, false).unwrap();
        assert_eq!(d.removed.len(), 2);
        assert!(v4.reconcile(&mut rtnl, false).unwrap().is_empty());

        // IPv6: added without DAD, so usable at once.
        let v6 = VipSet::new(link.index, vec![vip("2001:db8::100/64", None)]);
        v6.reconcile(&mut rtnl, true).unwrap();
        let p = v6.present(&mut rtnl).unwrap();
        assert_eq!(p.len(), 1);
        assert!(!p[0].tentative, "IPv6 VIP is tentative (DAD ran)");
        assert_eq!(
            v6.release(&mut rtnl, &[ip("2001:db8::100")]).unwrap().len(),
            1
        );
    });
    // Foreign addresses survived every step.
    assert!(ns.has_addr("eth0", "192.0.2.1"), "{ns_name}");
    assert!(ns.has_addr("eth0", "2001:db8::1"));
    assert!(!ns.has_addr("eth0", "192.0.2.100"));
    assert!(!ns.has_addr("eth0", "2001:db8::100"));
}

#[test]
fn a_leftover_vip_with_another_prefix_is_still_ours_to_remove() {
    if !require_root("a_leftover_vip_with_another_prefix_is_still_ours_to_remove") {
        return;
    }
    let ns = Netns::new("vipp");
    ns.ip(&[
        "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p",
    ]);
    ns.link_set("eth0p", true);
    ns.link_set("eth0", true);
    // An older config had it as /32.
    ns.add_addr("eth0", "192.0.2.100/32");
    in_netns(&ns, || {
        let mut rtnl = Rtnl::open().unwrap();
        let link = rtnl.link_by_name("eth0").unwrap().unwrap();
        let set = VipSet::new(link.index, vec![vip("192.0.2.100/24", None)]);
        let d = set.reconcile(&mut rtnl, false).unwrap();
        assert_eq!(d.removed, vec![ip("192.0.2.100")]);
    });
    assert!(!ns.has_addr("eth0", "192.0.2.100"));
}
