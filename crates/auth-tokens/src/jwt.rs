//! JWT access tokens (feature `jwt`), with opaque refresh tokens and the shared session
//! machinery.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use auth_core::{
    AccessClaims, Clock, ConfigError, ExpiredDeletion, ExtraClaims, IdKind, MAX_TOKEN_LENGTH,
    OffsetDateTime, SessionId, SessionPolicy, SessionStore, SigningSecret, TokenError, UserId,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::engine::{AccessFormat, Engine, MintRequest, Minted};
use crate::generate::{OsRng, fill_random};

/// The longest leeway for `exp`, `nbf` and `iat` a [`JwtConfig`] accepts.
pub const MAX_JWT_LEEWAY: Duration = Duration::from_secs(60);

/// The `typ` header of access tokens unless configured otherwise (RFC 9068).
pub const DEFAULT_JWT_TYP: &str = "at+jwt";

/// The smallest RSA modulus accepted for RS256, in bits.
pub const MIN_RSA_BITS: usize = 2048;

/// The signature algorithm of a [`JwtConfig`]. It comes from configuration only: a token
/// whose header names anything else is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum JwtAlgorithm {
    /// HMAC with SHA-256 (a shared secret of at least 32 bytes).
    HS256,
    /// HMAC with SHA-384 (a shared secret of at least 32 bytes).
    HS384,
    /// HMAC with SHA-512 (a shared secret of at least 32 bytes).
    HS512,
    /// RSASSA-PKCS1-v1_5 with SHA-256 (an RSA key pair of at least 2048 bits, PEM).
    RS256,
    /// Ed25519 (a key pair in PEM).
    EdDSA,
}

impl JwtAlgorithm {
    fn to_jsonwebtoken(self) -> Algorithm {
        match self {
            JwtAlgorithm::HS256 => Algorithm::HS256,
            JwtAlgorithm::HS384 => Algorithm::HS384,
            JwtAlgorithm::HS512 => Algorithm::HS512,
            JwtAlgorithm::RS256 => Algorithm::RS256,
            JwtAlgorithm::EdDSA => Algorithm::EdDSA,
        }
    }
}

/// How a [`JwtBackend`] decides that an access token's session is still alive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum RevocationMode {
    /// Every check reads the session's status by id (one indexed read, which also supplies
    /// the user on SQL stores): logout, logout-all, a password change and deactivation
    /// revoke the access token at once. The default.
    #[default]
    CheckSession,
    /// No read: a validly signed token is trusted until its `exp`. Revocation (logout, a
    /// password change, reuse detection) stops refreshes at once but an access token
    /// already handed out keeps working until it expires; keep the access lifetime short.
    TrustUntilExpiry,
}

enum KeySource {
    Hmac(JwtAlgorithm, Zeroizing<Vec<u8>>),
    Rsa {
        private_pem: Zeroizing<Vec<u8>>,
        public_pem: Vec<u8>,
    },
    Ed {
        private_pem: Zeroizing<Vec<u8>>,
        public_pem: Vec<u8>,
    },
}

/// Builds a [`JwtConfig`]; [`build`](JwtConfigBuilder::build) checks every setting.
pub struct JwtConfigBuilder {
    key: KeySource,
    issuer: Option<String>,
    audience: Option<String>,
    leeway: Duration,
    typ: String,
    revocation: RevocationMode,
    id_kind: IdKind,
}

impl fmt::Debug for JwtConfigBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtConfigBuilder")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("leeway", &self.leeway)
            .field("typ", &self.typ)
            .field("revocation", &self.revocation)
            .field("id_kind", &self.id_kind)
            .finish_non_exhaustive()
    }
}

impl JwtConfigBuilder {
    fn new(key: KeySource) -> Self {
        Self {
            key,
            issuer: None,
            audience: None,
            leeway: Duration::ZERO,
            typ: DEFAULT_JWT_TYP.to_owned(),
            revocation: RevocationMode::default(),
            id_kind: IdKind::default(),
        }
    }

    /// Sets the `iss` claim of issued tokens; verification then requires exactly it.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Sets the `aud` claim of issued tokens; verification then requires exactly it.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// Clock skew tolerated on `exp`, `nbf` and `iat` (default 0, at most
    /// [`MAX_JWT_LEEWAY`]). With a leeway `L` a token still works until `exp + L`.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The `typ` header set on issued tokens and required on presented ones (default
    /// [`DEFAULT_JWT_TYP`]; compared without case, `application/` prefix allowed).
    pub fn typ(mut self, typ: impl Into<String>) -> Self {
        self.typ = typ.into();
        self
    }

    /// How revocation reaches access tokens (default [`RevocationMode::CheckSession`]).
    pub fn revocation(mut self, mode: RevocationMode) -> Self {
        self.revocation = mode;
        self
    }

    /// The kind of user id in `sub` (default [`IdKind::Integer`]; use the user table's).
    pub fn id_kind(mut self, kind: IdKind) -> Self {
        self.id_kind = kind;
        self
    }

    /// Checks every setting: an HMAC secret of at least 32 bytes that is no placeholder,
    /// PEM keys that parse and belong together (an RSA modulus of at least 2048 bits), a
    /// leeway of at most 60 s, a sensible `typ`, non-empty `iss`/`aud`.
    pub fn build(self) -> Result<JwtConfig, ConfigError> {
        let invalid = |setting: &'static str, reason: &str| ConfigError::Invalid {
            setting,
            reason: reason.to_owned(),
        };
        // Only the RustCrypto provider is compiled in; installing it explicitly keeps
        // jsonwebtoken from guessing (it fails if another crate enabled a second one).
        let _ = jsonwebtoken::crypto::CryptoProvider::install_default(
            &jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER,
        );
        let (algorithm, encoding, decoding) = match &self.key {
            KeySource::Hmac(alg, secret) => {
                let secret = SigningSecret::new(secret.to_vec())?;
                (
                    *alg,
                    EncodingKey::from_secret(secret.expose()),
                    DecodingKey::from_secret(secret.expose()),
                )
            }
            KeySource::Rsa {
                private_pem,
                public_pem,
            } => (
                JwtAlgorithm::RS256,
                EncodingKey::from_rsa_pem(private_pem)
                    .map_err(|_| invalid("jwt_private_key", "not an RSA private key in PEM"))?,
                DecodingKey::from_rsa_pem(public_pem)
                    .map_err(|_| invalid("jwt_public_key", "not an RSA public key in PEM"))?,
            ),
            KeySource::Ed {
                private_pem,
                public_pem,
            } => (
                JwtAlgorithm::EdDSA,
                EncodingKey::from_ed_pem(private_pem)
                    .map_err(|_| invalid("jwt_private_key", "not an Ed25519 private key in PEM"))?,
                DecodingKey::from_ed_pem(public_pem)
                    .map_err(|_| invalid("jwt_public_key", "not an Ed25519 public key in PEM"))?,
            ),
        };
        let alg = algorithm.to_jsonwebtoken();
        // Sign and verify a probe: a key that cannot sign, or a public key that is not the
        // private key's, fails here and not on the first login.
        let probe = b"tortoise-auth jwt key probe";
        let signature = jsonwebtoken::crypto::sign(probe, &encoding, alg)
            .map_err(|_| invalid("jwt_private_key", "cannot sign with this key"))?;
        let matches = jsonwebtoken::crypto::verify(&signature, probe, &decoding, alg)
            .map_err(|_| invalid("jwt_public_key", "cannot verify with this key"))?;
        if !matches {
            return Err(invalid("jwt_public_key", "does not match the private key"));
        }
        if algorithm == JwtAlgorithm::RS256 {
            // An RS256 signature is exactly as long as the modulus.
            let bits = URL_SAFE_NO_PAD
                .decode(&signature)
                .map(|s| s.len() * 8)
                .unwrap_or(0);
            if bits < MIN_RSA_BITS {
                return Err(invalid(
                    "jwt_private_key",
                    "RSA keys must have at least 2048 bits",
                ));
            }
        }
        if self.leeway > MAX_JWT_LEEWAY {
            return Err(invalid("jwt_leeway", "must be at most 60 seconds"));
        }
        let typ_ok = !self.typ.is_empty()
            && self.typ.len() <= 64
            && self.typ.bytes().all(|b| b.is_ascii_graphic());
        if !typ_ok {
            return Err(invalid(
                "jwt_typ",
                "must be 1 to 64 printable ASCII characters",
            ));
        }
        for (setting, value) in [
            ("jwt_issuer", &self.issuer),
            ("jwt_audience", &self.audience),
        ] {
            if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
                return Err(invalid(setting, "must not be empty when set"));
            }
        }

        let mut validation = Validation::new(alg);
        // Time is checked against the backend's clock, not jsonwebtoken's system clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.leeway = 0;
        let mut required: HashSet<String> = ["exp", "nbf", "sub"].map(String::from).into();
        if let Some(iss) = &self.issuer {
            validation.set_issuer(&[iss]);
            required.insert("iss".into());
        }
        if let Some(aud) = &self.audience {
            validation.set_audience(&[aud]);
            required.insert("aud".into());
        }
        validation.required_spec_claims = required;

        Ok(JwtConfig {
            inner: Arc::new(Inner {
                algorithm,
                encoding,
                decoding,
                validation,
                issuer: self.issuer,
                audience: self.audience,
                leeway: self.leeway,
                typ: self.typ,
                revocation: self.revocation,
                id_kind: self.id_kind,
            }),
        })
    }
}

struct Inner {
    algorithm: JwtAlgorithm,
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: Option<String>,
    audience: Option<String>,
    leeway: Duration,
    typ: String,
    revocation: RevocationMode,
    id_kind: IdKind,
}

/// How [`JwtBackend`] signs and checks access tokens: one algorithm and key, from
/// configuration only. Cheap to clone; `Debug` never shows a key.
///
/// ```
/// use std::time::Duration;
/// use auth_tokens::{JwtConfig, RevocationMode};
///
/// let config = JwtConfig::hs256(b"k8Jq2vW9xL4mN7pR1sT5uY3zA6bC0dE2fG8hI4jK".to_vec())
///     .issuer("https://auth.example.com")
///     .audience("api")
///     .leeway(Duration::from_secs(5))
///     .revocation(RevocationMode::CheckSession)
///     .build()
///     .unwrap();
/// assert!(JwtConfig::hs256(b"too short".to_vec()).build().is_err());
/// # let _ = config;
/// ```
#[derive(Clone)]
pub struct JwtConfig {
    inner: Arc<Inner>,
}

impl fmt::Debug for JwtConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        f.debug_struct("JwtConfig")
            .field("algorithm", &i.algorithm)
            .field("key", &"[redacted]")
            .field("issuer", &i.issuer)
            .field("audience", &i.audience)
            .field("leeway", &i.leeway)
            .field("typ", &i.typ)
            .field("revocation", &i.revocation)
            .field("id_kind", &i.id_kind)
            .finish()
    }
}

impl JwtConfig {
    /// HS256 with a shared secret (at least 32 bytes, no placeholder).
    pub fn hs256(secret: impl Into<Vec<u8>>) -> JwtConfigBuilder {
        Self::hmac(JwtAlgorithm::HS256, secret)
    }

    /// HS384 with a shared secret (at least 32 bytes, no placeholder).
    pub fn hs384(secret: impl Into<Vec<u8>>) -> JwtConfigBuilder {
        Self::hmac(JwtAlgorithm::HS384, secret)
    }

    /// HS512 with a shared secret (at least 32 bytes, no placeholder).
    pub fn hs512(secret: impl Into<Vec<u8>>) -> JwtConfigBuilder {
        Self::hmac(JwtAlgorithm::HS512, secret)
    }

    fn hmac(alg: JwtAlgorithm, secret: impl Into<Vec<u8>>) -> JwtConfigBuilder {
        JwtConfigBuilder::new(KeySource::Hmac(alg, Zeroizing::new(secret.into())))
    }

    /// RS256 with an RSA key pair in PEM (PKCS#1 or PKCS#8 private key, SPKI or PKCS#1
    /// public key; at least 2048 bits).
    pub fn rs256_pem(
        private_key_pem: impl Into<Vec<u8>>,
        public_key_pem: impl Into<Vec<u8>>,
    ) -> JwtConfigBuilder {
        JwtConfigBuilder::new(KeySource::Rsa {
            private_pem: Zeroizing::new(private_key_pem.into()),
            public_pem: public_key_pem.into(),
        })
    }

    /// EdDSA (Ed25519) with a key pair in PEM (PKCS#8 private key, SPKI public key).
    pub fn eddsa_pem(
        private_key_pem: impl Into<Vec<u8>>,
        public_key_pem: impl Into<Vec<u8>>,
    ) -> JwtConfigBuilder {
        JwtConfigBuilder::new(KeySource::Ed {
            private_pem: Zeroizing::new(private_key_pem.into()),
            public_pem: public_key_pem.into(),
        })
    }

    /// The configured algorithm.
    pub fn algorithm(&self) -> JwtAlgorithm {
        self.inner.algorithm
    }

    /// The configured revocation mode.
    pub fn revocation(&self) -> RevocationMode {
        self.inner.revocation
    }

    /// The configured leeway.
    pub fn leeway(&self) -> Duration {
        self.inner.leeway
    }

    fn typ_matches(&self, typ: Option<&str>) -> bool {
        let Some(typ) = typ else { return false };
        let typ = match typ.get(..12) {
            Some(prefix) if prefix.eq_ignore_ascii_case("application/") => &typ[12..],
            _ => typ,
        };
        typ.eq_ignore_ascii_case(&self.inner.typ)
    }
}

/// The claims of an access token.
#[derive(Serialize, Deserialize)]
struct Claims {
    sub: String,
    sid: String,
    exp: i64,
    iat: i64,
    nbf: i64,
    jti: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    aud: Option<String>,
    #[serde(flatten)]
    extra: ExtraClaims,
}

/// Verified claims, before any session check.
struct Checked {
    user_id: UserId,
    session_id: SessionId,
    expires_at: OffsetDateTime,
    extra: ExtraClaims,
}

/// Access tokens that are JWTs signed under a [`JwtConfig`].
#[derive(Clone)]
pub(crate) struct JwtAccess {
    config: JwtConfig,
}

impl JwtAccess {
    /// Checks everything but expiry and the session: shape, header, signature, claims.
    fn decode(&self, token: &str, now: OffsetDateTime) -> Result<(Checked, bool), TokenError> {
        let cfg = &self.config.inner;
        if token.len() > MAX_TOKEN_LENGTH {
            return Err(TokenError::Invalid);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
        // Only `alg` and `typ`: the key comes from configuration, never from the token, and
        // a header this backend never writes (`kid`, `jku`, `jwk`, `x5u`, `crit`, ...) means
        // the token is not ours.
        let foreign_fields = header.cty.is_some()
            || header.jku.is_some()
            || header.jwk.is_some()
            || header.kid.is_some()
            || header.x5u.is_some()
            || header.x5c.is_some()
            || header.x5t.is_some()
            || header.x5t_s256.is_some()
            || header.crit.is_some()
            || header.enc.is_some()
            || header.zip.is_some()
            || header.url.is_some()
            || header.nonce.is_some()
            || !header.extras.inner().is_empty();
        if header.alg != cfg.algorithm.to_jsonwebtoken()
            || foreign_fields
            || !self.config.typ_matches(header.typ.as_deref())
        {
            return Err(TokenError::Invalid);
        }
        let data = jsonwebtoken::decode::<Claims>(token, &cfg.decoding, &cfg.validation)
            .map_err(|_| TokenError::Invalid)?;
        let claims = data.claims;
        if claims.iss != cfg.issuer || claims.aud != cfg.audience {
            return Err(TokenError::Invalid);
        }
        let at =
            |secs: i64| OffsetDateTime::from_unix_timestamp(secs).map_err(|_| TokenError::Invalid);
        let expires_at = at(claims.exp)?;
        let not_before = at(claims.nbf)?;
        let issued_at = at(claims.iat)?;
        if now + cfg.leeway < not_before || now + cfg.leeway < issued_at {
            return Err(TokenError::Invalid);
        }
        let expired = now >= expires_at + cfg.leeway;
        let user_id = UserId::parse(cfg.id_kind, &claims.sub).map_err(|_| TokenError::Invalid)?;
        let session_id = SessionId::from_hex(&claims.sid).map_err(|_| TokenError::Invalid)?;
        Ok((
            Checked {
                user_id,
                session_id,
                expires_at,
                extra: claims.extra,
            },
            expired,
        ))
    }
}

impl AccessFormat for JwtAccess {
    const NEEDS_SUBJECT: bool = true;

    fn mint(&self, request: &MintRequest<'_>) -> Result<Minted, TokenError> {
        let cfg = &self.config.inner;
        let subject = request
            .subject
            .as_ref()
            .ok_or_else(|| TokenError::internal("minting a JWT", "no subject"))?;
        if subject.user_id.kind() != cfg.id_kind {
            // The token could never be verified: `sub` parses with the configured kind.
            return Err(TokenError::internal(
                "minting a JWT",
                "the user id's kind differs from JwtConfig::id_kind",
            ));
        }
        let mut jti = [0u8; 16];
        fill_random(&mut OsRng, &mut jti)?;
        let exp = request.expires_at.unix_timestamp();
        let iat = request.now.unix_timestamp();
        let claims = Claims {
            sub: subject.user_id.to_string(),
            sid: subject.session_id.to_hex(),
            exp,
            iat,
            nbf: iat,
            jti: URL_SAFE_NO_PAD.encode(jti),
            iss: cfg.issuer.clone(),
            aud: cfg.audience.clone(),
            extra: subject.extra_claims.clone(),
        };
        let mut header = Header::new(cfg.algorithm.to_jsonwebtoken());
        header.typ = Some(cfg.typ.clone());
        let token = jsonwebtoken::encode(&header, &claims, &cfg.encoding)
            .map_err(|e| TokenError::internal("signing a JWT", e))?;
        if token.len() > MAX_TOKEN_LENGTH {
            // It would be refused when presented: the extra claims are too large.
            return Err(TokenError::Invalid);
        }
        let expires_at = OffsetDateTime::from_unix_timestamp(exp)
            .map_err(|e| TokenError::internal("minting a JWT", e))?;
        Ok(Minted {
            token,
            row: None,
            expires_at,
        })
    }

    async fn verify(
        &self,
        store: &dyn SessionStore,
        now: OffsetDateTime,
        token: &str,
    ) -> Result<AccessClaims, TokenError> {
        let (checked, expired) = self.decode(token, now)?;
        if expired {
            return Err(TokenError::Expired);
        }
        let user = match self.config.inner.revocation {
            RevocationMode::TrustUntilExpiry => None,
            RevocationMode::CheckSession => {
                // A session that is gone was ended and purged.
                let status = store
                    .session_status(&checked.session_id)
                    .await?
                    .ok_or(TokenError::Revoked)?;
                if status.user_id != checked.user_id {
                    return Err(TokenError::Invalid);
                }
                if status.revoked {
                    return Err(TokenError::Revoked);
                }
                if now >= status.absolute_expires_at {
                    return Err(TokenError::Expired);
                }
                status.user
            }
        };
        Ok(AccessClaims {
            user_id: checked.user_id,
            session_id: checked.session_id,
            expires_at: checked.expires_at,
            extra_claims: checked.extra,
            user,
        })
    }

    async fn identify(
        &self,
        _store: &dyn SessionStore,
        now: OffsetDateTime,
        token: &str,
    ) -> Result<(UserId, SessionId), TokenError> {
        let (checked, _expired) = self.decode(token, now)?;
        Ok((checked.user_id, checked.session_id))
    }
}

/// JWT access tokens with opaque, rotating refresh tokens, on any [`SessionStore`].
///
/// Access tokens carry `sub` (the user id), `sid` (the session id), `exp`, `iat`, `nbf`,
/// a random `jti`, `iss`/`aud` when configured, and the session's extra claims; they expire
/// at the access lifetime or the session's absolute end, whichever is first. Refresh
/// tokens, sessions, rotation, reuse detection and the grace window are exactly the
/// opaque backend's (one shared implementation). With [`RevocationMode::CheckSession`]
/// (the default) every check also reads the session's status, so revocation is immediate.
#[derive(Clone)]
pub struct JwtBackend {
    engine: Engine<JwtAccess>,
}

impl fmt::Debug for JwtBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtBackend")
            .field("policy", &self.engine.policy)
            .field("jwt", &self.engine.access.config)
            .field("cleanup", &self.engine.deletion.is_some())
            .finish_non_exhaustive()
    }
}

impl JwtBackend {
    /// A backend keeping sessions and refresh-token digests in `store`, taking "now" from
    /// `clock`, with the lifetimes and limits of `policy` and access tokens signed under
    /// `jwt`.
    pub fn new(
        store: Arc<dyn SessionStore>,
        clock: Arc<dyn Clock>,
        policy: SessionPolicy,
        jwt: JwtConfig,
    ) -> Self {
        Self {
            engine: Engine::new(store, clock, policy, JwtAccess { config: jwt }),
        }
    }

    /// Purges dead rows through `deletion` in `cleanup_expired` (usually the same store).
    pub fn with_expired_deletion(mut self, deletion: Arc<dyn ExpiredDeletion>) -> Self {
        self.engine.deletion = Some(deletion);
        self
    }

    /// The lifetimes and limits in force.
    pub fn policy(&self) -> &SessionPolicy {
        &self.engine.policy
    }

    /// The JWT settings in force.
    pub fn jwt_config(&self) -> &JwtConfig {
        &self.engine.access.config
    }
}

crate::engine::delegate_token_backend!(JwtBackend);
