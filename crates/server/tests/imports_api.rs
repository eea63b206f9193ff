//! Imports and exports over real HTTP, on SQLite and PostgreSQL alike.

mod common;

use common::{iccid, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};

const BOUNDARY: &str = "simfleet-test-boundary-7f3a";

async fn upload(app: &TestApp, token: &str, name: &str, bytes: &[u8]) -> (StatusCode, Value) {
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    let res = app
        .http
        .post(format!("{}/api/v1/imports", app.base))
        .bearer_auth(token)
        .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
        .body(body)
        .send()
        .await
        .unwrap();
    let status = res.status();
    if status.is_client_error() {
        assert_eq!(res.headers()["content-type"], "application/problem+json");
    }
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn export(app: &TestApp, token: &str, query: &str) -> (StatusCode, Vec<u8>) {
    let res = app.http.get(format!("{}/api/v1/exports?{query}", app.base)).bearer_auth(token).send().await.unwrap();
    (res.status(), res.bytes().await.unwrap().to_vec())
}

async fn count_sims(app: &TestApp) -> i64 {
    app.db.store.count_sims(&Default::default()).await.unwrap()
}

async fn preview_commit_and_events(app: &TestApp) {
    let op = app.operator.clone();
    app.post("/api/v1/customers", &op, json!({"name": "ACME", "email": "ops@acme.test"})).await;
    let existing = app.sim(1, json!({"label": "old"})).await;
    let file = format!(
        "ICCID;MSISDN;PIN;Customer e-mail;Tags;Colour\n{existing};491510000001;1234;OPS@acme.test;x|y;red\n{};491510000002;;;;blue\n",
        iccid(2)
    );
    let (s, imp) = upload(app, &op, "fleet.csv", file.as_bytes()).await;
    assert_eq!(s, StatusCode::CREATED, "{imp}");
    assert_eq!(imp["status"], "previewed");
    assert_eq!(
        (imp["to_create"].as_i64(), imp["to_update"].as_i64(), imp["invalid"].as_i64()),
        (Some(1), Some(1), Some(0))
    );
    assert!(imp["warnings"][0].as_str().unwrap().contains("Colour"), "{imp}");
    assert_eq!(imp["file_hash"].as_str().unwrap().len(), 64);
    assert_eq!(count_sims(app).await, 1, "a preview changes nothing");

    let id = imp["id"].as_i64().unwrap();
    let (s, done) = app.post(&format!("/api/v1/imports/{id}/commit"), &op, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{done}");
    assert_eq!(
        (done["status"].as_str(), done["created"].as_i64(), done["updated"].as_i64()),
        (Some("committed"), Some(1), Some(1))
    );
    let (_, sim) = app.get(&format!("/api/v1/sims/{existing}"), &op).await;
    assert_eq!(sim["msisdn"], "491510000001");
    assert_eq!(sim["tags"], json!(["x", "y"]));
    assert_eq!(sim["label"], "old", "an absent column leaves the field alone");
    assert!(sim["customer_id"].is_i64());
    let (_, secrets) = app.get(&format!("/api/v1/sims/{existing}/secrets"), &op).await;
    assert_eq!(secrets["pin"], "1234");
    let (_, events) = app.get(&format!("/api/v1/sims/{}/events", iccid(2)), &op).await;
    assert_eq!(events["items"][0]["kind"], "IMPORTED");
    assert_eq!(events["items"][0]["note"], format!("import #{id} (fleet.csv)"));
    assert_eq!(events["items"][0]["actor"], "operator");
    let (_, events) = app.get(&format!("/api/v1/sims/{existing}/events"), &op).await;
    assert_eq!(events["items"][1]["kind"], "UPDATED", "after the SECRETS_REVEALED above: {events}");
    assert_eq!(events["items"][1]["note"], format!("import #{id} (fleet.csv)"));

    // The same file again: its preview warns, its commit is refused naming the first import.
    let (s, again) = upload(app, &op, "fleet-copy.csv", file.as_bytes()).await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(again["unchanged"], 2, "{again}");
    assert!(again["warnings"].to_string().contains(&format!("import #{id}")), "{again}");
    let (s, p) = app.post(&format!("/api/v1/imports/{}/commit", again["id"]), &op, json!({})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{p}");
    assert!(p["detail"].as_str().unwrap().contains(&format!("import #{id} (fleet.csv)")), "{p}");
    let (s, _) = app.post(&format!("/api/v1/imports/{id}/commit"), &op, json!({})).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(count_sims(app).await, 2);

    let (s, list) = app.get("/api/v1/imports?limit=10", &op).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    assert_eq!(list["items"][1]["committed_by"], "operator");
    assert!(list["items"][0].get("errors").is_none());
    let (s, _) = app.get("/api/v1/imports", &app.viewer.clone()).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = upload(app, &app.viewer.clone(), "x.csv", file.as_bytes()).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

async fn invalid_rows_block_commit_unless_skipped(app: &TestApp) {
    let op = app.operator.clone();
    let taken = app.sim(1, json!({"msisdn": "491519999999"})).await;
    let _ = taken;
    let mut file = String::from("iccid,msisdn,customer,tariff plan\n");
    file.push_str(&format!("{},491519999999,,\n", iccid(2))); // MSISDN of another SIM
    file.push_str(&format!("{},,nobody@x.test,\n", iccid(3))); // unknown customer
    file.push_str(&format!("{},,,Gold\n", iccid(4))); // unknown plan
    file.push_str("8988228066602306771,,,\n"); // bad Luhn
    file.push_str(&format!("{},491510000005,,\n", iccid(5))); // fine
    file.push_str(&format!("{},,,\n", iccid(5))); // duplicate in file
    let (s, imp) = upload(app, &op, "mixed.csv", file.as_bytes()).await;
    assert_eq!(s, StatusCode::CREATED, "{imp}");
    assert_eq!((imp["to_create"].as_i64(), imp["invalid"].as_i64()), (Some(1), Some(5)), "{imp}");
    let errors = imp["errors"].as_array().unwrap();
    let at = |row: u64| errors.iter().find(|e| e["row"] == row).unwrap_or_else(|| panic!("row {row}: {imp}"));
    assert_eq!(at(2)["column"], "msisdn");
    assert!(at(2)["reason"].as_str().unwrap().contains(&iccid(1)));
    assert_eq!(at(3)["column"], "customer_email");
    assert_eq!(at(4)["column"], "tariff_plan");
    assert_eq!(at(5)["reason"], "check digit is wrong (Luhn)");
    assert_eq!(at(5)["value"], "8988228066602306771");
    assert!(at(7)["reason"].as_str().unwrap().contains("row 6"));

    let id = imp["id"].as_i64().unwrap();
    let (s, p) = app.post(&format!("/api/v1/imports/{id}/commit"), &op, json!({})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    assert_eq!(p["type"], "https://simfleet.dev/problems/import-invalid-rows");
    assert_eq!(p["row_errors"].as_array().unwrap().len(), errors.len());
    assert_eq!(p["import_id"], id);
    assert_eq!(count_sims(app).await, 1, "nothing written");

    let (s, done) = app.post(&format!("/api/v1/imports/{id}/commit"), &op, json!({"skip_invalid": true})).await;
    assert_eq!(s, StatusCode::OK, "{done}");
    assert_eq!(done["created"], 1);
    assert_eq!(count_sims(app).await, 2);
    assert_eq!(app.get(&format!("/api/v1/sims/{}", iccid(5)), &op).await.0, StatusCode::OK);
    let (s, p) = app.post(&format!("/api/v1/imports/{id}/commit"), &op, json!({"skip_invalid": "yes"})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{p}");
}

async fn bad_files_are_refused_and_write_nothing(app: &TestApp) {
    let op = app.operator.clone();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty.csv", Vec::new(), "empty"),
        (
            "latin1.csv",
            format!("iccid,label\n{},Stra\u{0}", iccid(1))
                .replace('\u{0}', "")
                .into_bytes()
                .into_iter()
                .chain(*b"\xdfe\n")
                .collect(),
            "line 2",
        ),
        ("pipes.csv", format!("iccid|msisdn\n{}|491510000001\n", iccid(1)).into_bytes(), "no iccid column"),
        ("nocol.csv", b"msisdn\n491510000001\n".to_vec(), "no iccid column"),
        ("broken.xlsx", b"PK\x03\x04not a zip".to_vec(), "XLSX"),
    ];
    for (name, bytes, needle) in cases {
        let (s, p) = upload(app, &op, name, &bytes).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{name}: {p}");
        assert_eq!(p["type"], "https://simfleet.dev/problems/import-file", "{name}");
        assert!(p["detail"].as_str().unwrap().contains(needle), "{name}: {p}");
        assert_eq!(p["errors"][0]["field"], "file");
    }
    // BOM + CRLF are fine.
    let (s, p) = upload(app, &op, "bom.csv", format!("\u{feff}ICCID\r\n{}\r\n", iccid(1)).as_bytes()).await;
    assert_eq!(s, StatusCode::CREATED, "{p}");
    assert_eq!(p["to_create"], 1);

    // A 50 MB file: accepted by the upload limit, refused for its row count without parsing it.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.csv");
    {
        use std::io::Write;
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        writeln!(f, "iccid,msisdn,label").unwrap();
        let line = format!("{},491510000001,{}\n", iccid(1), "x".repeat(40));
        let mut written = 0;
        while written < 50 * 1024 * 1024 {
            f.write_all(line.as_bytes()).unwrap();
            written += line.len();
        }
    }
    let big = std::fs::read(&path).unwrap();
    let started = std::time::Instant::now();
    let (s, p) = upload(app, &op, "big.csv", &big).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{p}");
    assert!(p["detail"].as_str().unwrap().contains("250000 rows"), "{p}");
    assert!(started.elapsed().as_secs() < 10, "{:?}", started.elapsed());
    // Over 64 MB: refused by the body limit.
    let mut huge = big;
    huge.resize(65 * 1024 * 1024, b'x');
    let (s, _) = upload(app, &op, "huge.csv", &huge).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);

    let (_, list) = app.get("/api/v1/imports?count=true", &op).await;
    assert_eq!(list["total"], 1, "only the good file was recorded: {list}");
    assert_eq!(count_sims(app).await, 0);
}

async fn export_csv_xlsx_and_round_trip(app: &TestApp) {
    let op = app.operator.clone();
    let customer = app.customer("ACME").await;
    app.patch(&format!("/api/v1/customers/{customer}"), &op, json!({"name": "ACME", "email": "ops@acme.test"})).await;
    app.sim(1, json!({"label": "=HYPERLINK(\"http://evil\")", "msisdn": "+491510000001", "pin": "1234", "tags": ["a", "b"], "customer_id": customer})).await;
    app.sim(2, json!({"label": "@cmd", "type": "prepaid"})).await;
    app.sim(3, json!({"label": "-2+3"})).await;
    app.sim(4, json!({"label": "+x", "imei": "490154203237518"})).await;

    let (s, body) = export(app, &app.viewer.clone(), "format=csv").await;
    assert_eq!(s, StatusCode::OK);
    let text = String::from_utf8(body.clone()).unwrap();
    assert!(text.starts_with("iccid,msisdn,imsi,imei,type,status,label,tags,customer_email,tariff_plan"), "{text}");
    assert!(!text.contains(",pin"), "no secrets without asking");
    for neutral in ["'=HYPERLINK", "'@cmd", "'-2+3", "'+x"] {
        assert!(text.contains(neutral), "{neutral} in {text}");
    }
    assert!(text.contains("ops@acme.test"));
    assert_eq!(text.lines().count(), 5);

    // Filters: the same as the SIM list.
    let (_, body) = export(app, &op, "type=prepaid").await;
    assert_eq!(String::from_utf8(body).unwrap().lines().count(), 2);

    // Round trip: the export imported again changes nothing (labels aside, it carries every
    // importable column). Formula-looking labels were neutralised, so drop those SIMs' labels.
    let plain = text
        .lines()
        .map(|l| l.split(',').enumerate().map(|(i, c)| if i == 6 { "" } else { c }).collect::<Vec<_>>().join(","))
        .collect::<Vec<_>>()
        .join("\n");
    let (s, imp) = upload(app, &op, "export.csv", plain.as_bytes()).await;
    assert_eq!(s, StatusCode::CREATED, "{imp}");
    assert_eq!(
        (imp["to_create"].as_i64(), imp["to_update"].as_i64(), imp["unchanged"].as_i64(), imp["invalid"].as_i64()),
        (Some(0), Some(0), Some(4), Some(0)),
        "{imp}"
    );

    // XLSX: a real workbook our own parser reads back.
    let (s, book) = export(app, &op, "format=xlsx").await;
    assert_eq!(s, StatusCode::OK);
    let parsed = simfleet_io::parse(&book, simfleet_io::Format::Xlsx, None).unwrap();
    assert_eq!(parsed.total_rows, 4);
    let (s, imp) = upload(app, &op, "export.xlsx", &book).await;
    assert_eq!(s, StatusCode::CREATED, "{imp}");
    assert_eq!((imp["to_create"].as_i64(), imp["to_update"].as_i64()), (Some(0), Some(0)), "{imp}");

    // Secrets: admin only, and recorded.
    let (s, _) = export(app, &op, "include_secrets=true").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, body) = export(app, &app.admin.clone(), "include_secrets=true").await;
    assert_eq!(s, StatusCode::OK);
    let text = String::from_utf8(body).unwrap();
    assert!(text.lines().next().unwrap().ends_with(",pin,puk"));
    assert!(text.lines().nth(1).unwrap().contains(",1234,"), "{text}");
    let (_, audit) = app.get("/api/v1/audit-log?limit=50", &app.admin.clone()).await;
    assert!(
        audit["items"].as_array().unwrap().iter().any(|e| e["route"]
            .as_str()
            .unwrap_or("")
            .contains("SECRETS_REVEALED")
            && e["actor"] == "admin"),
        "{audit}"
    );

    let (s, p) = export(app, &op, "format=pdf").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{}", String::from_utf8_lossy(&p));
    let (s, _) = export(app, &op, "status=NOPE").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
}

async fn export_pages_through_many_sims(app: &TestApp) {
    let sims: Vec<simfleet_store::NewSim> =
        (0..2500).map(|n| simfleet_store::NewSim::available(iccid(10_000 + n))).collect();
    app.db.store.create_sims_bulk(&sims, simfleet_domain::EventKind::Created, None, "t").await.unwrap();
    let (s, body) = export(app, &app.viewer.clone(), "").await;
    assert_eq!(s, StatusCode::OK);
    let text = String::from_utf8(body).unwrap();
    let mut iccids: Vec<&str> = text.lines().skip(1).map(|l| l.split(',').next().unwrap()).collect();
    assert_eq!(iccids.len(), 2500);
    iccids.dedup();
    assert_eq!(iccids.len(), 2500, "no SIM twice across pages");
}

api_tests!(
    preview_commit_and_events,
    invalid_rows_block_commit_unless_skipped,
    bad_files_are_refused_and_write_nothing,
    export_csv_xlsx_and_round_trip,
    export_pages_through_many_sims,
);
