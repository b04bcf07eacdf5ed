//! Expiry, rotation, reuse detection, logout and logout-all, as the Quick Start and
//! DESIGN.md §3 describe them. Time moves with the injected clock, never by sleeping.
mod common;

use auth_facade::{AuthError, AuthEvent, TokenError, UserStore};
use common::*;

#[tokio::test]
async fn expired_access_token_is_expired_and_refresh_still_works() {
    let h = harness().await;
    h.user("alice@example.com").await;
    let result = h.auth.login("alice@example.com", PASSWORD).await.unwrap();

    h.clock
        .advance(minutes(15) - std::time::Duration::from_secs(1));
    h.auth.authenticate(&result.access_token).await.unwrap();
    h.clock.advance(std::time::Duration::from_secs(1));
    assert!(matches!(
        h.auth.authenticate(&result.access_token).await,
        Err(AuthError::Token(TokenError::Expired))
    ));
    let pair = h.auth.refresh(&result.refresh_token).await.unwrap();
    h.auth.authenticate(&pair.access_token).await.unwrap();
}

#[tokio::test]
async fn expired_refresh_token_is_expired() {
    let h = harness().await;
    h.user("alice@example.com").await;
    let result = h.auth.login("alice@example.com", PASSWORD).await.unwrap();
    h.clock.advance(minutes(7 * 24 * 60));
    assert!(matches!(
        h.auth.refresh(&result.refresh_token).await,
        Err(AuthError::Token(TokenError::Expired))
    ));
}

#[tokio::test]
async fn random_malformed_and_oversized_strings_are_invalid() {
    let h = harness().await;
    h.user("alice@example.com").await;
    let result = h.auth.login("alice@example.com", PASSWORD).await.unwrap();
    let huge = "tat_".to_string() + &"A".repeat(10 * 1024 * 1024);
    let unknown = format!("tat_{}", "A".repeat(43));
    let cases: Vec<String> = vec![
        String::new(),
        "not a token".into(),
        "tat_".into(),
        unknown,
        "tat_\0\0\0".into(),
        "tat_é".repeat(20),
        huge,
        format!("tat_{}", result.access_token[4..].to_uppercase()),
        result.access_token[..result.access_token.len() - 1].to_string(),
        // the wrong type for the call:
        result.refresh_token.clone(),
    ];
    h.calls.take();
    for case in &cases {
        assert!(
            matches!(
                h.auth.authenticate(case).await,
                Err(AuthError::Token(TokenError::Invalid))
            ),
            "{:?}",
            &case[..case.len().min(30)]
        );
    }
    // Only well-formed tokens reached the store: the unknown one, and the case-flipped one
    // if its last character still has canonical trailing bits.
    let lookups = h.calls.take().len();
    assert!((1..=2).contains(&lookups), "{lookups} store lookups");
    for case in cases.iter().filter(|c| **c != result.refresh_token) {
        assert!(matches!(
            h.auth.refresh(case).await,
            Err(AuthError::Token(TokenError::Invalid))
        ));
    }
    assert!(matches!(
        h.auth.refresh(&result.access_token).await,
        Err(AuthError::Token(TokenError::Invalid))
    ));
    assert!(matches!(
        h.auth.logout(&result.refresh_token).await,
        Err(AuthError::Token(TokenError::Invalid))
    ));
    // The real tokens were not disturbed by any of that.
    h.auth.authenticate(&result.access_token).await.unwrap();
}

#[tokio::test]
async fn logout_revokes_the_session_access_and_refresh() {
    let h = harness().await;
    h.user("alice@example.com").await;
    let result = h.auth.login("alice@example.com", PASSWORD).await.unwrap();
    h.auth.logout(&result.access_token).await.unwrap();
    assert!(matches!(
        h.auth.authenticate(&result.access_token).await,
        Err(AuthError::Token(TokenError::Revoked))
    ));
    assert!(matches!(
        h.auth.refresh(&result.refresh_token).await,
        Err(AuthError::Token(TokenError::Revoked))
    ));
}

#[tokio::test]
async fn logout_works_with_an_expired_access_token() {
    let h = harness().await;
    h.user("alice@example.com").await;
    let result = h.auth.login("alice@example.com", PASSWORD).await.unwrap();
    h.clock.advance(minutes(60));
    h.auth.logout(&result.access_token).await.unwrap();
    assert!(matches!(
        h.auth.refresh(&result.refresh_token).await,
        Err(AuthError::Token(TokenError::Revoked))
    ));
}

#[tokio::test]
async fn refresh_spends_the_old_token_and_reuse_revokes_the_family() {
    let h = harness().await;
    let alice = h.user("alice@example.com").await;
    let result = h.auth.login("alice@example.com", PASSWORD).await.unwrap();
    let second = h.auth.refresh(&result.refresh_token).await.unwrap();
    // The new pair works; the old access token lives out its short lifetime.
    h.auth.authenticate(&second.access_token).await.unwrap();

    // Replaying the spent refresh token is reuse: refused, and the whole family dies.
    assert!(matches!(
        h.auth.refresh(&result.refresh_token).await,
        Err(AuthError::Token(TokenError::Revoked))
    ));
    for token in [&result.access_token, &second.access_token] {
        assert!(matches!(
            h.auth.authenticate(token).await,
            Err(AuthError::Token(TokenError::Revoked))
        ));
    }
    assert!(matches!(
        h.auth.refresh(&second.refresh_token).await,
        Err(AuthError::Token(TokenError::Revoked))
    ));
    let reused: Vec<AuthEvent> = h
        .events
        .events()
        .into_iter()
        .filter(|e| e.name() == "refresh_token_reused")
        .collect();
    assert_eq!(reused.len(), 1);
    assert_eq!(reused[0].user_id(), Some(&alice.id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_refreshes_of_one_token_let_exactly_one_win() {
    let h = harness().await;
    h.user("alice@example.com").await;
    let result = h.auth.login("alice@example.com", PASSWORD).await.unwrap();
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let auth = h.auth.clone();
            let token = result.refresh_token.clone();
            tokio::spawn(async move { auth.refresh(&token).await })
        })
        .collect();
    let mut wins = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => wins += 1,
            Err(AuthError::Token(TokenError::Revoked)) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(wins, 1);
}

#[tokio::test]
async fn logout_all_ends_every_session_of_the_user_and_no_other() {
    let h = harness().await;
    let alice = h.user("alice@example.com").await;
    h.user("bob@example.com").await;
    let a1 = h.auth.login("alice@example.com", PASSWORD).await.unwrap();
    let a2 = h.auth.login("alice@example.com", PASSWORD).await.unwrap();
    let a2b = h.auth.refresh(&a2.refresh_token).await.unwrap();
    let b = h.auth.login("bob@example.com", PASSWORD).await.unwrap();
    assert_eq!(h.auth.sessions().list(&alice.id).await.unwrap().len(), 2);

    assert_eq!(h.auth.logout_all(&alice.id).await.unwrap(), 2);
    for token in [&a1.access_token, &a2.access_token, &a2b.access_token] {
        assert!(matches!(
            h.auth.authenticate(token).await,
            Err(AuthError::Token(TokenError::Revoked))
        ));
    }
    for token in [&a1.refresh_token, &a2b.refresh_token] {
        assert!(matches!(
            h.auth.refresh(token).await,
            Err(AuthError::Token(TokenError::Revoked))
        ));
    }
    assert!(h.auth.sessions().list(&alice.id).await.unwrap().is_empty());
    assert_eq!(
        h.auth.authenticate(&b.access_token).await.unwrap().email,
        "bob@example.com"
    );
    h.auth.refresh(&b.refresh_token).await.unwrap();
}

#[tokio::test]
async fn one_session_can_be_listed_and_revoked_alone() {
    let h = harness().await;
    let alice = h.user("alice@example.com").await;
    let bob = h.user("bob@example.com").await;
    let phone = h.auth.login("alice@example.com", PASSWORD).await.unwrap();
    let laptop = h.auth.login("alice@example.com", PASSWORD).await.unwrap();
    let sessions = h.auth.sessions().list(&alice.id).await.unwrap();
    let ids: Vec<_> = sessions.iter().map(|s| s.id).collect();
    assert!(ids.contains(&phone.session_id) && ids.contains(&laptop.session_id));

    // Bob cannot end Alice's session.
    assert!(
        !h.auth
            .sessions()
            .revoke(&bob.id, &phone.session_id)
            .await
            .unwrap()
    );
    assert!(
        h.auth
            .sessions()
            .revoke(&alice.id, &phone.session_id)
            .await
            .unwrap()
    );
    assert!(matches!(
        h.auth.authenticate(&phone.access_token).await,
        Err(AuthError::Token(TokenError::Revoked))
    ));
    h.auth.authenticate(&laptop.access_token).await.unwrap();
}

#[tokio::test]
async fn deactivated_user_cannot_log_in_and_their_sessions_end() {
    let h = harness().await;
    let alice = h.user("alice@example.com").await;
    let result = h.auth.login("alice@example.com", PASSWORD).await.unwrap();
    h.auth.set_active(&alice.id, false).await.unwrap();
    assert!(matches!(
        h.auth.authenticate(&result.access_token).await,
        Err(AuthError::Token(TokenError::Revoked))
    ));
    assert!(matches!(
        h.auth.refresh(&result.refresh_token).await,
        Err(AuthError::Token(TokenError::Revoked))
    ));
    assert!(matches!(
        h.auth.login("alice@example.com", PASSWORD).await,
        Err(AuthError::InvalidCredentials)
    ));
    // Reactivation does not bring the old session back; a new login works.
    h.auth.set_active(&alice.id, true).await.unwrap();
    assert!(h.auth.authenticate(&result.access_token).await.is_err());
    h.auth.login("alice@example.com", PASSWORD).await.unwrap();
}

#[tokio::test]
async fn user_deactivated_by_the_app_is_refused_at_once_and_cannot_refresh() {
    let h = harness().await;
    let alice = h.user("alice@example.com").await;
    let result = h.auth.login("alice@example.com", PASSWORD).await.unwrap();
    // Straight to the store, as the application's own SQL would.
    h.store.set_active(&alice.id, false, h.now()).await.unwrap();
    assert!(matches!(
        h.auth.authenticate(&result.access_token).await,
        Err(AuthError::UserInactive)
    ));
    assert!(
        h.auth.refresh(&result.refresh_token).await.is_err(),
        "a user deactivated by the app got a new token pair"
    );
    // The refusal ended the session: reactivating does not bring it back.
    h.store.set_active(&alice.id, true, h.now()).await.unwrap();
    assert!(h.auth.authenticate(&result.access_token).await.is_err());
}

#[tokio::test]
async fn a_deleted_user_ends_every_session() {
    let h = harness().await;
    let alice = h.user("alice@example.com").await;
    let result = h.auth.login("alice@example.com", PASSWORD).await.unwrap();
    h.auth.delete_user(&alice.id).await.unwrap();
    assert!(h.auth.authenticate(&result.access_token).await.is_err());
    assert!(h.auth.refresh(&result.refresh_token).await.is_err());
    assert!(matches!(
        h.auth.delete_user(&alice.id).await,
        Err(AuthError::UserNotFound)
    ));
    assert_eq!(h.events.count("user_deleted"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_all_racing_a_refresh_leaves_no_live_token() {
    let h = harness().await;
    let alice = h.user("alice@example.com").await;
    for _ in 0..25 {
        let result = h.auth.login("alice@example.com", PASSWORD).await.unwrap();
        let (auth, token) = (h.auth.clone(), result.refresh_token.clone());
        let refresh = tokio::spawn(async move { auth.refresh(&token).await });
        let (auth, id) = (h.auth.clone(), alice.id);
        let revoke = tokio::spawn(async move { auth.logout_all(&id).await });
        revoke.await.unwrap().unwrap();
        if let Ok(pair) = refresh.await.unwrap() {
            // A successor minted in the race belongs to the revoked session.
            assert!(matches!(
                h.auth.authenticate(&pair.access_token).await,
                Err(AuthError::Token(TokenError::Revoked))
            ));
            assert!(h.auth.refresh(&pair.refresh_token).await.is_err());
        }
        assert!(h.auth.authenticate(&result.access_token).await.is_err());
        assert!(h.auth.sessions().list(&alice.id).await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn authenticate_is_one_store_read_and_writes_nothing() {
    let h = harness().await;
    h.user("alice@example.com").await;
    let result = h.auth.login("alice@example.com", PASSWORD).await.unwrap();
    let before = h.store.dump();
    h.calls.take();
    for _ in 0..5 {
        h.auth.authenticate(&result.access_token).await.unwrap();
    }
    assert_eq!(h.calls.take(), ["find_access_token"; 5]);
    assert_eq!(h.store.dump(), before, "authenticate wrote to the store");
}

#[tokio::test]
async fn cleanup_removes_dead_sessions_and_keeps_lineage() {
    let h = harness().await;
    let alice = h.user("alice@example.com").await;
    for _ in 0..5 {
        h.auth.login("alice@example.com", PASSWORD).await.unwrap();
    }
    let ended = h.auth.login("alice@example.com", PASSWORD).await.unwrap();
    h.auth.logout(&ended.access_token).await.unwrap();
    h.clock.advance(minutes(31 * 24 * 60));
    let purged = h.auth.cleanup_expired().await.unwrap();
    assert!(purged >= 6, "purged {purged}");
    assert_eq!(h.auth.cleanup_expired().await.unwrap(), 0);
    assert!(h.auth.sessions().list(&alice.id).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_late_replay_after_cleanup_is_still_reuse() {
    // Issue 6: purge used to delete a spent refresh token once its own lifetime was over,
    // so a replay after that was merely "invalid" and the thief's session lived on.
    let h = harness().await;
    h.user("lineage@example.com").await;
    let first = h.auth.login("lineage@example.com", PASSWORD).await.unwrap();
    h.clock.advance(secs(6 * 86_400));
    let second = h.auth.refresh(&first.refresh_token).await.unwrap();
    h.clock.advance(secs(2 * 86_400));
    h.auth.cleanup_expired().await.unwrap();
    let replay = h.auth.refresh(&first.refresh_token).await.unwrap_err();
    assert!(is_token(&replay, "revoked"), "{replay:?}");
    assert!(
        h.auth.refresh(&second.refresh_token).await.is_err(),
        "a late replay after cleanup was not treated as reuse: the thief's session lives"
    );
}
