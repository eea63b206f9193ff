//! Runs jobs on their intervals and on demand, never two runs of the same job at once in
//! this process.

use crate::jobs::{Job, JobOutcome, Syncer};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;

/// How long a job lease lasts without renewal: a crashed instance blocks a job this long at most.
const LEASE_TTL: chrono::TimeDelta = chrono::TimeDelta::minutes(2);
const LEASE_RENEW: Duration = Duration::from_secs(30);

pub struct Runner {
    syncer: Syncer,
    running: HashMap<Job, Mutex<()>>,
    intervals: HashMap<Job, Duration>,
}

/// Default intervals between runs, overridable per job.
pub fn default_interval(job: Job) -> Duration {
    match job {
        Job::Sims => Duration::from_secs(15 * 60),
        Job::Usage => Duration::from_secs(60 * 60),
        Job::Quotas => Duration::from_secs(30 * 60),
        Job::Connectivity => Duration::from_secs(15 * 60),
        Job::Outbox => Duration::from_secs(10),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("a {0} run is already in progress")]
    Busy(&'static str),
    #[error("another instance is running the {0} job")]
    Elsewhere(&'static str),
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

impl Runner {
    pub fn new(syncer: Syncer, intervals: HashMap<Job, Duration>) -> Arc<Runner> {
        let running = Job::ALL.into_iter().map(|j| (j, Mutex::new(()))).collect();
        Arc::new(Runner { syncer, running, intervals })
    }

    pub fn interval(&self, job: Job) -> Duration {
        self.intervals.get(&job).copied().unwrap_or_else(|| default_interval(job))
    }

    pub fn is_running(&self, job: Job) -> bool {
        self.running[&job].try_lock().is_err()
    }

    /// Runs `job` now, unless a run of it is in progress here or in another instance sharing
    /// the database: each run holds a lease on the job, renewed while it lasts.
    pub async fn run(&self, job: Job) -> Result<JobOutcome, RunError> {
        let _guard = self.running[&job].try_lock().map_err(|_| RunError::Busy(job.as_str()))?;
        let store = self.syncer.store();
        let holder = self.syncer.instance();
        if !store.acquire_job_lease(job.as_str(), holder, LEASE_TTL).await.map_err(anyhow::Error::from)? {
            return Err(RunError::Elsewhere(job.as_str()));
        }
        let renew = async {
            let mut tick = tokio::time::interval(LEASE_RENEW);
            tick.tick().await;
            loop {
                tick.tick().await;
                if let Err(e) = store.acquire_job_lease(job.as_str(), holder, LEASE_TTL).await {
                    tracing::warn!(job = job.as_str(), error = %e, "could not renew the job lease");
                }
            }
        };
        let result = tokio::select! {
            r = self.syncer.run(job) => r,
            _ = renew => unreachable!("the renewal loop never ends"),
        };
        if let Err(e) = store.release_job_lease(job.as_str(), holder).await {
            tracing::warn!(job = job.as_str(), error = %e, "could not release the job lease; it expires by itself");
        }
        Ok(result?)
    }

    /// Starts `job` in the background, unless a run of it is in progress.
    pub fn spawn(self: &Arc<Self>, job: Job) -> Result<(), RunError> {
        if self.is_running(job) {
            return Err(RunError::Busy(job.as_str()));
        }
        let runner = Arc::clone(self);
        tokio::spawn(async move {
            if let Err(e) = runner.run(job).await {
                tracing::warn!(job = job.as_str(), error = %e, "job did not run");
            }
        });
        Ok(())
    }

    /// Runs every job on its interval until `shutdown` resolves. The SIM sync runs first, so
    /// that the other jobs know the SIMs.
    pub async fn schedule(self: Arc<Self>, shutdown: impl std::future::Future<Output = ()>) {
        let _ = self.run(Job::Sims).await;
        let loops = Job::ALL.into_iter().map(|job| {
            let runner = Arc::clone(&self);
            async move {
                let mut tick = tokio::time::interval(runner.interval(job));
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                if job == Job::Sims {
                    tick.tick().await; // just ran
                }
                loop {
                    tick.tick().await;
                    match runner.run(job).await {
                        Ok(_) | Err(RunError::Busy(_)) | Err(RunError::Elsewhere(_)) => {}
                        Err(e) => tracing::error!(job = job.as_str(), error = %e, "scheduled job failed"),
                    }
                }
            }
        });
        tokio::select! {
            _ = futures::future::join_all(loops) => {}
            _ = shutdown => tracing::info!("scheduler stopped"),
        }
    }
}
