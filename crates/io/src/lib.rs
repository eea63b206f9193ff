//! SIM list files: reading CSV/XLSX imports into validated rows, and writing exports.
//!
//! Pure: no database and no file system beyond the bytes handed in (and the temporary files
//! `rust_xlsxwriter` keeps in constant-memory mode). The store and the HTTP layer decide what
//! a validated row means for the inventory.

pub mod export;
pub mod import;

pub use export::{neutralise_csv_cell, CsvExport, ExportRow, XlsxExport, XLSX_MAX_ROWS};
pub use import::{parse, FileError, Format, ParsedFile, RowError, SimRow, MAX_ROWS};

use sha2::{Digest, Sha256};

/// SHA-256 of the file, lower-case hex: how imports recognise a file seen before.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
