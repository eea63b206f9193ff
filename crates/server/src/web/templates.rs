//! The template environment: templates compiled into the binary, auto-escaping on for
//! `.html`, and the few filters the pages need.

use chrono::{DateTime, Utc};
use minijinja::{Environment, Value};
use rust_embed::RustEmbed;
use std::sync::OnceLock;

#[derive(RustEmbed)]
#[folder = "templates/"]
struct Templates;

pub fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        for name in Templates::iter() {
            let file = Templates::get(&name).expect("listed template exists");
            let source = String::from_utf8(file.data.into_owned()).expect("templates are UTF-8");
            env.add_template_owned(name.to_string(), source).expect("templates compile");
        }
        // Asset URLs are ours (path and hex hash), so they need no escaping.
        env.add_function("asset", |path: String| Value::from_safe_string(super::assets::url(&path)));
        env.add_filter("bytes", |n: Option<i64>| n.map(human_bytes).unwrap_or_else(|| "—".into()));
        env.add_filter("num", |n: Option<i64>| n.map(thousands).unwrap_or_else(|| "—".into()));
        env.add_filter("dt", |s: Option<String>| s.map(|s| datetime(&s)).unwrap_or_else(|| "—".into()));
        env.add_filter("ago", |s: Option<String>| s.map(|s| ago(&s)).unwrap_or_else(|| "never".into()));
        env.add_filter("label", |s: String| label(&s));
        env.add_filter("words", |s: String| words(&s));
        env.add_filter("lower", |s: String| s.to_lowercase());
        env
    })
}

/// JSON for a `<script type="application/json">` element: `<`, `>` and `&` are escaped so the
/// data can never end the element.
pub fn script_json<T: serde::Serialize>(value: &T) -> Value {
    let json = serde_json::to_string(value).unwrap_or_else(|_| "null".into());
    Value::from_safe_string(json.replace('<', "\\u003c").replace('>', "\\u003e").replace('&', "\\u0026"))
}

pub fn human_bytes(n: i64) -> String {
    const UNITS: [&str; 6] = ["B", "KB", "MB", "GB", "TB", "PB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v.abs() >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else if v.abs() >= 100.0 {
        format!("{v:.0} {}", UNITS[unit])
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

fn parse(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).ok().map(|d| d.with_timezone(&Utc))
}

fn datetime(s: &str) -> String {
    parse(s).map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string()).unwrap_or_else(|| s.to_owned())
}

fn ago(s: &str) -> String {
    let Some(d) = parse(s) else { return s.to_owned() };
    let secs = (Utc::now() - d).num_seconds();
    match secs {
        i64::MIN..=59 => "just now".into(),
        60..=3599 => format!("{} min ago", secs / 60),
        3600..=86_399 => format!("{} h ago", secs / 3600),
        _ => format!("{} d ago", secs / 86_400),
    }
}

/// `LOST_STOLEN` → `Lost/stolen`, `report-lost` → `Report lost`, `data_only` → `Data only`,
/// `sms_received` → `SMS received`.
pub fn label(s: &str) -> String {
    if s == "LOST_STOLEN" {
        return "Lost/stolen".into();
    }
    let words = s.replace(['_', '-'], " ").to_lowercase();
    let words = words.split(' ').map(|w| if w == "sms" { "SMS" } else { w }).collect::<Vec<_>>().join(" ");
    let mut chars = words.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `provisionCharge` → `Provision charge`: the provider's camel-case names as words.
pub fn words(s: &str) -> String {
    let mut spaced = String::with_capacity(s.len() + 4);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && c.is_uppercase() {
            spaced.push(' ');
        }
        spaced.push(c);
    }
    label(&spaced)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KB");
        assert_eq!(human_bytes(5 * 1024 * 1024 * 1024), "5.0 GB");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(thousands(-1000), "-1,000");
        assert_eq!(label("LOST_STOLEN"), "Lost/stolen");
        assert_eq!(label("report-lost"), "Report lost");
        assert_eq!(words("provisionCharge"), "Provision charge");
        assert_eq!(label("sms_quota_low"), "SMS quota low");
    }

    #[test]
    fn script_json_cannot_close_the_element() {
        let v = script_json(&serde_json::json!({"label": "</script><script>alert(1)</script>"}));
        assert!(!v.to_string().contains("</script>"));
    }

    #[test]
    fn templates_escape_html() {
        let login = env().get_template("login.html").unwrap();
        let html = login.render(minijinja::context! { error => "<b>x</b>", username => "<i>", csrf => "t" }).unwrap();
        assert!(html.contains("&lt;b&gt;x&lt;"));
        assert!(!html.contains("<i>"));
    }
}
