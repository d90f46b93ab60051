//! Hostile: a component whose export shape differs from belay's world.
wit_bindgen::generate!({ path: "wit", world: "wrong-world" });

struct WrongWorld;

impl exports::belay::check::check::Guest for WrongWorld {
    fn run(host: String) -> bool {
        !host.is_empty()
    }
}

export!(WrongWorld);
