//! Netlink attributes (TLVs): a writer that sizes and emits them in two
//! passes over the same code, and a bounds-checked view for reading.

use netlink_packet_core::{NLA_TYPE_MASK, NlasIterator};

use super::WireError;

const NLA_HDR: usize = 4;

fn align(len: usize) -> usize {
    (len + 3) & !3
}

/// Where attributes go: either counted (to size a message) or written.
/// One `emit` function drives both, so size and bytes cannot disagree.
pub trait AttrSink {
    /// Appends one attribute with `value` as payload.
    fn put(&mut self, kind: u16, value: &[u8]);
    /// Opens a nested attribute; returns a token for `end_nested`.
    fn begin_nested(&mut self, kind: u16) -> usize;
    fn end_nested(&mut self, token: usize);

    fn put_u8(&mut self, kind: u16, v: u8) {
        self.put(kind, &[v]);
    }
    fn put_u16(&mut self, kind: u16, v: u16) {
        self.put(kind, &v.to_ne_bytes());
    }
    fn put_u32(&mut self, kind: u16, v: u32) {
        self.put(kind, &v.to_ne_bytes());
    }
    /// A 16-bit value in network byte order (ports).
    fn put_be16(&mut self, kind: u16, v: u16) {
        self.put(kind, &v.to_be_bytes());
    }
    /// A NUL-terminated string.
    fn put_str(&mut self, kind: u16, s: &str);
}

/// Counts the bytes the attributes will take.
#[derive(Debug, Default)]
pub struct LenCounter(pub usize);

impl AttrSink for LenCounter {
    fn put(&mut self, _kind: u16, value: &[u8]) {
        self.0 += NLA_HDR + align(value.len());
    }
    fn begin_nested(&mut self, _kind: u16) -> usize {
        self.0 += NLA_HDR;
        0
    }
    fn end_nested(&mut self, _token: usize) {}
    fn put_str(&mut self, _kind: u16, s: &str) {
        self.0 += NLA_HDR + align(s.len() + 1);
    }
}

/// Writes attributes into a buffer sized by [`LenCounter`].
pub struct SliceWriter<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl<'a> SliceWriter<'a> {
    pub fn new(buf: &'a mut [u8]) -> Self {
        SliceWriter { buf, pos: 0 }
    }

    pub fn position(&self) -> usize {
        self.pos
    }

    fn header(&mut self, kind: u16, len: usize) {
        // Lengths of IPVS attributes are tiny (< 64 KiB by construction).
        let len = len as u16;
        self.buf[self.pos..self.pos + 2].copy_from_slice(&len.to_ne_bytes());
        self.buf[self.pos + 2..self.pos + 4].copy_from_slice(&kind.to_ne_bytes());
        self.pos += NLA_HDR;
    }

    fn payload(&mut self, parts: &[&[u8]]) {
        let mut n = 0;
        for p in parts {
            self.buf[self.pos + n..self.pos + n + p.len()].copy_from_slice(p);
            n += p.len();
        }
        let padded = align(n);
        self.buf[self.pos + n..self.pos + padded].fill(0);
        self.pos += padded;
    }
}

impl AttrSink for SliceWriter<'_> {
    fn put(&mut self, kind: u16, value: &[u8]) {
        self.header(kind, NLA_HDR + value.len());
        self.payload(&[value]);
    }
    fn begin_nested(&mut self, kind: u16) -> usize {
        let start = self.pos;
        self.header(kind, 0);
        start
    }
    fn end_nested(&mut self, token: usize) {
        let len = (self.pos - token) as u16;
        self.buf[token..token + 2].copy_from_slice(&len.to_ne_bytes());
    }
    fn put_str(&mut self, kind: u16, s: &str) {
        self.header(kind, NLA_HDR + s.len() + 1);
        self.payload(&[s.as_bytes(), &[0]]);
    }
}

/// Attributes of one level, indexed by type: `N` slots, unknown (newer)
/// types ignored, a repeated type keeps the last value (as the kernel does).
pub struct AttrTable<'a, const N: usize> {
    slots: [Option<&'a [u8]>; N],
    what: &'static str,
}

impl<'a, const N: usize> AttrTable<'a, N> {
    /// Indexes `bytes`; fails on a truncated or self-inconsistent attribute.
    /// `what` names the level in error messages.
    pub fn parse(bytes: &'a [u8], what: &'static str) -> Result<Self, WireError> {
        let mut slots = [None; N];
        for nla in NlasIterator::new(bytes) {
            let nla = nla.map_err(|e| WireError::Malformed {
                what,
                detail: e.to_string(),
            })?;
            let kind = usize::from(nla.kind() & NLA_TYPE_MASK);
            let len = usize::from(nla.length());
            // `new_checked` guarantees NLA_HDR <= len <= the slice length.
            let value = &nla.into_inner()[NLA_HDR..len];
            if let Some(slot) = slots.get_mut(kind) {
                *slot = Some(value);
            }
        }
        Ok(AttrTable { slots, what })
    }

    pub fn get(&self, kind: u16) -> Option<&'a [u8]> {
        self.slots.get(usize::from(kind)).copied().flatten()
    }

    pub fn required(&self, kind: u16, name: &'static str) -> Result<&'a [u8], WireError> {
        self.get(kind).ok_or(WireError::Missing {
            what: self.what,
            attr: name,
        })
    }

    fn fixed<const L: usize>(
        &self,
        kind: u16,
        name: &'static str,
    ) -> Result<Option<[u8; L]>, WireError> {
        match self.get(kind) {
            None => Ok(None),
            Some(v) => v.try_into().map(Some).map_err(|_| WireError::BadLength {
                what: self.what,
                attr: name,
                len: v.len(),
            }),
        }
    }

    pub fn u8(&self, kind: u16, name: &'static str) -> Result<Option<u8>, WireError> {
        Ok(self.fixed::<1>(kind, name)?.map(|b| b[0]))
    }

    pub fn u16(&self, kind: u16, name: &'static str) -> Result<Option<u16>, WireError> {
        Ok(self.fixed::<2>(kind, name)?.map(u16::from_ne_bytes))
    }

    pub fn be16(&self, kind: u16, name: &'static str) -> Result<Option<u16>, WireError> {
        Ok(self.fixed::<2>(kind, name)?.map(u16::from_be_bytes))
    }

    pub fn u32(&self, kind: u16, name: &'static str) -> Result<Option<u32>, WireError> {
        Ok(self.fixed::<4>(kind, name)?.map(u32::from_ne_bytes))
    }

    pub fn be32(&self, kind: u16, name: &'static str) -> Result<Option<u32>, WireError> {
        Ok(self.fixed::<4>(kind, name)?.map(u32::from_be_bytes))
    }

    /// A NUL-terminated (or unterminated) UTF-8 string.
    pub fn string(&self, kind: u16, name: &'static str) -> Result<Option<String>, WireError> {
        let Some(v) = self.get(kind) else {
            return Ok(None);
        };
        let end = v.iter().position(|b| *b == 0).unwrap_or(v.len());
        std::str::from_utf8(&v[..end])
            .map(|s| Some(s.to_owned()))
            .map_err(|_| WireError::BadValue {
                what: self.what,
                attr: name,
                detail: "not UTF-8".into(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample<S: AttrSink>(s: &mut S) {
        s.put_u16(1, 2);
        let n = s.begin_nested(2);
        s.put_str(1, "wrr");
        s.put_be16(2, 80);
        s.end_nested(n);
        s.put_u8(3, 7);
    }

    fn build_sample() -> Vec<u8> {
        let mut c = LenCounter::default();
        sample(&mut c);
        let mut buf = vec![0xAA; c.0];
        let mut w = SliceWriter::new(&mut buf);
        sample(&mut w);
        assert_eq!(w.position(), c.0, "counter and writer disagree");
        buf
    }

    #[test]
    fn counter_and_writer_agree_and_pad() {
        let bytes = build_sample();
        assert_eq!(bytes.len() % 4, 0);
        let t: AttrTable<'_, 4> = AttrTable::parse(&bytes, "test").unwrap();
        assert_eq!(t.u16(1, "a").unwrap(), Some(2));
        assert_eq!(t.u8(3, "c").unwrap(), Some(7));
        let nested: AttrTable<'_, 3> = AttrTable::parse(t.get(2).unwrap(), "n").unwrap();
        assert_eq!(nested.string(1, "s").unwrap().as_deref(), Some("wrr"));
        assert_eq!(nested.be16(2, "p").unwrap(), Some(80));
    }

    #[test]
    fn wrong_sizes_and_truncation_are_errors() {
        let bytes = build_sample();
        let t: AttrTable<'_, 4> = AttrTable::parse(&bytes, "test").unwrap();
        assert!(matches!(
            t.u32(1, "a"),
            Err(WireError::BadLength { len: 2, .. })
        ));
        for cut in 1..bytes.len() {
            // Never panics; a cut inside an attribute is an error.
            let _ = AttrTable::<4>::parse(&bytes[..cut], "test");
        }
        // The first attribute says 6 bytes; 5 cannot hold it.
        assert!(AttrTable::<4>::parse(&bytes[..5], "test").is_err());
    }

    #[test]
    fn unknown_types_are_ignored() {
        let mut buf = vec![0u8; 8];
        let mut w = SliceWriter::new(&mut buf);
        w.put_u16(200, 1);
        let t: AttrTable<'_, 4> = AttrTable::parse(&buf, "t").unwrap();
        assert!(t.get(200).is_none());
    }
}
