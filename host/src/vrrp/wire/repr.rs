//! The meaning of a VRRP advertisement, independent of its encoding.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use super::error::WireError;
use super::packet::{AUTH_DATA_LEN, Family, HEADER_LEN, Packet};

/// Protocol version. v2 (RFC 3768) is IPv4 only with intervals in seconds;
/// v3 (RFC 5798) is IPv4 or IPv6 with intervals in centiseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    V2,
    V3,
}

impl Version {
    /// The number in the version nibble.
    pub const fn number(self) -> u8 {
        match self {
            Version::V2 => 2,
            Version::V3 => 3,
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}", self.number())
    }
}

/// An advertisement interval in centiseconds, the unit both versions can
/// share (v2 carries whole seconds, v3 12 bits of centiseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AdvertInterval(u16);

impl AdvertInterval {
    /// Largest interval either version can carry: v2's 255 s.
    pub const MAX_CENTIS: u16 = 25_500;
    /// Largest v3 interval: 12 bits of centiseconds (40.95 s).
    pub const MAX_V3_CENTIS: u16 = 0x0fff;
    /// The RFC default: 1 s.
    pub const DEFAULT: AdvertInterval = AdvertInterval(100);

    /// An interval of `centis` hundredths of a second (1..=25500).
    pub const fn from_centis(centis: u16) -> Result<AdvertInterval, WireError> {
        if centis == 0 {
            Err(WireError::ZeroInterval)
        } else if centis > Self::MAX_CENTIS {
            Err(WireError::InvalidInterval {
                version: 2,
                centis: centis as u32,
            })
        } else {
            Ok(AdvertInterval(centis))
        }
    }

    /// An interval of whole seconds (1..=255), as v2 carries it.
    pub const fn from_secs(secs: u8) -> Result<AdvertInterval, WireError> {
        if secs == 0 {
            Err(WireError::ZeroInterval)
        } else {
            Ok(AdvertInterval(secs as u16 * 100))
        }
    }

    /// A duration that is a whole number of centiseconds in range.
    pub fn from_duration(d: Duration) -> Result<AdvertInterval, WireError> {
        let micros = d.as_micros();
        if micros == 0 {
            return Err(WireError::ZeroInterval);
        }
        let centis = micros / 10_000;
        if !micros.is_multiple_of(10_000) || centis > u128::from(Self::MAX_CENTIS) {
            return Err(WireError::InvalidInterval {
                version: 3,
                centis: u32::try_from(centis).unwrap_or(u32::MAX),
            });
        }
        Self::from_centis(centis as u16)
    }

    pub const fn centis(self) -> u16 {
        self.0
    }

    pub const fn as_duration(self) -> Duration {
        Duration::from_millis(self.0 as u64 * 10)
    }

    /// Whether `version` can carry this interval exactly.
    pub const fn fits(self, version: Version) -> bool {
        match version {
            Version::V2 => self.0.is_multiple_of(100) && self.0 / 100 <= 255,
            Version::V3 => self.0 <= Self::MAX_V3_CENTIS,
        }
    }
}

impl fmt::Display for AdvertInterval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ms", u32::from(self.0) * 10)
    }
}

/// VRRPv2 authentication (RFC 3768 §5.3.6). v3 has none; AH (type 2) is
/// refused at parse time.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum Auth {
    /// Type 0.
    None,
    /// Type 1: up to 8 bytes of clear text, zero padded.
    Simple([u8; AUTH_DATA_LEN]),
}

impl Auth {
    /// Simple-text authentication from a password of at most 8 bytes
    /// (Keepalived silently truncates longer ones; we refuse them).
    pub fn simple(password: &str) -> Option<Auth> {
        let bytes = password.as_bytes();
        if bytes.is_empty() || bytes.len() > AUTH_DATA_LEN {
            return None;
        }
        let mut data = [0u8; AUTH_DATA_LEN];
        data[..bytes.len()].copy_from_slice(bytes);
        Some(Auth::Simple(data))
    }

    /// The authentication type number.
    pub const fn type_number(&self) -> u8 {
        match self {
            Auth::None => 0,
            Auth::Simple(_) => 1,
        }
    }
}

impl fmt::Debug for Auth {
    // Never print the password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::Simple(_) => f.write_str("Simple(..)"),
        }
    }
}

/// A parsed VRRP advertisement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VrrpRepr {
    pub version: Version,
    pub vrid: u8,
    pub priority: u8,
    /// v2: whole seconds; v3: Max Adver Int.
    pub interval: AdvertInterval,
    /// Always [`Auth::None`] for v3.
    pub auth: Auth,
    /// The virtual addresses, all of the family of the IP header.
    pub addresses: Vec<IpAddr>,
}

impl VrrpRepr {
    /// Parses and validates a checked packet; `src`/`dst` are the IP
    /// header's addresses (the v3 checksum covers them).
    pub fn parse<T: AsRef<[u8]>>(
        packet: &Packet<T>,
        src: IpAddr,
        dst: IpAddr,
    ) -> Result<VrrpRepr, WireError> {
        packet.check_len()?;
        if Family::of(&src) != packet.family() || Family::of(&dst) != packet.family() {
            return Err(WireError::FamilyMismatch("IP header and VRRP view"));
        }
        let version = match packet.version() {
            2 => Version::V2,
            3 => Version::V3,
            v => return Err(WireError::BadVersion(v)),
        };
        if packet.kind() != 1 {
            return Err(WireError::BadType(packet.kind()));
        }
        packet.verify_checksum(src, dst)?;
        let (interval, auth) = match version {
            Version::V2 => {
                let interval = AdvertInterval::from_secs(packet.adver_int_secs())?;
                let auth = match packet.auth_type() {
                    0 => Auth::None,
                    1 => {
                        let mut data = [0u8; AUTH_DATA_LEN];
                        data.copy_from_slice(packet.auth_data());
                        Auth::Simple(data)
                    }
                    2 => return Err(WireError::AuthHeaderUnsupported),
                    t => return Err(WireError::UnknownAuth(t)),
                };
                (interval, auth)
            }
            Version::V3 => (
                AdvertInterval::from_centis(packet.max_adver_int())?,
                Auth::None,
            ),
        };
        Ok(VrrpRepr {
            version,
            vrid: packet.vrid(),
            priority: packet.priority(),
            interval,
            auth,
            addresses: packet.addresses().collect(),
        })
    }

    /// Parses the IP payload `bytes` received from `src` to `dst`.
    pub fn parse_bytes(bytes: &[u8], src: IpAddr, dst: IpAddr) -> Result<VrrpRepr, WireError> {
        let packet = Packet::new_checked(bytes, Family::of(&src))?;
        VrrpRepr::parse(&packet, src, dst)
    }

    /// Bytes [`VrrpRepr::emit`] writes for a packet of `family`.
    pub fn buffer_len(&self, family: Family) -> usize {
        let trailer = match self.version {
            Version::V2 => AUTH_DATA_LEN,
            Version::V3 => 0,
        };
        HEADER_LEN + self.addresses.len() * family.addr_len() + trailer
    }

    /// Writes the packet into the start of `buf`, with its checksum for
    /// `src` → `dst`, and returns its length.
    pub fn emit(&self, buf: &mut [u8], src: IpAddr, dst: IpAddr) -> Result<usize, WireError> {
        let family = Family::of(&src);
        if Family::of(&dst) != family {
            return Err(WireError::FamilyMismatch("source and destination"));
        }
        if self.addresses.iter().any(|a| Family::of(a) != family) {
            return Err(WireError::FamilyMismatch("virtual address and IP header"));
        }
        if self.version == Version::V2 && family == Family::Ipv6 {
            return Err(WireError::FamilyMismatch("VRRPv2 over IPv6"));
        }
        if !self.interval.fits(self.version) {
            return Err(WireError::InvalidInterval {
                version: self.version.number(),
                centis: u32::from(self.interval.centis()),
            });
        }
        let count = u8::try_from(self.addresses.len())
            .map_err(|_| WireError::TooManyAddresses(self.addresses.len()))?;
        let len = self.buffer_len(family);
        let buf_len = buf.len();
        let buf = buf.get_mut(..len).ok_or(WireError::Truncated {
            len: buf_len,
            needed: len,
        })?;
        let mut p = Packet::new_unchecked(&mut *buf, family);
        p.set_version_and_kind(self.version.number(), 1);
        p.set_vrid(self.vrid);
        p.set_priority(self.priority);
        p.set_addr_count(count);
        match self.version {
            Version::V2 => {
                p.set_auth_type(self.auth.type_number());
                p.set_adver_int_secs((self.interval.centis() / 100) as u8);
            }
            Version::V3 => p.set_max_adver_int(self.interval.centis()),
        }
        p.set_checksum(0);
        let mut off = 0;
        let raw = p.addresses_raw_mut();
        for a in &self.addresses {
            match a {
                IpAddr::V4(a) => raw[off..off + 4].copy_from_slice(&a.octets()),
                IpAddr::V6(a) => raw[off..off + 16].copy_from_slice(&a.octets()),
            }
            off += family.addr_len();
        }
        if self.version == Version::V2 {
            let data = match self.auth {
                Auth::None => [0u8; AUTH_DATA_LEN],
                Auth::Simple(d) => d,
            };
            p.auth_data_mut().copy_from_slice(&data);
        }
        p.fill_checksum(src, dst)?;
        Ok(len)
    }

    /// [`VrrpRepr::emit`] into a new buffer.
    pub fn to_bytes(&self, src: IpAddr, dst: IpAddr) -> Result<Vec<u8>, WireError> {
        let mut buf = vec![0u8; self.buffer_len(Family::of(&src))];
        self.emit(&mut buf, src, dst)?;
        Ok(buf)
    }
}
