//! placeholder
mod codec;
mod error;
mod ident;
mod migrate;
#[cfg(feature = "sqlite")]
mod sqlite;
mod user_table;

#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;
pub use user_table::UserTable;
