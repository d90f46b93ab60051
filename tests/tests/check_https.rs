//! HTTPS checks against a real TLS server (`openssl s_server -www`) whose
//! certificate is signed by a CA made for the test: the stock `http` plugin
//! through the real runtime trusts that CA only when the check says so
//! (`tls_ca`), refuses it with the public roots (the default), and accepts it
//! with `tls_verify = false`.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use belay::check::Probe;
use belay::check::tls::TlsSettings;
use belay_tests::checks::{CheckLab, assert_healthy, reason};
use belay_tests::{Proc, TempDir, refused_port, stock_plugin_path, wait_until};

const T: Duration = Duration::from_secs(5);

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs (scripts/setup.sh installs it)");
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A test CA and a server certificate for 127.0.0.1 signed by it.
struct Pki {
    dir: TempDir,
}

impl Pki {
    fn new() -> Pki {
        let dir = TempDir::new("https-pki");
        let d = dir.path();
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        let mut ca = vec!["req", "-x509", "-days", "2", "-subj", "/CN=belay test CA"];
        ca.extend(ec);
        ca.extend(["-keyout", "ca.key", "-out", "ca.pem"]);
        openssl(d, &ca);
        let mut csr = vec!["req", "-subj", "/CN=127.0.0.1"];
        csr.extend(ec);
        csr.extend(["-keyout", "server.key", "-out", "server.csr"]);
        openssl(d, &csr);
        std::fs::write(
            d.join("ext.cnf"),
            "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
        )
        .expect("write ext.cnf");
        openssl(
            d,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                "ext.cnf",
                "-out",
                "server.pem",
            ],
        );
        Pki { dir }
    }

    fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }
}

/// `openssl s_server -www` on 127.0.0.1: answers `GET /` with 200 and a
/// status page; killed by PID on drop.
struct TlsServer {
    port: u16,
    _proc: Proc,
}

impl TlsServer {
    fn start(pki: &Pki) -> TlsServer {
        let port = refused_port();
        let mut cmd = Command::new("openssl");
        cmd.current_dir(pki.dir.path()).args([
            "s_server",
            "-accept",
            &format!("127.0.0.1:{port}"),
            "-cert",
            "server.pem",
            "-key",
            "server.key",
            "-www",
        ]);
        let proc = Proc::spawn("openssl-s_server", cmd);
        wait_until(Duration::from_secs(10), "openssl s_server listens", || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        TlsServer { port, _proc: proc }
    }

    fn target(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

async fn check(server: &TlsServer, tls: TlsSettings) -> belay::check::Report {
    let lab = CheckLab::new();
    lab.load("http", &stock_plugin_path("http"));
    let mut spec = lab.spec(
        "http",
        &server.target(),
        &[("scheme", "https"), ("path", "/")],
    );
    spec.tls = tls;
    lab.probe(spec).probe(T).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_the_configured_ca_is_healthy() {
    let pki = Pki::new();
    let server = TlsServer::start(&pki);
    let r = check(
        &server,
        TlsSettings {
            ca: Some(pki.ca()),
            verify: true,
        },
    )
    .await;
    assert_healthy(&r);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_a_private_ca_fails_on_the_public_roots() {
    let pki = Pki::new();
    let server = TlsServer::start(&pki);
    let r = check(&server, TlsSettings::default()).await;
    assert!(reason(&r).contains("certificate not accepted"), "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_without_verification_accepts_the_certificate() {
    let pki = Pki::new();
    let server = TlsServer::start(&pki);
    let r = check(
        &server,
        TlsSettings {
            ca: None,
            verify: false,
        },
    )
    .await;
    assert_healthy(&r);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_ca_file_fails_every_attempt_with_the_reason() {
    let server_port = refused_port();
    let lab = CheckLab::new();
    lab.load("http", &stock_plugin_path("http"));
    let mut spec = lab.spec(
        "http",
        &format!("127.0.0.1:{server_port}"),
        &[("scheme", "https")],
    );
    spec.tls = TlsSettings {
        ca: Some(PathBuf::from("/nonexistent/belay-ca.pem")),
        verify: true,
    };
    let r = lab.probe(spec).probe(T).await;
    assert!(
        reason(&r).contains("cannot read /nonexistent/belay-ca.pem"),
        "{r:?}"
    );
}
