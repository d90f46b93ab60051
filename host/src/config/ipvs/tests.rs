use std::path::Path;

use crate::config::{Config, ConfigError};
use crate::ipvs::{
    Family, Forward, Protocol, Scheduler, ServiceFlags, ServiceKey, Tunnel, TunnelKind,
};

const HEAD: &str = "[check.web1]\nplugin = \"tcp\"\ntarget = \"198.51.100.2:80\"\n\
[check.web2]\nplugin = \"tcp\"\ntarget = \"198.51.100.3:80\"\n\
[vrrp_instance.VI_1]\ninterface = \"eth0\"\nvrid = 1\nvirtual_ipaddress = [\"192.0.2.200/24\"]\n";

fn ok(text: &str) -> Config {
    let full = format!("{HEAD}{text}");
    Config::parse(Path::new("b.toml"), &full).unwrap_or_else(|e| panic!("{e}"))
}

/// The single error of `text` (after the common head), with its location
/// relative to `text`'s own lines.
fn err(text: &str) -> ConfigError {
    let full = format!("{HEAD}{text}");
    let mut errs = Config::parse(Path::new("b.toml"), &full)
        .expect_err("should be rejected")
        .0;
    assert_eq!(errs.len(), 1, "expected one error, got: {errs:#?}");
    let mut e = errs.remove(0);
    e.line -= HEAD.lines().count();
    e
}

#[test]
fn a_full_virtual_server_resolves() {
    let c = ok(r#"
[virtual_server.www]
address = "192.0.2.1:80"
scheduler = "sh"
scheduler_flags = ["sh-fallback", "sh-port"]
persistence_timeout = "300s"
persistence_granularity = "255.255.255.0"
quorum = 2
hysteresis = 1
inhibit_on_failure = true
alpha = true
omega = true
only_when_master = "VI_1"
sorry_server = { address = "203.0.113.9:80", inhibit = true }

[[virtual_server.www.real_server]]
address = "198.51.100.2:8080"
weight = 3
checks = ["web1"]

[[virtual_server.www.real_server]]
address = "198.51.100.3"
forwarding = "dr"
upper_threshold = 100
lower_threshold = 10
inhibit_on_failure = false
checks = ["web1", "web2"]

[[virtual_server.www.real_server]]
address = "[2001:db8::9]"
forwarding = "tun"
tunnel = "gue"
tunnel_port = 6080
tunnel_checksum = "csum"

[virtual_server.mark]
fwmark = 7
family = "ipv6"
scheduler = "mh"
scheduler_flags = ["mh-port"]
forwarding = "dr"

[[virtual_server.mark.real_server]]
address = "2001:db8::2"

[virtual_server.dns]
address = "192.0.2.1:53"
protocol = "udp"
one_packet = true
"#);
    let specs = c.virtual_server_specs();
    assert_eq!(specs.len(), 3);
    let by_name = |n: &str| specs.iter().find(|s| s.name == n).unwrap();
    let www = by_name("www");
    assert_eq!(www.name, "www");
    assert_eq!(
        www.service.key,
        ServiceKey::Inet {
            protocol: Protocol::Tcp,
            addr: "192.0.2.1:80".parse().unwrap()
        }
    );
    assert_eq!(www.service.scheduler, Scheduler::Sh);
    assert_eq!(
        www.service.flags,
        ServiceFlags(ServiceFlags::SH_FALLBACK | ServiceFlags::SH_PORT | ServiceFlags::PERSISTENT)
    );
    assert_eq!(
        (www.service.timeout, www.service.netmask),
        (300, 0xffff_ff00)
    );
    assert_eq!(
        (www.quorum, www.hysteresis, www.alpha, www.omega),
        (2, 1, true, true)
    );
    assert_eq!(www.only_when_master.as_deref(), Some("VI_1"));
    let rs = &www.real_servers;
    assert_eq!(rs[0].dest.addr, "198.51.100.2:8080".parse().unwrap());
    assert_eq!((rs[0].dest.weight, rs[0].dest.forward), (3, Forward::Masq));
    assert!(
        rs[0].inhibit_on_failure,
        "inherits the virtual server's default"
    );
    assert_eq!(
        rs[1].dest.addr,
        "198.51.100.3:80".parse().unwrap(),
        "port from the service"
    );
    assert_eq!(rs[1].dest.forward, Forward::Route);
    assert_eq!(
        (rs[1].dest.upper_threshold, rs[1].dest.lower_threshold),
        (100, 10)
    );
    assert!(!rs[1].inhibit_on_failure);
    assert_eq!(rs[1].checks, vec!["web1", "web2"]);
    assert_eq!(
        rs[2].dest.forward,
        Forward::Tunnel(Tunnel {
            kind: TunnelKind::Gue,
            port: 6080,
            flags: Tunnel::FLAG_CSUM
        })
    );
    let sorry = www.sorry_server.as_ref().unwrap();
    assert!(sorry.inhibit);
    assert_eq!(sorry.dest.weight, 1);

    let mark = by_name("mark");
    assert_eq!(
        mark.service.key,
        ServiceKey::Fwmark {
            family: Family::Ipv6,
            mark: 7
        }
    );
    assert_eq!(mark.service.netmask, 128);
    assert_eq!(
        mark.real_servers[0].dest.addr,
        "[2001:db8::2]:0".parse().unwrap()
    );
    assert_eq!(mark.quorum, 1, "default quorum");
    let dns = by_name("dns");
    assert_eq!(dns.service.scheduler, Scheduler::Wlc, "default scheduler");
    assert_eq!(dns.service.flags, ServiceFlags(ServiceFlags::ONE_PACKET));
}

#[test]
fn unknown_scheduler_suggests() {
    let e = err("[virtual_server.a]\naddress = \"192.0.2.1:80\"\nscheduler = \"wrrr\"\n");
    assert_eq!((e.line, e.col), (3, 13));
    assert!(
        e.message
            .contains("unknown scheduler `wrrr` (did you mean `wrr`?)"),
        "{}",
        e.message
    );
}

#[test]
fn unknown_enum_values_suggest() {
    let e = err("[virtual_server.a]\naddress = \"192.0.2.1:80\"\nforwarding = \"natt\"\n");
    assert_eq!((e.line, e.col), (3, 14));
    assert_eq!(e.hint.as_deref(), Some("did you mean `nat`?"));
    let e = err("[virtual_server.a]\naddress = \"192.0.2.1:80\"\nprotocol = \"quic\"\n");
    assert_eq!(e.hint.as_deref(), Some("valid values here: tcp, udp, sctp"));
}

#[test]
fn bad_address_says_how_to_write_one() {
    let e = err("[virtual_server.a]\naddress = \"192.0.2.1:http\"\n");
    assert_eq!((e.line, e.col), (2, 11));
    assert!(e.message.contains("write IP:PORT"), "{}", e.message);
}

#[test]
fn unknown_real_server_key_suggests() {
    let e = err(
        "[virtual_server.a]\naddress = \"192.0.2.1:80\"\n[[virtual_server.a.real_server]]\naddress = \"198.51.100.2\"\nwieght = 2\n",
    );
    assert_eq!(e.line, 5);
    assert_eq!(e.hint.as_deref(), Some("did you mean `weight`?"));
}

#[test]
fn semantic_errors_point_at_the_value_with_a_hint() {
    let vs = "[virtual_server.a]\naddress = \"192.0.2.1:80\"\n";
    let cases: &[(&str, (usize, usize), &str, &str)] = &[
        (
            &format!("{vs}persistence_timeout = \"60s\"\npersistence_engine = \"rtsp\"\n"),
            (4, 22),
            "unknown persistence engine `rtsp`",
            "sip",
        ),
        (
            "[virtual_server.a]\n",
            (1, 17),
            "needs `address` or `fwmark`",
            "add address",
        ),
        (
            "[virtual_server.a]\naddress = \"192.0.2.1:80\"\nfwmark = 3\n",
            (3, 10),
            "not both",
            "remove one",
        ),
        (
            "[virtual_server.a]\nfwmark = 3\nprotocol = \"udp\"\n",
            (3, 12),
            "any protocol",
            "remove `protocol`",
        ),
        (
            "[virtual_server.a]\naddress = \"192.0.2.1\"\n",
            (2, 11),
            "needs a port",
            "IP:PORT",
        ),
        (
            "[virtual_server.a]\naddress = \"192.0.2.1:0\"\n",
            (2, 11),
            "port 0",
            "persistence_timeout",
        ),
        (
            &format!("{vs}scheduler = \"wrr\"\nscheduler_flags = [\"sh-port\"]\n"),
            (4, 20),
            "`sh-port` is a flag of the `sh` scheduler, not of `wrr`",
            "scheduler",
        ),
        (
            &format!("{vs}one_packet = true\n"),
            (3, 14),
            "only works for UDP",
            "udp",
        ),
        (
            &format!("{vs}persistence_timeout = \"1.5s\"\n"),
            (3, 23),
            "whole number of seconds",
            "seconds",
        ),
        (
            &format!("{vs}persistence_granularity = 24\n"),
            (3, 27),
            "without persistence",
            "persistence_timeout",
        ),
        (
            &format!(
                "{vs}persistence_timeout = \"60s\"\npersistence_granularity = \"255.0.255.0\"\n"
            ),
            (4, 27),
            "not a contiguous netmask",
            "prefix length",
        ),
        (
            "[virtual_server.a]\naddress = \"[2001:db8::1]:80\"\npersistence_timeout = \"60s\"\npersistence_granularity = \"ffff::\"\n",
            (4, 27),
            "IPv6 granularity is a prefix length",
            "1..128",
        ),
        (
            &format!("{vs}quorum = 0\n"),
            (3, 10),
            "at least 1",
            "default",
        ),
        (
            &format!("{vs}only_when_master = \"VI_2\"\n"),
            (3, 20),
            "no VRRP instance `VI_2`",
            "did you mean `VI_1`?",
        ),
        (
            &format!(
                "{vs}[[virtual_server.a.real_server]]\naddress = \"198.51.100.2\"\nchecks = [\"web3\"]\n"
            ),
            (5, 11),
            "no check `web3`",
            "did you mean `web1`?",
        ),
        (
            &format!(
                "{vs}[[virtual_server.a.real_server]]\naddress = \"198.51.100.2\"\nupper_threshold = 5\nlower_threshold = 9\n"
            ),
            (6, 19),
            "lower_threshold 9 is above upper_threshold 5",
            "upper_threshold",
        ),
        (
            &format!(
                "{vs}[[virtual_server.a.real_server]]\naddress = \"198.51.100.2\"\n[[virtual_server.a.real_server]]\naddress = \"198.51.100.2:80\"\n"
            ),
            (6, 11),
            "listed twice",
            "once",
        ),
        (
            &format!("{vs}[[virtual_server.a.real_server]]\naddress = \"2001:db8::2\"\n"),
            (4, 11),
            "the virtual server is ipv4",
            "tun",
        ),
        (
            &format!(
                "{vs}[[virtual_server.a.real_server]]\naddress = \"198.51.100.2:8080\"\nforwarding = \"dr\"\n"
            ),
            (4, 11),
            "dr cannot change the port (80 → 8080)",
            "nat",
        ),
        (
            &format!(
                "{vs}[[virtual_server.a.real_server]]\naddress = \"198.51.100.2\"\nforwarding = \"tun\"\ntunnel = \"gue\"\n"
            ),
            (3, 1),
            "GUE tunnel needs `tunnel_port`",
            "6080",
        ),
        (
            &format!(
                "{vs}[[virtual_server.a.real_server]]\naddress = \"198.51.100.2\"\ntunnel = \"gre\"\n"
            ),
            (5, 10),
            "tunnel options on a `nat` server",
            "forwarding = \"tun\"",
        ),
        (
            &format!(
                "{vs}[[virtual_server.a.real_server]]\naddress = \"198.51.100.2\"\nweight = 3000000000\n"
            ),
            (5, 10),
            "above 2147483647",
            "",
        ),
        (
            &format!("{vs}sorry_server = {{ address = \"2001:db8::5\" }}\n"),
            (3, 28),
            "the virtual server is ipv4",
            "tun",
        ),
        (
            &format!("{vs}[virtual_server.b]\naddress = \"192.0.2.1:80\"\n"),
            (4, 11),
            "192.0.2.1:80/tcp is already defined by virtual server `a`",
            "once",
        ),
    ];
    for (text, at, msg, hint) in cases {
        let e = err(text);
        assert!(
            e.message.contains(msg),
            "{text}\n=> {e}\n(wanted message `{msg}`)"
        );
        assert_eq!((e.line, e.col), *at, "{text}\n=> {e}");
        assert!(
            e.hint.as_deref().unwrap_or("").contains(hint),
            "{text}\n=> {e}\n(wanted hint `{hint}`)"
        );
    }
}
