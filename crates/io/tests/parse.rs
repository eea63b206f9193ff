//! Import parsing and export writing, on committed fixtures and files built here.

use proptest::prelude::*;
use simfleet_domain::SimType;
use simfleet_io::{parse, CsvExport, ExportRow, FileError, Format, ParsedFile, XlsxExport};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn csv(text: &str) -> Result<ParsedFile, FileError> {
    parse(text.as_bytes(), Format::Csv, None)
}

fn iccid(n: u64) -> String {
    let payload = format!("8988{n:014}");
    format!("{payload}{}", simfleet_domain::ids::luhn_check_digit(&payload))
}

#[test]
fn semicolons_bom_crlf_quotes_and_aliases() {
    let p = parse(&fixture("semicolon_bom_crlf.csv"), Format::Csv, None).unwrap();
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    assert_eq!(p.rows.len(), 2);
    let r = &p.rows[0];
    assert_eq!(r.row, 2);
    assert_eq!(r.iccid, "8988228066602306776");
    assert_eq!(r.msisdn.as_deref(), Some("491511234567"));
    assert_eq!(r.sim_type, Some(SimType::Prepaid));
    assert_eq!(r.pin.as_deref(), Some("1234"));
    assert_eq!(r.tags.as_deref(), Some(&["fleet".to_owned(), "north".to_owned()][..]));
    assert_eq!(p.rows[1].sim_type, Some(SimType::DataOnly));
    assert_eq!(p.rows[1].msisdn, None);
    assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);
    assert!(p.warnings[0].contains("Notes"));
}

#[test]
fn row_errors_name_row_column_value_and_reason() {
    let p = parse(&fixture("bad_rows.csv"), Format::Csv, None).unwrap();
    assert_eq!(p.rows.len(), 1);
    assert_eq!(p.total_rows, 5);
    assert_eq!(p.invalid_rows, 4);
    let find = |row: u32| p.errors.iter().find(|e| e.row == row).unwrap_or_else(|| panic!("no error on row {row}"));
    assert_eq!(find(3).column, "iccid");
    assert!(find(3).reason.contains("Luhn"), "{:?}", find(3));
    assert!(find(4).reason.contains("19 or 20"), "{:?}", find(4));
    assert_eq!(find(4).value, "898822806660230677");
    let dup = p.errors.iter().filter(|e| e.row == 5).collect::<Vec<_>>();
    assert!(dup.iter().any(|e| e.column == "iccid" && e.reason.contains("row 2")), "{dup:?}");
    assert!(dup.iter().any(|e| e.column == "msisdn" && e.reason.contains("row 2")), "{dup:?}");
    let formula = find(6);
    assert_eq!(formula.column, "iccid");
    assert!(formula.reason.contains("formula"), "{formula:?}");
    assert!(formula.value.starts_with("=HYPERLINK"));
    // "+49…" is a number, not a formula.
    assert!(!p.errors.iter().any(|e| e.row == 6 && e.column == "msisdn"));
}

#[test]
fn formula_looking_cells_are_rejected_in_every_column() {
    let text = format!("iccid,label,tags,imsi\n{},@SUM(A1),ok,-1+2\n{},+cmd|' /C calc'!A0,-x,\n", iccid(1), iccid(2));
    let p = csv(&text).unwrap();
    assert!(p.rows.is_empty());
    let cols: Vec<(u32, &str)> = p.errors.iter().map(|e| (e.row, e.column.as_str())).collect();
    assert_eq!(cols, vec![(2, "label"), (2, "imsi"), (3, "label"), (3, "tags")]);
    assert!(p.errors.iter().all(|e| e.reason.contains("formula")));
}

#[test]
fn file_level_errors() {
    assert_eq!(csv(""), Err(FileError::Empty));
    assert_eq!(csv("\u{feff}\r\n  \n"), Err(FileError::Empty));
    assert_eq!(csv("iccid,msisdn\n"), Err(FileError::NoRows));
    let e = csv("msisdn,label\n491511234567,x\n").unwrap_err();
    assert!(e.to_string().contains("no iccid column"), "{e}");
    // Wrong delimiter: the whole header is one column, and the error says so.
    let e = parse(&fixture("pipe_delimited.csv"), Format::Csv, None).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("1 column") && msg.contains("iccid|msisdn") && msg.contains("semicolon"), "{msg}");
    let e = csv("iccid,name,label\n1,2,3\n").unwrap_err();
    assert!(matches!(e, FileError::DuplicateColumn { field: "label", .. }), "{e}");
}

#[test]
fn non_utf8_bytes_are_located() {
    let mut bytes = format!("iccid,label\n{},ok\n{},Stra", iccid(1), iccid(2)).into_bytes();
    let offset = bytes.len();
    bytes.extend(b"\xdfe\n"); // Latin-1 "ß"
    match parse(&bytes, Format::Csv, None) {
        Err(FileError::NotUtf8 { offset: o, line, byte }) => {
            assert_eq!((o, line, byte), (offset, 3, 0xDF));
        }
        other => panic!("{other:?}"),
    }
    let msg = parse(&bytes, Format::Csv, None).unwrap_err().to_string();
    assert!(msg.contains("line 3") && msg.contains("0xDF"), "{msg}");
}

#[test]
fn tabs_and_missing_cells() {
    let text = format!("ICCID\tIMSI\tPUK\n{}\t901405100000001\n{}\t\t12345678\textra\n", iccid(1), iccid(2));
    let p = csv(&text).unwrap();
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    assert_eq!(p.rows[0].imsi.as_deref(), Some("901405100000001"));
    assert_eq!(p.rows[1].puk.as_deref(), Some("12345678"));
    let p = csv(&format!("iccid,pin,puk,type\n{},12,1234,sim\n", iccid(3))).unwrap();
    let reasons: Vec<&str> = p.errors.iter().map(|e| e.reason.as_str()).collect();
    assert_eq!(reasons, vec!["must be 4 to 8 digits", "must be 8 digits", "must be prepaid, postpaid or data_only"]);
}

#[test]
fn too_many_rows_is_refused_before_parsing() {
    let mut text = String::from("iccid\n");
    for _ in 0..simfleet_io::MAX_ROWS + 5 {
        text.push_str("x\n");
    }
    assert_eq!(csv(&text), Err(FileError::TooManyRows { limit: simfleet_io::MAX_ROWS }));
}

fn export_row(n: u64, label: &str) -> ExportRow {
    ExportRow {
        iccid: iccid(n),
        msisdn: Some(format!("49151{n:07}")),
        sim_type: "prepaid",
        status: "AVAILABLE",
        label: Some(label.to_owned()),
        tags: vec!["a".into(), "b".into()],
        provider: "none",
        created_at: chrono::Utc::now(),
        updated_at: chrono::Utc::now(),
        ..Default::default()
    }
}

#[test]
fn csv_export_neutralises_formulas_and_reads_back() {
    let mut out = CsvExport::new(false);
    for (n, label) in [(1, "=1+1"), (2, "+x"), (3, "-y"), (4, "@z"), (5, "\tt"), (6, "plain")] {
        out.push(&export_row(n, label));
    }
    let text = String::from_utf8(out.take()).unwrap();
    for bad in ["'=1+1", "'+x", "'-y", "'@z", "'\tt"] {
        assert!(text.contains(bad), "{bad:?} in {text}");
    }
    assert!(!text.lines().any(|l| l.contains(",=") || l.contains(",+")), "{text}");
    // The export's own columns import without errors (labels aside, which now start with ').
    let p = csv(&text).unwrap();
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    assert_eq!(p.rows.len(), 6);
    assert_eq!(p.rows[5].label.as_deref(), Some("plain"));
    assert_eq!(p.rows[0].tags.as_deref(), Some(&["a".to_owned(), "b".to_owned()][..]));
    assert!(p.warnings.iter().any(|w| w.contains("status")), "{:?}", p.warnings);
}

#[test]
fn xlsx_round_trip_with_named_sheet_and_formulas() {
    // Our own export reads back.
    let mut book = XlsxExport::new(true).unwrap();
    let mut row = export_row(7, "Truck 7");
    row.pin = Some("1234".into());
    book.push(&row).unwrap();
    let mut bytes = Vec::new();
    book.finish(&mut bytes).unwrap();
    assert_eq!(Format::detect("whatever.bin", &bytes), Format::Xlsx);
    let p = parse(&bytes, Format::Xlsx, None).unwrap();
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    assert_eq!(p.rows[0].iccid, iccid(7));
    assert_eq!(p.rows[0].pin.as_deref(), Some("1234"));
    assert_eq!(p.rows[0].label.as_deref(), Some("Truck 7"));
    let p = parse(&bytes, Format::Xlsx, Some("sims")).unwrap();
    assert_eq!(p.rows.len(), 1);
    let e = parse(&bytes, Format::Xlsx, Some("Other")).unwrap_err();
    assert!(e.to_string().contains("SIMs"), "{e}");

    // A hand-made workbook: numbers, a formula, an ICCID typed as a number.
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    ws.write_string(0, 0, "ICCID").unwrap();
    ws.write_string(0, 1, "IMSI").unwrap();
    ws.write_string(0, 2, "Label").unwrap();
    ws.write_string(1, 0, iccid(8)).unwrap();
    ws.write_number(1, 1, 901405100000001.0).unwrap();
    ws.write_formula(1, 2, "=HYPERLINK(\"http://evil\")").unwrap();
    ws.write_number(2, 0, 8988228066602306776.0).unwrap();
    let bytes = wb.save_to_buffer().unwrap();
    let p = parse(&bytes, Format::Xlsx, None).unwrap();
    assert!(p.rows.is_empty());
    assert_eq!(p.errors.len(), 2, "{:?}", p.errors);
    assert_eq!((p.errors[0].row, p.errors[0].column.as_str()), (2, "label"));
    assert!(p.errors[0].reason.contains("formula"));
    assert_eq!((p.errors[1].row, p.errors[1].column.as_str()), (3, "iccid"));
    assert!(p.errors[1].reason.contains("Text"), "{:?}", p.errors[1]);
    assert_eq!(parse(b"", Format::Xlsx, None), Err(FileError::Empty));
    assert!(matches!(parse(b"PK\x03\x04garbage", Format::Xlsx, None), Err(FileError::Xlsx(_))));
}

#[test]
fn hundred_thousand_rows_parse() {
    let mut text = String::from("iccid,msisdn,label,tags\n");
    for n in 0..100_000u64 {
        text.push_str(&format!("{},49170{n:08},Device {n},a;b\n", iccid(n)));
    }
    let start = std::time::Instant::now();
    let p = csv(&text).unwrap();
    let took = start.elapsed();
    assert_eq!(p.rows.len(), 100_000);
    assert!(p.errors.is_empty());
    // Generous: this runs unoptimised here; release is ~20x faster.
    assert!(took.as_secs() < 20, "{took:?}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = parse(&bytes, Format::Csv, None);
        let _ = parse(&bytes, Format::Xlsx, None);
    }

    #[test]
    fn random_rows_never_panic(header in "(iccid|msisdn|pin|tags|label|type|x)([,;\t](iccid|msisdn|pin|tags|label|type|x)){0,5}",
                               body in "[0-9a-z=+@\"\t;,|\r\n -]{0,400}") {
        let text = format!("{header}\n{body}");
        if let Ok(p) = parse(text.as_bytes(), Format::Csv, None) {
            prop_assert_eq!(p.rows.len() + p.invalid_rows, p.total_rows);
        }
    }
}
