//! Process-level tests with the test worker binary (src/bin/test_worker.rs), wired like
//! `facerec-worker`: kill -9, SIGTERM, and the Spot notice. Each runs on both queues.

mod support;

use std::time::Duration;

use support::*;

/// Fast settings for a worker process; `vis` is the visibility timeout in seconds.
fn fast_env(vis: u64) -> Vec<(&'static str, String)> {
    vec![
        ("FACEREC_WAIT_TIME", "1".into()),
        ("FACEREC_VISIBILITY_TIMEOUT", vis.to_string()),
        ("FACEREC_HEARTBEAT_INTERVAL", "0.2".into()),
        ("FACEREC_STOP_TIMEOUT", "4".into()),
        ("FACEREC_STOP_MARGIN", "1".into()),
        ("FACEREC_MAX_RECEIVE_COUNT", MAX_RECEIVE_COUNT.to_string()),
        ("FACEREC_RETRY_BACKOFF", "0".into()),
        ("FACEREC_ACK_LINGER", "0.1".into()),
        ("FACEREC_QUEUE_RETRY_MAX", "1".into()),
        ("FACEREC_PARALLELISM", "3".into()),
        ("SQS_BATCH_SIZE", "3".into()),
    ]
}

fn spawn(
    backend: &Backend,
    env: &[(&'static str, String)],
    dir: &std::path::Path,
    name: &str,
) -> WorkerProcess {
    let extra: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    WorkerProcess::spawn(&backend.worker_env(), &extra, dir, name)
}

macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqs {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Backend::sqs().await).await
                }
            )*
        }
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Backend::embedded()).await
                }
            )*
        }
    };
}

both_backends!(
    kill_9_mid_batch_then_restart_loses_and_duplicates_nothing,
    sigterm_mid_batch_exits_in_deadline_and_releases_unfinished_jobs,
    spot_notice_starts_the_shutdown_path,
);

/// Issue test 2.
async fn kill_9_mid_batch_then_restart_loses_and_duplicates_nothing(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let ids: Vec<String> = (0..30).map(|i| format!("k-{i:02}")).collect();
    backend
        .send(&ids.iter().map(|id| job(id, 300)).collect::<Vec<_>>())
        .await;
    let mut a = spawn(&backend, &fast_env(2), dir.path(), "a");
    assert!(
        backend
            .wait_for(Duration::from_secs(30), |r, _| r.len() >= 6)
            .await,
        "worker a made no progress: {}",
        a.log_text()
    );
    a.signal("KILL");
    a.wait_exit(Duration::from_secs(5)).await.expect("killed");
    let at_kill = backend.results().await.len();
    assert!(at_kill < ids.len(), "killed mid-run, not after it");

    let mut b = spawn(&backend, &fast_env(2), dir.path(), "b");
    let done = backend
        .wait_for(Duration::from_secs(45), |r, c| {
            r.len() == ids.len() && c == (0, 0)
        })
        .await;
    b.signal("TERM");
    let exit = b.wait_exit(Duration::from_secs(10)).await;
    assert!(
        done,
        "not drained: {:?}\n{}",
        backend.counts().await,
        b.log_text()
    );
    let results = backend.results().await;
    assert_eq!(results.keys().cloned().collect::<Vec<_>>(), ids);
    assert!(backend.dead_letters().await.is_empty());
    assert!(exit.is_some_and(|(s, _)| s.success()));
}

/// Issue test 3: SIGTERM while jobs run: a job that can finish before the deadline
/// finishes; the rest are visible again at once (visibility 0, not after the 30 s timeout);
/// exit 0 inside the deadline (stop timeout 4 s − margin 1 s).
async fn sigterm_mid_batch_exits_in_deadline_and_releases_unfinished_jobs(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    backend.send(&[job("finishes", 1_200)]).await;
    let mut w = spawn(&backend, &fast_env(30), dir.path(), "w");
    assert!(
        w.wait_log("job started", Duration::from_secs(20)).await,
        "{}",
        w.log_text()
    );
    let long: Vec<String> = (0..4).map(|i| job(&format!("long-{i}"), 60_000)).collect();
    backend.send(&long).await;
    // Let the worker take some of the long jobs (running and waiting for a slot).
    tokio::time::sleep(Duration::from_millis(400)).await;
    w.signal("TERM");
    let (status, took) = w.wait_exit(Duration::from_secs(8)).await.expect("exited");
    assert!(status.success(), "exit status {status:?}\n{}", w.log_text());
    assert!(took < Duration::from_millis(3_800), "took {took:?}");
    let results = backend.results().await;
    assert_eq!(results.keys().collect::<Vec<_>>(), vec!["finishes"]);
    // Immediately visible again: nothing in flight although the visibility timeout is 30 s.
    assert_eq!(backend.counts().await, (4, 0));
    assert!(w.log_text().contains("released unfinished messages"));
}

/// Issue test 7c: a Spot notice on the IMDS stand-in starts the same shutdown path.
async fn spot_notice_starts_the_shutdown_path(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let imds = ImdsStandIn::start().await;
    let mut env = fast_env(30);
    env.push(("FACEREC_IMDS_ENDPOINT", imds.endpoint.clone()));
    env.push(("FACEREC_SPOT_POLL_INTERVAL", "0.2".into()));
    backend.send(&[job("interrupted", 60_000)]).await;
    let mut w = spawn(&backend, &env, dir.path(), "w");
    assert!(
        w.wait_log("job started", Duration::from_secs(20)).await,
        "{}",
        w.log_text()
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(w.child.try_wait().unwrap().is_none(), "no notice, no exit");
    imds.post_notice();
    let (status, took) = w.wait_exit(Duration::from_secs(8)).await.expect("exited");
    assert!(status.success());
    assert!(took < Duration::from_millis(3_800), "took {took:?}");
    assert!(w.log_text().contains("Spot interruption notice"));
    assert_eq!(
        *imds.unauthorized.lock().unwrap(),
        0,
        "IMDSv2 token always sent"
    );
    assert!(backend.results().await.is_empty());
    assert_eq!(
        backend.counts().await,
        (1, 0),
        "the interrupted job is back in the queue"
    );
}

/// Regression: with stderr closed (a broken log pipe) a stop signal must still stop the
/// worker. tracing's default would `eprintln!` the write error, which panics the task
/// that was logging — once, that was the signal task, and the worker never stopped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_worker_even_with_stderr_closed() {
    use std::io::{BufRead, BufReader};
    let backend = Backend::embedded();
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(test_worker_bin());
    cmd.env_clear()
        .envs(backend.worker_env())
        .envs(fast_env(30))
        .env("FACEREC_HEALTH_FILE", dir.path().join("alive"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("worker ready") {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "worker exited early"
        );
    }
    drop(stderr); // the log pipe breaks
    tokio::time::sleep(Duration::from_millis(200)).await;
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if start.elapsed() > Duration::from_secs(5) {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        status.is_some_and(|s| s.success()),
        "worker ignored SIGTERM: {status:?}"
    );
}
