//! Writing SIM lists: CSV in chunks (for streaming) and XLSX in constant memory.
//!
//! The columns are the ones an import reads back (plus read-only ones it ignores with a
//! warning), so an export imported again changes nothing.

use chrono::{DateTime, Utc};
use rust_xlsxwriter::{Format, Workbook, XlsxError};
use std::borrow::Cow;
use std::io::Write;

/// Rows an XLSX sheet holds below its header.
pub const XLSX_MAX_ROWS: u64 = 1_048_575;

/// One SIM as an export shows it.
#[derive(Debug, Clone, Default)]
pub struct ExportRow {
    pub iccid: String,
    pub msisdn: Option<String>,
    pub imsi: Option<String>,
    pub imei: Option<String>,
    pub sim_type: &'static str,
    pub status: &'static str,
    pub label: Option<String>,
    pub tags: Vec<String>,
    pub customer_email: Option<String>,
    pub tariff_plan: Option<String>,
    pub provider: &'static str,
    pub activation_code: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Only filled when secrets were asked for (and allowed).
    pub pin: Option<String>,
    pub puk: Option<String>,
}

const COLUMNS: &[(&str, f64)] = &[
    ("iccid", 22.0),
    ("msisdn", 17.0),
    ("imsi", 17.0),
    ("imei", 17.0),
    ("type", 10.0),
    ("status", 12.0),
    ("label", 30.0),
    ("tags", 24.0),
    ("customer_email", 28.0),
    ("tariff_plan", 20.0),
    ("provider", 9.0),
    ("activation_code", 16.0),
    ("created_at", 20.0),
    ("updated_at", 20.0),
];
const SECRET_COLUMNS: &[(&str, f64)] = &[("pin", 9.0), ("puk", 10.0)];

fn header(include_secrets: bool) -> impl Iterator<Item = &'static (&'static str, f64)> {
    COLUMNS.iter().chain(if include_secrets { SECRET_COLUMNS } else { &[] })
}

/// Tags in one cell, separated as an import splits them.
fn tags_cell(tags: &[String]) -> String {
    tags.join(";")
}

/// A CSV cell made safe for spreadsheets: text starting with `=`, `+`, `-`, `@`, TAB or CR
/// would be run as a formula, so it gets a leading `'`.
pub fn neutralise_csv_cell(value: &str) -> Cow<'_, str> {
    match value.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => Cow::Owned(format!("'{value}")),
        _ => Cow::Borrowed(value),
    }
}

/// Timestamps as RFC 3339 UTC with seconds, like the API.
fn time_text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Builds a CSV export in chunks: push rows, then [`CsvExport::take`] the bytes written so far.
pub struct CsvExport {
    writer: csv::Writer<Vec<u8>>,
    include_secrets: bool,
}

impl CsvExport {
    /// Starts with the header row.
    pub fn new(include_secrets: bool) -> Self {
        let mut writer = Self::writer();
        let names: Vec<&str> = header(include_secrets).map(|(n, _)| *n).collect();
        writer.write_record(&names).expect("writing to memory cannot fail");
        CsvExport { writer, include_secrets }
    }

    fn writer() -> csv::Writer<Vec<u8>> {
        csv::WriterBuilder::new().from_writer(Vec::with_capacity(256 * 1024))
    }

    pub fn push(&mut self, r: &ExportRow) {
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        let mut cells = vec![
            r.iccid.clone(),
            opt(&r.msisdn),
            opt(&r.imsi),
            opt(&r.imei),
            r.sim_type.to_owned(),
            r.status.to_owned(),
            opt(&r.label),
            tags_cell(&r.tags),
            opt(&r.customer_email),
            opt(&r.tariff_plan),
            r.provider.to_owned(),
            opt(&r.activation_code),
            time_text(r.created_at),
            time_text(r.updated_at),
        ];
        if self.include_secrets {
            cells.push(opt(&r.pin));
            cells.push(opt(&r.puk));
        }
        let cells: Vec<Cow<'_, str>> = cells.iter().map(|c| neutralise_csv_cell(c)).collect();
        self.writer.write_record(cells.iter().map(|c| c.as_bytes())).expect("writing to memory cannot fail");
    }

    /// The bytes written since the last call.
    pub fn take(&mut self) -> Vec<u8> {
        let full = std::mem::replace(&mut self.writer, Self::writer());
        full.into_inner().expect("writing to memory cannot fail")
    }
}

/// Builds an XLSX export in constant memory (rows go to a temporary file as they come):
/// text cells for identifiers, dates as dates, a frozen header row and set column widths.
pub struct XlsxExport {
    workbook: Workbook,
    row: u32,
    include_secrets: bool,
    date: Format,
}

impl XlsxExport {
    pub fn new(include_secrets: bool) -> Result<Self, XlsxError> {
        let mut workbook = Workbook::new();
        let bold = Format::new().set_bold();
        let sheet = workbook.add_worksheet_with_constant_memory()?;
        sheet.set_name("SIMs")?;
        for (i, (name, width)) in header(include_secrets).enumerate() {
            sheet.set_column_width(i as u16, *width)?;
            sheet.write_string_with_format(0, i as u16, *name, &bold)?;
        }
        sheet.set_freeze_panes(1, 0)?;
        Ok(XlsxExport { workbook, row: 0, include_secrets, date: Format::new().set_num_format("yyyy-mm-dd hh:mm:ss") })
    }

    pub fn push(&mut self, r: &ExportRow) -> Result<(), XlsxError> {
        if u64::from(self.row) >= XLSX_MAX_ROWS {
            return Err(XlsxError::RowColumnLimitError);
        }
        self.row += 1;
        let row = self.row;
        let sheet = self.workbook.worksheet_from_index(0)?;
        let mut col = 0u16;
        let mut text = |sheet: &mut rust_xlsxwriter::Worksheet, v: Option<&str>| -> Result<(), XlsxError> {
            if let Some(v) = v.filter(|v| !v.is_empty()) {
                sheet.write_string(row, col, v)?;
            }
            col += 1;
            Ok(())
        };
        text(sheet, Some(&r.iccid))?;
        text(sheet, r.msisdn.as_deref())?;
        text(sheet, r.imsi.as_deref())?;
        text(sheet, r.imei.as_deref())?;
        text(sheet, Some(r.sim_type))?;
        text(sheet, Some(r.status))?;
        text(sheet, r.label.as_deref())?;
        text(sheet, Some(&tags_cell(&r.tags)))?;
        text(sheet, r.customer_email.as_deref())?;
        text(sheet, r.tariff_plan.as_deref())?;
        text(sheet, Some(r.provider))?;
        text(sheet, r.activation_code.as_deref())?;
        sheet.write_datetime_with_format(row, 12, r.created_at.naive_utc(), &self.date)?;
        sheet.write_datetime_with_format(row, 13, r.updated_at.naive_utc(), &self.date)?;
        if self.include_secrets {
            for (col, v) in (14u16..).zip([&r.pin, &r.puk]) {
                if let Some(v) = v {
                    sheet.write_string(row, col, v)?;
                }
            }
        }
        Ok(())
    }

    /// Rows written so far.
    pub fn rows(&self) -> u32 {
        self.row
    }

    /// Writes the finished workbook.
    pub fn finish<W: Write + Send>(mut self, out: W) -> Result<(), XlsxError> {
        self.workbook.save_to_writer(out)
    }
}
