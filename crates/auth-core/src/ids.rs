use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

use crate::error::{InputError, InputField};

/// The primary key of the application's user table.
///
/// The application owns its user table and picks its key type; the library carries the key
/// without interpreting it. With the `serde` feature an integer key is a JSON number and
/// a UUID key a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(untagged)
)]
pub enum UserId {
    /// An integer key (`INTEGER PRIMARY KEY`, `BIGINT`, `BIGSERIAL`, ...).
    Int(i64),
    /// A UUID key.
    Uuid(Uuid),
}

impl UserId {
    /// Which kind of key this is.
    pub fn kind(&self) -> IdKind {
        match self {
            UserId::Int(_) => IdKind::Integer,
            UserId::Uuid(_) => IdKind::Uuid,
        }
    }

    /// Parses a key of the given kind from its text form (as found in a URL or a JWT `sub`).
    pub fn parse(kind: IdKind, text: &str) -> Result<Self, InputError> {
        let bad = || InputError::Malformed(InputField::UserId);
        match kind {
            IdKind::Integer => i64::from_str(text).map(UserId::Int).map_err(|_| bad()),
            IdKind::Uuid => Uuid::parse_str(text).map(UserId::Uuid).map_err(|_| bad()),
        }
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UserId::Int(id) => id.fmt(f),
            UserId::Uuid(id) => id.hyphenated().fmt(f),
        }
    }
}

impl From<i64> for UserId {
    fn from(id: i64) -> Self {
        UserId::Int(id)
    }
}

impl From<Uuid> for UserId {
    fn from(id: Uuid) -> Self {
        UserId::Uuid(id)
    }
}

/// The type of the user table's primary key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum IdKind {
    /// A 64-bit integer assigned by the database.
    #[default]
    Integer,
    /// A random (version 4) UUID assigned by the library when it creates a user.
    Uuid,
}

/// Identifies one login session: the family of tokens issued by one `login` and its
/// refreshes. Revoking a session revokes every token in it.
///
/// 128 random bits, shown as 32 lowercase hex digits. It is not a secret (it is not enough
/// to authenticate) and can be shown to the user in a "your devices" list.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId([u8; 16]);

impl SessionId {
    /// Wraps raw bytes (from the token generator or a database row).
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    /// The raw bytes.
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// The 32-hex-digit text form stored in databases.
    pub fn to_hex(&self) -> String {
        let mut out = String::with_capacity(32);
        for b in self.0 {
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
        out
    }

    /// Parses the text form made by [`SessionId::to_hex`].
    pub fn from_hex(text: &str) -> Result<Self, InputError> {
        let bad = || InputError::Malformed(InputField::SessionId);
        let bytes = text.as_bytes();
        if bytes.len() != 32 {
            return Err(bad());
        }
        let mut out = [0u8; 16];
        for (i, pair) in bytes.chunks_exact(2).enumerate() {
            let hi = hex_value(pair[0]).ok_or_else(bad)?;
            let lo = hex_value(pair[1]).ok_or_else(bad)?;
            out[i] = (hi << 4) | lo;
        }
        Ok(Self(out))
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for SessionId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for SessionId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        SessionId::from_hex(&text).map_err(serde::de::Error::custom)
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({})", self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_id_hex_round_trips_and_rejects_garbage() {
        let id = SessionId::from_bytes([0xab; 16]);
        assert_eq!(SessionId::from_hex(&id.to_hex()).unwrap(), id);
        for bad in ["", "zz", &"A".repeat(32), &"0".repeat(31), &"0".repeat(33)] {
            assert!(SessionId::from_hex(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn user_id_parses_by_kind() {
        assert_eq!(
            UserId::parse(IdKind::Integer, "42").unwrap(),
            UserId::Int(42)
        );
        assert!(UserId::parse(IdKind::Integer, "4x").is_err());
        let u = Uuid::from_u128(7);
        assert_eq!(
            UserId::parse(IdKind::Uuid, &u.to_string()).unwrap(),
            UserId::Uuid(u)
        );
        assert!(UserId::parse(IdKind::Uuid, "42").is_err());
        assert_eq!(UserId::Uuid(u).to_string(), u.hyphenated().to_string());
    }
}

#[cfg(all(test, feature = "serde"))]
mod serde_tests {
    use super::*;

    #[test]
    fn ids_serialize_as_their_plain_forms() {
        assert_eq!(serde_json::to_string(&UserId::Int(7)).unwrap(), "7");
        let u = Uuid::from_u128(7);
        assert_eq!(
            serde_json::to_string(&UserId::Uuid(u)).unwrap(),
            format!("\"{u}\"")
        );
        let back: UserId = serde_json::from_str(&format!("\"{u}\"")).unwrap();
        assert_eq!(back, UserId::Uuid(u));
        let s = SessionId::from_bytes([0xab; 16]);
        let text = serde_json::to_string(&s).unwrap();
        assert_eq!(text, format!("\"{}\"", s.to_hex()));
        assert_eq!(serde_json::from_str::<SessionId>(&text).unwrap(), s);
        assert!(serde_json::from_str::<SessionId>("\"nope\"").is_err());
    }
}
