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
        Job::Events => Duration::from_secs(15 * 60),
        Job::Outbox => Duration::from_secs(10),
        Job::Sms => Duration::from_secs(30 * 60),
        Job::Alerts => Duration::from_secs(5 * 60),
        Job::Notify => Duration::from_secs(10),
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

    /// The jobs' provider access, for on-the-spot provider calls of the HTTP layer.
    pub fn syncer(&self) -> &Syncer {
        &self.syncer
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
            // A process of this host that died mid-run (killed, crashed) cannot renew its lease:
            // take it over now rather than wait for it to expire.
            let stale = store.job_lease_holder(job.as_str()).await.map_err(anyhow::Error::from)?;
            let Some(stale) = stale.filter(|h| h != holder && crate::jobs::is_dead_local_instance(h)) else {
                return Err(RunError::Elsewhere(job.as_str()));
            };
            tracing::warn!(job = job.as_str(), holder = %stale, "taking over the lease of an instance that has ended");
            store.release_job_lease(job.as_str(), &stale).await.map_err(anyhow::Error::from)?;
            if !store.acquire_job_lease(job.as_str(), holder, LEASE_TTL).await.map_err(anyhow::Error::from)? {
                return Err(RunError::Elsewhere(job.as_str()));
            }
        }
        let abandoned = store.abandon_running_job_runs(job.as_str()).await.map_err(anyhow::Error::from)?;
        if abandoned > 0 {
            tracing::warn!(
                job = job.as_str(),
                runs = abandoned,
                "marked runs left unfinished by an ended process as failed"
            );
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
        drop(_guard);
        let outcome = result?;
        let fresh_data = job.feeds_alerts() && outcome.status != "failed";
        let refused_actions = job == Job::Outbox && outcome.status == "partial";
        if fresh_data || refused_actions {
            // Evaluate the rules now rather than at the next alerts tick. Delivery stays with
            // the notify job, so a slow channel never holds up a sync.
            match Box::pin(self.run(Job::Alerts)).await {
                Ok(_) | Err(RunError::Busy(_)) | Err(RunError::Elsewhere(_)) => {}
                Err(e) => tracing::warn!(error = %e, "alert evaluation after {} failed", job.as_str()),
            }
        }
        Ok(outcome)
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

    /// Runs every job on its interval until `shutdown` resolves. A job whose last run (by any
    /// instance) succeeded less than an interval ago waits for its turn, so that a restart does
    /// not re-read the whole account. The very first SIM sync runs before the other jobs, so
    /// that they know the SIMs. Shutdown is a safe point between runs: no new run starts, and
    /// runs in progress finish (and record their outcome) before this returns.
    pub async fn schedule(self: Arc<Self>, shutdown: impl std::future::Future<Output = ()> + Send + 'static) {
        use futures::FutureExt;
        let shutdown = shutdown.boxed().shared();
        if shutdown.clone().now_or_never().is_some() {
            return;
        }
        let last_runs = match self.syncer.store().last_job_runs().await {
            Ok(runs) => runs,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the last job runs; running every job now");
                Vec::new()
            }
        };
        let now = simfleet_store::now();
        let first_delay = |job: Job| -> Duration {
            last_runs
                .iter()
                .find(|r| r.job == job.as_str() && r.status != "failed" && r.status != "running")
                .and_then(|r| (r.started_at + self.interval(job) - now).to_std().ok())
                .unwrap_or(Duration::ZERO)
        };
        let sims_delay = first_delay(Job::Sims);
        if sims_delay.is_zero() {
            let _ = self.run(Job::Sims).await;
        }
        let loops = Job::ALL.into_iter().map(|job| {
            let runner = Arc::clone(&self);
            let shutdown = shutdown.clone();
            let period = runner.interval(job);
            let delay = if job == Job::Sims && sims_delay.is_zero() { period } else { first_delay(job) };
            async move {
                let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + delay, period);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tokio::select! {
                        biased;
                        _ = shutdown.clone() => break,
                        _ = tick.tick() => {}
                    }
                    match runner.run(job).await {
                        Ok(_) | Err(RunError::Busy(_)) | Err(RunError::Elsewhere(_)) => {}
                        Err(e) => tracing::error!(job = job.as_str(), error = %e, "scheduled job failed"),
                    }
                }
            }
        });
        futures::future::join_all(loops).await;
        tracing::info!("scheduler stopped");
    }
}
