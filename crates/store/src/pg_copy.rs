//! PostgreSQL `COPY … FROM STDIN` in text format: the fastest way to hand the server many
//! rows. Bulk paths copy straight into their table, or into a temporary staging table and
//! merge from there in SQL.

use crate::error::StoreResult;
use chrono::NaiveDate;
use sqlx::PgConnection;
use std::fmt::Write;

/// Rows in COPY's text format: tab-separated columns, `\N` for NULL, one row per line.
#[derive(Default)]
pub(crate) struct CopyRows {
    buf: String,
    row_started: bool,
}

impl CopyRows {
    pub(crate) fn with_capacity(bytes: usize) -> Self {
        CopyRows { buf: String::with_capacity(bytes), row_started: false }
    }

    fn sep(&mut self) {
        if self.row_started {
            self.buf.push('\t');
        }
        self.row_started = true;
    }

    pub(crate) fn int(&mut self, v: i64) -> &mut Self {
        self.sep();
        let _ = write!(self.buf, "{v}");
        self
    }

    pub(crate) fn opt_int(&mut self, v: Option<i64>) -> &mut Self {
        match v {
            Some(v) => self.int(v),
            None => self.null(),
        }
    }

    pub(crate) fn date(&mut self, v: NaiveDate) -> &mut Self {
        self.sep();
        let _ = write!(self.buf, "{v}");
        self
    }

    pub(crate) fn opt_bool(&mut self, v: Option<bool>) -> &mut Self {
        match v {
            Some(true) => self.raw("t"),
            Some(false) => self.raw("f"),
            None => self.null(),
        }
    }

    /// Text, escaped so that tabs, line breaks and backslashes in a value stay data.
    pub(crate) fn text(&mut self, v: Option<&str>) -> &mut Self {
        let Some(v) = v else { return self.null() };
        self.sep();
        if !v.bytes().any(|b| matches!(b, b'\\' | b'\t' | b'\n' | b'\r')) {
            self.buf.push_str(v);
            return self;
        }
        for ch in v.chars() {
            match ch {
                '\\' => self.buf.push_str("\\\\"),
                '\t' => self.buf.push_str("\\t"),
                '\n' => self.buf.push_str("\\n"),
                '\r' => self.buf.push_str("\\r"),
                c => self.buf.push(c),
            }
        }
        self
    }

    /// A `text[]` value: every element quoted, so commas, braces and the word NULL stay data.
    pub(crate) fn text_array(&mut self, values: &[String]) -> &mut Self {
        let mut literal = String::from("{");
        for (n, v) in values.iter().enumerate() {
            if n > 0 {
                literal.push(',');
            }
            literal.push('"');
            for ch in v.chars() {
                if matches!(ch, '"' | '\\') {
                    literal.push('\\');
                }
                literal.push(ch);
            }
            literal.push('"');
        }
        literal.push('}');
        self.text(Some(&literal))
    }

    fn null(&mut self) -> &mut Self {
        self.raw("\\N")
    }

    fn raw(&mut self, v: &str) -> &mut Self {
        self.sep();
        self.buf.push_str(v);
        self
    }

    pub(crate) fn end_row(&mut self) {
        self.buf.push('\n');
        self.row_started = false;
    }

    #[cfg(test)]
    fn as_str(&self) -> &str {
        &self.buf
    }
}

/// Sends `rows` with `COPY {target} FROM STDIN`; `target` is a table and its column list.
pub(crate) async fn copy_in(conn: &mut PgConnection, target: &str, rows: CopyRows) -> StoreResult<u64> {
    let mut copy = conn.copy_in_raw(&format!("COPY {target} FROM STDIN")).await?;
    // One message per few MiB keeps memory flat on the server side too.
    for chunk in rows.buf.as_bytes().chunks(4 << 20) {
        copy.send(chunk).await?;
    }
    Ok(copy.finish().await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_and_nulls_marked() {
        let mut rows = CopyRows::default();
        rows.int(7).text(Some("a\tb\\c\nd")).text(None).opt_bool(Some(true)).opt_int(None);
        rows.end_row();
        rows.date(NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()).text(Some("plain"));
        rows.end_row();
        assert_eq!(rows.as_str(), "7\ta\\tb\\\\c\\nd\t\\N\tt\t\\N\n2026-12-01\tplain\n");
    }

    #[test]
    fn arrays_quote_every_element() {
        let mut rows = CopyRows::default();
        rows.text_array(&["a,b".into(), "say \"hi\"".into(), "NULL".into(), "x\\y".into()]).text_array(&[]);
        rows.end_row();
        assert_eq!(rows.as_str(), "{\"a,b\",\"say \\\\\"hi\\\\\"\",\"NULL\",\"x\\\\\\\\y\"}\t{}\n");
    }
}
