//! The monthly fleet report as a workbook: a summary with a chart of SIMs by status, usage per
//! SIM, top consumers with a chart, SIMs at quota risk and open alerts, one sheet each.

use rust_xlsxwriter::{Chart, ChartType, Format, Workbook, Worksheet, XlsxError};
use simfleet_store::MonthlyReport;

const BYTES_PER_MB: f64 = 1_048_576.0;
const TOP: usize = 10;

/// `scope` names what the report covers, e.g. "ACME Logistics" or "Whole fleet".
pub fn monthly_report_xlsx(report: &MonthlyReport, scope: &str) -> Result<Vec<u8>, XlsxError> {
    let mut book = Workbook::new();
    let f = Formats::new();
    summary(book.add_worksheet(), report, scope, &f)?;
    usage(book.add_worksheet(), report, &f)?;
    top_consumers(book.add_worksheet(), report, &f)?;
    at_risk(book.add_worksheet(), report, &f)?;
    alerts(book.add_worksheet(), report, &f)?;
    book.save_to_buffer()
}

struct Formats {
    title: Format,
    bold: Format,
    mb: Format,
    int: Format,
    when: Format,
}

impl Formats {
    fn new() -> Self {
        Formats {
            title: Format::new().set_bold().set_font_size(16),
            bold: Format::new().set_bold(),
            mb: Format::new().set_num_format("#,##0.00"),
            int: Format::new().set_num_format("#,##0"),
            when: Format::new().set_num_format("yyyy-mm-dd hh:mm"),
        }
    }
}

/// A bold header row with column widths, frozen, with a filter over `rows` data rows.
fn header(sheet: &mut Worksheet, row: u32, cols: &[(&str, f64)], rows: usize, f: &Formats) -> Result<(), XlsxError> {
    for (i, (name, width)) in cols.iter().enumerate() {
        sheet.set_column_width(i as u16, *width)?;
        sheet.write_string_with_format(row, i as u16, *name, &f.bold)?;
    }
    sheet.set_freeze_panes(row + 1, 0)?;
    if rows > 0 {
        sheet.autofilter(row, 0, row + rows as u32, cols.len() as u16 - 1)?;
    }
    Ok(())
}

fn mb(bytes: i64) -> f64 {
    bytes as f64 / BYTES_PER_MB
}

fn summary(sheet: &mut Worksheet, r: &MonthlyReport, scope: &str, f: &Formats) -> Result<(), XlsxError> {
    sheet.set_name("Summary")?;
    sheet.set_column_width(0, 34)?;
    sheet.set_column_width(1, 16)?;
    sheet.write_string_with_format(0, 0, format!("Fleet report {}", r.month.format("%B %Y")), &f.title)?;
    sheet.write_string(1, 0, scope)?;
    sheet.write_string(2, 0, format!("Generated {}", chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")))?;

    sheet.write_string_with_format(4, 0, "SIMs by status (now)", &f.bold)?;
    sheet.write_string_with_format(4, 1, "SIMs", &f.bold)?;
    for (i, (status, n)) in r.by_status.iter().enumerate() {
        let row = 5 + i as u32;
        sheet.write_string(row, 0, status.as_str())?;
        sheet.write_number_with_format(row, 1, *n as f64, &f.int)?;
    }
    let last_status_row = 4 + r.by_status.len() as u32;

    let mut row = last_status_row + 2;
    sheet.write_string_with_format(row, 0, "In the month", &f.bold)?;
    let figures: [(&str, f64, &Format); 7] = [
        ("Activations", r.activations as f64, &f.int),
        ("Terminations", r.terminations as f64, &f.int),
        ("SIMs with usage", r.totals.sims_with_usage as f64, &f.int),
        ("Data used (MB)", mb(r.totals.data_total), &f.mb),
        ("SMS sent by devices (MO)", r.totals.sms_mo as f64, &f.int),
        ("SMS received by devices (MT)", r.totals.sms_mt as f64, &f.int),
        ("Open alerts", r.open_alerts.len() as f64, &f.int),
    ];
    for (name, value, format) in figures {
        row += 1;
        sheet.write_string(row, 0, name)?;
        sheet.write_number_with_format(row, 1, value, format)?;
    }

    let mut chart = Chart::new(ChartType::Doughnut);
    chart.title().set_name("SIMs by status");
    chart.add_series().set_categories(("Summary", 5, 0, last_status_row, 0)).set_values((
        "Summary",
        5,
        1,
        last_status_row,
        1,
    ));
    sheet.insert_chart(4, 3, &chart)?;
    Ok(())
}

fn usage(sheet: &mut Worksheet, r: &MonthlyReport, f: &Formats) -> Result<(), XlsxError> {
    sheet.set_name("Usage per SIM")?;
    let cols = [
        ("ICCID", 22.0),
        ("Label", 24.0),
        ("Status", 13.0),
        ("Customer", 24.0),
        ("Data total (MB)", 15.0),
        ("Data received (bytes)", 20.0),
        ("Data sent (bytes)", 18.0),
        ("SMS MO", 9.0),
        ("SMS MT", 9.0),
    ];
    header(sheet, 0, &cols, r.usage.len(), f)?;
    for (i, u) in r.usage.iter().enumerate() {
        let row = 1 + i as u32;
        sheet.write_string(row, 0, &u.iccid)?;
        if let Some(label) = &u.label {
            sheet.write_string(row, 1, label)?;
        }
        sheet.write_string(row, 2, &u.status)?;
        if let Some(customer) = &u.customer {
            sheet.write_string(row, 3, customer)?;
        }
        sheet.write_number_with_format(row, 4, mb(u.data_total), &f.mb)?;
        sheet.write_number_with_format(row, 5, u.data_rx as f64, &f.int)?;
        sheet.write_number_with_format(row, 6, u.data_tx as f64, &f.int)?;
        sheet.write_number_with_format(row, 7, u.sms_mo as f64, &f.int)?;
        sheet.write_number_with_format(row, 8, u.sms_mt as f64, &f.int)?;
    }
    Ok(())
}

fn top_consumers(sheet: &mut Worksheet, r: &MonthlyReport, f: &Formats) -> Result<(), XlsxError> {
    sheet.set_name("Top consumers")?;
    let top = &r.usage[..r.usage.len().min(TOP)];
    header(sheet, 0, &[("ICCID", 22.0), ("Label", 24.0), ("Data total (MB)", 15.0)], 0, f)?;
    for (i, u) in top.iter().enumerate() {
        let row = 1 + i as u32;
        sheet.write_string(row, 0, &u.iccid)?;
        sheet.write_string(row, 1, u.label.as_deref().unwrap_or(""))?;
        sheet.write_number_with_format(row, 2, mb(u.data_total), &f.mb)?;
    }
    if !top.is_empty() {
        let last = top.len() as u32;
        let mut chart = Chart::new(ChartType::Bar);
        chart.title().set_name(&format!("Top {} by data (MB)", top.len()));
        chart.add_series().set_name("Data (MB)").set_categories(("Top consumers", 1, 0, last, 0)).set_values((
            "Top consumers",
            1,
            2,
            last,
            2,
        ));
        chart.y_axis().set_reverse();
        sheet.insert_chart(1, 4, &chart)?;
    }
    Ok(())
}

fn at_risk(sheet: &mut Worksheet, r: &MonthlyReport, f: &Formats) -> Result<(), XlsxError> {
    sheet.set_name("Quota risk")?;
    let cols = [
        ("ICCID", 22.0),
        ("Label", 24.0),
        ("Data left (MB)", 15.0),
        ("Used per day (MB)", 17.0),
        ("Days left (forecast)", 19.0),
    ];
    header(sheet, 0, &cols, r.at_risk.len(), f)?;
    for (i, a) in r.at_risk.iter().enumerate() {
        let row = 1 + i as u32;
        let per_day = a.window_used as f64 / a.window_days.max(1) as f64;
        sheet.write_string(row, 0, &a.iccid)?;
        sheet.write_string(row, 1, a.label.as_deref().unwrap_or(""))?;
        sheet.write_number_with_format(row, 2, mb(a.remaining), &f.mb)?;
        sheet.write_number_with_format(row, 3, per_day / BYTES_PER_MB, &f.mb)?;
        sheet.write_number_with_format(row, 4, a.remaining as f64 / per_day, &f.mb)?;
    }
    Ok(())
}

fn alerts(sheet: &mut Worksheet, r: &MonthlyReport, f: &Formats) -> Result<(), XlsxError> {
    sheet.set_name("Open alerts")?;
    let cols =
        [("Severity", 10.0), ("Kind", 26.0), ("State", 14.0), ("ICCID", 22.0), ("Message", 60.0), ("First seen", 17.0)];
    header(sheet, 0, &cols, r.open_alerts.len(), f)?;
    for (i, a) in r.open_alerts.iter().enumerate() {
        let row = 1 + i as u32;
        sheet.write_string(row, 0, &a.severity)?;
        sheet.write_string(row, 1, &a.kind)?;
        sheet.write_string(row, 2, &a.state)?;
        sheet.write_string(row, 3, a.iccid.as_deref().unwrap_or(""))?;
        sheet.write_string(row, 4, &a.message)?;
        sheet.write_datetime_with_format(row, 5, a.first_seen.naive_utc(), &f.when)?;
    }
    Ok(())
}
