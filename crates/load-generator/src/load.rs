//! One load test: the send loop paces the schedule and hands due jobs to concurrent
//! [`BatchSender`] calls, while the sampler records the queue's depth until sending has
//! finished and `--watch-after` has passed (or the queue has drained, if asked).

use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::arrivals::Schedule;
use crate::error::LoadError;
use crate::job::JobFactory;
use crate::sampler::{queue_depth, DepthRecorder, DepthSample, QueueDepth};
use crate::sender::{BatchSender, Outgoing, MAX_BATCH};

/// Everything a run needs, validated.
#[derive(Debug, Clone)]
pub struct LoadPlan {
    pub queue_url: String,
    pub schedule: Schedule,
    pub jobs: JobFactory,
    pub sample_every: Duration,
    pub watch_after: Duration,
    /// End the watch early once nothing is visible, in flight or delayed.
    pub stop_when_drained: bool,
    pub out: Option<PathBuf>,
    /// `SendMessageBatch` calls in flight at once.
    pub concurrency: usize,
}

/// What happened, printed at the end.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadSummary {
    pub run_id: String,
    pub queue_url: String,
    pub jobs_planned: usize,
    pub jobs_sent: u64,
    /// Start to the last accepted batch.
    pub send_seconds: f64,
    /// Start to the last sample.
    pub total_seconds: f64,
    /// Worst delay between a job's scheduled time and its batch leaving.
    pub max_lag_seconds: f64,
    /// Messages already in the queue before the first job was sent.
    pub initial_depth: QueueDepth,
    pub peak_visible: u64,
    pub peak_visible_at: f64,
    pub samples: usize,
    /// Samples lost to `GetQueueAttributes` errors (the run goes on without them).
    pub sample_errors: usize,
    pub out: Option<PathBuf>,
    /// Stopped early by Ctrl-C.
    pub interrupted: bool,
}

impl fmt::Display for LoadSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "run id:        {}", self.run_id)?;
        writeln!(f, "queue:         {}", self.queue_url)?;
        writeln!(
            f,
            "jobs sent:     {} of {}{}",
            self.jobs_sent,
            self.jobs_planned,
            if self.interrupted {
                " (interrupted)"
            } else {
                ""
            }
        )?;
        writeln!(
            f,
            "duration:      {:.1} s sending (max lag behind schedule {:.3} s), {:.1} s in all",
            self.send_seconds, self.max_lag_seconds, self.total_seconds
        )?;
        writeln!(
            f,
            "peak visible:  {} at t={:.1} s",
            self.peak_visible, self.peak_visible_at
        )?;
        if self.initial_depth.total() > 0 {
            writeln!(
                f,
                "note:          the queue held {} messages before the run; counts include them",
                self.initial_depth.total()
            )?;
        }
        write!(f, "samples:       {}", self.samples)?;
        if self.sample_errors > 0 {
            write!(f, " ({} failed)", self.sample_errors)?;
        }
        if let Some(out) = &self.out {
            write!(f, " -> {}", out.display())?;
        }
        Ok(())
    }
}

/// Runs the plan against `client`'s queue. `stop` ends sending early (Ctrl-C in the
/// binary); what was sent so far is still summarised.
pub async fn execute(
    plan: LoadPlan,
    client: aws_sdk_sqs::Client,
    stop: impl std::future::Future<Output = ()>,
) -> Result<LoadSummary, LoadError> {
    // Fail fast on a wrong URL, missing permission or unreachable endpoint, and note
    // what was already queued.
    let initial_depth = queue_depth(&client, &plan.queue_url).await?;
    let mut recorder = DepthRecorder::create(plan.out.as_deref())?;

    let start = Instant::now();
    let sent = Arc::new(AtomicU64::new(0));
    // `None` while sending; then when sending ended.
    let (done_tx, done_rx) = watch::channel(None::<Instant>);

    let sampler = {
        let client = client.clone();
        let queue_url = plan.queue_url.clone();
        let sent = sent.clone();
        let (every, watch_after, drained) =
            (plan.sample_every, plan.watch_after, plan.stop_when_drained);
        async move {
            let mut errors = 0usize;
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut done_rx = done_rx;
            loop {
                let finished = *done_rx.borrow();
                let last = finished.is_some_and(|at| Instant::now() >= at + watch_after);
                match queue_depth(&client, &queue_url).await {
                    Ok(depth) => {
                        // Read after the counts came back, so `sent` covers them.
                        let sample = DepthSample {
                            t_seconds: start.elapsed().as_secs_f64(),
                            sent: sent.load(Ordering::SeqCst),
                            depth,
                        };
                        recorder.record(sample)?;
                        if finished.is_some() && drained && depth.total() == 0 {
                            break;
                        }
                    }
                    Err(e) => {
                        errors += 1;
                        eprintln!("facerec-load: sample skipped: {e}");
                    }
                }
                if last {
                    break;
                }
                let deadline = finished.map(|at| at + watch_after);
                tokio::select! {
                    _ = ticks.tick() => {}
                    // Sending just ended: sample at once so the end is on record.
                    _ = done_rx.changed(), if finished.is_none() => {}
                    _ = tokio::time::sleep_until(deadline.unwrap_or(start)), if deadline.is_some() => {}
                }
            }
            Ok::<_, LoadError>((recorder, errors))
        }
    };
    let sampler = tokio::spawn(sampler);

    let sending = send_schedule(&plan, &client, start, sent.clone(), stop).await;
    let _ = done_tx.send(Some(Instant::now()));
    let (recorder, sample_errors) = sampler.await.map_err(|e| LoadError::QueueUnreadable {
        queue: plan.queue_url.clone(),
        detail: format!("sampler stopped: {e}"),
    })??;
    let outcome = sending?;

    let peak = recorder.peak_visible();
    Ok(LoadSummary {
        run_id: plan.jobs.run_id().to_string(),
        queue_url: plan.queue_url.clone(),
        jobs_planned: plan.schedule.len(),
        jobs_sent: sent.load(Ordering::SeqCst),
        send_seconds: outcome.send_seconds,
        total_seconds: start.elapsed().as_secs_f64(),
        max_lag_seconds: outcome.max_lag.as_secs_f64(),
        initial_depth,
        peak_visible: peak.map_or(0, |s| s.depth.visible),
        peak_visible_at: peak.map_or(0.0, |s| s.t_seconds),
        samples: recorder.samples().len(),
        sample_errors,
        out: plan.out.clone(),
        interrupted: outcome.interrupted,
    })
}

struct SendOutcome {
    send_seconds: f64,
    max_lag: Duration,
    interrupted: bool,
}

/// Paces the schedule: at each due time, every job due by now goes out in batches of
/// up to 10, at most `concurrency` calls at once. A failed batch stops the run.
async fn send_schedule(
    plan: &LoadPlan,
    client: &aws_sdk_sqs::Client,
    start: Instant,
    sent: Arc<AtomicU64>,
    stop: impl std::future::Future<Output = ()>,
) -> Result<SendOutcome, LoadError> {
    let sender = BatchSender::new(client.clone(), plan.queue_url.clone());
    let slots = Arc::new(Semaphore::new(plan.concurrency.max(1)));
    let mut calls: JoinSet<Result<(), LoadError>> = JoinSet::new();
    let offsets = &plan.schedule.offsets;
    let mut max_lag = Duration::ZERO;
    let mut interrupted = false;
    let mut failure = None;
    let mut next = 0;
    tokio::pin!(stop);

    'schedule: while next < offsets.len() {
        tokio::select! {
            _ = tokio::time::sleep_until(start + offsets[next]) => {}
            _ = &mut stop => { interrupted = true; break; }
        }
        let now = Instant::now();
        let due_end = next + offsets[next..].partition_point(|&o| start + o <= now);
        for chunk_start in (next..due_end).step_by(MAX_BATCH) {
            let chunk_end = (chunk_start + MAX_BATCH).min(due_end);
            let permit = tokio::select! {
                p = slots.clone().acquire_owned() => p.expect("semaphore is never closed"),
                _ = &mut stop => { interrupted = true; break 'schedule; }
            };
            // Surface a failed batch before sending more.
            while let Some(done) = calls.try_join_next() {
                if let Err(e) = flatten(done) {
                    failure = Some(e);
                    break 'schedule;
                }
            }
            max_lag =
                max_lag.max(Instant::now().saturating_duration_since(start + offsets[chunk_start]));
            let batch = (chunk_start..chunk_end)
                .map(|seq| {
                    Ok(Outgoing {
                        job_id: plan.jobs.job_id(seq),
                        body: plan.jobs.body(seq)?,
                    })
                })
                .collect::<Result<Vec<_>, LoadError>>()?;
            let (sender, sent) = (sender.clone(), sent.clone());
            calls.spawn(async move {
                let n = batch.len() as u64;
                sender.send(batch).await?;
                sent.fetch_add(n, Ordering::SeqCst);
                drop(permit);
                Ok(())
            });
        }
        next = due_end;
    }
    while let Some(done) = calls.join_next().await {
        if let Err(e) = flatten(done) {
            failure.get_or_insert(e);
        }
    }
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(SendOutcome {
        send_seconds: start.elapsed().as_secs_f64(),
        max_lag,
        interrupted,
    })
}

fn flatten(done: Result<Result<(), LoadError>, tokio::task::JoinError>) -> Result<(), LoadError> {
    done.unwrap_or_else(|e| {
        Err(LoadError::Send {
            queue: String::new(),
            attempts: 0,
            detail: format!("send task failed: {e}"),
        })
    })
}
