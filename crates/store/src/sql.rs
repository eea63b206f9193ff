//! A small builder for SQL whose shape depends on the request (filters, sorting, cursors).
//!
//! Placeholders are numbered `$1…$n`, which both engines accept through sqlx.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A value bound to a placeholder.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    I64(i64),
    F64(f64),
    Text(String),
    Time(DateTime<Utc>),
    OptI64(Option<i64>),
    OptText(Option<String>),
    OptTime(Option<DateTime<Utc>>),
    Date(chrono::NaiveDate),
    OptDate(Option<chrono::NaiveDate>),
}

impl From<chrono::NaiveDate> for Arg {
    fn from(v: chrono::NaiveDate) -> Self {
        Arg::Date(v)
    }
}
impl From<Option<chrono::NaiveDate>> for Arg {
    fn from(v: Option<chrono::NaiveDate>) -> Self {
        Arg::OptDate(v)
    }
}

impl From<Option<i64>> for Arg {
    fn from(v: Option<i64>) -> Self {
        Arg::OptI64(v)
    }
}
impl From<Option<String>> for Arg {
    fn from(v: Option<String>) -> Self {
        Arg::OptText(v)
    }
}
impl From<Option<DateTime<Utc>>> for Arg {
    fn from(v: Option<DateTime<Utc>>) -> Self {
        Arg::OptTime(v)
    }
}

impl From<f64> for Arg {
    fn from(v: f64) -> Self {
        Arg::F64(v)
    }
}

impl From<i64> for Arg {
    fn from(v: i64) -> Self {
        Arg::I64(v)
    }
}
impl From<String> for Arg {
    fn from(v: String) -> Self {
        Arg::Text(v)
    }
}
impl From<&str> for Arg {
    fn from(v: &str) -> Self {
        Arg::Text(v.to_owned())
    }
}
impl From<DateTime<Utc>> for Arg {
    fn from(v: DateTime<Utc>) -> Self {
        Arg::Time(v)
    }
}

#[derive(Debug, Default)]
pub(crate) struct Sql {
    pub text: String,
    pub args: Vec<Arg>,
}

impl Sql {
    pub fn new(text: impl Into<String>) -> Self {
        Sql { text: text.into(), args: Vec::new() }
    }

    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// A statement whose `$1…$n` placeholders are already written, with their values in order.
    pub fn with(text: impl Into<String>, args: Vec<Arg>) -> Self {
        Sql { text: text.into(), args }
    }

    /// The text for `dialect`. SQLite looks up `$N` parameters by name, linearly, which makes
    /// statements with thousands of parameters quadratic; `?N` is looked up by number.
    pub fn text_for(&self, dialect: crate::Dialect) -> std::borrow::Cow<'_, str> {
        match dialect {
            crate::Dialect::Postgres => std::borrow::Cow::Borrowed(&self.text),
            crate::Dialect::Sqlite => std::borrow::Cow::Owned(sqlite_placeholders(&self.text)),
        }
    }

    /// Adds a bound value and returns its placeholder, to be spliced into the text.
    pub fn arg(&mut self, value: impl Into<Arg>) -> String {
        self.args.push(value.into());
        format!("${}", self.args.len())
    }
}

/// Rewrites `$N` placeholders for SQLite. When they appear exactly once each, in order, they
/// become anonymous `?`: SQLite keeps named and numbered parameters in a list it searches
/// linearly, so a bulk statement with thousands of them would parse in quadratic time.
/// Otherwise they become `?N`. Only for SQL built by this module, whose string literals
/// never contain `$` followed by a digit.
pub(crate) fn sqlite_placeholders(sql: &str) -> String {
    let mut numbers = Vec::new();
    let bytes = sql.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'$' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
            let start = i + 1;
            i = start;
            while bytes.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            numbers.push(sql[start..i].parse::<usize>().unwrap_or(0));
        } else {
            i += 1;
        }
    }
    let sequential = numbers.iter().enumerate().all(|(k, n)| *n == k + 1);
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('?');
            if sequential {
                while chars.peek().is_some_and(char::is_ascii_digit) {
                    chars.next();
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Binds every [`Arg`] of a [`Sql`] to a sqlx query (works for `query`, `query_as`, `query_scalar`).
macro_rules! bind_args {
    ($query:expr, $args:expr) => {{
        let mut q = $query;
        for a in $args {
            q = match a {
                $crate::sql::Arg::I64(v) => q.bind(*v),
                $crate::sql::Arg::F64(v) => q.bind(*v),
                $crate::sql::Arg::Text(v) => q.bind(v.as_str()),
                $crate::sql::Arg::Time(v) => q.bind(*v),
                $crate::sql::Arg::OptI64(v) => q.bind(*v),
                $crate::sql::Arg::OptText(v) => q.bind(v.as_deref()),
                $crate::sql::Arg::OptTime(v) => q.bind(*v),
                $crate::sql::Arg::Date(v) => q.bind(*v),
                $crate::sql::Arg::OptDate(v) => q.bind(*v),
            };
        }
        q
    }};
}
pub(crate) use bind_args;

/// An opaque position in a sorted list: the sort key of the last row seen and its id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cursor {
    pub key: String,
    pub id: i64,
}

impl Cursor {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).expect("cursor serialises"))
    }

    pub fn decode(s: &str) -> Option<Cursor> {
        let bytes = URL_SAFE_NO_PAD.decode(s).ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

/// The exclusive upper bound of all strings starting with `prefix`, for index range scans.
/// `None` when no such bound exists (empty prefix or only U+10FFFF characters).
pub(crate) fn prefix_upper_bound(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        if let Some(next) = (last as u32 + 1..=char::MAX as u32).find_map(char::from_u32) {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_placeholders_are_numbered() {
        assert_eq!(sqlite_placeholders("a = $1 AND b IN ($2, $3) AND c = '$x'"), "a = ? AND b IN (?, ?) AND c = '$x'");
        assert_eq!(sqlite_placeholders("a = $1 AND b = $1 OR c = $2"), "a = ?1 AND b = ?1 OR c = ?2");
    }

    #[test]
    fn prefix_bounds() {
        assert_eq!(prefix_upper_bound("8988").as_deref(), Some("8989"));
        assert_eq!(prefix_upper_bound("ab9").as_deref(), Some("ab:"));
        assert_eq!(prefix_upper_bound(""), None);
    }

    #[test]
    fn cursor_round_trip_and_garbage() {
        let c = Cursor { key: "8988".into(), id: 7 };
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
        assert_eq!(Cursor::decode("not-a-cursor"), None);
    }
}
