//! The `facerec-worker` process (release build) on the embedded queue, real models:
//! start-to-ready time (goal ≤ 0.3 s with models loaded) and peak resident memory while
//! recognising real photos (goal ≤ 300 MiB).
//!
//! `cargo bench -p facerec-worker --bench worker_process` (scripts/bench-worker.sh).
//! Start-to-ready is the worker's own `start_to_ready_ms` (process start → first receive
//! issued, models loaded) and, independently, spawn → "worker ready" line seen by us.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
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

fn spawn(queue: &std::path::Path, dir: &std::path::Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_facerec-worker"))
        .env_clear()
        .envs([
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
            ("FACEREC_WAIT_TIME", "1"),
        ])
        .env("FACEREC_MODELS", models())
        .env("FACEREC_EMBEDDED_QUEUE", queue)
        .env("FACEREC_HEALTH_FILE", dir.join("alive"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn facerec-worker")
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

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let dir = tempfile::tempdir().unwrap();

    // ---- start-to-ready ----
    let mut own = Vec::new();
    let mut seen = Vec::new();
    for i in 0..7 {
        let q = dir.path().join(format!("empty-{i}.db"));
        let t = Instant::now();
        let mut child = spawn(&q, dir.path());
        let stderr = BufReader::new(child.stderr.take().unwrap());
        for line in stderr.lines() {
            let line = line.unwrap();
            if line.contains("\"worker ready") {
                seen.push(t.elapsed().as_secs_f64() * 1000.0);
                let v: serde_json::Value = serde_json::from_str(&line).unwrap();
                own.push(v["start_to_ready_ms"].as_f64().unwrap());
                break;
            }
        }
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        child.wait().unwrap();
    }
    println!(
        "start-to-ready (7 runs): worker's own median {:.0} ms (max {:.0}); spawn→ready line median {:.0} ms",
        median(&mut own.clone()),
        own.iter().cloned().fold(0.0, f64::max),
        median(&mut seen)
    );

    // ---- resident memory under real recognition ----
    let photos = repo().join("testdata/faces/fr/examples");
    let images = [
        "obama-480p.jpg",
        "two_people.jpg",
        "biden.jpg",
        "obama.jpg",
        "obama2.jpg",
    ];
    let jobs: usize = std::env::var("BENCH_JOBS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    let qpath = dir.path().join("work.db");
    let queue = EmbeddedQueue::open(&qpath, "jobs", 5).unwrap();
    let bodies: Vec<String> = (0..jobs)
        .map(|i| {
            json!({"version": 1, "job_id": format!("m-{i}"),
                   "image": photos.join(images[i % images.len()])})
            .to_string()
        })
        .collect();
    queue.send_batch(&bodies).await.unwrap();
    let t = Instant::now();
    let mut child = spawn(&qpath, dir.path());
    let pid = child.id();
    let mut peak_rss_kib = 0;
    loop {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        peak_rss_kib = peak_rss_kib.max(kib(&status, "VmHWM:"));
        if queue.result_count().await.unwrap() as usize == jobs {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(600), "bench timed out");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let elapsed = t.elapsed();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    peak_rss_kib = peak_rss_kib.max(kib(&status, "VmHWM:"));
    Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    child.wait().unwrap();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    println!(
        "recognition: {jobs} photos ({}) in {:.1} s = {:.2} jobs/s on {cores} cores; peak RSS (VmHWM) {:.0} MiB",
        images.join(", "),
        elapsed.as_secs_f64(),
        jobs as f64 / elapsed.as_secs_f64(),
        peak_rss_kib as f64 / 1024.0
    );
}
