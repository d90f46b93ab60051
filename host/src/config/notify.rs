//! Notify hooks in config: commands run on state transitions.
//!
//! ```toml
//! [vrrp_instance.VI_1.notify]
//! master = "/etc/belay/to-master.sh --reload"   # a string is split like a shell would
//! backup = ["/usr/bin/logger", "vip is backup"]   # or give the argv list
//! any = "/etc/belay/notify.sh"                    # gets TYPE NAME STATE PRIORITY
//! timeout = "5s"
//! ```

use std::fmt;
use std::path::Path;

use serde::Deserialize;
use serde::de::{self, Deserializer};

use super::{Diagnostics, Duration, Seg};
use crate::notify::Hooks;

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    pub master: Option<CommandLine>,
    pub backup: Option<CommandLine>,
    pub fault: Option<CommandLine>,
    pub stop: Option<CommandLine>,
    pub any: Option<CommandLine>,
    #[serde(default = "default_timeout")]
    pub timeout: Duration,
}

fn default_timeout() -> Duration {
    Duration::from_secs(5)
}

impl NotifyConfig {
    pub fn hooks(&self) -> Hooks {
        let argv = |c: &Option<CommandLine>| c.as_ref().map(|c| c.0.clone());
        Hooks {
            master: argv(&self.master),
            backup: argv(&self.backup),
            fault: argv(&self.fault),
            stop: argv(&self.stop),
            any: argv(&self.any),
            timeout: self.timeout.get(),
        }
    }

    /// Checks every command under `path` (the notify table's key path).
    pub(crate) fn validate(&self, path: Vec<Seg>, d: &mut Diagnostics<'_>) {
        for (key, cmd) in [
            ("master", &self.master),
            ("backup", &self.backup),
            ("fault", &self.fault),
            ("stop", &self.stop),
            ("any", &self.any),
        ] {
            let Some(cmd) = cmd else { continue };
            let mut at = path.to_vec();
            at.push(Seg::from(key));
            let program = &cmd.0[0];
            if !program.starts_with('/') {
                d.error(
                    at,
                    format!("notify command `{program}` is not an absolute path"),
                    Some("hooks run without a shell or PATH lookup; write e.g. \"/usr/local/bin/hook.sh\"".into()),
                );
            } else if !is_executable(Path::new(program)) {
                d.error(
                    at,
                    format!("notify command `{program}` does not exist or is not executable"),
                    Some("create it and `chmod +x` it, or remove this hook".into()),
                );
            }
        }
        if self.timeout.get().is_zero() {
            let mut at = path.to_vec();
            at.push(Seg::from("timeout"));
            d.error(at, "notify timeout must be longer than 0s", None);
        }
    }
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// A command as an argv list; from config either a list of strings or one
/// string split with shell quoting rules (no expansion, no shell).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandLine(pub Vec<String>);

impl<'de> Deserialize<'de> for CommandLine {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = CommandLine;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a command string or a list of arguments")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<CommandLine, E> {
                let argv = shlex::split(v)
                    .ok_or_else(|| E::custom(format!("unbalanced quotes in command `{v}`")))?;
                if argv.is_empty() {
                    return Err(E::custom("empty command"));
                }
                Ok(CommandLine(argv))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<CommandLine, A::Error> {
                let mut argv = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    argv.push(s);
                }
                if argv.is_empty() {
                    return Err(de::Error::custom("empty command"));
                }
                Ok(CommandLine(argv))
            }
        }
        d.deserialize_any(V)
    }
}
