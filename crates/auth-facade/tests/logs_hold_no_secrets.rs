//! Nothing secret reaches the logs: every `tracing` event and span field recorded while a
//! full workflow runs (including failures, reuse detection and a hash upgrade) is captured
//! and scanned for passwords, tokens, hashes and the signing secret.
mod common;

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use common::*;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// Records every field of every span and event, at every level, as text.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<String>>);

struct Text<'a>(&'a mut String);

impl Visit for Text<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = writeln!(self.0, "{}={value:?}", field.name());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        let _ = writeln!(self.0, "{}={value}", field.name());
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        span.record(&mut Text(&mut self.0.lock().unwrap()));
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, values: &Record<'_>) {
        values.record(&mut Text(&mut self.0.lock().unwrap()));
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut out = self.0.lock().unwrap();
        let _ = writeln!(
            out,
            "[{}] {}",
            event.metadata().level(),
            event.metadata().target()
        );
        event.record(&mut Text(&mut out));
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[test]
fn no_password_token_hash_or_secret_is_ever_logged() {
    let capture = Capture::default();
    let _guard = tracing::subscriber::set_default(capture.clone());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut secrets: Vec<String> = vec![PASSWORD.into(), SECRET.into(), "wrong-guess-42".into()];
    runtime.block_on(async {
        let h = harness().await;
        let alice = h.user("alice@example.com").await;
        let _ = h.auth.login("alice@example.com", "wrong-guess-42").await;
        let _ = h.auth.login("nobody@example.com", PASSWORD).await;
        let first = h.auth.login("alice@example.com", PASSWORD).await.unwrap();
        let second = h.auth.refresh(&first.refresh_token).await.unwrap();
        let _ = h.auth.refresh(&first.refresh_token).await; // reuse: warns
        let _ = h.auth.authenticate(&second.access_token).await;
        // A legacy hash upgraded on login logs the upgrade.
        let legacy = "$argon2id$v=19$m=8192,t=1,p=1$/L/HTZfRiQtR2Y5xSye99A$0J2Pc1WajKVNnEdCbERlkH/yVVt1b4SH/T/lf3Ac2QQ";
        auth_facade::UserStore::set_password_hash(&h.store, &alice.id, legacy, h.now())
            .await
            .unwrap();
        let third = h.auth.login("alice@example.com", "correct horse battery staple").await.unwrap();
        h.auth.logout(&third.access_token).await.unwrap();
        h.auth.logout_all(&alice.id).await.unwrap();
        // A reset through a notifier that fails: its error is logged, never the token.
        h.auth.request_reset("alice@example.com").await.unwrap();
        h.auth.wait_for_background().await;
        secrets.extend([
            "correct horse battery staple".to_string(),
            legacy.to_string(),
            first.access_token,
            first.refresh_token,
            second.access_token,
            second.refresh_token,
            third.access_token,
            third.refresh_token,
        ]);
    });
    let logs = capture.0.lock().unwrap().clone();
    assert!(
        logs.contains("login failed"),
        "the capture must see the library's events:\n{logs}"
    );
    assert!(logs.contains("reuse"), "{logs}");
    for secret in &secrets {
        assert!(!logs.contains(secret.as_str()), "logged a secret: {secret}");
        assert!(
            !logs.contains(&secret[secret.len() - 12..]),
            "logged part of a secret"
        );
    }
    assert!(!logs.contains("$argon2id$"), "logged a password hash");
}
