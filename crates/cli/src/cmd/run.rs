//! `facerec run DIR --gallery GALLERY`: the main job on one machine, on the fleet's own
//! machinery.
//!
//! 1. Every image under DIR becomes a job (contract v1, id from path + content hash) in the
//!    durable embedded queue in `--state` (SQLite). Sending is deduplicated by job id in
//!    the same transaction, so a re-run enqueues only what was never enqueued.
//! 2. A local pool of `--workers` runs the worker runtime (`facerec-worker-runtime`) with
//!    the worker's recognition handler (`facerec-worker`) — the ECS worker's code, with
//!    its heartbeat, retries, dead-lettering and idempotent result store.
//! 3. This command streams stored results (and dead-lettered jobs, with their reason) into
//!    the JSONL `--out` file exactly once per job (`results_file`; for `--format csv` a
//!    ledger the CSV is rewritten from, `run_csv`), draws the progress line, and stops the
//!    pool when every job of DIR is settled.
//!
//! Ctrl-C stops receiving, lets running jobs finish, hands the rest back to the queue, and
//! exits 130; the same command resumes. After `kill -9`, the next run takes back the
//! dead process's in-flight jobs at once (it holds the state's lock, so it is the only
//! consumer) instead of waiting out their visibility timeout.

use crate::progress::ProgressLine;
use crate::results_file::{LineSummary, ResultsFile};
use crate::run_csv::{self, Format};
use crate::{exit, gallery_file, inputs};
use anyhow::Context;
use facerec_engine::{Detector, Engine, ModelPaths};
use facerec_job::{Detector as JobDetector, GallerySpec, JobOptions, JobV1, Limits};
use facerec_worker::recognition::RecognitionHandler;
use facerec_worker::source::ImageSources;
use facerec_worker_runtime::queue::embedded::EmbeddedQueue;
use facerec_worker_runtime::queue::{ATTR_DETAIL, ATTR_REASON};
use facerec_worker_runtime::results::ResultSinks;
use facerec_worker_runtime::{Runtime, RuntimeConfig};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Deliveries before a job that keeps failing transiently is dead-lettered.
const MAX_RECEIVE_COUNT: u32 = 3;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Folder of photos (.jpg, .jpeg, .png, .webp, .gif, .bmp, .tif, .tiff; subfolders
    /// included, hidden ones skipped).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// Gallery file from `facerec enroll`; without it faces are found but not named.
    #[arg(long, value_name = "GALLERY")]
    pub gallery: Option<PathBuf>,
    /// Results file [default: results.jsonl, or results.csv with `--format csv`].
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// `jsonl`: one line per image, appended exactly once. `csv`: one row per face,
    /// rewritten at the end of each run from a JSONL ledger `<out>.jsonl` beside it.
    #[arg(long, value_enum, default_value = "jsonl")]
    pub format: Format,
    /// The durable queue and result store (SQLite); keep it to resume.
    #[arg(long, default_value = ".facerec/run.sqlite", value_name = "FILE")]
    pub state: PathBuf,
    /// Jobs processed at once [default: number of cores].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub workers: Option<u32>,
    /// A face matches a gallery entry when their distance is at most this.
    #[arg(long, default_value_t = 0.6)]
    pub tolerance: f32,
    /// Times to upsample before detecting (finds smaller faces, costs time; HOG only).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(0..=4))]
    pub upsample: u32,
    /// Face detector.
    #[arg(long, value_enum, default_value = "hog")]
    pub model: super::Model,
    /// Folder holding the model files (default: $FACEREC_MODELS, ./models, beside the binary).
    #[arg(long, value_name = "DIR")]
    pub models: Option<PathBuf>,
    /// Larger image files are rejected (`oversized_image`).
    #[arg(long, default_value = "25MiB", value_parser = facerec_worker_runtime::settings::parse_bytes)]
    pub max_image_bytes: u64,
    /// Images declaring more pixels are rejected before decoding (`decompression_bomb`).
    #[arg(long, default_value_t = super::DEFAULT_MAX_PIXELS)]
    pub max_pixels: u64,
    /// Photos whose longer side exceeds this are shrunk to fit before detecting, as
    /// face_recognition's CLI does (boxes are still in the photo's own pixels); 0 never
    /// shrinks.
    #[arg(long, default_value_t = facerec_job::DEFAULT_MAX_SIDE, value_name = "PIXELS")]
    pub max_side: u32,
    /// Put each face's 128-d embedding in its JSONL line (`embedding`), for clustering or
    /// search downstream.
    #[arg(long)]
    pub embeddings: bool,
}

/// One image of DIR and its job.
struct Image {
    shown: String,
    job_id: String,
    body: String,
}

/// Every file under `dir` (recursively, hidden entries skipped), sorted.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.filter_map(|e| e.ok()).collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        if e.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let path = e.path();
        if e.file_type()?.is_dir() {
            walk(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

/// A queue per DIR inside the state file, so runs of different folders sharing the
/// default state never process each other's leftovers.
fn queue_name(dir: &Path) -> String {
    let h = Sha256::digest(dir.as_os_str().as_encoded_bytes());
    let hex: String = h.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("run-{hex}")
}

/// Holds the state file's lock for the life of the run.
struct StateLock(#[allow(dead_code)] std::fs::File);

fn lock_state(state: &Path) -> anyhow::Result<StateLock> {
    let lock_path = state.with_extension("lock");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_context(|| format!("{}: cannot create the lock file", lock_path.display()))?;
    match f.try_lock() {
        Ok(()) => Ok(StateLock(f)),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "{}: another `facerec run` is using this state; wait for it or pass another --state",
            state.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("{}: cannot lock", lock_path.display()))
        }
    }
}

/// The options that shape a run's answers: the detector and its upsampling, the shrinking
/// of big photos, the tolerance, the gallery (path and content). A results file and a state hold answers made with one
/// set of them; `settings_file` keeps it beside each.
fn answer_settings(args: &Args, detector: &str, gallery: Option<&Path>) -> anyhow::Result<Value> {
    let gallery = match gallery {
        Some(g) => {
            let bytes =
                std::fs::read(g).with_context(|| format!("{}: cannot read", g.display()))?;
            let sha: String = Sha256::digest(&bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            json!({"path": g.display().to_string(), "sha256": sha})
        }
        None => Value::Null,
    };
    // The tolerance as typed (0.6, not the f32's 0.6000000238418579).
    let tolerance: f64 = args.tolerance.to_string().parse().unwrap_or(0.0);
    Ok(
        json!({"detector": detector, "upsample": args.upsample, "max_side": args.max_side,
              "tolerance": tolerance, "gallery": gallery, "embeddings": args.embeddings}),
    )
}

/// Where the answer settings of `file` (the results file or the state) are kept.
fn settings_file(file: &Path) -> PathBuf {
    let mut p = file.as_os_str().to_owned();
    p.push(".settings.json");
    PathBuf::from(p)
}

/// What differs between two answer settings, as `key: old → new` (empty: nothing).
fn settings_diff(old: &Value, new: &Value) -> Vec<String> {
    let show = |v: &Value| match v {
        Value::Object(g) => format!(
            "{} (sha256 {}…)",
            g["path"].as_str().unwrap_or("?"),
            g["sha256"].as_str().unwrap_or("?").get(..12).unwrap_or("?")
        ),
        Value::Null => "none".into(),
        other => other.to_string(),
    };
    [
        "detector",
        "upsample",
        "max_side",
        "tolerance",
        "gallery",
        "embeddings",
    ]
    .iter()
    .filter(|k| old.get(**k) != new.get(**k))
    .map(|k| format!("{k}: {} → {}", show(&old[*k]), show(&new[*k])))
    .collect()
}

/// Refuses to add answers made with `settings` to `file` (results or state) when it holds
/// answers made with other ones: a rerun never returns stale answers. Records them for a
/// file that has none yet.
fn check_settings(file: &Path, what: &str, settings: &Value) -> anyhow::Result<()> {
    let sidecar = settings_file(file);
    match std::fs::read(&sidecar) {
        Ok(bytes) => {
            let old: Value = serde_json::from_slice(&bytes)
                .with_context(|| format!("{}: not valid JSON", sidecar.display()))?;
            let diff = settings_diff(&old, settings);
            if !diff.is_empty() {
                anyhow::bail!(
                    "{}: this {what} holds answers made with other options ({}); pass another --out and --state, or delete both to start over",
                    file.display(),
                    diff.join("; ")
                );
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::write(&sidecar, format!("{settings:#}\n"))
                .with_context(|| format!("{}: cannot write", sidecar.display()))
        }
        Err(e) => Err(e).with_context(|| format!("{}: cannot read", sidecar.display())),
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if !(args.tolerance > 0.0 && args.tolerance <= 2.0) {
        anyhow::bail!("--tolerance must be in (0, 2], got {}", args.tolerance);
    }
    if args.format == Format::Csv && args.embeddings {
        anyhow::bail!("--embeddings needs --format jsonl (CSV rows carry no embeddings)");
    }
    let default_out = match args.format {
        Format::Jsonl => "results.jsonl",
        Format::Csv => "results.csv",
    };
    let target = args.out.clone().unwrap_or_else(|| default_out.into());
    // The exactly-once file: `--out` itself for JSONL, the ledger the CSV is made from.
    let ledger = match args.format {
        Format::Jsonl => target.clone(),
        Format::Csv => run_csv::ledger(&target),
    };
    // Everything that can make the whole run pointless fails first, before any work.
    let meta = std::fs::metadata(&args.dir)
        .map_err(|_| anyhow::anyhow!("{}: no such file or directory", args.dir.display()))?;
    if !meta.is_dir() {
        anyhow::bail!("{}: not a folder", args.dir.display());
    }
    let gallery = match &args.gallery {
        Some(g) => {
            gallery_file::read(g)?;
            Some(std::fs::canonicalize(g)?)
        }
        None => None,
    };
    let paths = match &args.models {
        Some(dir) => ModelPaths::in_dir(dir),
        None => ModelPaths::discover()?,
    };
    let engine = Engine::load(&paths).context("loading models")?;
    let (detector, job_detector) = match args.model {
        super::Model::Hog => (
            Detector::Hog {
                upsample: args.upsample,
            },
            "hog",
        ),
        super::Model::Retinaface => (Detector::RetinaFace, "retinaface"),
    };
    // A missing RetinaFace network is one clear error before any job is queued.
    engine.prepare(detector)?;
    let engine = Arc::new(engine);

    let mut files = Vec::new();
    walk(&args.dir, &mut files).with_context(|| format!("{}: cannot list", args.dir.display()))?;
    // Our own files may live under DIR (`--out DIR/results.jsonl`): not photos to report.
    let sidecar = |suffix: &str| {
        let mut p = args.state.clone().into_os_string();
        p.push(suffix);
        PathBuf::from(p)
    };
    let own: Vec<PathBuf> = [
        target.clone(),
        run_csv::temporary(&target),
        ledger.clone(),
        args.state.clone(),
        settings_file(&ledger),
        settings_file(&args.state),
        args.state.with_extension("lock"),
        sidecar("-wal"),
        sidecar("-shm"),
        sidecar("-journal"),
    ]
    .iter()
    .filter_map(|p| std::fs::canonicalize(p).ok())
    .collect();
    files.retain(|f| std::fs::canonicalize(f).map_or(true, |c| !own.contains(&c)));
    let mut input_errors = 0usize;
    let mut not_photos = 0usize;
    let mut images = Vec::new();
    let options = JobOptions {
        tolerance: args.tolerance,
        upsample: args.upsample,
        max_side: args.max_side,
        embeddings: args.embeddings,
        detector: match args.model {
            super::Model::Hog => JobDetector::Hog,
            super::Model::Retinaface => JobDetector::Retinaface,
        },
        ..JobOptions::default()
    };
    for path in files {
        // Other files beside the photos (notes, sidecars, videos) are not inputs that
        // failed: a warning each, and the exit code stays 0, as face_recognition ignores
        // them in its folders.
        if !inputs::has_image_extension(&path) {
            eprintln!("{}", inputs::skipped_warning(&path));
            not_photos += 1;
            continue;
        }
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) => {
                exit::report(format!("{}: cannot read: {e}", path.display()));
                input_errors += 1;
                continue;
            }
        };
        let abs = std::fs::canonicalize(&path)?;
        let job_id = inputs::job_id(&abs, &bytes);
        let mut job = JobV1::builder(&job_id, abs.display().to_string()).options(options.clone());
        if let Some(g) = &gallery {
            job = job.gallery(GallerySpec::Uri(g.display().to_string()));
        }
        let body = match job.build() {
            Ok(job) => job.to_body(),
            // A path the contract cannot carry (not UTF-8 …): that photo's error, the rest run.
            Err(e) => {
                exit::report(format!("{}: {}", path.display(), e.detail));
                input_errors += 1;
                continue;
            }
        };
        images.push(Image {
            shown: path.display().to_string(),
            job_id,
            body,
        });
    }
    if images.is_empty() {
        anyhow::bail!(
            "{}: folder holds no images ({})",
            args.dir.display(),
            inputs::IMAGE_KINDS
        );
    }

    if let Some(parent) = args.state.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("{}: cannot create", parent.display()))?;
    }
    let _lock = lock_state(&args.state)?;
    let settings = answer_settings(&args, job_detector, gallery.as_deref())?;
    check_settings(&args.state, "state", &settings)?;
    let mut out = ResultsFile::open(&ledger)
        .with_context(|| format!("{}: cannot open results file", ledger.display()))?;
    check_settings(&ledger, "results file", &settings)?;
    let workers = args.workers.map(|w| w as usize).unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let dir = std::fs::canonicalize(&args.dir)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let limits = Limits {
        max_image_bytes: args.max_image_bytes,
        max_pixels: args.max_pixels,
    };
    let outcome = rt.block_on(drive(
        &args, &dir, images, &mut out, engine, workers, limits,
    ))?;
    if args.format == Format::Csv {
        run_csv::write(&ledger, &target)
            .with_context(|| format!("{}: cannot write", target.display()))?;
    }
    Ok(summarise(&outcome, &out, &target, input_errors, not_photos))
}

struct Outcome {
    /// job id → shown path, for every image of DIR.
    jobs: Vec<(String, String)>,
    interrupted: bool,
    /// Jobs of DIR neither finished nor dead-lettered after the pool stopped.
    missing: usize,
    processed_now: usize,
    elapsed: Duration,
}

async fn drive(
    args: &Args,
    dir: &Path,
    images: Vec<Image>,
    out: &mut ResultsFile,
    engine: Arc<Engine>,
    workers: usize,
    limits: Limits,
) -> anyhow::Result<Outcome> {
    let state_err = |e: facerec_worker_runtime::queue::QueueError| {
        anyhow::anyhow!("{}: {e}", args.state.display())
    };
    let queue =
        EmbeddedQueue::open(&args.state, &queue_name(dir), MAX_RECEIVE_COUNT).map_err(state_err)?;
    // We hold the lock: anything in flight belongs to a process that died.
    queue.release_in_flight().await.map_err(state_err)?;
    let entries: Vec<(String, String)> = images
        .iter()
        .filter(|i| out.get(&i.job_id).is_none())
        .map(|i| (i.job_id.clone(), i.body.clone()))
        .collect();
    for chunk in entries.chunks(500) {
        queue.send_batch_unique(chunk).await.map_err(state_err)?;
    }
    let jobs: Vec<(String, String)> = images.into_iter().map(|i| (i.job_id, i.shown)).collect();
    let shown: HashMap<&str, &str> = jobs
        .iter()
        .map(|(id, s)| (id.as_str(), s.as_str()))
        .collect();
    let total = jobs.len();
    let count_done = |out: &ResultsFile| {
        jobs.iter()
            .filter_map(|(id, _)| out.get(id))
            .fold((0, 0, 0), |(d, f, e), s| {
                (d + 1, f + s.faces, e + s.error.is_some() as usize)
            })
    };
    let (done_before, _, _) = count_done(out);
    let started = Instant::now();
    if done_before == total {
        return Ok(Outcome {
            jobs,
            interrupted: false,
            missing: 0,
            processed_now: 0,
            elapsed: started.elapsed(),
        });
    }
    eprintln!(
        "facerec run: {} images ({} already done), {workers} workers, state {}",
        total,
        done_before,
        args.state.display()
    );

    let handler = RecognitionHandler::new(
        engine,
        ImageSources::local_files(limits.max_image_bytes),
        true,
        limits,
    );
    let config = RuntimeConfig {
        batch_size: workers.clamp(1, 10) as u32,
        parallelism: workers,
        wait_time: Duration::from_secs(1),
        visibility_timeout: Duration::from_secs(60),
        heartbeat_interval: Duration::from_secs(10),
        max_receive_count: MAX_RECEIVE_COUNT,
        retry_backoff_base: Duration::from_secs(1),
        retry_backoff_max: Duration::from_secs(10),
        stop_deadline: Duration::from_secs(30),
        ack_linger: Duration::from_millis(200),
        queue_retry_max: Duration::from_secs(2),
        ..RuntimeConfig::default()
    };
    let sinks = ResultSinks::default().with_embedded(queue.clone());
    let runtime = Runtime::new(queue.clone(), handler, sinks, config);
    let stop = CancellationToken::new();
    let pool = tokio::spawn(runtime.run(stop.clone()));

    let interrupted = CancellationToken::new();
    {
        let (stop, interrupted) = (stop.clone(), interrupted.clone());
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                interrupted.cancel();
                stop.cancel();
                eprintln!("\nfacerec run: stopping — finishing running jobs (Ctrl-C again to quit now; nothing is lost either way)");
                if tokio::signal::ctrl_c().await.is_ok() {
                    std::process::exit(exit::INTERRUPTED as i32);
                }
            }
        });
    }

    let mut progress = ProgressLine::new(total, done_before);
    let mut cursor = 0i64;
    let mut last_dlq = Instant::now() - Duration::from_secs(10);
    loop {
        collect(&queue, &shown, out, &mut cursor, &mut last_dlq, false).await?;
        let (done, faces, failed) = count_done(out);
        progress.draw(done, faces, failed, false);
        if done == total {
            stop.cancel();
        }
        if stop.is_cancelled() {
            break;
        }
        // Safety net: nothing left in the queue but jobs unaccounted for → stop, report.
        let counts = queue.counts().await.map_err(state_err)?;
        if counts.visible == 0 && counts.in_flight == 0 {
            collect(&queue, &shown, out, &mut cursor, &mut last_dlq, true).await?;
            if count_done(out).0 < total {
                stop.cancel();
                break;
            }
        }
        tokio::select! {
            _ = stop.cancelled() => {}
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
    }
    let _ = pool.await;
    // Jobs that finished while the pool was stopping.
    collect(&queue, &shown, out, &mut cursor, &mut last_dlq, true).await?;
    out.sync()?;
    let (done, faces, failed) = count_done(out);
    progress.draw(done, faces, failed, true);
    Ok(Outcome {
        missing: if interrupted.is_cancelled() {
            0
        } else {
            total - done
        },
        interrupted: interrupted.is_cancelled(),
        processed_now: done - done_before,
        elapsed: started.elapsed(),
        jobs,
    })
}

/// Append newly stored results and (every second, or when `force`) newly dead-lettered
/// jobs of this run to the results file.
async fn collect(
    queue: &EmbeddedQueue,
    shown: &HashMap<&str, &str>,
    out: &mut ResultsFile,
    cursor: &mut i64,
    last_dlq: &mut Instant,
    force: bool,
) -> anyhow::Result<()> {
    loop {
        let batch = queue.results_after(*cursor, 500).await?;
        let Some(last) = batch.last() else { break };
        *cursor = last.0;
        for (_, job_id, body) in &batch {
            if shown.contains_key(job_id.as_str()) {
                let line: Value = serde_json::from_str(body)?;
                out.append(job_id, &line)?;
            }
        }
    }
    if force || last_dlq.elapsed() >= Duration::from_secs(1) {
        *last_dlq = Instant::now();
        for (body, attrs) in queue.dead_letter_queue().peek_all().await? {
            let job: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            let Some(job_id) = job.get("job_id").and_then(Value::as_str) else {
                continue;
            };
            if !shown.contains_key(job_id) {
                continue;
            }
            let line = json!({
                "version": 1,
                "job_id": job_id,
                "image": job.get("image").cloned().unwrap_or(Value::Null),
                "error": {
                    "code": attrs.get(ATTR_REASON).cloned().unwrap_or(Value::Null),
                    "detail": attrs.get(ATTR_DETAIL).cloned().unwrap_or(Value::Null),
                },
            });
            out.append(job_id, &line)?;
        }
    }
    Ok(())
}

fn summarise(
    outcome: &Outcome,
    out: &ResultsFile,
    target: &Path,
    input_errors: usize,
    not_photos: usize,
) -> ExitCode {
    let mut done = 0;
    let mut faces = 0;
    let mut unknown = 0;
    let mut names: BTreeMap<&str, usize> = BTreeMap::new();
    let mut failures: Vec<(&str, &LineSummary)> = Vec::new();
    for (id, shown) in &outcome.jobs {
        let Some(s) = out.get(id) else { continue };
        if s.error.is_some() {
            failures.push((shown, s));
            continue;
        }
        done += 1;
        faces += s.faces;
        for n in &s.names {
            match n {
                Some(n) => *names.entry(n).or_default() += 1,
                None => unknown += 1,
            }
        }
    }
    let total = outcome.jobs.len();
    let rate = outcome.processed_now as f64 / outcome.elapsed.as_secs_f64().max(1e-3);
    println!(
        "{total} images: {done} done, {} dead-lettered, {} not finished; {} processed in this run ({:.1} s, {rate:.2} img/s)",
        failures.len(),
        total - done - failures.len(),
        outcome.processed_now,
        outcome.elapsed.as_secs_f64(),
    );
    println!(
        "faces found: {faces} ({} recognised, {unknown} unknown)",
        faces - unknown
    );
    if !names.is_empty() {
        let list: Vec<String> = names.iter().map(|(n, c)| format!("{n} ({c})")).collect();
        println!("names: {}", list.join(", "));
    }
    if !failures.is_empty() {
        println!("dead-lettered:");
        for (shown, s) in &failures {
            let (code, detail) = s.error.as_ref().expect("failures have errors");
            println!("  {shown}: {code}: {detail}");
        }
    }
    if input_errors > 0 {
        println!("{input_errors} file(s) could not be read (see the lines above)");
    }
    if not_photos > 0 {
        println!("{not_photos} file(s) skipped: not image files");
    }
    println!("results: {}", target.display());
    if outcome.interrupted {
        eprintln!("facerec run: interrupted; run the same command again to resume");
        return ExitCode::from(exit::INTERRUPTED);
    }
    if outcome.missing > 0 {
        eprintln!(
            "facerec run: {} job(s) neither finished nor dead-lettered; run again to retry them",
            outcome.missing
        );
    }
    exit::finished(!failures.is_empty() || input_errors > 0 || outcome.missing > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_diff_names_what_changed() {
        let a = json!({"detector": "hog", "upsample": 1, "tolerance": 0.6,
                       "gallery": {"path": "/g/a.json", "sha256": "0123456789abcdef"}});
        assert!(settings_diff(&a, &a).is_empty());
        let mut b = a.clone();
        b["tolerance"] = json!(0.5);
        b["gallery"]["sha256"] = json!("fedcba9876543210");
        assert_eq!(
            settings_diff(&a, &b),
            [
                "tolerance: 0.6 → 0.5",
                "gallery: /g/a.json (sha256 0123456789ab…) → /g/a.json (sha256 fedcba987654…)"
            ]
        );
        let mut c = a.clone();
        c["gallery"] = Value::Null;
        assert_eq!(
            settings_diff(&a, &c),
            ["gallery: /g/a.json (sha256 0123456789ab…) → none"]
        );
    }
}
