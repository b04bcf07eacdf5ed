//! [`Stmt`]: one statement's text with the names of its binds, [`Value`]: a bound value,
//! and [`Args`]: the values of one execution, checked against the statement's binds.

use std::sync::Arc;

use auth_core::{OffsetDateTime, UserId};

use crate::dialect::Dialect;

/// One statement: its SQL text for one dialect and the names of its bound values, in
/// bind order. Every placeholder stands for exactly one bound value (a value needed twice
/// is bound twice), so the binds are simply the list of values in order.
///
/// Cheap to clone: the text is an `Arc<str>`, built once per store, so a driver's
/// per-connection prepared-statement cache (keyed by the text) is hit on every call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stmt {
    sql: Arc<str>,
    binds: Arc<[&'static str]>,
}

impl Stmt {
    /// Renders a template: every `:name` marker (a colon, then a lowercase letter, then
    /// lowercase letters, digits or `_`; not after another colon, not inside a `'...'`
    /// literal) becomes the next placeholder of `dialect` and adds `name` to the binds.
    pub fn render(dialect: Dialect, template: &str) -> Self {
        let mut sql = String::with_capacity(template.len() + 16);
        let mut binds = Vec::new();
        let bytes = template.as_bytes();
        let mut i = 0;
        let mut in_literal = false;
        while i < bytes.len() {
            let b = bytes[i];
            if b == b'\'' {
                in_literal = !in_literal;
            }
            let starts_marker = !in_literal
                && b == b':'
                && bytes.get(i + 1).is_some_and(u8::is_ascii_lowercase)
                && (i == 0 || bytes[i - 1] != b':');
            if starts_marker {
                let start = i + 1;
                let mut end = start;
                while end < bytes.len()
                    && (bytes[end].is_ascii_lowercase()
                        || bytes[end].is_ascii_digit()
                        || bytes[end] == b'_')
                {
                    end += 1;
                }
                binds.push(intern(&template[start..end]));
                sql.push_str(&dialect.placeholder(binds.len()));
                i = end;
                continue;
            }
            // Copy one whole UTF-8 character.
            let len = utf8_len(b);
            sql.push_str(&template[i..i + len]);
            i += len;
        }
        Self {
            sql: sql.into(),
            binds: binds.into(),
        }
    }

    /// A statement without binds (DDL, catalog queries without arguments).
    pub fn plain(sql: impl Into<Arc<str>>) -> Self {
        Self {
            sql: sql.into(),
            binds: Arc::new([]),
        }
    }

    /// The SQL text.
    pub fn sql(&self) -> &str {
        &self.sql
    }

    /// The SQL text as a shared string (for drivers that take owned text).
    pub fn shared_sql(&self) -> &Arc<str> {
        &self.sql
    }

    /// The names of the bound values, in bind order.
    pub fn binds(&self) -> &[&'static str] {
        &self.binds
    }

    /// Checks the text's placeholders against the binds: for PostgreSQL, `$1..$n` each
    /// appear exactly once and in increasing order; for the others, exactly `n` `?`.
    /// Placeholders inside `'...'` literals and quoted identifiers are ignored. Used by
    /// the tests of every store crate.
    pub fn check_placeholders(&self, dialect: Dialect) -> Result<(), String> {
        let found = placeholders(&self.sql, dialect);
        let n = self.binds.len();
        match dialect {
            Dialect::Postgres => {
                let expected: Vec<usize> = (1..=n).collect();
                if found != expected {
                    return Err(format!(
                        "placeholders {found:?}, expected {expected:?} for binds {:?}",
                        self.binds
                    ));
                }
            }
            Dialect::Sqlite | Dialect::Mysql => {
                if found.len() != n {
                    return Err(format!(
                        "{} `?` placeholders for {n} binds {:?}",
                        found.len(),
                        self.binds
                    ));
                }
            }
        }
        if self.sql.contains("$0") {
            return Err("placeholder $0".to_owned());
        }
        Ok(())
    }
}

/// The bind names are a small closed set: leak each distinct name once so `Stmt` can hold
/// `&'static str` (compared cheaply at every bind).
fn intern(name: &str) -> &'static str {
    use std::collections::HashSet;
    use std::sync::{Mutex, OnceLock};
    static NAMES: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let mut names = NAMES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(found) = names.get(name) {
        return found;
    }
    let leaked: &'static str = Box::leak(name.to_owned().into_boxed_str());
    names.insert(leaked);
    leaked
}

fn utf8_len(first: u8) -> usize {
    match first {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    }
}

/// The placeholders of `sql` in order of appearance: the numbers of `$n` for PostgreSQL,
/// a `1` for each `?` for the others. Skips `'...'`, `"..."` and `` `...` `` spans.
pub fn placeholders(sql: &str, dialect: Dialect) -> Vec<usize> {
    let bytes = sql.as_bytes();
    let mut out = Vec::new();
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if let Some(q) = quote {
            if b == q {
                quote = None;
            }
            i += 1;
            continue;
        }
        match b {
            b'\'' | b'"' | b'`' => quote = Some(b),
            b'$' if dialect == Dialect::Postgres => {
                let start = i + 1;
                let mut end = start;
                while end < bytes.len() && bytes[end].is_ascii_digit() {
                    end += 1;
                }
                if end > start {
                    out.push(sql[start..end].parse().unwrap_or(0));
                    i = end;
                    continue;
                }
            }
            b'?' if dialect != Dialect::Postgres => out.push(1),
            _ => {}
        }
        i += 1;
    }
    out
}

/// A value bound to a placeholder, driver-neutral: each store maps it to its driver's
/// types. Nullable columns have their own variants so a driver can type a `NULL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A 64-bit integer (times in unix microseconds, counts, limits).
    Int(i64),
    /// A nullable 64-bit integer.
    OptInt(Option<i64>),
    /// A 16-bit integer (token kind codes).
    Small(i16),
    /// Text.
    Text(String),
    /// Nullable text.
    OptText(Option<String>),
    /// Bytes (token digests, sealed successors).
    Bytes(Vec<u8>),
    /// Nullable bytes.
    OptBytes(Option<Vec<u8>>),
    /// A boolean (`is_active`, `is_verified`).
    Bool(bool),
    /// A timestamp of the application's user table (its own column type: `TIMESTAMPTZ`,
    /// `DATETIME`, ...), in UTC.
    Time(OffsetDateTime),
    /// A nullable user-table timestamp.
    OptTime(Option<OffsetDateTime>),
    /// A user key: an integer, or a UUID (PostgreSQL `uuid`; hyphenated text elsewhere).
    UserId(UserId),
}

/// The values of one execution of a [`Stmt`], bound by name so a call site that binds in
/// the wrong order panics at once (in every build) instead of writing a value into the
/// wrong column.
///
/// ```
/// use auth_sql::{Args, Dialect, Stmt, Value};
///
/// let stmt = Stmt::render(Dialect::Postgres, "UPDATE t SET a = :a WHERE id = :id");
/// assert_eq!(stmt.sql(), "UPDATE t SET a = $1 WHERE id = $2");
/// let values = Args::new(&stmt).bind("a", 1i64).bind("id", 7i64).finish();
/// assert_eq!(values, vec![Value::Int(1), Value::Int(7)]);
/// ```
#[derive(Debug)]
pub struct Args<'s> {
    stmt: &'s Stmt,
    values: Vec<Value>,
}

impl<'s> Args<'s> {
    /// No values yet.
    pub fn new(stmt: &'s Stmt) -> Self {
        Self {
            stmt,
            values: Vec::with_capacity(stmt.binds.len()),
        }
    }

    /// Binds the next value, which must be the one named `name`.
    ///
    /// # Panics
    /// If the statement's next bind has another name (a programming error).
    #[track_caller]
    pub fn bind(mut self, name: &'static str, value: impl Into<Value>) -> Self {
        let expected = self.stmt.binds.get(self.values.len()).copied();
        assert!(
            expected == Some(name),
            "bind #{} is {expected:?}, not {name:?}",
            self.values.len() + 1
        );
        self.values.push(value.into());
        self
    }

    /// The values of a statement whose binds differ between dialects: `value` is asked
    /// for each bind by name, in the statement's order (a name it does not know is a
    /// programming error: it should panic).
    pub fn by_name(stmt: &Stmt, mut value: impl FnMut(&'static str) -> Value) -> Vec<Value> {
        stmt.binds.iter().map(|name| value(name)).collect()
    }

    /// The values, in bind order.
    ///
    /// # Panics
    /// If a bind is missing (a programming error).
    #[track_caller]
    pub fn finish(self) -> Vec<Value> {
        assert!(
            self.values.len() == self.stmt.binds.len(),
            "{} of {} binds given ({:?})",
            self.values.len(),
            self.stmt.binds.len(),
            self.stmt.binds
        );
        self.values
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<Option<i64>> for Value {
    fn from(v: Option<i64>) -> Self {
        Value::OptInt(v)
    }
}
impl From<i16> for Value {
    fn from(v: i16) -> Self {
        Value::Small(v)
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_owned())
    }
}
impl From<Option<String>> for Value {
    fn from(v: Option<String>) -> Self {
        Value::OptText(v)
    }
}
impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Value::Bytes(v)
    }
}
impl From<Option<Vec<u8>>> for Value {
    fn from(v: Option<Vec<u8>>) -> Self {
        Value::OptBytes(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}
impl From<OffsetDateTime> for Value {
    fn from(v: OffsetDateTime) -> Self {
        Value::Time(v)
    }
}
impl From<Option<OffsetDateTime>> for Value {
    fn from(v: Option<OffsetDateTime>) -> Self {
        Value::OptTime(v)
    }
}
impl From<UserId> for Value {
    fn from(v: UserId) -> Self {
        Value::UserId(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_become_placeholders_in_order() {
        let t = "SELECT ':not' FROM t WHERE a = :a AND b::text = :b AND c = :a";
        let pg = Stmt::render(Dialect::Postgres, t);
        assert_eq!(
            pg.sql(),
            "SELECT ':not' FROM t WHERE a = $1 AND b::text = $2 AND c = $3"
        );
        assert_eq!(pg.binds(), ["a", "b", "a"]);
        pg.check_placeholders(Dialect::Postgres).unwrap();
        let my = Stmt::render(Dialect::Mysql, t);
        assert_eq!(
            my.sql(),
            "SELECT ':not' FROM t WHERE a = ? AND b::text = ? AND c = ?"
        );
        my.check_placeholders(Dialect::Mysql).unwrap();
    }

    #[test]
    fn the_checker_catches_reuse_gaps_and_miscounts() {
        let bad = Stmt {
            sql: "SELECT $1, $1".into(),
            binds: vec!["a", "b"].into(),
        };
        assert!(bad.check_placeholders(Dialect::Postgres).is_err());
        let gap = Stmt {
            sql: "SELECT $1, $3".into(),
            binds: vec!["a", "b"].into(),
        };
        assert!(gap.check_placeholders(Dialect::Postgres).is_err());
        let count = Stmt {
            sql: "SELECT ?, '?'".into(),
            binds: vec!["a", "b"].into(),
        };
        assert!(count.check_placeholders(Dialect::Sqlite).is_err());
    }

    #[test]
    #[should_panic(expected = "not \"b\"")]
    fn binding_out_of_order_panics() {
        let stmt = Stmt::render(Dialect::Sqlite, "SELECT :a, :b");
        let _ = Args::new(&stmt).bind("b", 1i64);
    }

    #[test]
    #[should_panic(expected = "1 of 2 binds")]
    fn a_missing_bind_panics() {
        let stmt = Stmt::render(Dialect::Sqlite, "SELECT :a, :b");
        let _ = Args::new(&stmt).bind("a", 1i64).finish();
    }
}
