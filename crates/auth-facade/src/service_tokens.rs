//! [`ServiceTokens`]: static tokens for service-to-service calls.

use std::fmt;

use auth_core::{ConfigError, SigningSecret};
use subtle::ConstantTimeEq as _;

/// The environment variable [`ServiceTokens::from_env`] reads.
pub const SERVICE_TOKENS_ENV: &str = "AUTH_SERVICE_TOKENS";

/// Static bearer tokens that let other services call this one (the reference's
/// service-to-service auth).
///
/// Configured as a comma-separated list, each entry `token` or `name:token` (a name of
/// letters, digits, `-` and `_`), so several tokens can be valid at once and one can be
/// rotated out without downtime. Each token must be at least 32 bytes and not a
/// placeholder (the rules of [`SigningSecret`]), checked at start-up. Only BLAKE3 digests
/// are kept; a presented token is compared with every configured one in constant time.
///
/// Static tokens are a bootstrap mechanism (ASVS prefers short-lived credentials between
/// services): keep them in a secret manager and rotate them.
#[derive(Clone, Default)]
pub struct ServiceTokens {
    entries: Vec<Entry>,
}

#[derive(Clone)]
struct Entry {
    name: Option<String>,
    digest: [u8; 32],
}

impl fmt::Debug for ServiceTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceTokens")
            .field(
                "services",
                &self
                    .entries
                    .iter()
                    .map(|e| e.name.as_deref().unwrap_or("(unnamed)"))
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// The accepted service, when a token matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePrincipal {
    /// The configured name of the token's service, if it has one.
    pub name: Option<String>,
}

fn digest(token: &str) -> [u8; 32] {
    let mut h = blake3::Hasher::new_derive_key("tortoise-auth-rs 2026-11-28 service token v1");
    h.update(token.as_bytes());
    *h.finalize().as_bytes()
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl ServiceTokens {
    /// No service token (every presented token is refused).
    pub fn none() -> Self {
        Self::default()
    }

    /// Reads [`SERVICE_TOKENS_ENV`]; unset or empty means no service token.
    pub fn from_env() -> Result<Self, ConfigError> {
        match std::env::var(SERVICE_TOKENS_ENV) {
            Ok(list) => Self::parse(&list),
            Err(std::env::VarError::NotPresent) => Ok(Self::none()),
            Err(std::env::VarError::NotUnicode(_)) => Err(ConfigError::Env {
                var: SERVICE_TOKENS_ENV,
                reason: "not valid UTF-8",
            }),
        }
    }

    /// Parses a comma-separated list of `token` or `name:token` entries. Errors never
    /// contain a token.
    pub fn parse(list: &str) -> Result<Self, ConfigError> {
        let mut entries = Vec::new();
        for raw in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (name, token) = match raw.split_once(':') {
                Some((name, token)) if valid_name(name) => (Some(name.to_owned()), token),
                _ => (None, raw),
            };
            SigningSecret::new(token.as_bytes().to_vec()).map_err(|e| ConfigError::Invalid {
                setting: "service_tokens",
                reason: format!(
                    "the token of entry {} ({}) is refused: {e}",
                    entries.len() + 1,
                    name.as_deref().unwrap_or("unnamed")
                ),
            })?;
            entries.push(Entry {
                name,
                digest: digest(token),
            });
        }
        Ok(Self { entries })
    }

    /// How many tokens are configured.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True if none is.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The service whose token `presented` is, comparing with every configured token in
    /// constant time (no early exit).
    pub fn verify(&self, presented: &str) -> Option<ServicePrincipal> {
        if presented.is_empty() || presented.len() > auth_core::MAX_TOKEN_LENGTH {
            return None;
        }
        let presented = digest(presented);
        let mut found: Option<&Entry> = None;
        for entry in &self.entries {
            if bool::from(entry.digest.ct_eq(&presented)) {
                found = Some(entry);
            }
        }
        found.map(|e| ServicePrincipal {
            name: e.name.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "svc-token-4f9a2c7e1b8d3f6a0e5c9b2d7a4f1e8c";
    const B: &str = "k8Jq2vW9xL4mN7pR1sT5uY3zA6bC0dE2fG8hI4jK";

    #[test]
    fn several_tokens_with_optional_names_for_rotation() {
        let tokens = ServiceTokens::parse(&format!("billing:{A}, {B}")).unwrap();
        assert_eq!(tokens.len(), 2);
        assert_eq!(
            tokens.verify(A),
            Some(ServicePrincipal {
                name: Some("billing".into())
            })
        );
        assert_eq!(tokens.verify(B), Some(ServicePrincipal { name: None }));
        assert_eq!(tokens.verify(&A[..A.len() - 1]), None);
        assert_eq!(tokens.verify(""), None);
        assert!(!format!("{tokens:?}").contains(A));
    }

    #[test]
    fn short_and_placeholder_tokens_are_refused_at_start_up_without_echo() {
        for bad in [
            "short",
            "change-me-in-production-please-0123456789",
            &"x".repeat(40),
        ] {
            let err = ServiceTokens::parse(&format!("svc:{bad}")).unwrap_err();
            assert!(!err.to_string().contains(bad), "{err}");
        }
        assert!(ServiceTokens::parse(" , ").unwrap().is_empty());
    }
}
