//! Base64 engines for the hash formats.

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// PHC strings (`$argon2id$`, `$pbkdf2-sha256$`): standard alphabet, no padding, canonical
/// (non-zero trailing bits refused, as the reference C implementation does), so one hash has
/// exactly one spelling.
pub(crate) const PHC: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone),
);

/// Django / the reference's `pbkdf2_sha256$...`: standard alphabet with padding (canonical).
pub(crate) const PADDED: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_encode_padding(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
);

/// Decodes `s` into at most `max` bytes; `None` if it is not base64 or too long.
pub(crate) fn decode_bounded(engine: &GeneralPurpose, s: &str, max: usize) -> Option<Vec<u8>> {
    use base64::Engine as _;
    // 4 characters encode 3 bytes: refuse before allocating for anything longer than needed.
    if s.len() > max.div_ceil(3) * 4 {
        return None;
    }
    engine.decode(s).ok().filter(|v| v.len() <= max)
}
