//! Timestamps written as chrono writes them (RFC 3339 in UTC, `Z`, as many fraction digits as
//! the value needs: none, 3, 6 or 9), without going through `fmt`: on a page of 100 SIMs,
//! chrono's formatter, which hands the serializer one character at a time, was a tenth of the
//! server's work. Use as `#[serde(serialize_with = "rfc3339::serialize")]`.

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde::Serializer;

pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    let mut buf = [0u8; 30];
    match write(t, &mut buf) {
        Some(n) => s.serialize_str(std::str::from_utf8(&buf[..n]).expect("only ASCII digits and separators")),
        // Years beyond 0000-9999 and leap seconds: rare enough for chrono's own formatting.
        None => serde::Serialize::serialize(t, s),
    }
}

/// Writes `t` into `buf` and returns the length, or `None` for what only chrono handles.
fn write(t: &DateTime<Utc>, buf: &mut [u8; 30]) -> Option<usize> {
    let (date, time) = (t.date_naive(), t.time());
    let nanos = time.nanosecond();
    if !(0..=9999).contains(&date.year()) || nanos >= 1_000_000_000 {
        return None;
    }
    put(buf, 0, date.year() as u32, 4);
    buf[4] = b'-';
    put(buf, 5, date.month(), 2);
    buf[7] = b'-';
    put(buf, 8, date.day(), 2);
    buf[10] = b'T';
    put(buf, 11, time.hour(), 2);
    buf[13] = b':';
    put(buf, 14, time.minute(), 2);
    buf[16] = b':';
    put(buf, 17, time.second(), 2);
    let mut end = 19;
    let fraction = match nanos {
        0 => None,
        n if n % 1_000_000 == 0 => Some((n / 1_000_000, 3)),
        n if n % 1_000 == 0 => Some((n / 1_000, 6)),
        n => Some((n, 9)),
    };
    if let Some((value, width)) = fraction {
        buf[end] = b'.';
        put(buf, end + 1, value, width);
        end += 1 + width;
    }
    buf[end] = b'Z';
    Some(end + 1)
}

/// `value` as exactly `width` decimal digits at `buf[at..]`.
fn put(buf: &mut [u8], at: usize, mut value: u32, width: usize) {
    for slot in buf[at..at + width].iter_mut().rev() {
        *slot = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    #[derive(serde::Serialize)]
    struct Fast(#[serde(serialize_with = "super::serialize")] chrono::DateTime<Utc>);

    #[test]
    fn writes_exactly_what_chrono_writes() {
        let base = Utc.with_ymd_and_hms(2026, 12, 3, 8, 4, 9).unwrap();
        let mut times = vec![
            base,
            Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(10000, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(-1, 6, 15, 12, 0, 0).unwrap(),
        ];
        for nanos in [1, 7, 120, 1_000, 451_828_000, 451_828_123, 5_000_000, 999_999_999, 100_000_000] {
            times.push(base + chrono::TimeDelta::nanoseconds(nanos));
        }
        times.push(chrono::DateTime::from_timestamp(1_483_228_799, 1_500_000_000).unwrap());
        for t in times {
            let chrono_text = serde_json::to_string(&t).unwrap();
            assert_eq!(serde_json::to_string(&Fast(t)).unwrap(), chrono_text, "{t:?}");
        }
    }
}
