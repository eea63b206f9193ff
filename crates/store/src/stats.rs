//! Aggregates for the dashboard's charts.

use crate::db::{with_db, Dialect, Store};
use crate::error::StoreResult;
use crate::model::{Bucket, BucketCount, TariffCount};
use chrono::{Datelike, Days, NaiveDate, TimeZone, Utc};
use simfleet_domain::SimStatus;
use std::collections::BTreeMap;

impl Store {
    /// Number of SIMs in each status, every status present (zero when none).
    pub async fn sims_by_status(&self) -> StoreResult<Vec<(SimStatus, i64)>> {
        let rows: Vec<(String, i64)> = with_db!(self, c => sqlx::query_as("SELECT status, COUNT(*) FROM sims GROUP BY status").fetch_all(c).await)?;
        let counts: BTreeMap<String, i64> = rows.into_iter().collect();
        Ok(SimStatus::ALL.iter().map(|s| (*s, counts.get(s.as_str()).copied().unwrap_or(0))).collect())
    }

    /// Number of SIMs per tariff plan (plans without SIMs included; SIMs without a plan last).
    pub async fn sims_by_tariff(&self) -> StoreResult<Vec<TariffCount>> {
        let rows: Vec<(Option<i64>, Option<String>, i64)> = with_db!(self, c => sqlx::query_as(
            "SELECT t.id, t.name, COUNT(s.id) FROM tariff_plans t LEFT JOIN sims s ON s.tariff_plan_id = t.id GROUP BY t.id, t.name \
             UNION ALL SELECT NULL, NULL, COUNT(*) FROM sims WHERE tariff_plan_id IS NULL \
             ORDER BY 3 DESC",
        )
        .fetch_all(c)
        .await)?;
        Ok(rows
            .into_iter()
            .filter(|(id, _, n)| id.is_some() || *n > 0)
            .map(|(tariff_plan_id, name, count)| TariffCount { tariff_plan_id, name, count })
            .collect())
    }

    /// SIMs in use (ACTIVE) whose data quota has less than `percent` % of its volume left.
    pub async fn sims_low_on_data(&self, percent: i64) -> StoreResult<i64> {
        Ok(with_db!(self, c => sqlx::query_scalar(
            "SELECT COUNT(*) FROM sim_quotas q JOIN sims s ON s.id = q.sim_id \
             WHERE q.kind = 'data' AND q.total > 0 AND q.remaining * 100 < q.total * $1 AND s.status = 'ACTIVE'",
        )
        .bind(percent)
        .fetch_one(c)
        .await)?)
    }

    /// Activations per day, week (from Monday) or month in `[from, to]` (UTC days), with
    /// empty periods included so that a chart shows gaps as zeros.
    pub async fn activations_over_time(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        bucket: Bucket,
    ) -> StoreResult<Vec<BucketCount>> {
        let day = match self.dialect() {
            Dialect::Sqlite => "substr(created_at, 1, 10)",
            Dialect::Postgres => "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
        };
        let start = Utc.from_utc_datetime(&from.and_hms_opt(0, 0, 0).expect("midnight exists"));
        let end = Utc.from_utc_datetime(&(to + Days::new(1)).and_hms_opt(0, 0, 0).expect("midnight exists"));
        let sql = format!(
            "SELECT {day} AS d, COUNT(*) FROM sim_events WHERE kind = 'ACTIVATED' AND created_at >= $1 AND created_at < $2 GROUP BY d"
        );
        let rows: Vec<(String, i64)> =
            with_db!(self, c => sqlx::query_as(&sql).bind(start).bind(end).fetch_all(c).await)?;

        let mut buckets: BTreeMap<NaiveDate, i64> = BTreeMap::new();
        let mut d = bucket_start(from, bucket);
        while d <= to {
            buckets.insert(d, 0);
            d = next_bucket(d, bucket);
        }
        for (day, n) in rows {
            if let Ok(date) = NaiveDate::parse_from_str(&day, "%Y-%m-%d") {
                *buckets.entry(bucket_start(date, bucket)).or_default() += n;
            }
        }
        Ok(buckets.into_iter().map(|(period, count)| BucketCount { period, count }).collect())
    }
}

/// The first day of the bucket containing `d`.
pub fn bucket_start(d: NaiveDate, bucket: Bucket) -> NaiveDate {
    match bucket {
        Bucket::Day => d,
        Bucket::Week => d - Days::new(u64::from(d.weekday().num_days_from_monday())),
        Bucket::Month => d.with_day(1).expect("day 1 exists"),
    }
}

fn next_bucket(d: NaiveDate, bucket: Bucket) -> NaiveDate {
    match bucket {
        Bucket::Day => d + Days::new(1),
        Bucket::Week => d + Days::new(7),
        Bucket::Month => d.checked_add_months(chrono::Months::new(1)).expect("date in range"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_start_on_monday_and_first_of_month() {
        let d = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap(); // a Sunday
        assert_eq!(bucket_start(d, Bucket::Week), NaiveDate::from_ymd_opt(2026, 11, 16).unwrap());
        assert_eq!(bucket_start(d, Bucket::Month), NaiveDate::from_ymd_opt(2026, 11, 1).unwrap());
        assert_eq!(bucket_start(d, Bucket::Day), d);
    }
}
