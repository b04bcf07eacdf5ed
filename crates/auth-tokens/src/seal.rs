//! The grace window's sealed successor: the pair issued by a rotation, encrypted under a
//! key only the holder of the spent refresh token can derive.
//!
//! Key: BLAKE3 in key-derivation mode, with its own context, over the raw refresh token.
//! The store holds only the token's digest (another context), so the database alone never
//! yields the key nor a usable token. Cipher: XChaCha20-Poly1305 (RustCrypto), a random
//! 192-bit nonce per blob, the format byte as associated data.
//!
//! Blob: `version (1) || nonce (24) || ciphertext || tag (16)`; the plaintext is
//! `access expiry (i128 unix nanoseconds, LE) || len (u32 LE) || access token || len (u32 LE)
//! || refresh token`.

use auth_core::{OffsetDateTime, TokenError, TokenPair};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand_core::TryCryptoRng;
use zeroize::Zeroizing;

use crate::generate::fill_random;

/// BLAKE3 key-derivation context of the sealing key; distinct from the digest's.
const SEAL_CONTEXT: &str = "tortoise-auth-rs 2026-11-28 grace successor seal v1";
const VERSION: u8 = 1;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;

/// A pair recovered from a sealed blob.
pub(crate) struct Sealed {
    pub(crate) pair: TokenPair,
    pub(crate) access_expires_at: OffsetDateTime,
}

fn cipher_for(spent_refresh_token: &str) -> XChaCha20Poly1305 {
    let key = Zeroizing::new(blake3::derive_key(
        SEAL_CONTEXT,
        spent_refresh_token.as_bytes(),
    ));
    // `XChaCha20Poly1305` keeps its own copy of the key for its lifetime (dropped with it).
    XChaCha20Poly1305::new(&(*key).into())
}

/// Encrypts `pair` (and its access expiry) under a key derived from `spent_refresh_token`.
pub(crate) fn seal<R>(
    rng: &mut R,
    spent_refresh_token: &str,
    pair: &TokenPair,
    access_expires_at: OffsetDateTime,
) -> Result<Vec<u8>, TokenError>
where
    R: TryCryptoRng + ?Sized,
    R::Error: Send + Sync + 'static,
{
    let access = pair.access_token.as_bytes();
    let refresh = pair.refresh_token.as_bytes();
    let len = |b: &[u8]| {
        u32::try_from(b.len()).map_err(|_| TokenError::internal("sealing a token pair", "too long"))
    };
    let mut plain = Zeroizing::new(Vec::with_capacity(16 + 8 + access.len() + refresh.len()));
    plain.extend_from_slice(&access_expires_at.unix_timestamp_nanos().to_le_bytes());
    plain.extend_from_slice(&len(access)?.to_le_bytes());
    plain.extend_from_slice(access);
    plain.extend_from_slice(&len(refresh)?.to_le_bytes());
    plain.extend_from_slice(refresh);

    let mut nonce = [0u8; NONCE_LEN];
    fill_random(rng, &mut nonce)?;
    let ciphertext = cipher_for(spent_refresh_token)
        .encrypt(
            &XNonce::from(nonce),
            Payload {
                msg: &plain,
                aad: &[VERSION],
            },
        )
        .map_err(|_| TokenError::internal("sealing a token pair", "encryption failed"))?;
    let mut blob = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
    blob.push(VERSION);
    blob.extend_from_slice(&nonce);
    blob.extend_from_slice(&ciphertext);
    Ok(blob)
}

/// Decrypts a blob made by [`seal`] with the same refresh token. Anything else (another
/// token, a changed byte, a truncated blob) is an internal error: the store found the blob
/// by this token's digest, so a blob that does not open was damaged.
pub(crate) fn open(spent_refresh_token: &str, blob: &[u8]) -> Result<Sealed, TokenError> {
    let bad = |why: &'static str| TokenError::internal("opening a sealed token pair", why);
    if blob.len() < 1 + NONCE_LEN + TAG_LEN || blob[0] != VERSION {
        return Err(bad("unknown format"));
    }
    let (nonce, ciphertext) = blob[1..].split_at(NONCE_LEN);
    let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| bad("unknown format"))?;
    let plain = Zeroizing::new(
        cipher_for(spent_refresh_token)
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &[VERSION],
                },
            )
            .map_err(|_| bad("authentication failed"))?,
    );
    let mut rest: &[u8] = &plain;
    let nanos = take(&mut rest, 16)
        .and_then(|b| b.try_into().ok())
        .map(i128::from_le_bytes)
        .ok_or_else(|| bad("truncated"))?;
    let access_expires_at =
        OffsetDateTime::from_unix_timestamp_nanos(nanos).map_err(|_| bad("bad expiry"))?;
    let access_token = take_text(&mut rest).ok_or_else(|| bad("truncated"))?;
    let refresh_token = take_text(&mut rest).ok_or_else(|| bad("truncated"))?;
    if !rest.is_empty() {
        return Err(bad("trailing bytes"));
    }
    Ok(Sealed {
        pair: TokenPair {
            access_token,
            refresh_token,
        },
        access_expires_at,
    })
}

/// The next `n` bytes of `rest`, advancing it.
fn take<'a>(rest: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if rest.len() < n {
        return None;
    }
    let (head, tail) = rest.split_at(n);
    *rest = tail;
    Some(head)
}

/// A length-prefixed UTF-8 string from `rest`, advancing it.
fn take_text(rest: &mut &[u8]) -> Option<String> {
    let n = u32::from_le_bytes(take(rest, 4)?.try_into().ok()?);
    let bytes = take(rest, usize::try_from(n).ok()?)?;
    String::from_utf8(bytes.to_vec()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::{OsRng, generate_token};
    use auth_core::TokenKind;

    fn pair() -> TokenPair {
        TokenPair {
            access_token: generate_token(TokenKind::Access).unwrap().0,
            refresh_token: generate_token(TokenKind::Refresh).unwrap().0,
        }
    }

    fn at() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp_nanos(1_900_000_000_123_456_000).unwrap()
    }

    #[test]
    fn round_trips_with_the_spent_token_only() {
        let (spent, _) = generate_token(TokenKind::Refresh).unwrap();
        let (other, _) = generate_token(TokenKind::Refresh).unwrap();
        let p = pair();
        let blob = seal(&mut OsRng, &spent, &p, at()).unwrap();
        let back = open(&spent, &blob).unwrap();
        assert_eq!(back.pair, p);
        assert_eq!(back.access_expires_at, at());
        assert!(open(&other, &blob).is_err());
    }

    #[test]
    fn every_changed_byte_and_truncation_is_refused() {
        let (spent, _) = generate_token(TokenKind::Refresh).unwrap();
        let blob = seal(&mut OsRng, &spent, &pair(), at()).unwrap();
        for i in 0..blob.len() {
            let mut bad = blob.clone();
            bad[i] ^= 0x01;
            assert!(open(&spent, &bad).is_err(), "byte {i}");
        }
        for n in 0..blob.len() {
            assert!(open(&spent, &blob[..n]).is_err(), "length {n}");
        }
    }

    #[test]
    fn nonces_differ_so_equal_pairs_seal_differently() {
        let (spent, _) = generate_token(TokenKind::Refresh).unwrap();
        let p = pair();
        let a = seal(&mut OsRng, &spent, &p, at()).unwrap();
        let b = seal(&mut OsRng, &spent, &p, at()).unwrap();
        assert_ne!(a, b);
    }
}
