//! Behavioural tests of the runtime that need SQS itself (on moto): task protection
//! renewal, health while busy, a failing result queue, releases against heartbeats, a
//! receive in flight at stop, a FIFO dead-letter queue, and an endpoint outage.

mod support;

use support::bed::*;

/// Issue test 7d: a busy task renews its scale-in protection before it expires.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn task_protection_is_renewed_while_busy() {
    let backend = Backend::embedded();
    let agent = AgentStandIn::start().await;
    let config = fast_config();
    let protection = TaskProtection::new(Some(&agent.uri), config.visibility_timeout)
        .unwrap()
        .with_renewal_interval(Duration::from_millis(300));
    let w = start(&backend, config, None, |r| {
        r.with_task_protection(protection)
    })
    .await;
    backend.send(&[job("long", 1_600)]).await;
    assert!(
        backend
            .wait_for(Duration::from_secs(10), |r, _| r.len() == 1)
            .await
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    w.stop().await;
    let states = agent.states();
    let (last, renewals) = states.split_last().unwrap();
    assert!(!last, "unprotected once idle: {states:?}");
    assert!(
        renewals.len() >= 3 && renewals.iter().all(|p| *p),
        "protected, then renewed while the job ran: {states:?}"
    );
}

/// Health while every slot is busy with a long job: the runtime keeps rewriting the health
/// file though the receive loop is waiting, so the container's check never fails a worker
/// merely for being busy.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn health_stays_fresh_while_all_slots_are_busy() {
    let backend = Backend::embedded();
    let dir = tempfile::tempdir().unwrap();
    let file = HealthFile::new(dir.path().join("alive"));
    let config = RuntimeConfig {
        parallelism: 1,
        ..fast_config()
    };
    let health = file.clone();
    let w = start(&backend, config, None, move |r| r.with_health_file(health)).await;
    backend.send(&[job("busy", 2_500)]).await;
    assert!(
        backend
            .wait_for(Duration::from_secs(10), |_, c| c == (0, 1))
            .await
    );
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        file.check(Duration::from_millis(600))
            .expect("fresh and ok while the job runs");
    }
    w.stop().await;
}

/// W1 + W4 + W5: S3 and a result queue, and the result queue fails (it does not exist
/// yet: a permanent error). The result queue is written first and S3 — the sink the
/// "already stored?" check consults — last, so nothing is stored anywhere; the worker
/// holds the finished jobs (no more than its capacity: it stops receiving), reports
/// itself unhealthy, and at shutdown releases them although their store never
/// succeeded. Once the queue exists, a second worker reruns them and every job's result
/// is on both sinks, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_result_queue_loses_no_result_and_blocks_receiving() {
    let backend = Backend::sqs().await;
    let probe = backend.create_queue("results-probe").await;
    let results_url = probe.replace("results-probe", "results");
    let ids: Vec<String> = (0..6).map(|i| format!("r-{i}")).collect();
    backend
        .send(&ids.iter().map(|id| job(id, 0)).collect::<Vec<_>>())
        .await;
    let dir = tempfile::tempdir().unwrap();
    let file = HealthFile::new(dir.path().join("alive"));
    let config = RuntimeConfig {
        parallelism: 1,
        batch_size: 3,
        stop_deadline: Duration::from_secs(1),
        stop_grace: Duration::from_millis(1500),
        queue_retry_max: Duration::from_millis(200),
        ..fast_config()
    };
    let endpoint = backend.endpoint().unwrap().to_string();
    let sqs = sqs_client_for(&endpoint, config.wait_time).await;
    let with_queue =
        |url: String, sqs: aws_sdk_sqs::Client| move |s: ResultSinks| s.with_queue(sqs, url);
    let health = file.clone();
    let metrics: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
    let sink = metrics.clone();
    let emf = EmfEmitter::with_sink("Test", "a", move |l| sink.lock().unwrap().push(l.into()));
    let a = start_with(
        &backend,
        config.clone(),
        None,
        TestHandler::default(),
        with_queue(results_url.clone(), sqs.clone()),
        move |r| r.with_health_file(health).with_emf(emf),
    )
    .await;
    // 1 slot + batch 3 = at most 4 messages held; the other 2 stay in the queue.
    assert!(
        backend
            .wait_for(Duration::from_secs(15), |_, c| c == (2, 4))
            .await,
        "{:?}",
        backend.counts().await
    );
    let calls = get(&a.stats.receive_calls);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(get(&a.stats.receive_calls), calls, "stopped receiving");
    assert_eq!(
        backend.counts().await,
        (2, 4),
        "still held, none redelivered"
    );
    assert!(get(&a.stats.store_errors) >= 3);
    assert_eq!(get(&a.stats.succeeded), 0, "not stored, not succeeded");
    assert!(
        !metrics
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("\"JobsSucceeded\":1")),
        "JobsSucceeded before the result was stored"
    );
    assert!(backend.result_ids().await.is_empty(), "S3 is written last");
    match file.check(Duration::from_secs(2)) {
        Err(facerec_worker_runtime::health::Unhealthy::Reported(r)) => {
            assert!(
                r.contains("storing results") && r.contains("permanent"),
                "{r}"
            )
        }
        other => panic!("expected unhealthy, got {other:?}"),
    }

    // Shutdown with the store still failing: bounded, and everything held is released.
    let t = std::time::Instant::now();
    let (summary, _) = a.stop().await;
    let took = t.elapsed();
    assert!(
        took <= config.stop_deadline + config.stop_grace,
        "took {took:?}"
    );
    assert_eq!(summary.released, 4, "{summary:?}");
    assert_eq!(backend.counts().await, (6, 0), "visible again at once");

    backend.create_queue("results").await;
    let b = start_with(
        &backend,
        config,
        None,
        TestHandler::default(),
        with_queue(results_url.clone(), sqs),
        |r| r,
    )
    .await;
    let done = backend
        .wait_for(Duration::from_secs(20), |r, c| r.len() == 6 && c == (0, 0))
        .await;
    let handler = b.handler.clone();
    let (_, stats) = b.stop().await;
    assert!(done, "{:?}", backend.counts().await);
    assert_eq!(get(&stats.already_done), 0, "nothing was stored: all rerun");
    assert_eq!(handler.executions().len(), 6);
    let on_queue = backend.drain_result_queue(&results_url).await;
    assert_eq!(
        on_queue,
        ids.iter().map(|id| (id.clone(), 1)).collect(),
        "one result-queue message per job"
    );
    assert_eq!(
        backend.result_ids().await.into_keys().collect::<Vec<_>>(),
        ids
    );
}

/// W3: a release is never overtaken by a heartbeat extension picked before it. The queue
/// delays every extension by 500 ms; the stop comes while one is in flight. The release
/// must land after it, leaving both messages visible — not re-hidden for a visibility
/// timeout by the late extension.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_release_is_never_overtaken_by_a_heartbeat() {
    let backend = Backend::embedded();
    backend
        .send(&[job("running", 10_000), job("waiting", 10_000)])
        .await;
    let extending = Arc::new(tokio::sync::Notify::new());
    let queue = SlowExtensions {
        inner: backend.embedded_queue(),
        delay: Duration::from_millis(500),
        started: extending.clone(),
    };
    let config = RuntimeConfig {
        parallelism: 1,
        stop_deadline: Duration::from_millis(200),
        ..fast_config()
    };
    let runtime = Runtime::new(queue, TestHandler::default(), backend.sinks(), config);
    let stop = CancellationToken::new();
    let handle = tokio::spawn(runtime.run(stop.clone()));
    tokio::time::timeout(Duration::from_secs(10), extending.notified())
        .await
        .expect("the heartbeat extends the held messages");
    stop.cancel();
    let summary = handle.await.unwrap();
    assert_eq!(summary.released, 2, "{summary:?}");
    assert_eq!(
        backend.counts().await,
        (2, 0),
        "both visible: the releases landed after the extension"
    );
}

/// W11: a receive already under way when the stop comes is finished, and what it brought
/// is released at once — not dropped mid-flight, which would leave those messages hidden
/// for a whole visibility timeout. The queue holds a receive's messages 500 ms before
/// returning them (a response in transit); the stop comes in that window.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_receive_in_flight_at_stop_is_finished_and_released() {
    let backend = Backend::embedded();
    let arrived = Arc::new(tokio::sync::Notify::new());
    let queue = SlowReceives {
        inner: backend.embedded_queue(),
        delay: Duration::from_millis(500),
        arrived: arrived.clone(),
    };
    let config = RuntimeConfig {
        visibility_timeout: Duration::from_secs(30),
        ..fast_config()
    };
    let runtime = Runtime::new(queue, TestHandler::default(), backend.sinks(), config);
    let stop = CancellationToken::new();
    let handle = tokio::spawn(runtime.run(stop.clone()));
    backend.send(&[job("in-transit", 0)]).await;
    tokio::time::timeout(Duration::from_secs(10), arrived.notified())
        .await
        .expect("received");
    stop.cancel();
    let summary = handle.await.unwrap();
    assert_eq!(summary.released, 1, "{summary:?}");
    assert_eq!(backend.counts().await, (1, 0), "visible again at once");
    assert!(backend.results().await.is_empty(), "not run");
}

/// A FIFO job queue with a FIFO DLQ: the explicit move keeps the message group and is
/// accepted (a FIFO queue refuses a send without a group id).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_fifo_dead_letter_queue_receives_the_message_with_its_reason() {
    let backend = Backend::sqs().await;
    let Backend::Sqs { sqs, .. } = &backend else {
        unreachable!()
    };
    let fifo = |name: &'static str| async move {
        sqs.create_queue()
            .queue_name(name)
            .attributes(aws_sdk_sqs::types::QueueAttributeName::FifoQueue, "true")
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap()
    };
    let jobs_url = fifo("jobs.fifo").await;
    let dlq_url = fifo("jobs-dlq.fifo").await;
    sqs.send_message()
        .queue_url(&jobs_url)
        .message_body("{not json")
        .message_group_id("camera-7")
        .message_deduplication_id("d-1")
        .send()
        .await
        .unwrap();
    let queue = facerec_worker_runtime::queue::sqs::SqsQueue::new(
        sqs_client_for(backend.endpoint().unwrap(), Duration::from_secs(1)).await,
        jobs_url.clone(),
        Some(dlq_url.clone()),
    );
    let runtime = Runtime::new(
        queue,
        TestHandler::default(),
        backend.sinks(),
        fast_config(),
    );
    let stats = runtime.stats();
    let stop = CancellationToken::new();
    let handle = tokio::spawn(runtime.run(stop.clone()));
    let mut dead = Vec::new();
    for _ in 0..50 {
        dead = sqs
            .receive_message()
            .queue_url(&dlq_url)
            .message_attribute_names("All")
            .message_system_attribute_names(
                aws_sdk_sqs::types::MessageSystemAttributeName::MessageGroupId,
            )
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default();
        if !dead.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stop.cancel();
    handle.await.unwrap();
    assert_eq!(
        dead.len(),
        1,
        "dead-lettered: {}",
        get(&stats.dead_lettered)
    );
    let m = &dead[0];
    assert_eq!(m.body(), Some("{not json"));
    assert_eq!(
        m.message_attributes().unwrap()["facerec.error.reason"].string_value(),
        Some("malformed_json")
    );
    assert_eq!(
        m.attributes().unwrap()[&aws_sdk_sqs::types::MessageSystemAttributeName::MessageGroupId],
        "camera-7"
    );
}

/// A queue that holds each non-empty receive's messages for `delay` before returning them.
struct SlowReceives<Q> {
    inner: Q,
    delay: Duration,
    arrived: Arc<tokio::sync::Notify>,
}

impl<Q: JobQueue> JobQueue for SlowReceives<Q> {
    async fn receive(
        &self,
        max: u32,
        wait: Duration,
        visibility: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        let got = self.inner.receive(max, wait, visibility).await?;
        if !got.is_empty() {
            self.arrived.notify_one();
            tokio::time::sleep(self.delay).await;
        }
        Ok(got)
    }
    async fn delete_batch(&self, receipts: &[String]) -> Result<Vec<BatchFailure>, QueueError> {
        self.inner.delete_batch(receipts).await
    }
    async fn change_visibility_batch(
        &self,
        changes: &[VisibilityChange],
    ) -> Result<Vec<BatchFailure>, QueueError> {
        self.inner.change_visibility_batch(changes).await
    }
    async fn dead_letter(
        &self,
        message: &ReceivedMessage,
        reason: &DeadLetterReason,
    ) -> Result<(), QueueError> {
        self.inner.dead_letter(message, reason).await
    }
}

/// A queue whose visibility extensions (timeout > 0) take `delay`, announcing each start.
struct SlowExtensions<Q> {
    inner: Q,
    delay: Duration,
    started: Arc<tokio::sync::Notify>,
}

impl<Q: JobQueue> JobQueue for SlowExtensions<Q> {
    async fn receive(
        &self,
        max: u32,
        wait: Duration,
        visibility: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        self.inner.receive(max, wait, visibility).await
    }
    async fn delete_batch(&self, receipts: &[String]) -> Result<Vec<BatchFailure>, QueueError> {
        self.inner.delete_batch(receipts).await
    }
    async fn change_visibility_batch(
        &self,
        changes: &[VisibilityChange],
    ) -> Result<Vec<BatchFailure>, QueueError> {
        if changes.iter().any(|c| !c.timeout.is_zero()) {
            self.started.notify_one();
            tokio::time::sleep(self.delay).await;
        }
        self.inner.change_visibility_batch(changes).await
    }
    async fn dead_letter(
        &self,
        message: &ReceivedMessage,
        reason: &DeadLetterReason,
    ) -> Result<(), QueueError> {
        self.inner.dead_letter(message, reason).await
    }
}

/// Issue test 5 (SQS only: the embedded queue has no endpoint): SQS and S3 unreachable
/// for 10 s; the worker backs off, recovers, and every job has its result.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqs_endpoint_outage_of_ten_seconds_loses_nothing() {
    let backend = Backend::sqs().await;
    let proxy = OutageProxy::start(backend.endpoint().unwrap()).await;
    let first: Vec<String> = (0..20).map(|i| job(&format!("a-{i:02}"), 50)).collect();
    backend.send(&first).await;
    let w = start(&backend, fast_config(), Some(&proxy.endpoint), |r| r).await;
    assert!(
        backend
            .wait_for(Duration::from_secs(20), |r, _| r.len() >= 3)
            .await
    );
    proxy.set_down(true);
    let second: Vec<String> = (0..20).map(|i| job(&format!("b-{i:02}"), 50)).collect();
    backend.send(&second).await;
    tokio::time::sleep(Duration::from_secs(10)).await;
    let errors_during_outage = get(&w.stats.queue_errors);
    proxy.set_down(false);
    let done = backend
        .wait_for(Duration::from_secs(40), |r, c| r.len() == 40 && c == (0, 0))
        .await;
    let (_, stats) = w.stop().await;
    assert!(done, "recovered: {:?}", backend.counts().await);
    assert!(errors_during_outage > 0, "the outage was noticed");
    // Backoff, not a hot loop: at most a few dozen failed calls in 10 s.
    assert!(
        errors_during_outage < 60,
        "{errors_during_outage} errors in 10 s"
    );
    assert!(backend.dead_letters().await.is_empty());
    assert!(get(&stats.succeeded) + get(&stats.already_done) >= 40);
}
