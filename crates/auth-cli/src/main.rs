//! `tortoise-auth`: administration of a tortoise-auth database from the command line
//! (also run by `cargo xtask migrate` and `cargo xtask cleanup`).
//!
//! ```text
//! tortoise-auth migrate --database-url URL [--user-table users] [--id integer|uuid]
//!                       [--id-column id] [--table-prefix P]
//! tortoise-auth cleanup --database-url URL [--user-table users] [--id integer|uuid]
//!                       [--id-column id] [--table-prefix P] [--batch 1000]
//! ```
//!
//! `migrate` creates the user table if it is missing (or checks the library's columns on
//! yours) and the library's tables; it is idempotent and safe to run from several
//! instances at once. `cleanup` deletes expired and revoked sessions, spent tokens and old
//! rate-limit counters in batches, keeping what reuse detection needs. The URL's scheme
//! picks the store: `sqlite:`, `postgres:`, `mysql:`. The tokio-postgres store
//! (`auth-store-postgres`) uses the same tables, so these commands serve it too.

use std::process::ExitCode;

use auth_core::{ExpiredDeletion, IdKind, OffsetDateTime, StoreError};
use auth_store_sqlx::{MySqlStore, PgStore, SqliteStore, StoreOptions, UserTable};

const USAGE: &str = "usage: tortoise-auth <migrate | cleanup> --database-url URL \
[--user-table NAME] [--id integer|uuid] [--id-column NAME] [--table-prefix P] [--batch N]";

struct Args {
    command: String,
    url: String,
    users: UserTable,
    prefix: String,
    batch: u32,
}

fn parse(mut argv: impl Iterator<Item = String>) -> Result<Args, String> {
    let command = argv.next().ok_or(USAGE)?;
    let (mut url, mut table, mut id, mut id_column) =
        (None, "users".to_owned(), IdKind::Integer, None);
    let (mut prefix, mut batch) = (String::new(), 1_000);
    while let Some(flag) = argv.next() {
        let mut value = || argv.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--database-url" => url = Some(value()?),
            "--user-table" => table = value()?,
            "--id" => {
                id = match value()?.as_str() {
                    "integer" => IdKind::Integer,
                    "uuid" => IdKind::Uuid,
                    other => return Err(format!("--id {other}: use integer or uuid")),
                }
            }
            "--id-column" => id_column = Some(value()?),
            "--table-prefix" => prefix = value()?,
            "--batch" => {
                batch = value()?
                    .parse()
                    .map_err(|_| "--batch needs a positive number".to_owned())?
            }
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    let mut users = UserTable::new(&table, id);
    if let Some(column) = id_column {
        users = users.id_column(&column);
    }
    Ok(Args {
        command,
        url: url
            .or_else(|| std::env::var("DATABASE_URL").ok())
            .ok_or(USAGE)?,
        users,
        prefix,
        batch: batch.max(1),
    })
}

/// Deletes dead rows in batches until none is left; returns how many went.
async fn cleanup(store: &dyn ExpiredDeletion, batch: u32) -> Result<u64, StoreError> {
    let now = OffsetDateTime::now_utc();
    let mut total = 0;
    loop {
        let n = store.delete_expired(now, batch).await?;
        total += n;
        if n == 0 {
            return Ok(total);
        }
    }
}

async fn run(args: Args) -> Result<String, Box<dyn std::error::Error>> {
    let options = StoreOptions::default().table_prefix(&args.prefix);
    let scheme = args.url.split(':').next().unwrap_or_default().to_owned();
    macro_rules! with_store {
        ($store:ty) => {{
            let store = <$store>::connect_with(&args.url, args.users.clone(), options).await?;
            match args.command.as_str() {
                "migrate" => {
                    store.migrate().await?;
                    format!("migrated: {} (user table `{}`)", scheme, args.users.table())
                }
                "cleanup" => format!(
                    "deleted {} expired rows",
                    cleanup(&store, args.batch).await?
                ),
                other => return Err(format!("unknown command {other}\n{USAGE}").into()),
            }
        }};
    }
    Ok(match scheme.as_str() {
        "sqlite" => with_store!(SqliteStore),
        "postgres" | "postgresql" => with_store!(PgStore),
        "mysql" | "mariadb" => with_store!(MySqlStore),
        other => return Err(format!("unsupported database URL scheme `{other}`").into()),
    })
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(done) => {
            println!("{done}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            // The store's errors name the operation and kind, never SQL or values.
            eprintln!("tortoise-auth: {error}");
            let mut source = error.source();
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Result<Args, String> {
        parse(list.iter().map(|s| (*s).to_owned()))
    }

    #[test]
    fn parses_every_flag_and_refuses_unknown_ones() {
        let a = args(&[
            "migrate",
            "--database-url",
            "sqlite::memory:",
            "--user-table",
            "accounts",
            "--id",
            "uuid",
            "--table-prefix",
            "t_",
        ])
        .unwrap();
        assert_eq!(a.users.table(), "accounts");
        assert_eq!(a.users.id_kind(), IdKind::Uuid);
        assert_eq!(a.prefix, "t_");
        assert!(args(&["migrate", "--database-url", "x", "--bogus"]).is_err());
        assert!(args(&["migrate", "--id", "text", "--database-url", "x"]).is_err());
    }

    #[tokio::test]
    async fn migrates_and_cleans_a_sqlite_file_twice() {
        let dir = std::env::temp_dir().join(format!("auth-cli-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}", dir.join("a.db").display());
        for command in ["migrate", "migrate", "cleanup"] {
            let out = run(args(&[command, "--database-url", &url]).unwrap())
                .await
                .unwrap();
            assert!(
                out.starts_with(if command == "cleanup" {
                    "deleted 0"
                } else {
                    "migrated"
                }),
                "{out}"
            );
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
