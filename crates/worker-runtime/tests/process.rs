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
    spawn_test_worker(&backend.worker_env(), &extra, dir, name)
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

/// Issue test 2: kill -9 a worker mid-batch, start another; every job completes, none is
/// lost, and nothing is duplicated beyond what a kill forces. Handler executions are
/// counted from both workers' logs: a job may run twice only if it was in flight when
/// the first worker died (started, result not yet stored), and a job whose result the
/// first worker stored is never run again. On SQS the workers also write a result queue,
/// which — unlike the keyed S3 store — shows every duplicate write: each job not in
/// flight at the kill has exactly one result message there.
async fn kill_9_mid_batch_then_restart_loses_and_duplicates_nothing(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let ids: Vec<String> = (0..30).map(|i| format!("k-{i:02}")).collect();
    backend
        .send(&ids.iter().map(|id| job(id, 300)).collect::<Vec<_>>())
        .await;
    let mut env = fast_env(2);
    let result_queue = match backend.is_sqs() {
        true => Some(backend.create_queue("results").await),
        false => None,
    };
    if let Some(url) = &result_queue {
        env.push(("RESULT_QUEUE_URL", url.clone()));
    }
    let mut a = spawn(&backend, &env, dir.path(), "a");
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
    let log_a = a.log_text();
    let ran_a = log_job_ids(&log_a, EXECUTION_LOG);
    let stored_a = log_job_ids(&log_a, "job succeeded");

    let mut b = spawn(&backend, &env, dir.path(), "b");
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
    let ran_b = log_job_ids(&b.log_text(), EXECUTION_LOG);

    let results = backend.results().await;
    assert_eq!(results.keys().cloned().collect::<Vec<_>>(), ids);
    for (worker, ran) in [("a", &ran_a), ("b", &ran_b)] {
        assert!(
            ran.values().all(|n| *n == 1),
            "{worker} ran a job twice: {ran:?}"
        );
    }
    for id in &ids {
        assert!(
            ran_a.contains_key(id) || ran_b.contains_key(id),
            "{id} never ran"
        );
    }
    assert!(!stored_a.is_empty(), "a stored results before the kill");
    for id in stored_a.keys() {
        assert!(
            !ran_b.contains_key(id),
            "{id}: stored by a, yet run again by b"
        );
    }
    let rerun: Vec<&String> = ran_a.keys().filter(|id| ran_b.contains_key(*id)).collect();
    // In flight at the kill: at most what a worker holds (3 slots + a batch of 3).
    assert!(rerun.len() <= 6, "rerun {rerun:?}");
    if let Some(url) = &result_queue {
        let on_queue = backend.drain_result_queue(url).await;
        for id in &ids {
            let n = on_queue.get(id).copied().unwrap_or(0);
            if rerun.contains(&id) {
                assert!((1..=2).contains(&n), "{id}: {n} result messages");
            } else {
                assert_eq!(
                    n, 1,
                    "{id}: {n} result messages (not in flight at the kill)"
                );
            }
        }
    }
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

/// W8: the production default path (no FACEREC_IMDS_ENDPOINT, as Terraform deploys it) on
/// ECS/EC2 (`ECS_CONTAINER_METADATA_URI_V4` set). The metadata service refuses for the
/// first seconds; the watcher keeps trying with backoff instead of concluding "not on
/// EC2", and a notice posted after IMDS comes up still starts the shutdown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spot_watcher_on_ecs_keeps_trying_until_imds_answers() {
    let backend = Backend::embedded();
    let dir = tempfile::tempdir().unwrap();
    let imds = ImdsStandIn::start_down().await;
    let mut base = backend.worker_env();
    base.retain(|(k, _)| k != "AWS_EC2_METADATA_DISABLED");
    base.push((
        "AWS_EC2_METADATA_SERVICE_ENDPOINT".into(),
        imds.endpoint.clone(),
    ));
    base.push((
        "ECS_CONTAINER_METADATA_URI_V4".into(),
        "http://127.0.0.1:9/v4/task".into(),
    ));
    let mut env = fast_env(30);
    env.push(("FACEREC_SPOT_POLL_INTERVAL", "0.2".into()));
    backend.send(&[job("interrupted", 60_000)]).await;
    let extra: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut w = spawn_test_worker(&base, &extra, dir.path(), "w");
    assert!(
        w.wait_log("job started", Duration::from_secs(20)).await,
        "{}",
        w.log_text()
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while *imds.refused.lock().unwrap() < 5 {
        assert!(
            std::time::Instant::now() < deadline,
            "the watcher gave up: {}",
            w.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(w.log_text().contains("Spot notice check failed"));
    assert!(
        !w.log_text().contains("Spot watcher off"),
        "{}",
        w.log_text()
    );
    imds.come_up();
    imds.post_notice();
    let (status, _) = w
        .wait_exit(Duration::from_secs(15))
        .await
        .expect("the notice was read after IMDS came up");
    assert!(status.success());
    assert!(w.log_text().contains("Spot interruption notice"));
    assert_eq!(backend.counts().await, (1, 0));
}

/// W7: a bad value is a start-up error, exit status 2, one line naming the variable —
/// including values that used to be accepted (zero pauses, huge durations) and settings
/// that only fail in combination (SQS without a DLQ or a region).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_setting_exits_2_with_one_line_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut base = aws_env("http://127.0.0.1:9");
    base.push((
        "QUEUE_URL".into(),
        "http://127.0.0.1:9/000000000000/jobs".into(),
    ));
    base.push((
        "DLQ_URL".into(),
        "http://127.0.0.1:9/000000000000/jobs-dlq".into(),
    ));
    base.push(("RESULT_PREFIX".into(), "s3://results/r".into()));
    let cases: Vec<(&str, Option<&str>)> = vec![
        ("FACEREC_QUEUE_RETRY_MAX", Some("0")),
        ("FACEREC_SPOT_POLL_INTERVAL", Some("0")),
        ("FACEREC_STOP_TIMEOUT", Some("1e300")),
        ("FACEREC_RETRY_BACKOFF", Some("-3")),
        ("FACEREC_JOB_TIMEOUT", Some("0")),
        ("FACEREC_STOP_MARGIN", Some("0.5")),
        ("FACE_RECOGNITION_MEMORY_THRESHOLD", Some("1.5")),
        ("SQS_BATCH_SIZE", Some("11")),
        ("RAY_memory_per_process", Some("lots")),
        ("DLQ_URL", None),
        ("AWS_REGION", None),
    ];
    for (i, (var, value)) in cases.into_iter().enumerate() {
        let mut env: Vec<(String, String)> =
            base.iter().filter(|(k, _)| k != var).cloned().collect();
        if let Some(v) = value {
            env.push((var.to_string(), v.to_string()));
        }
        let mut w = spawn_test_worker(&env, &[], dir.path(), &format!("bad-{i}"));
        let (status, _) = w
            .wait_exit(Duration::from_secs(10))
            .await
            .unwrap_or_else(|| panic!("{var}: did not exit: {}", w.log_text()));
        let err = w.log_text();
        assert_eq!(status.code(), Some(2), "{var}: {status:?} {err}");
        let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{var}: not one line: {err}");
        assert!(lines[0].contains(var), "{var} not named: {err}");
    }
}

/// W7: a flag beats the environment — even an invalid environment value is not read when
/// the flag is given.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flag_overrides_its_environment_variable() {
    let backend = Backend::embedded();
    let dir = tempfile::tempdir().unwrap();
    let mut env = fast_env(30);
    env.retain(|(k, _)| *k != "SQS_BATCH_SIZE" && *k != "FACEREC_QUEUE_RETRY_MAX");
    env.push(("SQS_BATCH_SIZE", "11".into()));
    env.push(("FACEREC_QUEUE_RETRY_MAX", "0".into()));
    let extra: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut w = WorkerProcess::spawn_with_args(
        &test_worker_bin(),
        &["--batch-size", "2", "--queue-retry-max", "1"],
        &backend.worker_env(),
        &extra,
        dir.path(),
        "w",
    );
    assert!(
        w.wait_log("worker ready", Duration::from_secs(20)).await,
        "{}",
        w.log_text()
    );
    let started = w
        .log_text()
        .lines()
        .find(|l| l.contains("worker runtime started"))
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .unwrap();
    assert_eq!(started["batch_size"], 2, "{started}");
    w.signal("TERM");
    let (status, _) = w.wait_exit(Duration::from_secs(10)).await.expect("exits");
    assert!(status.success());
}

/// The embedded queue's own redrive: a job that kills the worker on every delivery (the
/// process aborts mid-job, so no worker ever gets to dead-letter it) is moved to the DLQ
/// by the queue itself after max_receive_count deliveries, with its reason; the job
/// beside it completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_queue_dead_letters_a_job_that_kills_every_worker() {
    let backend = Backend::embedded();
    let dir = tempfile::tempdir().unwrap();
    backend
        .send(&[failing_job("killer", "crash"), job("good", 0)])
        .await;
    let mut env = fast_env(1);
    env.retain(|(k, _)| *k != "FACEREC_PARALLELISM" && *k != "SQS_BATCH_SIZE");
    env.push(("FACEREC_PARALLELISM", "1".into()));
    env.push(("SQS_BATCH_SIZE", "1".into()));
    let mut crashes = 0;
    let mut settled = false;
    for i in 0..(MAX_RECEIVE_COUNT + 3) {
        let mut w = spawn(&backend, &env, dir.path(), &format!("w{i}"));
        let end = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = w.child.try_wait().unwrap() {
                assert!(!status.success(), "{}", w.log_text());
                crashes += 1;
                break;
            }
            if backend.dead_letters().await.len() == 1
                && backend.results().await.contains_key("good")
                && backend.counts().await == (0, 0)
            {
                settled = true;
                w.signal("TERM");
                let (status, _) = w.wait_exit(Duration::from_secs(10)).await.expect("exits");
                assert!(status.success());
                break;
            }
            assert!(std::time::Instant::now() < end, "{}", w.log_text());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if settled {
            break;
        }
    }
    assert!(settled, "never settled after {crashes} crashes");
    assert_eq!(crashes, MAX_RECEIVE_COUNT, "one crash per delivery");
    let dead = backend.dead_letters().await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].reason, "max_receive_count_exceeded");
    assert_eq!(dead[0].receive_count, MAX_RECEIVE_COUNT.to_string());
    assert!(dead[0].body.contains("killer"));
}
