//! `authenticate` is one round trip to PostgreSQL: counted on the wire.
//!
//! The store talks to the server through a small TCP proxy that parses every message the
//! client sends (the PostgreSQL frontend protocol: a type byte and a length) and counts
//! the round trips: each extended-protocol exchange ends with one `Sync` (`S`) and waits
//! for the server's `ReadyForQuery`; a simple query (`Q`: a ping, a `BEGIN`) is one more.
//! So the count includes whatever a driver or a pool might add behind the store's back (a
//! ping before checkout, a re-prepare, a transaction), which a log of the store's own
//! statements would not show. It also records the text of every `Parse`, to show the
//! lookup is a plain `SELECT`.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use auth_core::{AuthConfig, ManualClock, NewUser, SessionStore, TokenDigest, UserStore};
use auth_facade::AuthService;
use auth_store_postgres::deadpool_postgres::{
    Manager, ManagerConfig, Pool, RecyclingMethod, Runtime,
};
use auth_store_postgres::tokio_postgres::config::Host;
use auth_store_postgres::tokio_postgres::{Config, NoTls};
use auth_store_postgres::{PostgresStore, StoreOptions};
use common::{TestSchema, access, at, session, users};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the proxy saw the clients send.
#[derive(Default)]
struct Wire {
    round_trips: AtomicU64,
    simple_queries: AtomicU64,
    parsed: Mutex<Vec<String>>,
}

impl Wire {
    /// (round trips, simple queries, statements parsed) since the last call.
    fn take(&self) -> (u64, u64, Vec<String>) {
        (
            self.round_trips.swap(0, Ordering::SeqCst),
            self.simple_queries.swap(0, Ordering::SeqCst),
            std::mem::take(&mut *self.parsed.lock().unwrap()),
        )
    }
}

/// Splits the client's byte stream into frontend messages.
#[derive(Default)]
struct Parser {
    buf: Vec<u8>,
    started: bool,
}

fn be32(b: &[u8]) -> usize {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize
}

impl Parser {
    fn feed(&mut self, bytes: &[u8], wire: &Wire) {
        self.buf.extend_from_slice(bytes);
        loop {
            if !self.started {
                // Untyped: SSLRequest / GSSENCRequest (answered, then the startup), startup.
                if self.buf.len() < 8 || self.buf.len() < be32(&self.buf) {
                    return;
                }
                let (len, code) = (be32(&self.buf), be32(&self.buf[4..]));
                self.buf.drain(..len);
                self.started = !matches!(code, 80_877_103 | 80_877_104);
                continue;
            }
            if self.buf.len() < 5 || self.buf.len() < 1 + be32(&self.buf[1..]) {
                return;
            }
            let len = 1 + be32(&self.buf[1..]);
            match self.buf[0] {
                b'S' => {
                    wire.round_trips.fetch_add(1, Ordering::SeqCst);
                }
                b'Q' => {
                    wire.simple_queries.fetch_add(1, Ordering::SeqCst);
                    wire.round_trips.fetch_add(1, Ordering::SeqCst);
                }
                b'P' => {
                    // Parse: statement name, then query text, both NUL-terminated.
                    let body = &self.buf[5..len];
                    let mut parts = body.split(|b| *b == 0);
                    let _name = parts.next();
                    let text = parts.next().unwrap_or_default();
                    wire.parsed
                        .lock()
                        .unwrap()
                        .push(String::from_utf8_lossy(text).into_owned());
                }
                _ => {}
            }
            self.buf.drain(..len);
        }
    }
}

/// A proxy on 127.0.0.1 in front of `upstream`, counting into `wire`; returns its port.
async fn proxy(upstream: (String, u16), wire: Arc<Wire>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(server) = TcpStream::connect((upstream.0.as_str(), upstream.1)).await else {
                continue;
            };
            let wire = wire.clone();
            tokio::spawn(async move {
                let (mut from_client, mut to_client) = client.into_split();
                let (mut from_server, mut to_server) = server.into_split();
                let down = tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut from_server, &mut to_client).await;
                });
                let mut parser = Parser::default();
                let mut buf = vec![0u8; 16 * 1024];
                loop {
                    let n = match from_client.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    // Counted before it is forwarded: the answer comes after the count.
                    parser.feed(&buf[..n], &wire);
                    if to_server.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
                let _ = to_server.shutdown().await;
                down.abort();
            });
        }
    });
    port
}

/// A store whose one pooled connection goes through a counting proxy, built with
/// `from_pool` (Fast recycling: no ping).
async fn counted_store(schema: &TestSchema, wire: Arc<Wire>) -> PostgresStore {
    let direct: Config = schema.url.parse().unwrap();
    let upstream = match (direct.get_hosts().first(), direct.get_ports().first()) {
        (Some(Host::Tcp(host)), port) => (host.clone(), port.copied().unwrap_or(5432)),
        _ => panic!("AUTH_TEST_POSTGRES_URL must name a TCP host for this test"),
    };
    let port = proxy(upstream, wire).await;
    let mut config = Config::new();
    config.host("127.0.0.1").port(port);
    if let Some(user) = direct.get_user() {
        config.user(user);
    }
    if let Some(password) = direct.get_password() {
        config.password(password);
    }
    if let Some(db) = direct.get_dbname() {
        config.dbname(db);
    }
    config.options(direct.get_options().expect("search_path option"));
    let manager = Manager::from_config(
        config,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let pool = Pool::builder(manager)
        .max_size(1)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(Duration::from_secs(3)))
        .create_timeout(Some(Duration::from_secs(3)))
        .build()
        .unwrap();
    PostgresStore::from_pool(pool, users())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_lookups_are_one_round_trip_each() {
    let Some(schema) = TestSchema::create().await else {
        return;
    };
    let wire = Arc::new(Wire::default());
    let store = counted_store(&schema, wire.clone()).await;
    store.migrate().await.unwrap();
    let user = store
        .create_user(&NewUser::new("rt@example.com").unwrap(), at(0))
        .await
        .unwrap();
    let (s, t) = session(1, user.id, 0);
    store.create_session(&s, &t, None).await.unwrap();
    wire.take();

    // The first lookup on the connection prepares the statement (one round trip), then
    // runs it (one more): a plain SELECT.
    store.find_access_token(&access(1)).await.unwrap().unwrap();
    let (trips, simple, parsed) = wire.take();
    assert_eq!((trips, simple), (2, 0), "first lookup: prepare + execute");
    assert_eq!(parsed.len(), 1);
    assert!(parsed[0].starts_with("SELECT k.kind"), "{parsed:?}");
    store.session_status(&s.id).await.unwrap().unwrap();
    let (_, _, parsed) = wire.take();
    assert!(parsed[0].starts_with("SELECT s.id"), "{parsed:?}");

    // From then on: one round trip, nothing parsed, no simple query (no ping, no BEGIN).
    let record = store.find_access_token(&access(1)).await.unwrap().unwrap();
    assert_eq!(record.session.user.as_ref().unwrap().id, user.id);
    assert_eq!(wire.take(), (1, 0, vec![]), "find_access_token");
    let status = store.session_status(&s.id).await.unwrap().unwrap();
    assert!(status.user.is_some());
    assert_eq!(wire.take(), (1, 0, vec![]), "session_status");
    assert!(
        store
            .find_access_token(&TokenDigest([0xee; 32]))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(wire.take(), (1, 0, vec![]), "a miss");

    // 16 concurrent lookups share the one connection, pipelined: 16 round trips.
    let lookups: Vec<_> = (0..16)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.find_access_token(&access(1)).await })
        })
        .collect();
    for lookup in lookups {
        assert!(lookup.await.unwrap().unwrap().is_some());
    }
    assert_eq!(wire.take(), (16, 0, vec![]), "16 concurrent lookups");

    drop(store);
    schema.drop().await;
}

fn service(store: &PostgresStore, jwt: bool) -> AuthService {
    let config = AuthConfig::builder()
        .signing_secret("rt-7c1e94a0d2b85f3e6a0c9d4b7e2f1a58")
        .argon2(1, 1024, 1)
        .build()
        .unwrap();
    let mut builder = AuthService::builder(config)
        .store(store.clone())
        .clock(Arc::new(ManualClock::starting_now()));
    if jwt {
        builder = builder.jwt(
            auth_facade::JwtConfig::hs256("rt-jwt-3f9b0d6e2a7c4158b9e0d3a6c2f7e1b4")
                .build()
                .unwrap(),
        );
    }
    builder.build().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authenticate_through_the_service_is_one_round_trip() {
    let Some(schema) = TestSchema::create().await else {
        return;
    };
    let wire = Arc::new(Wire::default());
    let store = counted_store(&schema, wire.clone()).await;
    store.migrate().await.unwrap();
    for (backend, jwt) in [("opaque", false), ("jwt", true)] {
        let auth = service(&store, jwt);
        let email = format!("{backend}@example.com");
        let user = auth.register(&email, "SecurePass123!").await.unwrap();
        let tokens = auth.login(&email, "SecurePass123!").await.unwrap();
        auth.wait_for_background().await;
        // Warm the statement on the connection.
        auth.authenticate(&tokens.access_token).await.unwrap();
        wire.take();
        for _ in 0..5 {
            assert_eq!(
                auth.authenticate(&tokens.access_token).await.unwrap().id,
                user.id
            );
            assert_eq!(wire.take(), (1, 0, vec![]), "{backend}: authenticate");
        }
        eprintln!("{backend}: authenticate is one round trip");
    }
    drop(store);
    schema.drop().await;
}

/// The defaults: `connect_with` keeps the same single round trip (no ping) whatever the
/// sharing setting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exclusive_reads_also_work() {
    let Some(schema) = TestSchema::create().await else {
        return;
    };
    let store = schema
        .store_with(
            users(),
            StoreOptions::default()
                .shared_read_connections(0)
                .max_connections(2),
        )
        .await;
    store.migrate().await.unwrap();
    let user = store
        .create_user(&NewUser::new("x@example.com").unwrap(), at(0))
        .await
        .unwrap();
    let (s, t) = session(2, user.id, 0);
    store.create_session(&s, &t, None).await.unwrap();
    let lookups: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.find_access_token(&access(2)).await })
        })
        .collect();
    for lookup in lookups {
        assert!(lookup.await.unwrap().unwrap().is_some());
    }
    drop(store);
    schema.drop().await;
}
