//! Unicode normalization of passwords (NFC), with the raw form as a legacy fallback.

use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfc_quick};
use zeroize::Zeroizing;

/// The forms of a password to try, in order: its NFC form, then (only if it differs) the
/// password exactly as received, for hashes made from non-normalized input by other
/// implementations (the Python reference does not normalize).
pub(crate) struct Candidates<'a> {
    raw: &'a str,
    nfc: Option<Zeroizing<String>>,
}

impl<'a> Candidates<'a> {
    /// Normalizes `raw` (no allocation when it is already NFC, e.g. ASCII).
    pub(crate) fn new(raw: &'a str) -> Self {
        let nfc = match is_nfc_quick(raw.chars()) {
            IsNormalized::Yes => None,
            IsNormalized::No | IsNormalized::Maybe => {
                let n = Zeroizing::new(raw.nfc().collect::<String>());
                (n.as_str() != raw).then_some(n)
            }
        };
        Self { raw, nfc }
    }

    /// The form new hashes are made from.
    pub(crate) fn primary(&self) -> &str {
        self.nfc.as_deref().map_or(self.raw, String::as_str)
    }

    /// Every form to try when verifying: `[nfc]` or `[nfc, raw]`.
    pub(crate) fn all(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.primary()).chain(self.nfc.is_some().then_some(self.raw))
    }
}

/// The NFC form of `password`, as new hashes see it. Exposed for callers that store or
/// compare passwords themselves.
#[must_use]
pub fn normalize_password(password: &str) -> Zeroizing<String> {
    Zeroizing::new(Candidates::new(password).primary().to_owned())
}
