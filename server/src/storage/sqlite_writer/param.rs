//! Bound parameters, one type for both drivers, and running one statement on the writer's
//! connection.

/// A bound parameter, for either driver.
#[derive(Debug, Clone)]
pub(crate) enum Param {
    Text(String),
    Int(i64),
    NullText,
    NullInt,
}

impl Param {
    pub(crate) fn text(s: &str) -> Param {
        Param::Text(s.to_owned())
    }
    pub(crate) fn opt_text(s: Option<&str>) -> Param {
        s.map_or(Param::NullText, Param::text)
    }
    pub(crate) fn opt_int(i: Option<i64>) -> Param {
        i.map_or(Param::NullInt, Param::Int)
    }
}

/// Bound by reference: a text parameter is handed to SQLite as it is, not copied first.
impl rusqlite::ToSql for Param {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Param::Text(s) => ValueRef::Text(s.as_bytes()),
            Param::Int(i) => ValueRef::Integer(*i),
            Param::NullText | Param::NullInt => ValueRef::Null,
        }))
    }
}

impl From<&str> for Param {
    fn from(s: &str) -> Param {
        Param::text(s)
    }
}
impl From<&String> for Param {
    fn from(s: &String) -> Param {
        Param::text(s)
    }
}
impl From<String> for Param {
    fn from(s: String) -> Param {
        Param::Text(s)
    }
}
impl From<&crate::ids::ConversationId> for Param {
    fn from(id: &crate::ids::ConversationId) -> Param {
        Param::text(id)
    }
}
impl From<i64> for Param {
    fn from(i: i64) -> Param {
        Param::Int(i)
    }
}
impl From<Option<&str>> for Param {
    fn from(s: Option<&str>) -> Param {
        Param::opt_text(s)
    }
}
impl From<Option<String>> for Param {
    fn from(s: Option<String>) -> Param {
        s.map_or(Param::NullText, Param::Text)
    }
}
impl From<Option<i64>> for Param {
    fn from(i: Option<i64>) -> Param {
        Param::opt_int(i)
    }
}

/// Bind `params` to an sqlx query, in order.
pub(crate) fn bind_all<'q>(
    q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    params: &'q [Param],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    params.iter().fold(q, |q, p| match p {
        Param::Text(s) => q.bind(s.as_str()),
        Param::Int(i) => q.bind(*i),
        Param::NullText => q.bind(None::<String>),
        Param::NullInt => q.bind(None::<i64>),
    })
}

/// Run `sql` with `params` on a rusqlite connection; the number of rows changed.
pub(crate) fn execute(c: &rusqlite::Connection, sql: &str, params: &[Param]) -> rusqlite::Result<usize> {
    c.prepare_cached(sql)?.execute(rusqlite::params_from_iter(params))
}
