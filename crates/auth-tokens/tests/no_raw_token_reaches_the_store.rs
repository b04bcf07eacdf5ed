//! T2 and the grace window's promise: after issue, refresh (with a sealed successor),
//! reuse and revoke, no stored value holds a raw token or any 8-character piece of one;
//! the sealed blobs handed to the store contain neither token of the pair they seal.

mod common;

use std::time::Duration;

use auth_core::{SessionPolicy, TokenPair};
use common::{FLAVORS, harness, policy};

/// Every 8-character window of `token`.
fn pieces(token: &str) -> Vec<&str> {
    (0..=token.len().saturating_sub(8))
        .map(|i| &token[i..i + 8])
        .collect()
}

fn contains_bytes(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn no_stored_value_holds_a_raw_token() {
    let policy = SessionPolicy {
        refresh_grace: Duration::from_secs(30),
        ..policy()
    };
    for &flavor in FLAVORS {
        let h = harness(flavor, policy).await;
        let mut handed_out: Vec<TokenPair> = Vec::new();
        let a = h.login(&h.user.id).await;
        handed_out.push(a.pair.clone());
        let b = h.rotate(&a.pair.refresh_token).await;
        handed_out.push(b.pair.clone());
        let c = h.rotate(&b.pair.refresh_token).await;
        handed_out.push(c.pair.clone());
        let d = h.login(&h.user.id).await;
        handed_out.push(d.pair.clone());
        h.backend.logout(&d.pair.access_token).await.unwrap();
        // Reuse of the oldest token revokes a's family.
        let _ = h.backend.refresh(&a.pair.refresh_token).await.unwrap();

        let dump = h.store.dump();
        assert!(dump.contains("sealed="), "the dump lists sealed successors");
        for pair in &handed_out {
            for token in [&pair.access_token, &pair.refresh_token] {
                for piece in pieces(token) {
                    assert!(
                        !dump.contains(piece),
                        "{flavor:?}: a stored value contains {piece:?}"
                    );
                }
            }
        }

        let sealed = h.recording.sealed.lock().unwrap().clone();
        // One blob per rotation attempt (the reuse attempt sealed one that was dropped).
        assert_eq!(sealed.len(), 3, "{flavor:?}");
        for blob in &sealed {
            for pair in &handed_out {
                for token in [&pair.access_token, &pair.refresh_token] {
                    for piece in pieces(token) {
                        assert!(
                            !contains_bytes(blob, piece.as_bytes()),
                            "{flavor:?}: a sealed blob contains {piece:?}"
                        );
                    }
                }
            }
        }
    }
}
