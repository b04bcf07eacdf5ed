//! Password hashing for tortoise-auth: Argon2id primary, bcrypt and PBKDF2-SHA256 verification
//! for migration, a bounded hashing pool for async code, and password validators.

mod b64;
mod config;
mod error;
mod hasher;
mod normalize;
mod pool;
mod schemes;

pub use config::{Argon2Params, HasherConfig, MAX_PASSWORD_LENGTH_CEILING, StoredHashLimits};
pub use error::{HashError, HashErrorKind};
pub use hasher::{MultiHasher, PasswordHasher, Verification, is_usable};
pub use normalize::normalize_password;
pub use pool::HashingPool;
pub use schemes::bcrypt::BCRYPT_MAX_PASSWORD_BYTES;
pub use schemes::{Scheme, identify};
pub mod validation;

pub use validation::{
    CommonPasswordValidator, MinimumLengthValidator, NumericPasswordValidator, PasswordPolicy,
    PasswordPolicyBuilder, PasswordValidationError, PasswordValidator,
    UserAttributeSimilarityValidator, ValidationContext, ValidationFailure,
};
