//! R4: fifty tasks released together present one refresh token: exactly one rotates, the
//! others are refused (concurrent duplicates count as reuse, so the family ends). Twenty
//! repetitions per backend. With a grace window, every success is the same pair and the
//! family lives on.

mod common;

use std::sync::Arc;
use std::time::Duration;

use auth_core::{RefreshOutcome, SessionPolicy, TokenBackend, TokenError, TokenPair};
use common::{FLAVORS, harness, policy};
use tokio::sync::Barrier;

const TASKS: usize = 50;
const REPETITIONS: usize = 20;

async fn race(
    backend: &Arc<dyn TokenBackend>,
    token: &str,
) -> Vec<Result<RefreshOutcome, TokenError>> {
    let barrier = Arc::new(Barrier::new(TASKS));
    let mut handles = Vec::with_capacity(TASKS);
    for _ in 0..TASKS {
        let backend = Arc::clone(backend);
        let barrier = Arc::clone(&barrier);
        let token = token.to_owned();
        handles.push(tokio::spawn(async move {
            barrier.wait().await;
            backend.refresh(&token).await
        }));
    }
    let mut results = Vec::with_capacity(TASKS);
    for h in handles {
        results.push(h.await.expect("task"));
    }
    results
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_refreshes_have_exactly_one_winner() {
    for &flavor in FLAVORS {
        let h = harness(flavor, policy()).await;
        for rep in 0..REPETITIONS {
            let issued = h.login(&h.user.id).await;
            let results = race(&h.backend, &issued.pair.refresh_token).await;
            let winners: Vec<&RefreshOutcome> = results
                .iter()
                .filter_map(|r| match r {
                    Ok(o @ RefreshOutcome::Rotated { replayed, .. }) => {
                        assert!(!replayed, "no grace window: no replay");
                        Some(o)
                    }
                    _ => None,
                })
                .collect();
            assert_eq!(winners.len(), 1, "{flavor:?} repetition {rep}: {results:?}");
            for r in &results {
                assert!(
                    matches!(
                        r,
                        Ok(RefreshOutcome::Rotated { .. } | RefreshOutcome::ReuseDetected { .. })
                            | Err(TokenError::Revoked)
                    ),
                    "{flavor:?}: unexpected {r:?}"
                );
            }
            // The losers were reuse: the family is over, including the winner's pair.
            let RefreshOutcome::Rotated { tokens, .. } = winners[0] else {
                unreachable!()
            };
            assert_token_err!(
                flavor,
                h.backend.refresh(&tokens.pair.refresh_token).await,
                TokenError::Revoked
            );
            assert_token_err!(
                flavor,
                h.backend.verify_access(&tokens.pair.access_token).await,
                TokenError::Revoked
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_refreshes_within_grace_get_one_pair() {
    let policy = SessionPolicy {
        refresh_grace: Duration::from_secs(30),
        ..policy()
    };
    for &flavor in FLAVORS {
        let h = harness(flavor, policy).await;
        for rep in 0..REPETITIONS {
            let issued = h.login(&h.user.id).await;
            let results = race(&h.backend, &issued.pair.refresh_token).await;
            let mut fresh = 0;
            let mut pairs: Vec<TokenPair> = Vec::new();
            for r in &results {
                match r {
                    Ok(RefreshOutcome::Rotated {
                        tokens, replayed, ..
                    }) => {
                        if !replayed {
                            fresh += 1;
                        }
                        assert_eq!(tokens.session_id, issued.session_id);
                        pairs.push(tokens.pair.clone());
                    }
                    other => panic!("{flavor:?} repetition {rep}: {other:?}"),
                }
            }
            assert_eq!(fresh, 1, "{flavor:?} repetition {rep}: one real rotation");
            assert!(pairs.windows(2).all(|w| w[0] == w[1]), "one pair for all");
            // One live head: the pair works and rotates on.
            h.backend
                .verify_access(&pairs[0].access_token)
                .await
                .unwrap();
            h.rotate(&pairs[0].refresh_token).await;
        }
    }
}
