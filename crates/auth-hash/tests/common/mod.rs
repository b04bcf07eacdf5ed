//! Shared by the integration tests of auth-hash.

use auth_hash::{Argon2Params, HasherConfig, MultiHasher};

/// A hasher with the smallest Argon2id parameters, for tests about formats and policy rather
/// than cost.
pub fn tiny() -> MultiHasher {
    MultiHasher::new(HasherConfig {
        argon2: Argon2Params {
            time_cost: 1,
            memory_kib: 8,
            parallelism: 1,
        },
        ..HasherConfig::default()
    })
    .unwrap()
}
