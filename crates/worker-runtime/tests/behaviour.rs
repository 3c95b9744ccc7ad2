//! Behavioural tests of the runtime, in-process, each run against both queues:
//! SQS (on moto, results in S3) and the embedded SQLite queue. The SQS-only cases are in
//! `tests/behaviour_sqs.rs`; the test bed is `tests/support/bed.rs`.

mod support;

use support::bed::*;

macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqs {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(super::Backend::sqs().await).await
                }
            )*
        }
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(super::Backend::embedded()).await
                }
            )*
        }
    };
}

both_backends!(
    many_jobs_through_two_workers_give_exactly_one_result_each,
    failures_reach_the_dead_letter_queue_with_their_reason,
    a_panicking_or_hanging_handler_is_retried_then_dead_lettered,
    a_job_lasting_three_visibility_timeouts_is_not_redelivered,
    memory_gate_pauses_receiving_until_usage_drops,
    task_protection_follows_busy_and_idle,
);

/// Issue test 1: 500 jobs through 2 workers; every job exactly one result; queue drained.
async fn many_jobs_through_two_workers_give_exactly_one_result_each(backend: Backend) {
    let ids: Vec<String> = (0..500).map(|i| format!("job-{i:04}")).collect();
    let bodies: Vec<String> = ids
        .iter()
        .map(|id| job(id, (id.len() % 3) as u64))
        .collect();
    backend.send(&bodies).await;
    // A visibility timeout with room for moto's latency under a full parallel test run:
    // a CI run on 2 cores once stalled a heartbeat past 3 s (half of 6 s).
    let config = RuntimeConfig {
        visibility_timeout: Duration::from_secs(10),
        heartbeat_interval: Duration::from_millis(500),
        ..fast_config()
    };
    // One handler shared by both workers: it counts executions per job id, which the
    // keyed result stores cannot (a second run would only overwrite its result).
    let handler = TestHandler::default();
    let a = start_with(
        &backend,
        config.clone(),
        None,
        handler.clone(),
        |s| s,
        |r| r,
    )
    .await;
    let b = start_with(&backend, config, None, handler.clone(), |s| s, |r| r).await;
    let done = backend
        .wait_for(Duration::from_secs(120), |r, c| {
            r.len() == 500 && c == (0, 0)
        })
        .await;
    let (_, sa) = a.stop().await;
    let (_, sb) = b.stop().await;
    let results = backend.results().await;
    assert!(
        done,
        "not drained: {} results, counts {:?}",
        results.len(),
        backend.counts().await
    );
    let got: Vec<&String> = results.keys().collect();
    let want: Vec<&String> = ids.iter().collect();
    assert_eq!(got, want, "exactly the submitted job ids have results");
    // Not only one result each: one run each. Nothing crashed, the heartbeat kept every
    // held message invisible, and receives are atomic (moto is patched to be, like SQS),
    // so no job may have been delivered to both workers or twice to one.
    let executions = handler.executions();
    assert_eq!(executions.len(), 500);
    assert!(
        handler.repeated().is_empty(),
        "run twice: {:?}",
        handler.repeated()
    );
    assert_eq!(get(&sa.succeeded) + get(&sb.succeeded), 500);
    assert_eq!(get(&sa.already_done) + get(&sb.already_done), 0);
    assert!(
        get(&sa.succeeded) > 0 && get(&sb.succeeded) > 0,
        "both workers took part"
    );
    assert!(backend.dead_letters().await.is_empty());
    assert_eq!(backend.counts().await, (0, 0));
}

/// Issue test 4: an always-failing job reaches the DLQ after max_receive_count; malformed
/// JSON and a corrupt image reach it on their first delivery; each with its reason.
async fn failures_reach_the_dead_letter_queue_with_their_reason(backend: Backend) {
    backend
        .send(&[
            failing_job("always", "transient"),
            failing_job("corrupt", "corrupt"),
            job("good", 0),
        ])
        .await;
    // The producer's own attributes travel with a dead-lettered message.
    backend
        .send_with_attribute("{this is not json", "trace-id", "t-42")
        .await;
    let w = start(&backend, fast_config(), None, |r| r).await;
    let mut dead = Vec::new();
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        backend.collect_dead_letters(&mut dead).await;
        if dead.len() >= 3 {
            break;
        }
    }
    let (_, stats) = w.stop().await;
    dead.sort_by(|a, b| a.reason.cmp(&b.reason));
    let reasons: Vec<(&str, &str)> = dead
        .iter()
        .map(|d| (d.reason.as_str(), d.receive_count.as_str()))
        .collect();
    assert_eq!(
        reasons,
        vec![
            ("corrupt_image", "1"),
            ("malformed_json", "1"),
            ("max_receive_count_exceeded", "3"),
        ],
        "{dead:?}"
    );
    assert_eq!(dead[1].body, "{this is not json", "body kept intact");
    assert_eq!(
        dead[1].attributes.get("trace-id").map(String::as_str),
        Some("t-42"),
        "producer attributes copied: {:?}",
        dead[1].attributes
    );
    assert!(
        dead[2].detail.contains("test_transient"),
        "{}",
        dead[2].detail
    );
    assert!(backend.results().await.contains_key("good"));
    assert_eq!(
        get(&stats.retried),
        2,
        "two retries before the third failure"
    );
    assert_eq!(backend.counts().await, (0, 0));
}

/// Issue test 6: a job lasting 3× the visibility timeout is delivered once (heartbeat),
/// even with a second worker polling the same queue.
async fn a_job_lasting_three_visibility_timeouts_is_not_redelivered(backend: Backend) {
    backend.send(&[job("long", 6_500)]).await;
    let a = start(&backend, fast_config(), None, |r| r).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let b = start(&backend, fast_config(), None, |r| r).await;
    let done = backend
        .wait_for(Duration::from_secs(20), |r, c| r.len() == 1 && c == (0, 0))
        .await;
    let (_, sa) = a.stop().await;
    let (_, sb) = b.stop().await;
    assert!(done);
    assert_eq!(
        get(&sa.received) + get(&sb.received),
        1,
        "delivered exactly once"
    );
    assert_eq!(get(&sa.succeeded) + get(&sb.succeeded), 1);
    assert!(
        get(&sa.heartbeat_extensions) + get(&sb.heartbeat_extensions) >= 3,
        "the heartbeat kept it invisible"
    );
}

/// Issue test 7a: above the memory threshold the worker does not receive.
async fn memory_gate_pauses_receiving_until_usage_drops(backend: Backend) {
    let cgroup = tempfile::tempdir().unwrap();
    std::fs::write(cgroup.path().join("memory.max"), "1000000\n").unwrap();
    std::fs::write(cgroup.path().join("memory.current"), "900000\n").unwrap();
    backend.send(&[job("gated", 0)]).await;
    let gate = MemoryGate::new(cgroup.path(), 0.8);
    let w = start(&backend, fast_config(), None, |r| r.with_memory_gate(gate)).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        backend.results().await.is_empty(),
        "no job taken while gated"
    );
    assert_eq!(
        backend.counts().await,
        (1, 0),
        "message left visible for others"
    );
    assert!(get(&w.stats.memory_gated) >= 3);
    assert_eq!(get(&w.stats.receive_calls), 0);
    std::fs::write(cgroup.path().join("memory.current"), "100000\n").unwrap();
    let done = backend
        .wait_for(Duration::from_secs(10), |r, _| r.contains_key("gated"))
        .await;
    w.stop().await;
    assert!(done, "receiving resumed once memory dropped");
}

/// Issue test 7b: protected while a job runs, unprotected when idle, expiry past the
/// visibility timeout; observed through the ECS agent stand-in.
async fn task_protection_follows_busy_and_idle(backend: Backend) {
    let agent = AgentStandIn::start().await;
    let config = fast_config();
    let protection = TaskProtection::new(Some(&agent.uri), config.visibility_timeout).unwrap();
    let w = start(&backend, config.clone(), None, |r| {
        r.with_task_protection(protection)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        agent.states().is_empty(),
        "idle worker never asks for protection"
    );
    backend.send(&[job("protected", 1_500)]).await;
    assert!(
        backend
            .wait_for(Duration::from_secs(10), |r, _| r.len() == 1)
            .await
    );
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        agent.states(),
        vec![true, false],
        "protect once, unprotect once idle"
    );
    let first = agent.requests.lock().unwrap()[0].clone();
    let expiry_s = first["ExpiresInMinutes"].as_u64().unwrap() * 60;
    assert!(expiry_s > config.visibility_timeout.as_secs());
    w.stop().await;
}

/// A handler that panics, and one that never returns (past `job_timeout`), are transient
/// failures: retried, then dead-lettered after max_receive_count with the cause in the
/// detail. Each frees its run slot: with one slot, the good job behind them still runs.
async fn a_panicking_or_hanging_handler_is_retried_then_dead_lettered(backend: Backend) {
    backend
        .send(&[
            failing_job("panics", "panic"),
            failing_job("hangs", "hang"),
            job("good", 0),
        ])
        .await;
    let config = RuntimeConfig {
        parallelism: 1,
        // Long enough that the panicking job's task runs before it even on a loaded
        // machine (at 400 ms a cold CI once counted a panic as a timeout).
        job_timeout: Some(Duration::from_millis(1500)),
        ..fast_config()
    };
    let w = start(&backend, config, None, |r| r).await;
    let mut dead = Vec::new();
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        backend.collect_dead_letters(&mut dead).await;
        if dead.len() >= 2 && backend.results().await.contains_key("good") {
            break;
        }
    }
    let handler = w.handler.clone();
    let (_, stats) = w.stop().await;
    dead.sort_by(|a, b| a.detail.cmp(&b.detail));
    assert_eq!(dead.len(), 2, "{dead:?}");
    for d in &dead {
        assert_eq!(d.reason, "max_receive_count_exceeded", "{d:?}");
        assert_eq!(d.receive_count, MAX_RECEIVE_COUNT.to_string());
    }
    assert!(dead[0].detail.contains("job_timeout"), "{dead:?}");
    assert!(dead[1].detail.contains("worker_panic"), "{dead:?}");
    assert!(backend.results().await.contains_key("good"));
    assert_eq!(get(&stats.job_panics), MAX_RECEIVE_COUNT as u64);
    assert_eq!(get(&stats.job_timeouts), MAX_RECEIVE_COUNT as u64);
    let runs = handler.executions();
    assert_eq!(runs["panics"], MAX_RECEIVE_COUNT);
    assert_eq!(runs["hangs"], MAX_RECEIVE_COUNT);
    assert_eq!(backend.counts().await, (0, 0));
}
