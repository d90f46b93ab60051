//! `belay check-config`: a table of broken files, each with the message,
//! line and column it must report (and a hint where one helps); every
//! example config passes. Runs the real binary, like `keepalived -t`.

use std::path::PathBuf;
use std::process::Command;

use belay_tests::{belay_bin, workspace_root};

const INSTANCE: &str = "[vrrp_instance.VI_1]\ninterface = \"eth0\"\nvrid = 51\nvirtual_ipaddress = [\"192.0.2.100/24\"]\n";
const CHECK: &str = "[check.web]\nplugin = \"http\"\ntarget = \"192.0.2.10:80\"\n";

struct Case {
    name: &'static str,
    text: String,
    /// (line, column) of the reported error.
    at: (usize, usize),
    message: &'static str,
    hint: Option<&'static str>,
}

fn case(
    name: &'static str,
    text: impl Into<String>,
    at: (usize, usize),
    message: &'static str,
    hint: Option<&'static str>,
) -> Case {
    Case {
        name,
        text: text.into(),
        at,
        message,
        hint,
    }
}

fn cases() -> Vec<Case> {
    vec![
        case(
            "toml syntax",
            "[global\nrouter_id = \"x\"\n",
            (1, 8),
            "",
            None,
        ),
        case(
            "unknown section",
            "[globl]\n",
            (1, 2),
            "unknown field `globl`",
            Some("did you mean `global`?"),
        ),
        case(
            "unknown instance key",
            format!("{INSTANCE}priorty = 5\n"),
            (5, 1),
            "unknown field `priorty`",
            Some("did you mean `priority`?"),
        ),
        case(
            "duration without unit",
            format!("{INSTANCE}advert_interval = 1\n"),
            (5, 19),
            "needs a unit",
            None,
        ),
        case(
            "v2 interval in ms",
            format!("{INSTANCE}version = 2\nadvert_interval = \"1500ms\"\n"),
            (6, 19),
            "whole seconds",
            None,
        ),
        case(
            "mixed families",
            "[vrrp_instance.VI_1]\ninterface = \"eth0\"\nvrid = 51\nvirtual_ipaddress = [\"192.0.2.100/24\", \"2001:db8::1/64\"]\n",
            (4, 40),
            "",
            None,
        ),
        case(
            "priority 0",
            format!("{INSTANCE}priority = 0\n"),
            (5, 12),
            "priority must be 1..=255",
            Some("priority 0 is sent only by a stopping master"),
        ),
        case(
            "track names a missing check",
            format!("{CHECK}{INSTANCE}track = [{{ check = \"wbe\", weight = -60 }}]\n"),
            (8, 20),
            "no check named `wbe`",
            Some("did you mean `web`?"),
        ),
        case(
            "track with two targets",
            format!("{CHECK}{INSTANCE}track = [{{ check = \"web\", interface = \"eth1\" }}]\n"),
            (8, 10),
            "exactly one of `check` or `interface`",
            Some("write { check"),
        ),
        case(
            "track weight too big",
            format!("{CHECK}{INSTANCE}track = [{{ check = \"web\", weight = 300 }}]\n"),
            (8, 36),
            "weight 300 is outside",
            None,
        ),
        case(
            "resign_below word",
            format!("{INSTANCE}resign_below = \"sometimes\"\n"),
            (5, 16),
            "resign_below must be",
            None,
        ),
        case(
            "notify not absolute",
            format!("{INSTANCE}[vrrp_instance.VI_1.notify]\nmaster = \"hook.sh\"\n"),
            (6, 10),
            "not an absolute path",
            Some("without a shell or PATH lookup"),
        ),
        case(
            "notify missing file",
            format!("{INSTANCE}[vrrp_instance.VI_1.notify]\nany = \"/nonexistent/hook.sh\"\n"),
            (6, 7),
            "does not exist or is not executable",
            Some("chmod +x"),
        ),
        case(
            "sync group unknown instance",
            format!("{INSTANCE}[sync_group.g]\ninstances = [\"VI_1\", \"VI_2\"]\n"),
            (6, 22),
            "no vrrp_instance named `VI_2`",
            Some("did you mean `VI_1`?"),
        ),
        case(
            "check target without port",
            "[check.web]\nplugin = \"http\"\ntarget = \"192.0.2.10\"\n",
            (3, 10),
            "missing `:port`",
            None,
        ),
        case(
            "check timeout beyond interval",
            format!("{CHECK}interval = \"1s\"\ntimeout = \"2s\"\n"),
            (5, 11),
            "longer than the interval",
            Some("raise interval or lower timeout"),
        ),
        case(
            "check plugin name",
            "[check.web]\nplugin = \"../evil\"\ntarget = \"192.0.2.10:80\"\n",
            (2, 10),
            "not a plain name",
            None,
        ),
        case(
            "unknown scheduler",
            "[virtual_server.www]\naddress = \"192.0.2.1:80\"\nscheduler = \"rrr\"\n",
            (3, 13),
            "unknown scheduler `rrr` (did you mean `rr`?)",
            None,
        ),
    ]
}

struct TempFile(PathBuf);
impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn broken_configs_are_rejected_with_their_place_and_a_hint() {
    let mut failures = Vec::new();
    for (i, c) in cases().into_iter().enumerate() {
        let file = TempFile(
            std::env::temp_dir().join(format!("belay-cfg-{}-{i}.toml", std::process::id())),
        );
        std::fs::write(&file.0, &c.text).unwrap();
        let out = Command::new(belay_bin())
            .args(["check-config", "-c"])
            .arg(&file.0)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let first = stderr.lines().next().unwrap_or("");
        let want_at = format!("{}:{}:{}: ", file.0.display(), c.at.0, c.at.1);
        let mut problems = Vec::new();
        if out.status.code() != Some(1) {
            problems.push(format!("exit {:?}, want 1", out.status.code()));
        }
        if !first.starts_with(&want_at) {
            problems.push(format!("want place {want_at:?}"));
        }
        if !first.contains(c.message) {
            problems.push(format!("want message containing {:?}", c.message));
        }
        if let Some(h) = c.hint
            && !stderr
                .lines()
                .any(|l| l.trim_start().starts_with("hint:") && l.contains(h))
        {
            problems.push(format!("want a hint containing {h:?}"));
        }
        if !problems.is_empty() {
            failures.push(format!(
                "{}: {}\n  got: {stderr}",
                c.name,
                problems.join("; ")
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn every_example_passes_check_config() {
    let dir = workspace_root().join("examples");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        n += 1;
        let out = Command::new(belay_bin())
            .args(["check-config", "-c"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(n >= 8, "only {n} examples in {}", dir.display());
}
