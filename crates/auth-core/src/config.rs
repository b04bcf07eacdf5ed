use std::fmt;
use std::time::Duration;

use zeroize::Zeroizing;

/// The shortest signing secret accepted, in bytes (256 bits).
pub const MIN_SIGNING_SECRET_BYTES: usize = 32;

/// Secrets that appear in tutorials and templates; refused even when long enough.
const PLACEHOLDERS: &[&str] = &[
    "change-me",
    "changeme",
    "change_me",
    "change-me-in-production",
    "secret",
    "your-secret",
    "your_secret",
    "yoursecret",
    "replace-me",
    "replaceme",
    "insecure",
    "example",
    "placeholder",
    "password",
    "default",
    "xxxxxxxx",
];

/// The key for signed tokens (JWT, password-reset links).
///
/// Zeroed on drop; `Debug` and `Display` never show it.
#[derive(Clone)]
pub struct SigningSecret(Zeroizing<Vec<u8>>);

impl SigningSecret {
    /// Wraps a secret after checking it: at least [`MIN_SIGNING_SECRET_BYTES`] bytes, not a
    /// well-known placeholder, not one repeated character.
    pub fn new(secret: impl Into<Vec<u8>>) -> Result<Self, ConfigError> {
        let bytes = Zeroizing::new(secret.into());
        if bytes.is_empty() {
            return Err(ConfigError::MissingSigningSecret);
        }
        let lowered = String::from_utf8_lossy(&bytes).to_ascii_lowercase();
        if PLACEHOLDERS.iter().any(|p| lowered.contains(p)) {
            return Err(ConfigError::PlaceholderSigningSecret);
        }
        if bytes.len() < MIN_SIGNING_SECRET_BYTES {
            return Err(ConfigError::SigningSecretTooShort {
                min: MIN_SIGNING_SECRET_BYTES,
                actual: bytes.len(),
            });
        }
        if bytes.iter().all(|b| *b == bytes[0]) {
            return Err(ConfigError::PlaceholderSigningSecret);
        }
        Ok(Self(bytes))
    }

    /// The raw key bytes.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret([redacted])")
    }
}

/// A configuration that cannot work, found when it is built rather than on first use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No signing secret was given.
    #[error("signing_secret is required (set AUTH_SIGNING_SECRET in production)")]
    MissingSigningSecret,
    /// The signing secret is shorter than the minimum.
    #[error("signing_secret is {actual} bytes; at least {min} are required")]
    SigningSecretTooShort {
        /// The minimum, in bytes.
        min: usize,
        /// The length given.
        actual: usize,
    },
    /// The signing secret is a well-known placeholder or has no variety.
    #[error("signing_secret looks like a placeholder; generate a random secret")]
    PlaceholderSigningSecret,
    /// A setting is out of range.
    #[error("{setting} is invalid: {reason}")]
    Invalid {
        /// The setting's name as in [`AuthConfigBuilder`].
        setting: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// An environment variable could not be parsed.
    #[error("environment variable {var} is invalid: {reason}")]
    Env {
        /// The variable's name.
        var: &'static str,
        /// What is wrong with it (never the value, which may be a secret).
        reason: &'static str,
    },
}

/// The settings of an [`AuthService`](https://docs.rs/auth-facade), with the reference's
/// defaults. Built and checked by [`AuthConfig::builder`]; immutable afterwards.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    signing_secret: SigningSecret,
    access_token_lifetime: Duration,
    refresh_token_lifetime: Duration,
    argon2_time_cost: u32,
    argon2_memory_kib: u32,
    argon2_parallelism: u32,
    max_password_length: usize,
    revoke_sessions_on_password_change: bool,
    hashing_concurrency: usize,
}

impl AuthConfig {
    /// A builder with the defaults; only the signing secret is required.
    pub fn builder() -> AuthConfigBuilder {
        AuthConfigBuilder::default()
    }

    /// The defaults with this signing secret.
    pub fn new(signing_secret: impl Into<Vec<u8>>) -> Result<Self, ConfigError> {
        Self::builder().signing_secret(signing_secret).build()
    }

    /// Reads the configuration from the process environment; see [`AuthConfig::from_lookup`].
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (the environment, a secrets manager, a map
    /// in tests). `AUTH_SIGNING_SECRET` is required; optional:
    /// `AUTH_ACCESS_TOKEN_LIFETIME_SECS`, `AUTH_REFRESH_TOKEN_LIFETIME_SECS`,
    /// `AUTH_ARGON2_TIME_COST`, `AUTH_ARGON2_MEMORY_KIB`, `AUTH_ARGON2_PARALLELISM`,
    /// `AUTH_MAX_PASSWORD_LENGTH`, `AUTH_HASHING_CONCURRENCY`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        fn number<T: std::str::FromStr>(
            lookup: &impl Fn(&str) -> Option<String>,
            var: &'static str,
        ) -> Result<Option<T>, ConfigError> {
            match lookup(var) {
                None => Ok(None),
                Some(v) => v.trim().parse().map(Some).map_err(|_| ConfigError::Env {
                    var,
                    reason: "not a valid number",
                }),
            }
        }
        let secret = lookup("AUTH_SIGNING_SECRET").ok_or(ConfigError::MissingSigningSecret)?;
        let mut b = Self::builder().signing_secret(secret.into_bytes());
        if let Some(s) = number::<u64>(&lookup, "AUTH_ACCESS_TOKEN_LIFETIME_SECS")? {
            b = b.access_token_lifetime(Duration::from_secs(s));
        }
        if let Some(s) = number::<u64>(&lookup, "AUTH_REFRESH_TOKEN_LIFETIME_SECS")? {
            b = b.refresh_token_lifetime(Duration::from_secs(s));
        }
        let t = number(&lookup, "AUTH_ARGON2_TIME_COST")?;
        let m = number(&lookup, "AUTH_ARGON2_MEMORY_KIB")?;
        let p = number(&lookup, "AUTH_ARGON2_PARALLELISM")?;
        if t.is_some() || m.is_some() || p.is_some() {
            let d = Self::builder();
            b = b.argon2(
                t.unwrap_or(d.argon2_time_cost),
                m.unwrap_or(d.argon2_memory_kib),
                p.unwrap_or(d.argon2_parallelism),
            );
        }
        if let Some(n) = number(&lookup, "AUTH_MAX_PASSWORD_LENGTH")? {
            b = b.max_password_length(n);
        }
        if let Some(n) = number(&lookup, "AUTH_HASHING_CONCURRENCY")? {
            b = b.hashing_concurrency(n);
        }
        b.build()
    }

    /// The key for signed tokens.
    pub fn signing_secret(&self) -> &SigningSecret {
        &self.signing_secret
    }
    /// How long an access token lives (default 15 minutes).
    pub fn access_token_lifetime(&self) -> Duration {
        self.access_token_lifetime
    }
    /// How long a refresh token lives (default 7 days).
    pub fn refresh_token_lifetime(&self) -> Duration {
        self.refresh_token_lifetime
    }
    /// Argon2id time cost (iterations), default 3.
    pub fn argon2_time_cost(&self) -> u32 {
        self.argon2_time_cost
    }
    /// Argon2id memory cost in KiB, default 65536 (64 MiB).
    pub fn argon2_memory_kib(&self) -> u32 {
        self.argon2_memory_kib
    }
    /// Argon2id lanes, default 4.
    pub fn argon2_parallelism(&self) -> u32 {
        self.argon2_parallelism
    }
    /// The longest password accepted, in characters (default 4096); longer ones are
    /// refused before hashing.
    pub fn max_password_length(&self) -> usize {
        self.max_password_length
    }
    /// Whether `set_password` ends the user's sessions (default true).
    pub fn revoke_sessions_on_password_change(&self) -> bool {
        self.revoke_sessions_on_password_change
    }
    /// How many hashes may run at once (0 = one per CPU, the default).
    pub fn hashing_concurrency(&self) -> usize {
        self.hashing_concurrency
    }
}

/// Builds an [`AuthConfig`]; [`build`](AuthConfigBuilder::build) checks every setting.
#[derive(Clone)]
pub struct AuthConfigBuilder {
    signing_secret: Option<Zeroizing<Vec<u8>>>,
    access_token_lifetime: Duration,
    refresh_token_lifetime: Duration,
    argon2_time_cost: u32,
    argon2_memory_kib: u32,
    argon2_parallelism: u32,
    max_password_length: usize,
    revoke_sessions_on_password_change: bool,
    hashing_concurrency: usize,
}

impl fmt::Debug for AuthConfigBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthConfigBuilder")
            .field(
                "signing_secret",
                &self.signing_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("access_token_lifetime", &self.access_token_lifetime)
            .field("refresh_token_lifetime", &self.refresh_token_lifetime)
            .finish_non_exhaustive()
    }
}

impl Default for AuthConfigBuilder {
    fn default() -> Self {
        Self {
            signing_secret: None,
            access_token_lifetime: Duration::from_secs(900),
            refresh_token_lifetime: Duration::from_secs(604_800),
            argon2_time_cost: 3,
            argon2_memory_kib: 65_536,
            argon2_parallelism: 4,
            max_password_length: 4096,
            revoke_sessions_on_password_change: true,
            hashing_concurrency: 0,
        }
    }
}

impl AuthConfigBuilder {
    /// The key for signed tokens: at least 32 random bytes, from the environment or a
    /// secrets manager in production.
    pub fn signing_secret(mut self, secret: impl Into<Vec<u8>>) -> Self {
        self.signing_secret = Some(Zeroizing::new(secret.into()));
        self
    }
    /// Access-token lifetime (1 second to 1 day).
    pub fn access_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.access_token_lifetime = lifetime;
        self
    }
    /// Refresh-token lifetime (longer than the access token, at most 400 days).
    pub fn refresh_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.refresh_token_lifetime = lifetime;
        self
    }
    /// Argon2id parameters for new hashes: time cost, memory in KiB, lanes.
    pub fn argon2(mut self, time_cost: u32, memory_kib: u32, parallelism: u32) -> Self {
        self.argon2_time_cost = time_cost;
        self.argon2_memory_kib = memory_kib;
        self.argon2_parallelism = parallelism;
        self
    }
    /// The longest password accepted, in characters (64 to 65536).
    pub fn max_password_length(mut self, chars: usize) -> Self {
        self.max_password_length = chars;
        self
    }
    /// Whether `set_password` ends the user's sessions.
    pub fn revoke_sessions_on_password_change(mut self, revoke: bool) -> Self {
        self.revoke_sessions_on_password_change = revoke;
        self
    }
    /// How many hashes may run at once (0 = one per CPU).
    pub fn hashing_concurrency(mut self, n: usize) -> Self {
        self.hashing_concurrency = n;
        self
    }

    /// Checks every setting and returns the configuration.
    pub fn build(self) -> Result<AuthConfig, ConfigError> {
        let invalid =
            |setting: &'static str, reason: String| ConfigError::Invalid { setting, reason };
        let secret = self
            .signing_secret
            .ok_or(ConfigError::MissingSigningSecret)?;
        let signing_secret = SigningSecret::new(secret.to_vec())?;
        let day = Duration::from_secs(86_400);
        if self.access_token_lifetime < Duration::from_secs(1) || self.access_token_lifetime > day {
            return Err(invalid(
                "access_token_lifetime",
                "must be between 1 second and 1 day".into(),
            ));
        }
        if self.refresh_token_lifetime <= self.access_token_lifetime
            || self.refresh_token_lifetime > day * 400
        {
            return Err(invalid(
                "refresh_token_lifetime",
                "must be longer than the access token lifetime and at most 400 days".into(),
            ));
        }
        if !(1..=16).contains(&self.argon2_time_cost) {
            return Err(invalid("argon2_time_cost", "must be 1 to 16".into()));
        }
        if !(1..=64).contains(&self.argon2_parallelism) {
            return Err(invalid("argon2_parallelism", "must be 1 to 64".into()));
        }
        let min_memory = 8 * self.argon2_parallelism;
        if self.argon2_memory_kib < min_memory || self.argon2_memory_kib > 4 * 1024 * 1024 {
            return Err(invalid(
                "argon2_memory_kib",
                format!("must be {min_memory} (8 per lane) to 4194304 (4 GiB)"),
            ));
        }
        if !(64..=65_536).contains(&self.max_password_length) {
            return Err(invalid("max_password_length", "must be 64 to 65536".into()));
        }
        if self.hashing_concurrency > 1024 {
            return Err(invalid(
                "hashing_concurrency",
                "must be at most 1024".into(),
            ));
        }
        Ok(AuthConfig {
            signing_secret,
            access_token_lifetime: self.access_token_lifetime,
            refresh_token_lifetime: self.refresh_token_lifetime,
            argon2_time_cost: self.argon2_time_cost,
            argon2_memory_kib: self.argon2_memory_kib,
            argon2_parallelism: self.argon2_parallelism,
            max_password_length: self.max_password_length,
            revoke_sessions_on_password_change: self.revoke_sessions_on_password_change,
            hashing_concurrency: self.hashing_concurrency,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const GOOD: &str = "k8Jq2vW9xL4mN7pR1sT5uY3zA6bC0dE2fG8hI4jK";

    #[test]
    fn defaults_match_the_reference() {
        let c = AuthConfig::new(GOOD).unwrap();
        assert_eq!(c.access_token_lifetime(), Duration::from_secs(900));
        assert_eq!(c.refresh_token_lifetime(), Duration::from_secs(604_800));
        assert_eq!(
            (
                c.argon2_time_cost(),
                c.argon2_memory_kib(),
                c.argon2_parallelism()
            ),
            (3, 65_536, 4)
        );
        assert_eq!(c.max_password_length(), 4096);
    }

    #[test]
    fn secret_is_required_and_checked() {
        assert_eq!(
            AuthConfig::builder().build().unwrap_err(),
            ConfigError::MissingSigningSecret
        );
        assert_eq!(
            AuthConfig::new("").unwrap_err(),
            ConfigError::MissingSigningSecret
        );
        assert!(matches!(
            AuthConfig::new("short-but-random-Q7").unwrap_err(),
            ConfigError::SigningSecretTooShort {
                min: 32,
                actual: 19
            }
        ));
        for placeholder in [
            "change-me-in-production",
            "CHANGE-ME-IN-PRODUCTION-please-really-do-it-now",
            "my-super-secret-key-that-is-long-enough!!",
            &"a".repeat(64),
        ] {
            assert_eq!(
                AuthConfig::new(placeholder).unwrap_err(),
                ConfigError::PlaceholderSigningSecret,
                "{placeholder}"
            );
        }
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let c = AuthConfig::new(GOOD).unwrap();
        assert!(!format!("{c:?}").contains(GOOD));
        let b = AuthConfig::builder().signing_secret(GOOD);
        assert!(!format!("{b:?}").contains(GOOD));
        assert!(!format!("{:?}", c.signing_secret()).contains(GOOD));
    }

    #[test]
    fn out_of_range_settings_are_refused() {
        let b = || AuthConfig::builder().signing_secret(GOOD);
        let setting = |r: Result<AuthConfig, ConfigError>| match r.unwrap_err() {
            ConfigError::Invalid { setting, .. } => setting,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            setting(b().access_token_lifetime(Duration::ZERO).build()),
            "access_token_lifetime"
        );
        assert_eq!(
            setting(b().refresh_token_lifetime(Duration::from_secs(60)).build()),
            "refresh_token_lifetime"
        );
        assert_eq!(
            setting(b().argon2(0, 65_536, 4).build()),
            "argon2_time_cost"
        );
        assert_eq!(setting(b().argon2(3, 16, 4).build()), "argon2_memory_kib");
        assert_eq!(
            setting(b().argon2(3, 65_536, 0).build()),
            "argon2_parallelism"
        );
        assert_eq!(
            setting(b().max_password_length(8).build()),
            "max_password_length"
        );
    }

    #[test]
    fn reads_the_environment_through_a_lookup() {
        let env: HashMap<&str, &str> = HashMap::from([
            ("AUTH_SIGNING_SECRET", GOOD),
            ("AUTH_ACCESS_TOKEN_LIFETIME_SECS", "300"),
            ("AUTH_ARGON2_MEMORY_KIB", "19456"),
        ]);
        let c = AuthConfig::from_lookup(|k| env.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(c.access_token_lifetime(), Duration::from_secs(300));
        assert_eq!((c.argon2_time_cost(), c.argon2_memory_kib()), (3, 19_456));

        let missing = AuthConfig::from_lookup(|_| None).unwrap_err();
        assert_eq!(missing, ConfigError::MissingSigningSecret);
        let bad = AuthConfig::from_lookup(|k| match k {
            "AUTH_SIGNING_SECRET" => Some(GOOD.into()),
            "AUTH_ARGON2_TIME_COST" => Some("three".into()),
            _ => None,
        })
        .unwrap_err();
        assert_eq!(
            bad,
            ConfigError::Env {
                var: "AUTH_ARGON2_TIME_COST",
                reason: "not a valid number"
            }
        );
    }
}
