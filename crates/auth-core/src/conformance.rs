//! The store conformance suite: every [`UserStore`](crate::UserStore) +
//! [`TokenStore`](crate::TokenStore) implementation runs these same checks.
