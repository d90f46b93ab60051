//! Root-only tests skip themselves when not root, unless CI forbids skipping.

/// Environment variable that turns a root skip into a failure (CI sets it).
pub const REQUIRE_ROOT_ENV: &str = "BELAY_REQUIRE_ROOT";

/// Returns true when the test may proceed. Without root it returns false (the
/// test should return early), or panics when `BELAY_REQUIRE_ROOT=1`.
pub fn require_root(test: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    if std::env::var(REQUIRE_ROOT_ENV).as_deref() == Ok("1") {
        panic!("{test}: needs root (network namespaces); {REQUIRE_ROOT_ENV}=1 forbids skipping");
    }
    eprintln!("SKIP {test}: needs root (set {REQUIRE_ROOT_ENV}=1 to make this a failure)");
    false
}
