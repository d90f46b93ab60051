//! Test lab for belay's integration tests: network namespaces, links and
//! processes that remove themselves (Drop guards), bounded waits, and paths to
//! the binaries under test.
//!
//! Safety rules it enforces: every address lives inside a namespace the test
//! created; nothing is added to the host's own interfaces; processes are killed
//! by PID, never by name.

pub mod belay;
pub mod bins;
pub mod cable;
pub mod checks;
pub mod failover;
pub mod inject;
pub mod ipvs_lab;
pub mod keepalived;
pub mod lan;
pub mod netns;
pub mod plugins;
pub mod privilege;
pub mod probe;
pub mod process;
pub mod router;
pub mod servers;
pub mod tempdir;
pub mod uml;
pub mod wait;

pub use bins::{belay_bin, shared_dir, workspace_root};
pub use cable::Cable;
pub use lan::Lan;
pub use netns::Netns;
pub use plugins::{build_test_plugin, build_versioned_plugin, stock_plugin_path};
pub use privilege::require_root;
pub use process::Proc;
pub use router::{Router, VrrpSpec, pings};
pub use servers::{TestServer, refused_port};
pub use tempdir::TempDir;
pub use wait::{wait_until, wait_until_some};
