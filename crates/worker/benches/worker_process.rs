//! The `facerec-worker` process (release build), real models:
//!
//! * start-to-ready time (goal ≤ 0.3 s with models loaded), on the embedded queue and on
//!   SQS (moto on loopback: the SDK clients, the queue URL and the first long poll);
//! * peak resident memory while recognising real photos (goal ≤ 300 MiB), at the default
//!   parallelism (one job per core) and at parallelism 1.
//!
//! `cargo bench -p facerec-worker --bench worker_process` (scripts/bench-worker.sh).
//! Start-to-ready is the worker's own `start_to_ready_ms` (process start → first receive
//! issued, models loaded) and, independently, spawn → "worker ready" line seen by us.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use facerec_worker_runtime::queue::embedded::EmbeddedQueue;
use serde_json::json;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn models() -> PathBuf {
    std::env::var_os("FACEREC_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("models"))
}

/// The binary measured: `$FACEREC_BENCH_WORKER` (e.g. the image's, built by
/// scripts/build-release.sh for glibc 2.34 with zig), else this build's.
fn worker_exe() -> PathBuf {
    std::env::var_os("FACEREC_BENCH_WORKER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_facerec-worker")))
}

/// Spawn the worker with `env` on top of the common settings; stderr to `log`.
fn spawn(env: &[(&str, String)], dir: &Path, log: &Path) -> Child {
    Command::new(worker_exe())
        .env_clear()
        .envs([
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("FACEREC_WAIT_TIME", "1"),
            ("FACEREC_CGROUP_DIR", "/nonexistent"),
        ])
        .env("FACEREC_MODELS", models())
        .env("FACEREC_HEALTH_FILE", dir.join("alive"))
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .expect("spawn facerec-worker")
}

/// The worker's "worker ready" log line, once it appears.
fn wait_ready(log: &Path, timeout: Duration) -> serde_json::Value {
    let end = Instant::now() + timeout;
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if let Some(line) = text.lines().find(|l| l.contains("\"worker ready")) {
            return serde_json::from_str(line).unwrap();
        }
        assert!(Instant::now() < end, "worker never ready:\n{text}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn stop(child: &mut Child) {
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    child.wait().unwrap();
}

fn kib(status: &str, field: &str) -> u64 {
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Seven starts with `env`; prints the worker's own and the observed start-to-ready.
fn start_to_ready(label: &str, dir: &Path, env: impl Fn(usize) -> Vec<(&'static str, String)>) {
    let mut own = Vec::new();
    let mut seen = Vec::new();
    for i in 0..7 {
        let log = dir.join(format!("ready-{label}-{i}.log"));
        let t = Instant::now();
        let mut child = spawn(&env(i), dir, &log);
        let ready = wait_ready(&log, Duration::from_secs(60));
        seen.push(t.elapsed().as_secs_f64() * 1000.0);
        own.push(ready["start_to_ready_ms"].as_f64().unwrap());
        stop(&mut child);
    }
    println!(
        "start-to-ready, {label} (7 runs): worker's own median {:.0} ms (max {:.0}); spawn→ready line median {:.0} ms",
        median(&mut own.clone()),
        own.iter().cloned().fold(0.0, f64::max),
        median(&mut seen)
    );
}

/// Recognise `jobs` photos on an embedded queue; print the throughput and peak RSS.
async fn recognition(dir: &Path, jobs: usize, parallelism: Option<u32>) {
    let photos = repo().join("testdata/faces/fr/examples");
    let images = [
        "obama-480p.jpg",
        "two_people.jpg",
        "biden.jpg",
        "obama.jpg",
        "obama2.jpg",
    ];
    let tag = parallelism.map_or("default".to_string(), |p| p.to_string());
    let qpath = dir.join(format!("work-{tag}.db"));
    let queue = EmbeddedQueue::open(&qpath, "jobs", 5).unwrap();
    let bodies: Vec<String> = (0..jobs)
        .map(|i| {
            json!({"version": 1, "job_id": format!("m-{i}"),
                   "image": photos.join(images[i % images.len()])})
            .to_string()
        })
        .collect();
    queue.send_batch(&bodies).await.unwrap();
    let mut env = vec![("FACEREC_EMBEDDED_QUEUE", qpath.display().to_string())];
    if let Some(p) = parallelism {
        env.push(("FACEREC_PARALLELISM", p.to_string()));
    }
    let log = dir.join(format!("rss-{tag}.log"));
    let t = Instant::now();
    let mut child = spawn(&env, dir, &log);
    let pid = child.id();
    let ready = wait_ready(&log, Duration::from_secs(60));
    let mut peak_rss_kib = 0;
    loop {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        peak_rss_kib = peak_rss_kib.max(kib(&status, "VmHWM:"));
        if queue.result_count().await.unwrap() as usize == jobs {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(900), "bench timed out");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let elapsed = t.elapsed();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    peak_rss_kib = peak_rss_kib.max(kib(&status, "VmHWM:"));
    stop(&mut child);
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    println!(
        "recognition, parallelism {} ({}): {jobs} photos ({}) in {:.1} s = {:.2} jobs/s on {cores} cores; peak RSS (VmHWM) {:.0} MiB",
        ready["parallelism"],
        if parallelism.is_some() { "FACEREC_PARALLELISM" } else { "default: one per core" },
        images.join(", "),
        elapsed.as_secs_f64(),
        jobs as f64 / elapsed.as_secs_f64(),
        peak_rss_kib as f64 / 1024.0
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    println!("measuring {}", worker_exe().display());

    // ---- start-to-ready: embedded queue ----
    start_to_ready("embedded queue", dir.path(), |i| {
        vec![
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9".to_string()),
            (
                "FACEREC_EMBEDDED_QUEUE",
                dir.path()
                    .join(format!("empty-{i}.db"))
                    .display()
                    .to_string(),
            ),
        ]
    });

    // ---- start-to-ready: SQS on moto ----
    let moto = facerec_test_support::MotoServer::start();
    let endpoint = moto.endpoint().to_string();
    let cfg = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(&endpoint)
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .load()
        .await;
    let sqs = aws_sdk_sqs::Client::new(&cfg);
    let mut urls = Vec::new();
    for name in ["bench-jobs", "bench-jobs-dlq"] {
        let out = sqs.create_queue().queue_name(name).send().await.unwrap();
        urls.push(out.queue_url.unwrap());
    }
    start_to_ready("SQS (moto)", dir.path(), |_| {
        vec![
            ("AWS_ENDPOINT_URL", endpoint.clone()),
            ("QUEUE_URL", urls[0].clone()),
            ("DLQ_URL", urls[1].clone()),
            ("RESULT_PREFIX", "s3://bench-results/r".to_string()),
        ]
    });
    drop(moto);

    // ---- resident memory under real recognition ----
    let jobs: usize = std::env::var("BENCH_JOBS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    recognition(dir.path(), jobs, None).await;
    recognition(dir.path(), jobs, Some(1)).await;
}
