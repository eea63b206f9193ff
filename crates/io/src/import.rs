//! Reading a SIM list (CSV or XLSX) into validated rows.
//!
//! Columns are found by their header, case-insensitively and with common aliases. Every data
//! row is checked with the domain's identifier types; problems are reported per cell with the
//! row number a spreadsheet user sees (the header is row 1). Nothing is ever evaluated: cells
//! that look like formulas are rejected.

use serde::{Deserialize, Serialize};
use simfleet_domain::{Iccid, Imei, Imsi, Msisdn, SimType};
use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

/// Most data rows one file may hold. Larger lists are split into several imports: a preview
/// keeps every row until it is committed.
pub const MAX_ROWS: usize = 250_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Xlsx,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
        }
    }

    /// The format of a file: by its content first (an XLSX is a ZIP archive), then its name.
    pub fn detect(file_name: &str, bytes: &[u8]) -> Format {
        let lower = file_name.to_ascii_lowercase();
        if bytes.starts_with(b"PK\x03\x04") || lower.ends_with(".xlsx") || lower.ends_with(".xlsm") {
            Format::Xlsx
        } else {
            Format::Csv
        }
    }
}

/// A file-level problem: nothing of the file can be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    #[error("the file is empty")]
    Empty,
    #[error("the file has a header row but no SIM rows")]
    NoRows,
    #[error(
        "the file is not UTF-8 text: byte 0x{byte:02X} at byte offset {offset} (line {line}) is invalid; \
         save the file as \"CSV UTF-8\" and upload it again"
    )]
    NotUtf8 { offset: usize, line: usize, byte: u8 },
    #[error("{0}")]
    MissingIccid(String),
    #[error("columns {first} and {second} both mean {field}; keep one of them")]
    DuplicateColumn { field: &'static str, first: String, second: String },
    #[error("the file has more than {limit} rows; split it into several imports")]
    TooManyRows { limit: usize },
    #[error("the file cannot be read as CSV: {0}")]
    Csv(String),
    #[error("not a readable XLSX workbook: {0}")]
    Xlsx(String),
    #[error("the workbook has no sheet named {name:?}; its sheets are: {available}")]
    NoSuchSheet { name: String, available: String },
}

/// A cell that could not be accepted. `row` is the spreadsheet row (header = 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowError {
    pub row: u32,
    pub column: String,
    pub value: String,
    pub reason: String,
}

/// A valid row. Optional fields are `None` when the column is missing or the cell is empty:
/// an import leaves such fields of an existing SIM as they are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimRow {
    pub row: u32,
    pub iccid: String,
    pub msisdn: Option<String>,
    pub imsi: Option<String>,
    pub imei: Option<String>,
    /// Plain text: the caller seals it before storing anything.
    pub pin: Option<String>,
    pub puk: Option<String>,
    pub sim_type: Option<SimType>,
    pub label: Option<String>,
    pub tags: Option<Vec<String>>,
    pub customer_email: Option<String>,
    pub tariff_plan: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedFile {
    pub format: Format,
    /// Rows without any error, in file order.
    pub rows: Vec<SimRow>,
    /// Every problem found, in file order; a row may have several.
    pub errors: Vec<RowError>,
    /// Rows with at least one error.
    pub invalid_rows: usize,
    /// Non-empty data rows seen.
    pub total_rows: usize,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Iccid,
    Msisdn,
    Imsi,
    Imei,
    Pin,
    Puk,
    Type,
    Label,
    Tags,
    Customer,
    Tariff,
}

impl Field {
    fn name(self) -> &'static str {
        match self {
            Field::Iccid => "iccid",
            Field::Msisdn => "msisdn",
            Field::Imsi => "imsi",
            Field::Imei => "imei",
            Field::Pin => "pin",
            Field::Puk => "puk",
            Field::Type => "type",
            Field::Label => "label",
            Field::Tags => "tags",
            Field::Customer => "customer_email",
            Field::Tariff => "tariff_plan",
        }
    }

    /// The field a header names, after [`normalise_header`].
    fn from_header(h: &str) -> Option<Field> {
        Some(match h {
            "iccid" => Field::Iccid,
            "msisdn" | "phone" | "phone number" => Field::Msisdn,
            "imsi" => Field::Imsi,
            "imei" => Field::Imei,
            "pin" | "pin1" => Field::Pin,
            "puk" | "puk1" => Field::Puk,
            "type" | "sim type" => Field::Type,
            "label" | "name" | "description" => Field::Label,
            "tags" | "tag" => Field::Tags,
            "customer e mail" | "customer email" | "customer" => Field::Customer,
            "tariff plan" | "tariff" | "plan" => Field::Tariff,
            _ => return None,
        })
    }
}

/// Columns an export writes that an import cannot set.
const READ_ONLY: &[&str] = &["status", "provider", "activation code", "created at", "updated at"];

/// Lower case, `_`/`-` as spaces, runs of spaces collapsed, BOM and surrounding space removed.
fn normalise_header(h: &str) -> String {
    let h = h.trim_start_matches('\u{feff}').trim().to_lowercase().replace(['_', '-'], " ");
    h.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A cell as read from the file: text, or a value the reader already knows to be unusable.
enum Cell<'a> {
    Text(Cow<'a, str>),
    Bad { shown: String, reason: String },
}

/// Parses and validates a whole file. `sheet` picks an XLSX sheet by name (default: the first).
pub fn parse(bytes: &[u8], format: Format, sheet: Option<&str>) -> Result<ParsedFile, FileError> {
    match format {
        Format::Csv => parse_csv(bytes),
        Format::Xlsx => parse_xlsx(bytes, sheet),
    }
}

fn parse_csv(bytes: &[u8]) -> Result<ParsedFile, FileError> {
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF".as_slice()).unwrap_or(bytes);
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(FileError::Empty);
    }
    if let Err(e) = std::str::from_utf8(body) {
        let offset = e.valid_up_to() + (bytes.len() - body.len());
        let line = bytes[..offset].iter().filter(|&&b| b == b'\n').count() + 1;
        return Err(FileError::NotUtf8 { offset, line, byte: bytes[offset] });
    }
    // Cheap early refusal before any parsing: a line per row at the very least.
    if body.iter().filter(|&&b| b == b'\n').count() > MAX_ROWS + 1 {
        return Err(FileError::TooManyRows { limit: MAX_ROWS });
    }
    let delimiter = sniff_delimiter(body);
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).delimiter(delimiter).from_reader(body);
    let mut record = csv::ByteRecord::new();
    let mut validator: Option<Validator> = None;
    let (mut newlines, mut counted) = (0usize, 0usize);
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            // The bytes are UTF-8 and the reader is flexible: only I/O could fail, and there is none.
            Err(e) => return Err(FileError::Csv(e.to_string())),
        }
        // The line the record starts on, counted by hand (the reader's own count is off with CR LF).
        let mut start = record.position().map_or(0, |p| p.byte() as usize).min(body.len());
        while start < body.len() && matches!(body[start], b'\r' | b'\n') {
            start += 1;
        }
        newlines += body[counted..start].iter().filter(|&&b| b == b'\n').count();
        counted = start;
        let line = (newlines + 1) as u32;
        let cells: Vec<Cell<'_>> = record.iter().map(|c| Cell::Text(String::from_utf8_lossy(c))).collect();
        match &mut validator {
            None => {
                let header: Vec<String> = cells
                    .iter()
                    .map(|c| match c {
                        Cell::Text(t) => t.to_string(),
                        Cell::Bad { shown, .. } => shown.clone(),
                    })
                    .collect();
                validator = Some(Validator::new(&header, Some(delimiter))?);
            }
            Some(v) => v.row(line, &cells)?,
        }
    }
    validator.ok_or(FileError::Empty)?.finish(Format::Csv)
}

/// The delimiter of the header line: whichever of `,` `;` TAB occurs most outside quotes.
fn sniff_delimiter(body: &[u8]) -> u8 {
    let mut counts = [0usize; 3];
    let mut quoted = false;
    for &b in body.iter().take(64 * 1024) {
        match b {
            b'"' => quoted = !quoted,
            b'\n' if !quoted => break,
            b',' if !quoted => counts[0] += 1,
            b';' if !quoted => counts[1] += 1,
            b'\t' if !quoted => counts[2] += 1,
            _ => {}
        }
    }
    let best = (0..3).max_by_key(|&i| (counts[i], std::cmp::Reverse(i))).unwrap_or(0);
    if counts[best] == 0 {
        b','
    } else {
        [b',', b';', b'\t'][best]
    }
}

fn parse_xlsx(bytes: &[u8], sheet: Option<&str>) -> Result<ParsedFile, FileError> {
    use calamine::{Data, Reader, Xlsx};
    if bytes.is_empty() {
        return Err(FileError::Empty);
    }
    let mut book: Xlsx<_> = Xlsx::new(std::io::Cursor::new(bytes)).map_err(|e| FileError::Xlsx(format!("{e}")))?;
    let names = book.sheet_names();
    let name = match sheet.map(str::trim).filter(|s| !s.is_empty()) {
        Some(wanted) => names
            .iter()
            .find(|n| n.as_str() == wanted || n.eq_ignore_ascii_case(wanted))
            .cloned()
            .ok_or_else(|| FileError::NoSuchSheet { name: wanted.to_owned(), available: names.join(", ") })?,
        None => names.first().cloned().ok_or_else(|| FileError::Xlsx("the workbook has no sheets".into()))?,
    };
    let range = book.worksheet_range(&name).map_err(|e| FileError::Xlsx(format!("sheet {name:?}: {e}")))?;
    let Some((first_row, first_col)) = range.start() else { return Err(FileError::Empty) };
    if range.height() > MAX_ROWS + 1 {
        return Err(FileError::TooManyRows { limit: MAX_ROWS });
    }
    // Formula cells: reported, never evaluated (their cached values are ignored).
    let mut formulas: HashMap<(u32, u32), String> = HashMap::new();
    if let Ok(f) = book.worksheet_formula(&name) {
        if let Some((fr, fc)) = f.start() {
            for (r, row) in f.rows().enumerate() {
                for (c, text) in row.iter().enumerate() {
                    if !text.is_empty() {
                        formulas.insert((fr + r as u32, fc + c as u32), text.clone());
                    }
                }
            }
        }
    }
    let mut validator: Option<Validator> = None;
    let mut cells: Vec<Cell<'_>> = Vec::new();
    for (r, row) in range.rows().enumerate() {
        let abs_row = first_row + r as u32;
        cells.clear();
        for (c, data) in row.iter().enumerate() {
            let abs_col = first_col + c as u32;
            if let Some(f) = formulas.get(&(abs_row, abs_col)) {
                cells.push(Cell::Bad {
                    shown: format!("={f}"),
                    reason: "is a formula; formulas are never evaluated: paste the values instead".into(),
                });
                continue;
            }
            cells.push(match data {
                Data::Empty => Cell::Text(Cow::Borrowed("")),
                Data::String(s) => Cell::Text(Cow::Borrowed(s.as_str())),
                Data::Int(i) => Cell::Text(Cow::Owned(i.to_string())),
                Data::Float(f) => float_cell(*f),
                Data::Bool(b) => Cell::Text(Cow::Borrowed(if *b { "TRUE" } else { "FALSE" })),
                Data::DateTime(d) => Cell::Text(Cow::Owned(d.to_string())),
                Data::DateTimeIso(s) | Data::DurationIso(s) => Cell::Text(Cow::Borrowed(s.as_str())),
                Data::Error(e) => {
                    Cell::Bad { shown: format!("{e}"), reason: "the cell holds a spreadsheet error".into() }
                }
            });
        }
        // Spreadsheet rows count from 1.
        let line = abs_row + 1;
        match &mut validator {
            None => {
                let header: Vec<String> = cells
                    .iter()
                    .map(|c| match c {
                        Cell::Text(t) => t.to_string(),
                        Cell::Bad { shown, .. } => shown.clone(),
                    })
                    .collect();
                validator = Some(Validator::new(&header, None)?);
            }
            Some(v) => v.row(line, &cells)?,
        }
    }
    validator.ok_or(FileError::Empty)?.finish(Format::Xlsx)
}

/// Numbers in a spreadsheet: whole numbers as digits, but only while a double holds them exactly.
fn float_cell(f: f64) -> Cell<'static> {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    if f.fract() == 0.0 && f.abs() < EXACT {
        Cell::Text(Cow::Owned(format!("{}", f as i64)))
    } else if f.fract() == 0.0 && f.is_finite() {
        Cell::Bad {
            shown: format!("{f:E}"),
            reason: "is stored as a number, which cannot hold this many digits exactly; \
                     format the column as Text and enter the values again"
                .into(),
        }
    } else {
        Cell::Text(Cow::Owned(f.to_string()))
    }
}

/// Why a cell looks like a spreadsheet formula, if it does. `+` or `-` followed by digits only
/// is a number (an E.164 MSISDN starts with `+`), not a formula.
pub fn formula_reason(value: &str) -> Option<String> {
    let first = value.chars().next()?;
    let formula = match first {
        '=' | '@' => true,
        '+' | '-' => {
            let rest = &value[1..];
            rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_digit())
        }
        _ => false,
    };
    formula.then(|| {
        format!(
            "looks like a spreadsheet formula (starts with {first:?}); formulas are never evaluated: \
             remove the leading {first:?} or enter the value as plain text"
        )
    })
}

struct Validator {
    /// Field of each column, `None` for columns that are ignored.
    columns: Vec<Option<Field>>,
    rows: Vec<SimRow>,
    errors: Vec<RowError>,
    invalid_rows: usize,
    total_rows: usize,
    warnings: Vec<String>,
    iccids: HashMap<String, u32>,
    msisdns: HashMap<String, u32>,
}

fn shown(value: &str) -> String {
    const MAX: usize = 100;
    if value.chars().count() > MAX {
        let mut s: String = value.chars().take(MAX).collect();
        s.push('…');
        s
    } else {
        value.to_owned()
    }
}

fn delimiter_name(d: u8) -> &'static str {
    match d {
        b';' => "semicolon",
        b'\t' => "tab",
        _ => "comma",
    }
}

impl Validator {
    fn new(header: &[String], delimiter: Option<u8>) -> Result<Validator, FileError> {
        let mut columns = Vec::with_capacity(header.len());
        let mut index: [Option<usize>; 11] = [None; 11];
        let mut warnings = Vec::new();
        let mut unknown = Vec::new();
        for (i, raw) in header.iter().enumerate() {
            let h = normalise_header(raw);
            match Field::from_header(&h) {
                Some(f) => {
                    if let Some(prev) = index[f as usize] {
                        return Err(FileError::DuplicateColumn {
                            field: f.name(),
                            first: format!("{} ({:?})", prev + 1, header[prev].trim()),
                            second: format!("{} ({:?})", i + 1, raw.trim()),
                        });
                    }
                    index[f as usize] = Some(i);
                    columns.push(Some(f));
                }
                None => {
                    columns.push(None);
                    if h.is_empty() {
                        continue;
                    } else if READ_ONLY.contains(&h.as_str()) {
                        warnings.push(format!(
                            "column {:?} cannot be imported and is ignored (status changes only through lifecycle actions)",
                            raw.trim()
                        ));
                    } else {
                        unknown.push(format!("{:?}", shown(raw.trim())));
                    }
                }
            }
        }
        if index[Field::Iccid as usize].is_none() {
            let mut msg = "the file has no iccid column: the header row must name one (e.g. \"ICCID\")".to_owned();
            if let Some(d) = delimiter {
                msg.push_str(&format!(
                    "; the header was read as {} column(s) separated by {}: {}",
                    header.len(),
                    delimiter_name(d),
                    header.iter().take(10).map(|h| format!("{:?}", shown(h.trim()))).collect::<Vec<_>>().join(", ")
                ));
                if header.len() == 1 {
                    msg.push_str("; columns must be separated by a comma, a semicolon or a tab");
                }
            }
            return Err(FileError::MissingIccid(msg));
        }
        if !unknown.is_empty() {
            warnings.push(format!("unknown column(s) ignored: {}", unknown.join(", ")));
        }
        Ok(Validator {
            columns,
            rows: Vec::new(),
            errors: Vec::new(),
            invalid_rows: 0,
            total_rows: 0,
            warnings,
            iccids: HashMap::new(),
            msisdns: HashMap::new(),
        })
    }

    fn row(&mut self, line: u32, cells: &[Cell<'_>]) -> Result<(), FileError> {
        let blank = cells.iter().all(|c| matches!(c, Cell::Text(t) if t.trim().is_empty()));
        if blank {
            return Ok(());
        }
        self.total_rows += 1;
        if self.total_rows > MAX_ROWS {
            return Err(FileError::TooManyRows { limit: MAX_ROWS });
        }
        let mut row = SimRow {
            row: line,
            iccid: String::new(),
            msisdn: None,
            imsi: None,
            imei: None,
            pin: None,
            puk: None,
            sim_type: None,
            label: None,
            tags: None,
            customer_email: None,
            tariff_plan: None,
        };
        let mut errors = Vec::new();
        let fail = |errors: &mut Vec<RowError>, field: Field, value: &str, reason: String| {
            errors.push(RowError { row: line, column: field.name().to_owned(), value: shown(value), reason });
        };
        for (i, cell) in cells.iter().enumerate() {
            let Some(Some(field)) = self.columns.get(i) else { continue };
            let field = *field;
            let value = match cell {
                Cell::Bad { shown, reason } => {
                    fail(&mut errors, field, shown, reason.clone());
                    continue;
                }
                Cell::Text(t) => t.trim(),
            };
            if value.is_empty() {
                continue;
            }
            if let Some(reason) = formula_reason(value) {
                fail(&mut errors, field, value, reason);
                continue;
            }
            let id = |r: Result<String, simfleet_domain::IdError>| r.map_err(|e| e.to_string());
            let result: Result<(), String> = match field {
                Field::Iccid => id(Iccid::parse(value).map(String::from)).map(|v| row.iccid = v),
                Field::Msisdn => id(Msisdn::parse(value).map(String::from)).map(|v| row.msisdn = Some(v)),
                Field::Imsi => id(Imsi::parse(value).map(String::from)).map(|v| row.imsi = Some(v)),
                Field::Imei => id(Imei::parse(value).map(String::from)).map(|v| row.imei = Some(v)),
                Field::Pin => digits(value, 4, 8, "must be 4 to 8 digits").map(|v| row.pin = Some(v)),
                Field::Puk => digits(value, 8, 8, "must be 8 digits").map(|v| row.puk = Some(v)),
                Field::Type => {
                    let norm = value.to_lowercase().replace([' ', '-'], "_");
                    SimType::parse(&norm)
                        .map(|t| row.sim_type = Some(t))
                        .ok_or_else(|| "must be prepaid, postpaid or data_only".to_owned())
                }
                Field::Label => {
                    if value.chars().count() > 200 {
                        Err("must be at most 200 characters".to_owned())
                    } else {
                        row.label = Some(value.to_owned());
                        Ok(())
                    }
                }
                Field::Tags => parse_tags(value).map(|t| row.tags = Some(t)),
                Field::Customer => {
                    if value.contains('@') && !value.contains(char::is_whitespace) && value.len() <= 254 {
                        row.customer_email = Some(value.to_owned());
                        Ok(())
                    } else {
                        Err("must be the e-mail address of an existing customer".to_owned())
                    }
                }
                Field::Tariff => {
                    row.tariff_plan = Some(value.to_owned());
                    Ok(())
                }
            };
            if let Err(reason) = result {
                fail(&mut errors, field, value, reason);
            }
        }
        let iccid_column_failed = errors.iter().any(|e| e.column == "iccid");
        if row.iccid.is_empty() && !iccid_column_failed {
            fail(&mut errors, Field::Iccid, "", "is required".to_owned());
        }
        if !row.iccid.is_empty() {
            if let Some(first) = self.iccids.get(&row.iccid) {
                fail(
                    &mut errors,
                    Field::Iccid,
                    &row.iccid,
                    format!("duplicate: the same ICCID is already on row {first}"),
                );
            } else {
                self.iccids.insert(row.iccid.clone(), line);
            }
        }
        if let Some(m) = &row.msisdn {
            if let Some(first) = self.msisdns.get(m) {
                fail(&mut errors, Field::Msisdn, m, format!("duplicate: the same MSISDN is already on row {first}"));
            } else {
                self.msisdns.insert(m.clone(), line);
            }
        }
        if errors.is_empty() {
            self.rows.push(row);
        } else {
            self.invalid_rows += 1;
            self.errors.extend(errors);
        }
        Ok(())
    }

    fn finish(self, format: Format) -> Result<ParsedFile, FileError> {
        if self.total_rows == 0 {
            return Err(FileError::NoRows);
        }
        Ok(ParsedFile {
            format,
            rows: self.rows,
            errors: self.errors,
            invalid_rows: self.invalid_rows,
            total_rows: self.total_rows,
            warnings: self.warnings,
        })
    }
}

fn digits(value: &str, min: usize, max: usize, message: &str) -> Result<String, String> {
    if (min..=max).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_digit()) {
        Ok(value.to_owned())
    } else {
        Err(message.to_owned())
    }
}

fn parse_tags(value: &str) -> Result<Vec<String>, String> {
    let mut tags: Vec<String> =
        value.split([',', ';', '|']).map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned).collect();
    tags.sort();
    tags.dedup();
    if tags.len() > 50 {
        return Err("at most 50 tags".to_owned());
    }
    if let Some(t) = tags.iter().find(|t| t.chars().count() > 64) {
        return Err(format!("tag {:?} is longer than 64 characters", shown(t)));
    }
    if let Some(reason) = tags.iter().find_map(|t| formula_reason(t)) {
        return Err(reason);
    }
    Ok(tags)
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "row {}, {}: {:?} {}", self.row, self.column, self.value, self.reason)
    }
}
