//! T1, T6, Z3: tokens are a kind prefix and 256 random bits in base64url; the generator is
//! a replaceable parameter; only exact shapes parse, decided before any lookup; the digest
//! is not the token. Malformed input never reaches the store.

mod common;

use std::collections::HashSet;
use std::convert::Infallible;

use auth_core::{MAX_TOKEN_LENGTH, TokenError, TokenKind};
use auth_tokens::rand_core::{TryCryptoRng, TryRng};
use auth_tokens::{
    OsRng, TOKEN_BODY_LENGTH, digest, generate_session_id_with, generate_token,
    generate_token_with, parse,
};
use common::{FLAVORS, harness, policy};

const KINDS: [TokenKind; 4] = [
    TokenKind::Access,
    TokenKind::Refresh,
    TokenKind::PasswordReset,
    TokenKind::EmailVerification,
];

/// A predictable generator, for tests only: every byte is `self.0`.
struct Constant(u8);

impl TryRng for Constant {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok(u32::from_le_bytes([self.0; 4]))
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        Ok(u64::from_le_bytes([self.0; 8]))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        dst.fill(self.0);
        Ok(())
    }
}
impl TryCryptoRng for Constant {}

/// A generator that always fails, like an OS without entropy.
struct Broken;

#[derive(Debug)]
struct NoEntropy;
impl std::fmt::Display for NoEntropy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("no entropy")
    }
}
impl std::error::Error for NoEntropy {}

impl TryRng for Broken {
    type Error = NoEntropy;
    fn try_next_u32(&mut self) -> Result<u32, NoEntropy> {
        Err(NoEntropy)
    }
    fn try_next_u64(&mut self) -> Result<u64, NoEntropy> {
        Err(NoEntropy)
    }
    fn try_fill_bytes(&mut self, _: &mut [u8]) -> Result<(), NoEntropy> {
        Err(NoEntropy)
    }
}
impl TryCryptoRng for Broken {}

#[test]
fn tokens_have_a_kind_prefix_and_256_bits_in_base64url() {
    for kind in KINDS {
        let (token, d) = generate_token(kind).unwrap();
        assert!(token.starts_with(kind.prefix()));
        assert_eq!(token.len(), kind.prefix().len() + TOKEN_BODY_LENGTH);
        assert!(
            token[4..]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(parse(&token, kind).unwrap(), d);
        assert_eq!(digest(&token), d);
    }
}

#[test]
fn the_generator_is_a_replaceable_parameter() {
    let (a, da) = generate_token_with(&mut Constant(0), TokenKind::Access).unwrap();
    assert_eq!(a, format!("tat_{}", "A".repeat(43)));
    assert_eq!(parse(&a, TokenKind::Access).unwrap(), da);
    let (b, _) = generate_token_with(&mut Constant(0xff), TokenKind::Refresh).unwrap();
    assert_eq!(b, format!("trt_{}8", "_".repeat(42)));
    let id = generate_session_id_with(&mut Constant(0xab)).unwrap();
    assert_eq!(id.to_hex(), "ab".repeat(16));
    // A failing generator is an internal error, never a weak token.
    let err = generate_token_with(&mut Broken, TokenKind::Access).unwrap_err();
    assert!(err.is_internal());
    let err = generate_token_with(&mut OsRng, TokenKind::Access).map(|_| ());
    assert!(err.is_ok());
}

#[test]
fn one_hundred_thousand_tokens_are_distinct() {
    let mut seen = HashSet::with_capacity(100_000);
    for _ in 0..100_000 {
        let (t, _) = generate_token(TokenKind::Access).unwrap();
        assert!(seen.insert(t));
    }
}

#[test]
fn a_token_parses_only_as_its_own_kind() {
    for kind in KINDS {
        let (token, _) = generate_token(kind).unwrap();
        for other in KINDS.into_iter().filter(|k| *k != kind) {
            assert!(matches!(parse(&token, other), Err(TokenError::Invalid)));
        }
    }
    // The same random part under another prefix has another digest.
    let (r, _) = generate_token(TokenKind::Refresh).unwrap();
    let forged = r.replacen("trt_", "tat_", 1);
    assert_ne!(parse(&forged, TokenKind::Access).unwrap(), digest(&r));
}

fn malformed() -> Vec<String> {
    let (good, _) = generate_token(TokenKind::Access).unwrap();
    vec![
        String::new(),
        "  ".into(),
        "tat_".into(),
        "tat_short".into(),
        format!("tat_{}", "A".repeat(10 * 1024)),
        format!("tat_{}", "!".repeat(43)),
        format!("tat_{}=", "A".repeat(42)),
        format!("tat_{}\0", "A".repeat(42)),
        format!("tat_Ä{}", "A".repeat(41)),
        format!("tat_{}", "Ａ".repeat(43)), // full-width look-alikes
        format!("TAT_{}", "A".repeat(43)),
        format!(" {good}"),
        format!("{good} "),
        format!("{good}A"),
        good[..good.len() - 1].to_owned(),
        good.replace('_', "/"),
        format!("tat_{}", "+".repeat(43)),
        "x".repeat(MAX_TOKEN_LENGTH + 1),
    ]
}

#[test]
fn malformed_tokens_are_invalid_without_panicking() {
    for case in malformed() {
        for kind in KINDS {
            assert!(
                matches!(parse(&case, kind), Err(TokenError::Invalid)),
                "{:?}",
                &case.chars().take(20).collect::<String>()
            );
        }
    }
    // Non-UTF-8 cannot even be a &str; its lossy form is refused like the rest.
    let lossy = String::from_utf8_lossy(b"tat_\xff\xfe AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    assert!(parse(&lossy, TokenKind::Access).is_err());
}

#[tokio::test]
async fn malformed_tokens_never_reach_the_store() {
    for &flavor in FLAVORS {
        let h = harness(flavor, policy()).await;
        let before = h.recording.counts.total();
        for case in malformed() {
            assert_token_err!(
                flavor,
                h.backend.verify_access(&case).await,
                TokenError::Invalid
            );
            assert_token_err!(flavor, h.backend.refresh(&case).await, TokenError::Invalid);
            assert_token_err!(flavor, h.backend.logout(&case).await, TokenError::Invalid);
        }
        assert_eq!(
            h.recording.counts.total(),
            before,
            "{flavor:?}: no store call"
        );
    }
}

#[test]
fn the_digest_is_not_the_token_and_debug_shows_a_prefix_only() {
    let (t, d) = generate_token(TokenKind::Refresh).unwrap();
    assert_eq!(digest(&t), d);
    assert_ne!(&d.0[..], &t.as_bytes()[..32]);
    let shown = format!("{d:?}");
    assert!(!shown.contains(&t[4..12]));
    assert!(shown.len() < 30);
}
