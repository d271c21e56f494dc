//! A statement of the store as text with `?` placeholders and the values bound to them, so the
//! exact SQL the store sends to a server can also be rendered as text (with the client's own
//! escaping) and run elsewhere: the tests feed it to current ClickHouse through chDB.

use clickhouse::Client;
use clickhouse::query::Query;

/// A value bound to a `?`.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(untagged)]
pub(crate) enum Arg {
    Text(String),
    Int(i64),
    UInt(u64),
    Null(Option<()>),
    /// An `Array(String)` literal.
    Texts(Vec<String>),
}

impl From<&str> for Arg {
    fn from(text: &str) -> Arg {
        Arg::Text(text.to_string())
    }
}

impl From<String> for Arg {
    fn from(text: String) -> Arg {
        Arg::Text(text)
    }
}

impl From<i64> for Arg {
    fn from(value: i64) -> Arg {
        Arg::Int(value)
    }
}

impl From<u64> for Arg {
    fn from(value: u64) -> Arg {
        Arg::UInt(value)
    }
}

impl From<Vec<String>> for Arg {
    fn from(texts: Vec<String>) -> Arg {
        Arg::Texts(texts)
    }
}

impl<T: Into<Arg>> From<Option<T>> for Arg {
    fn from(value: Option<T>) -> Arg {
        value.map_or(Arg::Null(None), Into::into)
    }
}

/// SQL text with `?` placeholders and their values, in order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Statement {
    sql: String,
    args: Vec<Arg>,
}

impl Statement {
    /// A statement of `sql`, which has no placeholder.
    pub(crate) fn new(sql: &str) -> Statement {
        Statement {
            sql: sql.to_string(),
            args: Vec::new(),
        }
    }

    /// Appends `sql` (no placeholder).
    pub(crate) fn push(&mut self, sql: &str) -> &mut Statement {
        self.sql.push_str(sql);
        self
    }

    /// Appends `sql`, whose one `?` takes `arg`.
    pub(crate) fn bind(&mut self, sql: &str, arg: impl Into<Arg>) -> &mut Statement {
        debug_assert_eq!(sql.matches('?').count(), 1, "{sql}");
        self.sql.push_str(sql);
        self.args.push(arg.into());
        self
    }

    /// Appends `other`, text and values.
    pub(crate) fn append(&mut self, other: Statement) -> &mut Statement {
        self.sql.push_str(&other.sql);
        self.args.extend(other.args);
        self
    }

    /// The query on `client`, values bound.
    pub(crate) fn query(&self, client: &Client) -> Query {
        self.args
            .iter()
            .fold(client.query(&self.sql), |query, arg| query.bind(arg))
    }

    /// The SQL text with every value in place, as the client sends it.
    pub(crate) fn render(&self) -> String {
        self.query(&Client::default()).sql_display().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_values_escaped_in_place() {
        let mut statement = Statement::new("SELECT 1 WHERE ");
        statement
            .bind("a = ?", "it's")
            .bind(" AND b = ?", 7i64)
            .bind(" AND c = ?", Option::<String>::None)
            .bind(" AND d = ?", u64::MAX)
            .bind(" AND has(?, e)", vec!["a".to_string(), "b'".to_string()]);
        assert_eq!(
            statement.render(),
            "SELECT 1 WHERE a = 'it\\'s' AND b = 7 AND c = NULL AND d = 18446744073709551615 AND has(['a','b\\''], e)"
        );
    }
}
