use std::fmt;
use std::time::Duration;

use zeroize::Zeroizing;

use crate::rate_limit::RateLimitPolicy;

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
    hashing_queue_timeout: Duration,
    sessions: SessionPolicy,
    password_reset_lifetime: Duration,
    email_verification_lifetime: Duration,
    login_rate_limit: Option<RateLimitPolicy>,
    ip_rate_limit: Option<RateLimitPolicy>,
    recovery_rate_limit: Option<RateLimitPolicy>,
}

/// The lifetimes and limits of sessions, as a token backend needs them
/// ([`AuthConfig::session_policy`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// How long an access token lives.
    pub access_token_lifetime: Duration,
    /// How long a refresh token lives; each rotation starts a new one.
    pub refresh_token_lifetime: Duration,
    /// The absolute end of a session, counted from its login: rotation never extends it.
    pub max_session_lifetime: Duration,
    /// A session not refreshed for this long cannot be refreshed any more (`None`: off).
    pub idle_timeout: Option<Duration>,
    /// How long after a rotation the spent refresh token may be replayed to get the same
    /// pair again (`Duration::ZERO`: off, every replay is reuse).
    pub refresh_grace: Duration,
    /// At most this many active sessions per user; a new login ends the oldest.
    pub max_sessions_per_user: Option<u32>,
}

/// The longest grace window allowed (Cognito's and Okta's maximum).
pub const MAX_REFRESH_GRACE: Duration = Duration::from_secs(60);

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
    /// `AUTH_MAX_SESSION_LIFETIME_SECS`, `AUTH_IDLE_TIMEOUT_SECS` (0 = off),
    /// `AUTH_MAX_SESSIONS_PER_USER` (0 = no cap), `AUTH_REFRESH_GRACE_SECS`,
    /// `AUTH_PASSWORD_RESET_LIFETIME_SECS`, `AUTH_EMAIL_VERIFICATION_LIFETIME_SECS`,
    /// `AUTH_LOGIN_MAX_ATTEMPTS`, `AUTH_LOGIN_WINDOW_SECS`, `AUTH_LOCKOUT_SECS`,
    /// `AUTH_ARGON2_TIME_COST`, `AUTH_ARGON2_MEMORY_KIB`, `AUTH_ARGON2_PARALLELISM`,
    /// `AUTH_MAX_PASSWORD_LENGTH`, `AUTH_HASHING_CONCURRENCY`,
    /// `AUTH_HASHING_QUEUE_TIMEOUT_MS`.
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
        if let Some(ms) = number::<u64>(&lookup, "AUTH_HASHING_QUEUE_TIMEOUT_MS")? {
            b = b.hashing_queue_timeout(Duration::from_millis(ms));
        }
        if let Some(s) = number::<u64>(&lookup, "AUTH_MAX_SESSION_LIFETIME_SECS")? {
            b = b.max_session_lifetime(Duration::from_secs(s));
        }
        if let Some(s) = number::<u64>(&lookup, "AUTH_IDLE_TIMEOUT_SECS")? {
            b = b.idle_timeout((s > 0).then(|| Duration::from_secs(s)));
        }
        if let Some(n) = number::<u32>(&lookup, "AUTH_MAX_SESSIONS_PER_USER")? {
            b = b.max_sessions_per_user((n > 0).then_some(n));
        }
        if let Some(s) = number::<u64>(&lookup, "AUTH_REFRESH_GRACE_SECS")? {
            b = b.refresh_grace(Duration::from_secs(s));
        }
        if let Some(s) = number::<u64>(&lookup, "AUTH_PASSWORD_RESET_LIFETIME_SECS")? {
            b = b.password_reset_lifetime(Duration::from_secs(s));
        }
        if let Some(s) = number::<u64>(&lookup, "AUTH_EMAIL_VERIFICATION_LIFETIME_SECS")? {
            b = b.email_verification_lifetime(Duration::from_secs(s));
        }
        let attempts = number::<u32>(&lookup, "AUTH_LOGIN_MAX_ATTEMPTS")?;
        let window = number::<u64>(&lookup, "AUTH_LOGIN_WINDOW_SECS")?;
        let lockout = number::<u64>(&lookup, "AUTH_LOCKOUT_SECS")?;
        if attempts.is_some() || window.is_some() || lockout.is_some() {
            let d = RateLimitPolicy::LOGIN_DEFAULT;
            b = b.login_rate_limit(Some(RateLimitPolicy {
                max_attempts: attempts.unwrap_or(d.max_attempts),
                window: window.map_or(d.window, Duration::from_secs),
                lockout: lockout.map_or(d.lockout, Duration::from_secs),
            }));
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
    /// How long a password operation waits for a free hashing slot before failing as busy
    /// (default 5 s), so a login storm queues boundedly instead of piling up.
    pub fn hashing_queue_timeout(&self) -> Duration {
        self.hashing_queue_timeout
    }
    /// The session lifetimes and limits, for token backends.
    pub fn session_policy(&self) -> SessionPolicy {
        self.sessions
    }
    /// The absolute end of a session after its login (default 30 days).
    pub fn max_session_lifetime(&self) -> Duration {
        self.sessions.max_session_lifetime
    }
    /// The idle timeout of sessions (default off).
    pub fn idle_timeout(&self) -> Option<Duration> {
        self.sessions.idle_timeout
    }
    /// The most active sessions a user may have (default 100).
    pub fn max_sessions_per_user(&self) -> Option<u32> {
        self.sessions.max_sessions_per_user
    }
    /// The refresh grace window (default 0: off).
    pub fn refresh_grace(&self) -> Duration {
        self.sessions.refresh_grace
    }
    /// How long a password-reset token works (default 1 hour).
    pub fn password_reset_lifetime(&self) -> Duration {
        self.password_reset_lifetime
    }
    /// How long an email-verification token works (default 24 hours).
    pub fn email_verification_lifetime(&self) -> Duration {
        self.email_verification_lifetime
    }
    /// The per-account login limit (default: the reference's 5 attempts per 300 s, then
    /// 600 s locked); `None` turns it off.
    pub fn login_rate_limit(&self) -> Option<RateLimitPolicy> {
        self.login_rate_limit
    }
    /// The per-address limit on failed logins (default 50 failures per 300 s, then 600 s
    /// locked); `None` turns it off.
    pub fn ip_rate_limit(&self) -> Option<RateLimitPolicy> {
        self.ip_rate_limit
    }
    /// The limit on reset and verification requests per account and per address (default
    /// 5 per hour, then an hour locked); `None` turns it off.
    pub fn recovery_rate_limit(&self) -> Option<RateLimitPolicy> {
        self.recovery_rate_limit
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
    hashing_queue_timeout: Duration,
    max_session_lifetime: Duration,
    idle_timeout: Option<Duration>,
    max_sessions_per_user: Option<u32>,
    refresh_grace: Duration,
    password_reset_lifetime: Duration,
    email_verification_lifetime: Duration,
    login_rate_limit: Option<RateLimitPolicy>,
    ip_rate_limit: Option<RateLimitPolicy>,
    recovery_rate_limit: Option<RateLimitPolicy>,
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
            hashing_queue_timeout: Duration::from_secs(5),
            max_session_lifetime: Duration::from_secs(30 * 86_400),
            idle_timeout: None,
            max_sessions_per_user: Some(100),
            refresh_grace: Duration::ZERO,
            password_reset_lifetime: Duration::from_secs(3_600),
            email_verification_lifetime: Duration::from_secs(86_400),
            login_rate_limit: Some(RateLimitPolicy::LOGIN_DEFAULT),
            ip_rate_limit: Some(RateLimitPolicy {
                max_attempts: 50,
                window: Duration::from_secs(300),
                lockout: Duration::from_secs(600),
            }),
            recovery_rate_limit: Some(RateLimitPolicy {
                max_attempts: 5,
                window: Duration::from_secs(3_600),
                lockout: Duration::from_secs(3_600),
            }),
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
    /// How long to wait for a hashing slot before failing as busy (10 ms to 5 minutes).
    pub fn hashing_queue_timeout(mut self, timeout: Duration) -> Self {
        self.hashing_queue_timeout = timeout;
        self
    }
    /// The absolute end of a session after its login (at least the access-token lifetime,
    /// at most 400 days).
    pub fn max_session_lifetime(mut self, lifetime: Duration) -> Self {
        self.max_session_lifetime = lifetime;
        self
    }
    /// A session not refreshed for this long cannot be refreshed (`None`: off; else longer
    /// than the access-token lifetime).
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.idle_timeout = timeout;
        self
    }
    /// The most active sessions per user (`None`: no cap; else 1 to 10,000).
    pub fn max_sessions_per_user(mut self, max: Option<u32>) -> Self {
        self.max_sessions_per_user = max;
        self
    }
    /// The refresh grace window (0 to 60 s).
    pub fn refresh_grace(mut self, window: Duration) -> Self {
        self.refresh_grace = window;
        self
    }
    /// How long a password-reset token works (1 minute to 1 day).
    pub fn password_reset_lifetime(mut self, lifetime: Duration) -> Self {
        self.password_reset_lifetime = lifetime;
        self
    }
    /// How long an email-verification token works (1 minute to 30 days).
    pub fn email_verification_lifetime(mut self, lifetime: Duration) -> Self {
        self.email_verification_lifetime = lifetime;
        self
    }
    /// The per-account login limit (`None`: off). At most 100 attempts per hour (ASVS
    /// 2.2.1).
    pub fn login_rate_limit(mut self, policy: Option<RateLimitPolicy>) -> Self {
        self.login_rate_limit = policy;
        self
    }
    /// The per-address limit on failed logins (`None`: off).
    pub fn ip_rate_limit(mut self, policy: Option<RateLimitPolicy>) -> Self {
        self.ip_rate_limit = policy;
        self
    }
    /// The limit on reset and verification requests (`None`: off).
    pub fn recovery_rate_limit(mut self, policy: Option<RateLimitPolicy>) -> Self {
        self.recovery_rate_limit = policy;
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
        if self.hashing_queue_timeout < Duration::from_millis(10)
            || self.hashing_queue_timeout > Duration::from_secs(300)
        {
            return Err(invalid(
                "hashing_queue_timeout",
                "must be between 10 ms and 5 minutes".into(),
            ));
        }
        if self.max_session_lifetime < self.access_token_lifetime
            || self.max_session_lifetime > day * 400
        {
            return Err(invalid(
                "max_session_lifetime",
                "must be at least the access token lifetime and at most 400 days".into(),
            ));
        }
        if let Some(idle) = self.idle_timeout
            && (idle <= self.access_token_lifetime || idle > self.max_session_lifetime)
        {
            return Err(invalid(
                "idle_timeout",
                "must be longer than the access token lifetime and at most the session lifetime"
                    .into(),
            ));
        }
        if let Some(max) = self.max_sessions_per_user
            && !(1..=10_000).contains(&max)
        {
            return Err(invalid(
                "max_sessions_per_user",
                "must be 1 to 10000".into(),
            ));
        }
        if self.refresh_grace > MAX_REFRESH_GRACE {
            return Err(invalid(
                "refresh_grace",
                "must be at most 60 seconds".into(),
            ));
        }
        let minute = Duration::from_secs(60);
        if self.password_reset_lifetime < minute || self.password_reset_lifetime > day {
            return Err(invalid(
                "password_reset_lifetime",
                "must be between 1 minute and 1 day".into(),
            ));
        }
        if self.email_verification_lifetime < minute || self.email_verification_lifetime > day * 30
        {
            return Err(invalid(
                "email_verification_lifetime",
                "must be between 1 minute and 30 days".into(),
            ));
        }
        for (setting, policy) in [
            ("login_rate_limit", self.login_rate_limit),
            ("ip_rate_limit", self.ip_rate_limit),
            ("recovery_rate_limit", self.recovery_rate_limit),
        ] {
            let Some(p) = policy else { continue };
            if p.max_attempts == 0 || p.window.is_zero() || p.lockout.is_zero() {
                return Err(invalid(
                    setting,
                    "attempts, window and lockout must be positive".into(),
                ));
            }
            if setting == "login_rate_limit" {
                let per_hour =
                    u128::from(p.max_attempts) * 3_600 / p.window.as_secs().max(1) as u128;
                if per_hour > 100 {
                    return Err(invalid(
                        setting,
                        "allows more than 100 attempts per hour (ASVS 2.2.1)".into(),
                    ));
                }
            }
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
            hashing_queue_timeout: self.hashing_queue_timeout,
            sessions: SessionPolicy {
                access_token_lifetime: self.access_token_lifetime,
                refresh_token_lifetime: self.refresh_token_lifetime,
                max_session_lifetime: self.max_session_lifetime,
                idle_timeout: self.idle_timeout,
                refresh_grace: self.refresh_grace,
                max_sessions_per_user: self.max_sessions_per_user,
            },
            password_reset_lifetime: self.password_reset_lifetime,
            email_verification_lifetime: self.email_verification_lifetime,
            login_rate_limit: self.login_rate_limit,
            ip_rate_limit: self.ip_rate_limit,
            recovery_rate_limit: self.recovery_rate_limit,
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
        assert_eq!(c.max_session_lifetime(), Duration::from_secs(30 * 86_400));
        assert_eq!(c.idle_timeout(), None);
        assert_eq!(c.max_sessions_per_user(), Some(100));
        assert_eq!(c.refresh_grace(), Duration::ZERO);
        assert_eq!(c.password_reset_lifetime(), Duration::from_secs(3_600));
        assert_eq!(c.login_rate_limit(), Some(RateLimitPolicy::LOGIN_DEFAULT));
    }

    #[test]
    fn session_limits_are_checked() {
        let b = || AuthConfig::builder().signing_secret(GOOD);
        let setting = |r: Result<AuthConfig, ConfigError>| match r.unwrap_err() {
            ConfigError::Invalid { setting, .. } => setting,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            setting(b().refresh_grace(Duration::from_secs(61)).build()),
            "refresh_grace"
        );
        assert_eq!(
            setting(b().idle_timeout(Some(Duration::from_secs(60))).build()),
            "idle_timeout"
        );
        assert_eq!(
            setting(b().max_sessions_per_user(Some(0)).build()),
            "max_sessions_per_user"
        );
        let lax = RateLimitPolicy {
            max_attempts: 1_000,
            window: Duration::from_secs(3_600),
            lockout: Duration::from_secs(60),
        };
        assert_eq!(
            setting(b().login_rate_limit(Some(lax)).build()),
            "login_rate_limit"
        );
        assert!(b().refresh_grace(Duration::from_secs(60)).build().is_ok());
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
