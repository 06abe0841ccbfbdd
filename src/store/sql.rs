//! Small SQL helpers shared by the store's modules: numbered placeholders
//! for queries assembled at run time, and which errors mean "the database is
//! unreachable" rather than "this request is wrong".

use sqlx::any::{Any, AnyArguments};
use sqlx::query::Query;

/// A value bound to a numbered placeholder.
#[derive(Debug, Clone)]
pub(crate) enum Bound {
    Text(String),
    Int(i64),
    OptText(Option<String>),
    OptInt(Option<i64>),
}

/// SQL assembled piece by piece with `$1`, `$2`… placeholders (sqlx's own
/// query builder writes `?` for the `Any` driver, which PostgreSQL refuses).
#[derive(Debug, Clone, Default)]
pub(crate) struct Sql {
    pub text: String,
    binds: Vec<Bound>,
}

impl Sql {
    pub fn new(text: impl Into<String>) -> Self {
        Sql {
            text: text.into(),
            binds: Vec::new(),
        }
    }

    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Writes the next placeholder and remembers its value.
    pub fn bind(&mut self, value: Bound) -> &mut Self {
        self.binds.push(value);
        self.text.push('$');
        self.text.push_str(&self.binds.len().to_string());
        self
    }

    pub fn bind_text(&mut self, value: impl Into<String>) -> &mut Self {
        self.bind(Bound::Text(value.into()))
    }

    pub fn bind_int(&mut self, value: i64) -> &mut Self {
        self.bind(Bound::Int(value))
    }

    /// The query, ready to run.
    pub fn query(&self) -> Query<'_, Any, AnyArguments<'_>> {
        self.binds
            .iter()
            .fold(sqlx::query(&self.text), |q, value| match value {
                Bound::Text(s) => q.bind(s.as_str()),
                Bound::Int(i) => q.bind(*i),
                Bound::OptText(s) => q.bind(s.as_deref()),
                Bound::OptInt(i) => q.bind(*i),
            })
    }
}

/// Whether `err` says the database cannot be reached or cannot take the
/// request now (as opposed to a bad statement or a broken rule): the
/// connection broke or was terminated, the pool gave up waiting, PostgreSQL
/// is shutting down or refusing connections, SQLite's file is locked, full
/// or read-only. These become 503s, never 500s.
pub(crate) fn is_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                // Extended result codes: BUSY and LOCKED in all their forms,
                // READONLY, IOERR, FULL, CANTOPEN.
                matches!(sqlite_primary(&code), Some(5 | 6 | 8 | 10 | 13 | 14))
            } else if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                // PostgreSQL: a FATAL error ends the connection (refused
                // connections, terminated backends, the database not
                // accepting connections). Also, by SQLSTATE: class 08
                // (connection exception), 57P01–57P05 (shutdown, cannot
                // connect now, idle timeouts), 57014 (statement timeout),
                // class 53 (out of disk, memory or connections), 25006 (a
                // read-only transaction: a standby after failover), and
                // 40001/40P01 (serialization failure, deadlock: the same
                // request may well succeed when tried again).
                use sqlx::postgres::PgSeverity;
                matches!(pg.severity(), PgSeverity::Fatal | PgSeverity::Panic)
                    || code.starts_with("08")
                    || code.starts_with("57P")
                    || code.starts_with("53")
                    || matches!(code.as_ref(), "57014" | "25006" | "40001" | "40P01")
            } else {
                false
            }
        }
        _ => false,
    }
}

/// Whether `err` says the database refuses to store anything now, while
/// it can still be read: its disk is full, or its files or volume are
/// read-only. Such a write is refused as a whole (nothing is half-stored),
/// and writes succeed again once space or write access returns. A subset of
/// [`is_unavailable`], told apart so people are told what is wrong.
pub(crate) fn is_unwritable(err: &sqlx::Error) -> bool {
    let sqlx::Error::Database(db) = err else {
        return false;
    };
    let code = db.code().unwrap_or_default();
    if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
        // FULL and READONLY in every form, and the I/O errors that only a
        // write raises (EPERM on an immutable file, ENOSPC on a sync):
        // IOERR_WRITE, IOERR_FSYNC, IOERR_TRUNCATE, IOERR_DIR_FSYNC.
        matches!(sqlite_primary(&code), Some(8 | 13))
            || matches!(code.parse::<u32>(), Ok(778 | 1034 | 1290 | 1546))
    } else if db
        .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
        .is_some()
    {
        // disk_full, and a read-only transaction (a standby, or
        // default_transaction_read_only).
        matches!(code.as_ref(), "53100" | "25006")
    } else {
        false
    }
}

/// The primary result code of an SQLite extended code (`"517"` → 5).
fn sqlite_primary(code: &str) -> Option<u32> {
    code.parse::<u32>().ok().map(|c| c & 0xff)
}

/// Whether `err` is a violation of a UNIQUE constraint.
pub(crate) fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_in_order() {
        let mut sql = Sql::new("SELECT 1 WHERE a = ");
        sql.bind_text("x").push(" AND b = ").bind_int(2);
        assert_eq!(sql.text, "SELECT 1 WHERE a = $1 AND b = $2");
    }

    #[test]
    fn sqlite_codes_reduce_to_their_primary() {
        assert_eq!(sqlite_primary("517"), Some(5));
        assert_eq!(sqlite_primary("13"), Some(13));
        assert_eq!(sqlite_primary("57P01"), None);
    }
}
