//! A minimal reader for classic libpcap files (what tcpdump writes): enough
//! to replay captured frames through the codec.

use std::path::Path;

/// One captured frame.
pub struct Frame {
    /// Seconds and microseconds since the epoch (ns files are scaled).
    pub ts_micros: u64,
    pub data: Vec<u8>,
}

/// Reads every frame of an Ethernet (linktype 1) capture.
pub fn read(path: &Path) -> Vec<Frame> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(bytes.len() >= 24, "{}: no pcap header", path.display());
    let magic = [bytes[0], bytes[1], bytes[2], bytes[3]];
    let (le, nanos) = match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] => (true, false),
        [0xa1, 0xb2, 0xc3, 0xd4] => (false, false),
        [0x4d, 0x3c, 0xb2, 0xa1] => (true, true),
        [0xa1, 0xb2, 0x3c, 0x4d] => (false, true),
        _ => panic!("{}: not a classic pcap file", path.display()),
    };
    let u32_at = |b: &[u8], i: usize| {
        let w = [b[i], b[i + 1], b[i + 2], b[i + 3]];
        if le {
            u32::from_le_bytes(w)
        } else {
            u32::from_be_bytes(w)
        }
    };
    assert_eq!(u32_at(&bytes, 20), 1, "{}: not Ethernet", path.display());
    let mut frames = Vec::new();
    let mut off = 24;
    while off + 16 <= bytes.len() {
        let secs = u64::from(u32_at(&bytes, off));
        let frac = u64::from(u32_at(&bytes, off + 4));
        let caplen = u32_at(&bytes, off + 8) as usize;
        let start = off + 16;
        assert!(
            start + caplen <= bytes.len(),
            "{}: truncated record",
            path.display()
        );
        let micros = if nanos { frac / 1000 } else { frac };
        frames.push(Frame {
            ts_micros: secs * 1_000_000 + micros,
            data: bytes[start..start + caplen].to_vec(),
        });
        off = start + caplen;
    }
    frames
}
