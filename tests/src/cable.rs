//! Pulling and re-plugging a host's cable at the switch: the bridge-side
//! port leaves the bridge, so the host keeps carrier (its own link stays up)
//! but hears nothing and is heard by no one, like a cut beyond the NIC.

use crate::Lan;

/// Cable operations on a [`Lan`].
pub trait Cable {
    /// Detaches host `idx`'s port from the bridge (the host still sees link up).
    fn unplug(&self, idx: usize);
    /// Re-attaches it.
    fn plug(&self, idx: usize);
}

impl Cable for Lan {
    fn unplug(&self, idx: usize) {
        self.hub.ip(&["link", "set", &self.port(idx), "nomaster"]);
    }

    fn plug(&self, idx: usize) {
        self.hub
            .ip(&["link", "set", &self.port(idx), "master", "br0"]);
    }
}
