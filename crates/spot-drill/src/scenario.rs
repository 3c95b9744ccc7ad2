//! The drill, step by step:
//!
//! 1. moto on a free port; the jobs queue (visibility 30 s, redrive to the DLQ), the DLQ
//!    and the result bucket; N v1 jobs sent before any worker starts.
//! 2. W worker processes, production settings except where the drill says otherwise
//!    (batch 3, parallelism 2, visibility 30 s, stop timeout 120 s − margin 10 s, long
//!    polls of 20 s), each polling its own IMDSv2 stand-in.
//! 3. Work underway (a quarter of the results stored by default), then the victim's next
//!    receive: its health file is touched right after every receive, and with parallelism
//!    below the batch size a fresh batch means it holds jobs it has not started — the case
//!    a Spot notice must handle. Its IMDS then announces `terminate` at now + 120 s.
//! 4. Watch the victim release and exit; optionally play ECS's SIGTERM later (by then the
//!    notice path should have finished).
//! 5. Wait until every job has a result and the queue is empty, stop the others with
//!    SIGTERM, and collect: worker logs, IMDS observations, result documents, queue and
//!    DLQ counts → [`DrillReport`].

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context};
use clap::Args;

use crate::drill_aws::DrillAws;
use crate::drill_worker::{job_body, EXECUTION_LOG, RESULT_WORKER_PREFIX};
use crate::imds::ImdsStandIn;
use crate::moto::{default_python, MotoServer};
use crate::report::{secs_between, DrillReport, VictimReport, WorkerRow};
use crate::worker_log::{self, WorkerLog};
use crate::worker_process::WorkerProcess;

/// What the drill runs. Defaults are the documented run.
#[derive(Debug, Clone, Args)]
pub struct DrillOptions {
    /// Jobs sent to the queue.
    #[arg(long, default_value_t = 120, value_parser = clap::value_parser!(u64).range(3..=100_000))]
    pub jobs: u64,
    /// Worker processes (one is interrupted; the others finish its jobs).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(2..=32))]
    pub workers: u64,
    /// Jobs each worker runs at once (FACEREC_PARALLELISM).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub parallelism: u32,
    /// Messages per receive (SQS_BATCH_SIZE).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=10))]
    pub batch_size: u32,
    /// Visibility timeout of received messages, seconds.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(2..=43_200))]
    pub visibility_timeout: u64,
    /// Shortest simulated job, milliseconds.
    #[arg(long, default_value_t = 2_000)]
    pub job_ms_min: u64,
    /// Longest simulated job, milliseconds.
    #[arg(long, default_value_t = 5_000)]
    pub job_ms_max: u64,
    /// How often each worker polls its IMDS for a Spot notice, seconds
    /// (FACEREC_SPOT_POLL_INTERVAL; the worker's default is 5).
    #[arg(long, default_value = "1", value_parser = parse_secs)]
    pub spot_poll: Duration,
    /// Results stored before the interruption is announced (default: a quarter of the jobs).
    #[arg(long)]
    pub notice_after_results: Option<u64>,
    /// Time from the notice to the announced termination: EC2's two-minute warning, and
    /// the budget the victim must release its jobs and exit within.
    #[arg(long, default_value = "120", value_parser = parse_secs)]
    pub budget: Duration,
    /// Play ECS's SIGTERM to the victim this long after the notice if it is still
    /// running (0: never). ECS drains the instance and stops its task some time after
    /// the notice; the worker should have left by then.
    #[arg(long, default_value = "20", value_parser = parse_secs)]
    pub sigterm_after: Duration,
    /// Give up (and fail) if the whole drill takes longer, seconds.
    #[arg(long, default_value = "600", value_parser = parse_secs)]
    pub timeout: Duration,
    /// Keep the worker logs in this directory (default: a temporary one, removed).
    #[arg(long)]
    pub log_dir: Option<PathBuf>,
    /// The executable started as `EXE worker` (default: this one).
    #[arg(long)]
    pub worker_exe: Option<PathBuf>,
    /// Python with moto installed (default: FACEREC_MOTO_PYTHON or the repo's .venv).
    #[arg(long)]
    pub moto_python: Option<PathBuf>,
}

fn parse_secs(s: &str) -> Result<Duration, String> {
    facerec_worker_runtime::launch::parse_secs(s)
}

impl DrillOptions {
    /// Parse drill options from command-line style arguments (tests use the CLI's words).
    pub fn from_args<I, T>(args: I) -> Result<DrillOptions, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        #[derive(clap::Parser)]
        struct Wrapper {
            #[command(flatten)]
            options: DrillOptions,
        }
        let args = std::iter::once(std::ffi::OsString::from("spot-drill"))
            .chain(args.into_iter().map(Into::into));
        <Wrapper as clap::Parser>::try_parse_from(args).map(|w| w.options)
    }

    pub fn notice_threshold(&self) -> u64 {
        self.notice_after_results.unwrap_or(self.jobs / 4).max(1)
    }

    fn validate(&self) -> anyhow::Result<()> {
        if self.job_ms_min > self.job_ms_max {
            bail!("--job-ms-min must not exceed --job-ms-max");
        }
        if self.notice_threshold() >= self.jobs {
            bail!(
                "--notice-after-results must be below --jobs: the victim needs work left to hold"
            );
        }
        if self.budget.is_zero() {
            bail!("--budget must be positive");
        }
        Ok(())
    }

    /// Worker settings on top of the queue environment.
    fn worker_settings(&self, instance: &str, imds: &str) -> Vec<(String, String)> {
        [
            ("FACEREC_DRILL_INSTANCE", instance.to_string()),
            ("FACEREC_DRILL_JOB_MS_MIN", self.job_ms_min.to_string()),
            ("FACEREC_DRILL_JOB_MS_MAX", self.job_ms_max.to_string()),
            ("FACEREC_IMDS_ENDPOINT", imds.to_string()),
            (
                "FACEREC_SPOT_POLL_INTERVAL",
                self.spot_poll.as_secs_f64().to_string(),
            ),
            ("FACEREC_PARALLELISM", self.parallelism.to_string()),
            ("SQS_BATCH_SIZE", self.batch_size.to_string()),
            (
                "FACEREC_VISIBILITY_TIMEOUT",
                self.visibility_timeout.to_string(),
            ),
            // ECS's stopTimeout and the worker's margin, as deployed.
            ("FACEREC_STOP_TIMEOUT", "120".to_string()),
            ("FACEREC_STOP_MARGIN", "10".to_string()),
            // No cgroup memory gate: this machine's limits are not an instance's.
            ("FACEREC_CGROUP_DIR", "/nonexistent".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }
}

/// Progress lines on stderr, with the time since the drill started.
struct Progress(Instant);

impl Progress {
    fn say(&self, what: impl std::fmt::Display) {
        eprintln!("[{:7.2}s] {what}", self.0.elapsed().as_secs_f64());
    }
}

/// Poll `cond` every `every` until it returns `Some` or `limit` passes.
async fn poll_until<T, F, Fut>(limit: Duration, every: Duration, mut cond: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let end = Instant::now() + limit;
    loop {
        if let Some(v) = cond().await {
            return Some(v);
        }
        if Instant::now() >= end {
            return None;
        }
        tokio::time::sleep(every).await;
    }
}

fn log_tail(w: &WorkerProcess) -> String {
    let text = w.log_text();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// Run the drill and measure it. Errors are failures to *run* it (moto missing, a worker
/// that never starts, a step that times out); what the run shows is in the report.
pub async fn run_drill(opts: &DrillOptions) -> anyhow::Result<DrillReport> {
    opts.validate()?;
    let progress = Progress(Instant::now());
    let deadline = Instant::now() + opts.timeout;
    let left = || deadline.saturating_duration_since(Instant::now());

    let temp;
    let dir = match &opts.log_dir {
        Some(d) => {
            std::fs::create_dir_all(d).with_context(|| format!("create {}", d.display()))?;
            d.clone()
        }
        None => {
            temp = tempfile::tempdir().context("temporary directory")?;
            temp.path().to_path_buf()
        }
    };
    let exe = match &opts.worker_exe {
        Some(p) => p.clone(),
        None => std::env::current_exe().context("locate this executable")?,
    };

    // 1. moto, queues, bucket, jobs.
    let python = opts.moto_python.clone().unwrap_or_else(default_python);
    let moto = tokio::task::spawn_blocking(move || MotoServer::try_start_with(&python)).await??;
    progress.say(format_args!("moto at {}", moto.endpoint()));
    let aws = DrillAws::create(moto.endpoint(), opts.visibility_timeout).await?;
    let ids: Vec<String> = (0..opts.jobs).map(|i| format!("drill-{i:05}")).collect();
    let bodies: Vec<String> = ids.iter().map(|id| job_body(id)).collect();
    aws.send_jobs(&bodies).await?;
    progress.say(format_args!(
        "{} v1 jobs sent to {}",
        ids.len(),
        aws.queue_url
    ));

    // 2. Workers, each with its own IMDS.
    let mut imds = Vec::new();
    let mut workers = Vec::new();
    for i in 0..opts.workers {
        let name = format!("i-drill-{}", i + 1);
        let stand_in = ImdsStandIn::start().await.context("IMDS stand-in")?;
        let mut env = aws.worker_env();
        env.extend(opts.worker_settings(&name, &stand_in.endpoint));
        workers.push(WorkerProcess::spawn(&exe, &name, &env, &dir)?);
        imds.push(stand_in);
    }
    for w in &mut workers {
        let ready = poll_until(
            Duration::from_secs(60).min(left()),
            Duration::from_millis(50),
            || {
                let ok = w.log().first(worker_log::READY).is_some();
                async move { ok.then_some(()) }
            },
        )
        .await;
        if ready.is_none() || !w.is_running() {
            bail!("worker {} did not start:\n{}", w.name, log_tail(w));
        }
    }
    progress.say(format_args!(
        "{} workers receiving (parallelism {}, batch {}, visibility {} s)",
        workers.len(),
        opts.parallelism,
        opts.batch_size,
        opts.visibility_timeout
    ));

    // 3. Work underway, then the victim's next receive, then the notice.
    let threshold = opts.notice_threshold() as usize;
    let underway = poll_until(left(), Duration::from_millis(200), || async {
        let n = aws.result_ids().await.map(|r| r.len()).unwrap_or(0);
        (n >= threshold).then_some(n)
    })
    .await
    .context("timed out waiting for work to get underway")?;
    for w in &mut workers {
        if !w.is_running() {
            bail!(
                "worker {} exited before the notice:\n{}",
                w.name,
                log_tail(w)
            );
        }
    }
    let victim = 0;
    let before = workers[victim].health_touched_at();
    let fresh_batch = poll_until(
        Duration::from_secs(30).min(left()),
        Duration::from_millis(5),
        || {
            let now = workers[victim].health_touched_at();
            async move { (now != before).then_some(()) }
        },
    )
    .await
    .is_some();
    let notice_body = imds[victim].announce_interruption(opts.budget);
    let notice_at = imds[victim]
        .observations()
        .announced_at
        .context("notice not recorded")?;
    progress.say(format_args!(
        "{underway} results stored; {}; IMDS of {} announces {notice_body}",
        if fresh_batch {
            "the victim just received a batch"
        } else {
            "no receive by the victim within 30 s"
        },
        workers[victim].name
    ));

    // 4. The victim leaves; ECS's SIGTERM comes later if it has not.
    let mut sigterm_sent_at = None;
    let victim_limit = opts.budget + Duration::from_secs(15);
    let exit = loop {
        if let Some(exit) = workers[victim].poll_exit() {
            break Some(exit);
        }
        let since = SystemTime::now()
            .duration_since(notice_at)
            .unwrap_or_default();
        if !opts.sigterm_after.is_zero() && since >= opts.sigterm_after && sigterm_sent_at.is_none()
        {
            workers[victim].signal("TERM")?;
            sigterm_sent_at = Some(SystemTime::now());
            progress.say("ECS SIGTERM sent to the victim (still running)");
        }
        if since >= victim_limit || left().is_zero() {
            progress.say("victim still running past the budget: killing it");
            workers[victim].signal("KILL")?;
            break None;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    if let Some((status, at)) = exit {
        progress.say(format_args!(
            "victim exited ({status}) {:.2} s after the notice",
            secs_between(notice_at, at)
        ));
    }

    // 5. The others finish everything; then they are stopped and everything collected.
    let total = ids.len();
    let drained = poll_until(left(), Duration::from_millis(100), || async {
        let results = aws.result_ids().await.ok()?.len();
        let counts = aws.counts(&aws.queue_url).await.ok()?;
        (results >= total && counts.total() == 0).then(SystemTime::now)
    })
    .await;
    match drained {
        Some(at) => progress.say(format_args!(
            "all {total} results stored, queue empty, {:.2} s after the notice",
            secs_between(notice_at, at)
        )),
        None => progress.say("timed out waiting for the queue to drain"),
    }
    for w in workers.iter_mut().skip(1) {
        w.signal("TERM")?;
    }
    for w in workers.iter_mut().skip(1) {
        let exited = poll_until(Duration::from_secs(30), Duration::from_millis(20), || {
            let e = w.poll_exit();
            async move { e }
        })
        .await;
        if exited.is_none() {
            w.signal("KILL")?;
        }
    }
    progress.say("other workers stopped");

    let logs: Vec<WorkerLog> = workers.iter().map(|w| w.log()).collect();
    let documents = aws.result_documents().await?;
    let queue = aws.counts(&aws.queue_url).await?;
    let dlq = aws.counts(&aws.dlq_url).await?;
    let observations = imds[victim].observations();

    // Who stored which result, and how often each job ran.
    let mut executions: BTreeMap<String, u64> = BTreeMap::new();
    let mut successes: BTreeMap<String, (String, SystemTime)> = BTreeMap::new();
    let mut success_count: u64 = 0;
    let mut redelivered: BTreeMap<String, String> = BTreeMap::new();
    let mut redelivered_started: Vec<SystemTime> = Vec::new();
    for (w, log) in workers.iter().zip(&logs) {
        for e in log.with_message(EXECUTION_LOG) {
            if let Some(id) = e.str_field("job_id") {
                *executions.entry(id.to_string()).or_default() += 1;
            }
        }
        for e in log.with_message(worker_log::JOB_SUCCEEDED) {
            if let Some(id) = e.str_field("job_id") {
                success_count += 1;
                successes.insert(id.to_string(), (w.name.clone(), e.at));
            }
        }
        for e in log.with_message(worker_log::JOB_STARTED) {
            if e.u64_field("receive_count").unwrap_or(1) >= 2 {
                if let Some(id) = e.str_field("job_id") {
                    redelivered.insert(id.to_string(), w.name.clone());
                    redelivered_started.push(e.at);
                }
            }
        }
    }
    let victim_log = &logs[victim];
    let victim_name = workers[victim].name.clone();
    let released_events: Vec<_> = victim_log.with_message(worker_log::RELEASED).collect();
    let victim_successes: Vec<SystemTime> = victim_log
        .with_message(worker_log::JOB_SUCCEEDED)
        .map(|e| e.at)
        .collect();
    let released_done_at = redelivered
        .keys()
        .filter_map(|id| successes.get(id).map(|(_, at)| *at))
        .max();

    let mut rows = Vec::new();
    for (i, (w, log)) in workers.iter_mut().zip(&logs).enumerate() {
        let stored = documents
            .values()
            .filter(|d| d["worker"].as_str() == Some(&format!("{RESULT_WORKER_PREFIX}{}", w.name)))
            .count() as u64;
        let exit = w.poll_exit();
        rows.push(WorkerRow {
            name: w.name.clone(),
            victim: i == victim,
            executions: log.with_message(EXECUTION_LOG).count() as u64,
            results_stored: stored,
            redelivered_jobs_run: redelivered.values().filter(|n| **n == w.name).count() as u64,
            exit_ok: exit.is_some_and(|(s, _)| s.success()),
        });
    }

    let victim_report = VictimReport {
        name: victim_name,
        fresh_batch_trigger: fresh_batch,
        notice_body,
        imds_polls: observations.polls,
        imds_unauthorized: observations.unauthorized,
        notice_read_s: observations
            .first_served_at
            .map(|t| secs_between(notice_at, t)),
        shutdown_logged_s: victim_log
            .first(worker_log::SPOT_NOTICE)
            .map(|e| secs_between(notice_at, e.at)),
        release_s: released_events
            .first()
            .map(|e| secs_between(notice_at, e.at)),
        released: released_events
            .iter()
            .filter_map(|e| e.u64_field("count"))
            .sum(),
        released_while_running: released_events
            .iter()
            .filter(|e| e.str_field("state") == Some("Running"))
            .filter_map(|e| e.u64_field("count"))
            .sum(),
        finished_before_notice: victim_successes.iter().filter(|t| **t < notice_at).count() as u64,
        finished_after_notice: victim_successes.iter().filter(|t| **t >= notice_at).count() as u64,
        deadline_hit: victim_log.summary_field("deadline_hit").as_deref() == Some("true"),
        exit_s: exit.map(|(_, at)| secs_between(notice_at, at)),
        exit_ok: exit.is_some_and(|(s, _)| s.success()),
        sigterm_sent_s: sigterm_sent_at.map(|t| secs_between(notice_at, t)),
    };

    Ok(DrillReport {
        jobs: ids,
        options: opts.clone(),
        victim: victim_report,
        redelivered,
        released_started_s: redelivered_started
            .iter()
            .max()
            .map(|t| secs_between(notice_at, *t)),
        released_done_s: released_done_at.map(|t| secs_between(notice_at, t)),
        all_done_s: drained.map(|t| secs_between(notice_at, t)),
        documents,
        executions,
        success_count,
        queue,
        dlq,
        workers: rows,
    })
}
