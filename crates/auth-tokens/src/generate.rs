//! Token text, digests and the random generator.

use auth_core::{MAX_TOKEN_LENGTH, SessionId, TokenDigest, TokenError, TokenKind};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand_core::{TryCryptoRng, TryRng};

/// Random bytes in a token (256 bits).
pub const TOKEN_BYTES: usize = 32;
/// Length of a token's random part in base64url without padding.
pub const TOKEN_BODY_LENGTH: usize = 43;
/// BLAKE3 key-derivation context of token digests: separates them from every other BLAKE3
/// use. Changing it orphans every stored token.
const DIGEST_CONTEXT: &str = "tortoise-auth-rs 2026-11-27 opaque token digest v1";

/// The operating system's random generator, as a [`rand_core`] generator.
///
/// `rand_core` 0.10 no longer ships an `OsRng`: its successor is `getrandom`'s `SysRng`
/// (getrandom 0.4). The workspace is on getrandom 0.3, so this is the same thin adapter over
/// [`getrandom::fill`]: every call asks the kernel, nothing is buffered or seeded in
/// process. Errors (an OS without a generator) are returned, never papered over.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsRng;

impl TryRng for OsRng {
    type Error = getrandom::Error;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        getrandom::u32()
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        getrandom::u64()
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        getrandom::fill(dst)
    }
}

impl TryCryptoRng for OsRng {}

/// Fills `buf` from `rng`; a generator failure is an internal [`TokenError`].
pub fn fill_random<R>(rng: &mut R, buf: &mut [u8]) -> Result<(), TokenError>
where
    R: TryCryptoRng + ?Sized,
    R::Error: Send + Sync + 'static,
{
    rng.try_fill_bytes(buf)
        .map_err(|e| TokenError::internal("random generator", e))
}

/// A new random token of `kind` from `rng`, and its digest. The token goes to the client
/// once; only the digest is stored.
///
/// `rng` is any cryptographically secure generator: [`OsRng`] in production (see
/// [`generate_token`]), a seeded one in a test that needs known tokens.
pub fn generate_token_with<R>(
    rng: &mut R,
    kind: TokenKind,
) -> Result<(String, TokenDigest), TokenError>
where
    R: TryCryptoRng + ?Sized,
    R::Error: Send + Sync + 'static,
{
    let mut bytes = zeroize::Zeroizing::new([0u8; TOKEN_BYTES]);
    fill_random(rng, &mut bytes[..])?;
    let mut token = String::with_capacity(kind.prefix().len() + TOKEN_BODY_LENGTH);
    token.push_str(kind.prefix());
    URL_SAFE_NO_PAD.encode_string(&bytes[..], &mut token);
    let digest = digest(&token);
    Ok((token, digest))
}

/// A new random token of `kind` from the operating system's generator, and its digest.
pub fn generate_token(kind: TokenKind) -> Result<(String, TokenDigest), TokenError> {
    generate_token_with(&mut OsRng, kind)
}

/// A new random session id (128 bits) from `rng`.
pub fn generate_session_id_with<R>(rng: &mut R) -> Result<SessionId, TokenError>
where
    R: TryCryptoRng + ?Sized,
    R::Error: Send + Sync + 'static,
{
    let mut bytes = [0u8; 16];
    fill_random(rng, &mut bytes)?;
    Ok(SessionId::from_bytes(bytes))
}

/// A new random session id from the operating system's generator.
pub fn generate_session_id() -> Result<SessionId, TokenError> {
    generate_session_id_with(&mut OsRng)
}

/// The stored digest of a token: BLAKE3 in key-derivation mode over the whole token text
/// (prefix included, so the same random part under another prefix has another digest).
///
/// A 256-bit random token needs no slow hash: there is nothing to brute-force.
pub fn digest(token: &str) -> TokenDigest {
    let mut hasher = blake3::Hasher::new_derive_key(DIGEST_CONTEXT);
    hasher.update(token.as_bytes());
    TokenDigest(*hasher.finalize().as_bytes())
}

/// Checks that `token` has the exact shape of a token of `kind` and returns its digest.
///
/// Anything else (wrong or missing prefix, wrong length, characters outside base64url,
/// non-canonical base64, over-long input) is [`TokenError::Invalid`], decided without
/// touching a database.
pub fn parse(token: &str, kind: TokenKind) -> Result<TokenDigest, TokenError> {
    if token.len() > MAX_TOKEN_LENGTH {
        return Err(TokenError::Invalid);
    }
    let body = token
        .strip_prefix(kind.prefix())
        .ok_or(TokenError::Invalid)?;
    if body.len() != TOKEN_BODY_LENGTH {
        return Err(TokenError::Invalid);
    }
    // The decoder refuses non-canonical trailing bits, so exactly one text encodes each
    // 32-byte value: `decode` succeeds only for what `encode` could have produced.
    let mut raw = zeroize::Zeroizing::new([0u8; TOKEN_BYTES + 2]);
    match URL_SAFE_NO_PAD.decode_slice(body, &mut raw[..]) {
        Ok(TOKEN_BYTES) => Ok(digest(token)),
        _ => Err(TokenError::Invalid),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_rng_fills_and_differs() {
        let mut a = [0u8; 32];
        let mut b = [0u8; 32];
        fill_random(&mut OsRng, &mut a).unwrap();
        fill_random(&mut OsRng, &mut b).unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn non_canonical_base64_is_refused() {
        let (token, _) = generate_token(TokenKind::Access).unwrap();
        // The last character of 43 carries 2 padding bits; flip one of them.
        let last = token.chars().last().unwrap();
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let idx = alphabet
            .iter()
            .position(|c| char::from(*c) == last)
            .unwrap();
        let tweaked = char::from(alphabet[idx ^ 1]);
        let mut forged = token[..token.len() - 1].to_owned();
        forged.push(tweaked);
        assert!(matches!(
            parse(&forged, TokenKind::Access),
            Err(TokenError::Invalid)
        ));
    }
}
