//! Job metrics, recorded through the `metrics` facade (a no-op unless the application
//! installs a recorder, as `simfleet serve` does for `/metrics`).

use crate::jobs::Job;
use std::time::Duration;

pub const JOB_RUNS: &str = "simfleet_job_runs_total";
pub const JOB_DURATION: &str = "simfleet_job_duration_seconds";
pub const JOB_LAST_SUCCESS: &str = "simfleet_job_last_success_timestamp_seconds";
pub const JOB_ITEMS: &str = "simfleet_job_items_total";

/// One finished run in this process: `status` is `success`, `partial` or `failed`.
pub(crate) fn record_run(job: Job, status: &'static str, took: Duration, ok: i64, failed: i64) {
    let name = job.as_str();
    metrics::counter!(JOB_RUNS, "job" => name, "status" => status).increment(1);
    metrics::histogram!(JOB_DURATION, "job" => name).record(took.as_secs_f64());
    metrics::counter!(JOB_ITEMS, "job" => name, "result" => "ok").increment(ok.max(0) as u64);
    metrics::counter!(JOB_ITEMS, "job" => name, "result" => "failed").increment(failed.max(0) as u64);
    if status != "failed" {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        metrics::gauge!(JOB_LAST_SUCCESS, "job" => name).set(now.as_secs_f64());
    }
}
