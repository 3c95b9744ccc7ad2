//! The handler over an in-memory cluster: the AWS sample events, malformed and unknown
//! events, duplicate delivery (and what it counts), error classification, and every way
//! the lifecycle wait can end. (The same handler against the real SDK and moto is in
//! `tests/moto.rs`.)

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use aws_lambda_events::event::sqs::SqsEvent;
use facerec_spot_handler::{
    marks, ClusterControl, ContainerInstance, FleetError, HandlerConfig, LifecycleAction,
    LifecycleHooks, LifecycleWait, RecordOutcome, RecordedMetrics, SkipReason, SpotHandler,
    WaitEnd,
};
use serde_json::{json, Value};

const OURS: &str = "i-1234567890abcdef0";
const OUR_ARN: &str = "arn:aws:ecs:us-east-2:123456789012:container-instance/facerec/ours";
/// The hook of the lifecycle sample event, configured as ours.
const OUR_HOOK: &str = "my-lifecycle-hook";
const SAMPLE_TOKEN: &str = "87654321-4321-4321-4321-210987654321";

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// An SQS event as Lambda delivers it, one record per (message id, body).
fn sqs_event(records: &[(&str, Option<&str>)]) -> SqsEvent {
    let template: Value = serde_json::from_str(&fixture("sqs-record-template.json")).unwrap();
    let records: Vec<Value> = records
        .iter()
        .map(|(id, body)| {
            let mut r = template.clone();
            r["messageId"] = json!(id);
            match body {
                Some(b) => r["body"] = json!(b),
                None => {
                    r.as_object_mut().unwrap().remove("body");
                }
            }
            r
        })
        .collect();
    serde_json::from_value(json!({ "Records": records })).unwrap()
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Call {
    Find(String),
    Describe(String),
    Drain(String),
    Mark(String, String),
    Heartbeat(String),
    Complete(String),
}

/// A cluster in memory. Tasks stop after `stop_after_polls` describes of a draining
/// instance, like ECS replacing them elsewhere; the other knobs inject what AWS can do
/// mid-wait.
#[derive(Default)]
struct MemoryFleet {
    instances: Mutex<HashMap<String, ContainerInstance>>,
    calls: Mutex<Vec<Call>>,
    stop_after_polls: Option<usize>,
    /// The container instance deregisters on this describe.
    deregister_at_poll: Option<usize>,
    /// The first `n` describes fail with this error (`usize::MAX`: all of them).
    fail_describe: Option<(FleetError, usize)>,
    /// Heartbeats after the first `n` find the action gone.
    heartbeat_gone_after: Option<usize>,
    polls: Mutex<usize>,
    fail_drain: Option<FleetError>,
    fail_mark: Option<FleetError>,
    fail_complete: Option<FleetError>,
}

impl MemoryFleet {
    fn with_instance(ec2: &str, arn: &str, status: &str, running: i32) -> Self {
        let fleet = Self::default();
        fleet.add(ec2, arn, status, running);
        fleet
    }

    fn add(&self, ec2: &str, arn: &str, status: &str, running: i32) {
        self.instances.lock().unwrap().insert(
            ec2.into(),
            ContainerInstance {
                arn: arn.into(),
                ec2_instance_id: ec2.into(),
                status: status.into(),
                availability_zone: Some("us-east-2a".into()),
                running_tasks: running,
                pending_tasks: 0,
                marks: BTreeMap::new(),
            },
        );
    }

    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    fn count(&self, pred: impl Fn(&Call) -> bool) -> usize {
        self.calls().iter().filter(|c| pred(c)).count()
    }

    fn status(&self, ec2: &str) -> String {
        self.instances.lock().unwrap()[ec2].status.clone()
    }

    fn marks(&self, ec2: &str) -> BTreeMap<String, String> {
        self.instances.lock().unwrap()[ec2].marks.clone()
    }
}

impl ClusterControl for MemoryFleet {
    async fn find_by_ec2_instance(
        &self,
        id: &str,
    ) -> Result<Option<ContainerInstance>, FleetError> {
        self.calls.lock().unwrap().push(Call::Find(id.into()));
        Ok(self.instances.lock().unwrap().get(id).cloned())
    }

    async fn describe(&self, arn: &str) -> Result<Option<ContainerInstance>, FleetError> {
        self.calls.lock().unwrap().push(Call::Describe(arn.into()));
        let mut polls = self.polls.lock().unwrap();
        *polls += 1;
        if let Some((error, times)) = &self.fail_describe {
            if *polls <= *times {
                return Err(error.clone());
            }
        }
        let mut instances = self.instances.lock().unwrap();
        if self.deregister_at_poll == Some(*polls) {
            instances.retain(|_, ci| ci.arn != arn);
        }
        let found = instances.values_mut().find(|ci| ci.arn == arn);
        Ok(found.map(|ci| {
            if self.stop_after_polls.is_some_and(|n| *polls >= n) && ci.is_draining() {
                ci.running_tasks = 0;
            }
            ci.clone()
        }))
    }

    async fn set_draining(&self, arn: &str) -> Result<bool, FleetError> {
        self.calls.lock().unwrap().push(Call::Drain(arn.into()));
        if let Some(e) = &self.fail_drain {
            return Err(e.clone());
        }
        let mut instances = self.instances.lock().unwrap();
        match instances.values_mut().find(|ci| ci.arn == arn) {
            Some(ci) => {
                ci.status = "DRAINING".into();
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn mark(&self, arn: &str, name: &str, value: &str) -> Result<(), FleetError> {
        self.calls
            .lock()
            .unwrap()
            .push(Call::Mark(name.into(), value.into()));
        if let Some(e) = &self.fail_mark {
            return Err(e.clone());
        }
        if let Some(ci) = self
            .instances
            .lock()
            .unwrap()
            .values_mut()
            .find(|ci| ci.arn == arn)
        {
            ci.marks.insert(name.into(), value.into());
        }
        Ok(())
    }
}

impl LifecycleHooks for MemoryFleet {
    async fn record_heartbeat(&self, action: &LifecycleAction) -> Result<(), FleetError> {
        let mut calls = self.calls.lock().unwrap();
        let earlier = calls
            .iter()
            .filter(|c| matches!(c, Call::Heartbeat(_)))
            .count();
        calls.push(Call::Heartbeat(action.token.clone()));
        match self.heartbeat_gone_after {
            Some(n) if earlier >= n => Err(FleetError::LifecycleActionGone(format!(
                "No active Lifecycle Action found with token {}",
                action.token
            ))),
            _ => Ok(()),
        }
    }

    async fn complete_continue(&self, action: &LifecycleAction) -> Result<(), FleetError> {
        self.calls
            .lock()
            .unwrap()
            .push(Call::Complete(action.token.clone()));
        match &self.fail_complete {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }
}

fn config(capacity_rebalance: bool) -> HandlerConfig {
    HandlerConfig {
        cluster_name: "facerec".into(),
        capacity_rebalance,
        autoscaling_group: None,
        lifecycle_hook: Some(OUR_HOOK.into()),
        lifecycle: LifecycleWait {
            max_wait: Duration::from_secs(600),
            poll_interval: Duration::from_secs(5),
            heartbeat_interval: Duration::from_secs(60),
        },
        metrics_namespace: "test/spot".into(),
    }
}

fn handler(fleet: MemoryFleet, config: HandlerConfig) -> SpotHandler<MemoryFleet, RecordedMetrics> {
    SpotHandler::new(config, fleet, RecordedMetrics::default())
}

fn transient() -> FleetError {
    FleetError::Transient {
        operation: "ecs:UpdateContainerInstancesState",
        message: "ThrottlingException".into(),
    }
}

fn permanent(operation: &'static str) -> FleetError {
    FleetError::Permanent {
        operation,
        message: "AccessDeniedException".into(),
    }
}

fn handler_errors(h: &SpotHandler<MemoryFleet, RecordedMetrics>, transient: &str) -> usize {
    h.metrics()
        .records_with("HandlerErrors")
        .iter()
        .filter(|r| r["Transient"] == transient)
        .count()
}

/// The sample event with another id, as a second notice (not a redelivery) would have.
fn with_id(name: &str, id: &str) -> String {
    let mut event: Value = serde_json::from_str(&fixture(name)).unwrap();
    event["id"] = json!(id);
    event.to_string()
}

#[tokio::test]
async fn spot_warning_drains_our_instance_and_counts_it_by_az() {
    let h = handler(
        MemoryFleet::with_instance(OURS, OUR_ARN, "ACTIVE", 1),
        config(false),
    );
    let body = fixture("spot-interruption-warning.json");
    let out = h.handle_batch(sqs_event(&[("m1", Some(&body))])).await;
    assert_eq!(
        out.records[0].outcome,
        RecordOutcome::Drained {
            container_instance_arn: OUR_ARN.into()
        }
    );
    assert_eq!(
        out.records[0].event_id.as_deref(),
        Some("12345678-1234-1234-1234-123456789012")
    );
    assert_eq!(h.fleet().status(OURS), "DRAINING");
    assert!(out.response().batch_item_failures.is_empty());

    let counted = h.metrics().records_with("Interruptions");
    assert_eq!(counted.len(), 1);
    assert_eq!(counted[0]["EventType"], "spot-interruption");
    assert_eq!(counted[0]["AvailabilityZone"], "us-east-2a");
    let latency = h.metrics().records_with("DrainLatency");
    assert_eq!(latency.len(), 1);
    // The sample event is from 2021, so the latency is years; it must at least be positive.
    assert!(latency[0]["DrainLatency"].as_f64().unwrap() > 0.0);
    assert_eq!(latency[0]["DrainedBy"], "handler");
}

#[tokio::test]
async fn spot_warning_for_an_already_draining_instance_changes_nothing() {
    let h = handler(
        MemoryFleet::with_instance(OURS, OUR_ARN, "DRAINING", 1),
        config(false),
    );
    let body = fixture("spot-interruption-warning.json");
    let out = h.handle_batch(sqs_event(&[("m1", Some(&body))])).await;
    assert_eq!(
        out.records[0].outcome,
        RecordOutcome::AlreadyDraining {
            container_instance_arn: OUR_ARN.into()
        }
    );
    assert_eq!(h.fleet().count(|c| matches!(c, Call::Drain(_))), 0);
    assert_eq!(
        h.metrics().records_with("DrainLatency")[0]["DrainedBy"],
        "ecs"
    );
}

#[tokio::test]
async fn rebalance_is_recorded_when_capacity_rebalance_is_off() {
    let h = handler(
        MemoryFleet::with_instance(OURS, OUR_ARN, "ACTIVE", 1),
        config(false),
    );
    let body = fixture("rebalance-recommendation.json");
    let out = h.handle_batch(sqs_event(&[("m1", Some(&body))])).await;
    assert_eq!(
        out.records[0].outcome,
        RecordOutcome::Recorded {
            container_instance_arn: OUR_ARN.into()
        }
    );
    assert_eq!(h.fleet().status(OURS), "ACTIVE");
    let counted = h.metrics().records_with("Interruptions");
    assert_eq!(counted.len(), 1);
    assert_eq!(counted[0]["EventType"], "rebalance-recommendation");
}

#[tokio::test]
async fn rebalance_drains_when_capacity_rebalance_is_on() {
    let h = handler(
        MemoryFleet::with_instance(OURS, OUR_ARN, "ACTIVE", 1),
        config(true),
    );
    let body = fixture("rebalance-recommendation.json");
    let out = h.handle_batch(sqs_event(&[("m1", Some(&body))])).await;
    assert!(matches!(
        out.records[0].outcome,
        RecordOutcome::Drained { .. }
    ));
    assert_eq!(h.fleet().status(OURS), "DRAINING");
}

#[tokio::test(start_paused = true)]
async fn lifecycle_drains_waits_for_tasks_heartbeats_then_continues() {
    let fleet = MemoryFleet {
        // 5 s polls: tasks stop on the 30th describe, ~145 s in, after two heartbeats.
        stop_after_polls: Some(30),
        ..MemoryFleet::with_instance(OURS, OUR_ARN, "ACTIVE", 2)
    };
    let h = handler(fleet, config(false));
    let body = fixture("terminate-lifecycle-action.json");
    let started = tokio::time::Instant::now();
    let out = h.handle_batch(sqs_event(&[("m1", Some(&body))])).await;
    assert_eq!(
        out.records[0].outcome,
        RecordOutcome::LifecycleDone {
            container_instance_arn: Some(OUR_ARN.into()),
            wait: WaitEnd::TasksStopped,
            continued: true
        }
    );
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(140) && waited < Duration::from_secs(150),
        "{waited:?}"
    );
    let calls = h.fleet().calls();
    assert_eq!(
        h.fleet().count(|c| matches!(c, Call::Heartbeat(_))),
        2,
        "{calls:?}"
    );
    // Order matters: drain first, complete last.
    let drain_at = calls
        .iter()
        .position(|c| matches!(c, Call::Drain(_)))
        .unwrap();
    let first_poll = calls
        .iter()
        .position(|c| matches!(c, Call::Describe(_)))
        .unwrap();
    assert!(drain_at < first_poll);
    assert_eq!(calls.last(), Some(&Call::Complete(SAMPLE_TOKEN.into())));
    assert_eq!(h.metrics().records_with("TaskStopLatency").len(), 1);
    let counted = h.metrics().records_with("Interruptions");
    assert_eq!(counted.len(), 1);
    assert_eq!(counted[0]["EventType"], "terminate-lifecycle");
}

#[tokio::test(start_paused = true)]
async fn lifecycle_wait_is_bounded() {
    // Tasks never stop: the handler must still complete the hook at the bound.
    let h = handler(MemoryFleet::with_instance(OURS, OUR_ARN, "ACTIVE", 1), {
        let mut c = config(false);
        c.lifecycle.max_wait = Duration::from_secs(120);
        c
    });
    let body = fixture("terminate-lifecycle-action.json");
    let started = tokio::time::Instant::now();
    let out = h.handle_batch(sqs_event(&[("m1", Some(&body))])).await;
    assert_eq!(
        out.records[0].outcome,
        RecordOutcome::LifecycleDone {
            container_instance_arn: Some(OUR_ARN.into()),
            wait: WaitEnd::BoundReached,
            continued: true
        }
    );
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(120) && waited < Duration::from_secs(126),
        "{waited:?}"
    );
    assert_eq!(h.fleet().count(|c| matches!(c, Call::Complete(_))), 1);
    assert!(h.metrics().records_with("TaskStopLatency").is_empty());
}

#[tokio::test]
async fn lifecycle_for_an_instance_outside_the_cluster_completes_at_once() {
    let h = handler(MemoryFleet::default(), config(false));
    let body = fixture("terminate-lifecycle-action.json");
    let out = h.handle_batch(sqs_event(&[("m1", Some(&body))])).await;
    assert_eq!(
        out.records[0].outcome,
        RecordOutcome::LifecycleDone {
            container_instance_arn: None,
            wait: WaitEnd::NotInCluster,
            continued: true
        }
    );
    assert_eq!(
        h.fleet().calls(),
        vec![Call::Find(OURS.into()), Call::Complete(SAMPLE_TOKEN.into())]
    );
    assert!(h.metrics().records_with("Interruptions").is_empty());
}

#[tokio::test]
async fn lifecycle_of_another_group_is_skipped_when_the_group_is_configured() {
    let mut c = config(false);
    c.autoscaling_group = Some("facerec-workers".into());
    let h = handler(MemoryFleet::with_instance(OURS, OUR_ARN, "ACTIVE", 0), c);
    let body = fixture("terminate-lifecycle-action.json");
    let out = h.handle_batch(sqs_event(&[("m1", Some(&body))])).await;
    assert_eq!(
        out.records[0].outcome,
        RecordOutcome::Skipped(SkipReason::OtherAutoScalingGroup("my-asg".into()))
    );
    assert!(h.fleet().calls().is_empty());
}

#[tokio::test]
async fn lifecycle_already_completed_elsewhere_is_success() {
    let fleet = MemoryFleet {
        fail_complete: Some(FleetError::LifecycleActionGone(
            "No active Lifecycle Action found".into(),
        )),
        ..MemoryFleet::with_instance(OURS, OUR_ARN, "ACTIVE", 0)
    };
    let h = handler(fleet, config(false));
    let body = fixture("terminate-lifecycle-action.json");
    let out = h.handle_batch(sqs_event(&[("m1", Some(&body))])).await;
    assert_eq!(
        out.records[0].outcome,
        RecordOutcome::LifecycleDone {
            container_instance_arn: Some(OUR_ARN.into()),
            wait: WaitEnd::TasksStopped,
            continued: false
        }
    );
    assert!(out.response().batch_item_failures.is_empty());
    // Someone else's CONTINUE ended the wait: no stop latency sample of ours.
    assert!(h.metrics().records_with("TaskStopLatency").is_empty());
}

#[tokio::test]
async fn instances_outside_the_cluster_are_skipped() {
    let h = handler(
        MemoryFleet::with_instance("i-0000000000000other", "arn:other", "ACTIVE", 1),
        config(true),
    );
    let spot = fixture("spot-interruption-warning.json");
    let rebalance = fixture("rebalance-recommendation.json");
    let out = h
        .handle_batch(sqs_event(&[("m1", Some(&spot)), ("m2", Some(&rebalance))]))
        .await;
    for r in &out.records {
        assert_eq!(r.outcome, RecordOutcome::Skipped(SkipReason::NotInCluster));
    }
    assert_eq!(h.fleet().count(|c| matches!(c, Call::Drain(_))), 0);
    assert_eq!(h.fleet().status("i-0000000000000other"), "ACTIVE");
    assert!(out.response().batch_item_failures.is_empty());
    let skipped = h.metrics().records_with("EventsSkipped");
    assert_eq!(skipped.len(), 2);
    assert!(skipped.iter().all(|s| s["Reason"] == "not-in-cluster"));
}

#[tokio::test]
async fn malformed_and_unknown_events_are_skipped_without_failing_the_batch() {
    let h = handler(
        MemoryFleet::with_instance(OURS, OUR_ARN, "ACTIVE", 1),
        config(false),
    );
    let unknown = fixture("instance-state-change.json");
    let bad_detail = fixture("spot-interruption-warning.json").replace("instance-id", "instanceId");
    let spot = fixture("spot-interruption-warning.json");
    let out = h
        .handle_batch(sqs_event(&[
            ("m1", Some("{not json")),
            ("m2", None),
            ("m3", Some(&unknown)),
            ("m4", Some(&bad_detail)),
            ("m5", Some(&spot)),
        ]))
        .await;
    let outcomes: Vec<_> = out
        .records
        .iter()
        .map(|r| (&r.message_id[..], &r.outcome))
        .collect();
    assert!(matches!(
        outcomes[0],
        ("m1", RecordOutcome::Skipped(SkipReason::Malformed(_)))
    ));
    assert!(matches!(
        outcomes[1],
        ("m2", RecordOutcome::Skipped(SkipReason::Malformed(_)))
    ));
    assert_eq!(
        outcomes[2],
        (
            "m3",
            &RecordOutcome::Skipped(SkipReason::UnknownDetailType(
                "EC2 Instance State-change Notification".into()
            ))
        )
    );
    assert!(matches!(
        outcomes[3],
        ("m4", RecordOutcome::Skipped(SkipReason::Malformed(_)))
    ));
    // The good record in the same batch is still acted on.
    assert!(matches!(outcomes[4], ("m5", RecordOutcome::Drained { .. })));
    assert!(out.response().batch_item_failures.is_empty());
}

#[tokio::test]
async fn duplicate_delivery_in_one_batch_acts_once() {
    let h = handler(
        MemoryFleet::with_instance(OURS, OUR_ARN, "ACTIVE", 1),
        config(false),
    );
    let spot = fixture("spot-interruption-warning.json");
    let out = h
        .handle_batch(sqs_event(&[
            ("m1", Some(&spot)),
            ("m2", Some(&spot)),
            ("m3", Some(&spot)),
        ]))
        .await;
    assert!(matches!(
        out.records[0].outcome,
        RecordOutcome::Drained { .. }
    ));
    assert_eq!(out.records[1].outcome, RecordOutcome::Duplicate);
    assert_eq!(out.records[2].outcome, RecordOutcome::Duplicate);
    assert_eq!(h.fleet().count(|c| matches!(c, Call::Find(_))), 1);
    assert_eq!(h.fleet().count(|c| matches!(c, Call::Drain(_))), 1);
    assert_eq!(h.metrics().records_with("Interruptions").len(), 1);
    assert_eq!(h.metrics().records_with("DrainLatency").len(), 1);
}

#[tokio::test]
async fn duplicate_delivery_across_batches_is_idempotent() {
    let h = handler(
        MemoryFleet::with_instance(OURS, OUR_ARN, "ACTIVE", 1),
        config(false),
    );
    let spot = fixture("spot-interruption-warning.json");
    let first = h.handle_batch(sqs_event(&[("m1", Some(&spot))])).await;
    let second = h.handle_batch(sqs_event(&[("m9", Some(&spot))])).await;
    assert!(matches!(
        first.records[0].outcome,
        RecordOutcome::Drained { .. }
    ));
    assert!(matches!(
        second.records[0].outcome,
        RecordOutcome::AlreadyDraining { .. }
    ));
    assert_eq!(h.fleet().count(|c| matches!(c, Call::Drain(_))), 1);
    assert_eq!(h.fleet().status(OURS), "DRAINING");
    // The redelivery finds the instance marked: one interruption, one latency sample.
    assert_eq!(h.metrics().records_with("Interruptions").len(), 1);
    assert_eq!(h.metrics().records_with("DrainLatency").len(), 1);
    assert_eq!(
        h.fleet().marks(OURS).get(marks::INTERRUPTION_COUNTED),
        Some(&"spot-interruption".to_string())
    );
}

#[tokio::test]
async fn only_transient_failures_are_reported_for_redelivery() {
    let spot = fixture("spot-interruption-warning.json");
    let h = handler(
        MemoryFleet {
            fail_drain: Some(transient()),
            ..MemoryFleet::with_instance(OURS, OUR_ARN, "ACTIVE", 1)
        },
        config(false),
    );
    let unknown = fixture("instance-state-change.json");
    let response = h
        .handle(sqs_event(&[("m1", Some(&spot)), ("m2", Some(&unknown))]))
        .await;
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, vec!["m1"]);
    // The Lambda response uses the field names SQS expects.
    let wire = serde_json::to_value(&response).unwrap();
    assert_eq!(
        wire,
        json!({"batchItemFailures": [{"itemIdentifier": "m1"}]})
    );
    assert_eq!(
        h.metrics().records_with("HandlerErrors")[0]["Transient"],
        "true"
    );

    let h = handler(
        MemoryFleet {
            fail_drain: Some(FleetError::Permanent {
                operation: "ecs:UpdateContainerInstancesState",
                message: "AccessDeniedException".into(),
            }),
            ..MemoryFleet::with_instance(OURS, OUR_ARN, "ACTIVE", 1)
        },
        config(false),
    );
    let out = h.handle_batch(sqs_event(&[("m1", Some(&spot))])).await;
    assert!(matches!(
        out.records[0].outcome,
        RecordOutcome::Failed(FleetError::Permanent { .. })
    ));
    assert!(out.response().batch_item_failures.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_waiting_lifecycle_hook_does_not_delay_a_spot_warning_in_the_same_batch() {
    let other = "i-0aaaaaaaaaaaaaaaa";
    let fleet = MemoryFleet::with_instance(OURS, OUR_ARN, "ACTIVE", 1);
    fleet.add(other, "arn:other", "ACTIVE", 1);
    let h = handler(fleet, config(false));
    let lifecycle = fixture("terminate-lifecycle-action.json");
    let spot = fixture("spot-interruption-warning.json").replace(OURS, other);
    let out = h
        .handle_batch(sqs_event(&[("m1", Some(&lifecycle)), ("m2", Some(&spot))]))
        .await;
    assert!(matches!(
        out.records[1].outcome,
        RecordOutcome::Drained { .. }
    ));
    let calls = h.fleet().calls();
    let spot_drain = calls
        .iter()
        .position(|c| *c == Call::Drain("arn:other".into()))
        .unwrap();
    let first_heartbeat = calls
        .iter()
        .position(|c| matches!(c, Call::Heartbeat(_)))
        .unwrap();
    assert!(spot_drain < first_heartbeat, "{calls:?}");
}

// --- S1: only our hook -------------------------------------------------------------------

#[tokio::test]
async fn another_hooks_lifecycle_action_is_skipped_never_completed() {
    // ECS managed draining installs its own termination hook on the same group; its
    // events reach us through the same rule.
    let h = handler(
        MemoryFleet::with_instance(OURS, OUR_ARN, "ACTIVE", 1),
        config(false),
    );
    let ecs_hook = fixture("terminate-lifecycle-action.json")
        .replace(OUR_HOOK, "ecs-managed-draining-termination-hook");
    let spot = fixture("spot-interruption-warning.json");
    let out = h
        .handle_batch(sqs_event(&[("m1", Some(&ecs_hook)), ("m2", Some(&spot))]))
        .await;
    assert_eq!(
        out.records[0].outcome,
        RecordOutcome::Skipped(SkipReason::OtherHook(
            "ecs-managed-draining-termination-hook".into()
        ))
    );
    assert!(matches!(
        out.records[1].outcome,
        RecordOutcome::Drained { .. }
    ));
    assert!(out.response().batch_item_failures.is_empty());
    assert_eq!(
        h.fleet()
            .count(|c| matches!(c, Call::Complete(_) | Call::Heartbeat(_))),
        0
    );
    let skipped = h.metrics().records_with("EventsSkipped");
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0]["Reason"], "other-hook");
}

#[tokio::test]
async fn without_a_configured_hook_no_lifecycle_action_is_completed() {
    let mut c = config(false);
    c.lifecycle_hook = None;
    let h = handler(MemoryFleet::with_instance(OURS, OUR_ARN, "ACTIVE", 1), c);
    let body = fixture("terminate-lifecycle-action.json");
    let out = h.handle_batch(sqs_event(&[("m1", Some(&body))])).await;
    assert_eq!(
        out.records[0].outcome,
        RecordOutcome::Skipped(SkipReason::OtherHook(OUR_HOOK.into()))
    );
    assert!(h.fleet().calls().is_empty());
    assert!(out.response().batch_item_failures.is_empty());
}

#[tokio::test]
async fn the_warm_pool_sample_with_fractional_time_is_handled_for_its_hook() {
    let mut c = config(false);
    c.lifecycle_hook = Some("my-termination-lifecycle-hook".into());
    let h = handler(MemoryFleet::with_instance(OURS, OUR_ARN, "ACTIVE", 0), c);
    let body = fixture("terminate-lifecycle-action-warm-pool.json");
    let out = h.handle_batch(sqs_event(&[("m1", Some(&body))])).await;
    assert_eq!(
        out.records[0].outcome,
        RecordOutcome::LifecycleDone {
            container_instance_arn: Some(OUR_ARN.into()),
            wait: WaitEnd::TasksStopped,
            continued: true
        }
    );
    assert_eq!(
        h.fleet().calls().last(),
        Some(&Call::Complete(
            "42694b3d-4b70-6a62-8523-09a1eEXAMPLE".into()
        ))
    );
    // Measured from 2022-03-28T00:12:37.214Z: the milliseconds were read, not dropped.
    let latency = h.metrics().records_with("TaskStopLatency")[0]["TaskStopLatency"]
        .as_f64()
        .unwrap();
    let since = (chrono::Utc::now()
        - chrono::DateTime::parse_from_rfc3339("2022-03-28T00:12:37.214Z")
            .unwrap()
            .with_timezone(&chrono::Utc))
    .num_milliseconds() as f64;
    assert!((since - latency).abs() < 60_000.0, "{latency} vs {since}");
}

// --- S3: every way the wait ends ---------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn a_heartbeat_finding_the_action_gone_ends_the_wait_without_completing() {
    let fleet = MemoryFleet {
        heartbeat_gone_after: Some(1), // first heartbeat fine, second finds it gone
        ..MemoryFleet::with_instance(OURS, OUR_ARN, "ACTIVE", 1)
    };
    let h = handler(fleet, config(false));
    let body = fixture("terminate-lifecycle-action.json");
    let started = tokio::time::Instant::now();
    let out = h.handle_batch(sqs_event(&[("m1", Some(&body))])).await;
    assert_eq!(
        out.records[0].outcome,
        RecordOutcome::LifecycleDone {
            container_instance_arn: Some(OUR_ARN.into()),
            wait: WaitEnd::ActionEnded,
            continued: false
        }
    );
    let waited = started.elapsed();
    // Heartbeats at 60 s and 120 s; the second ends it, well before the 600 s bound.
    assert!(
        waited >= Duration::from_secs(120) && waited < Duration::from_secs(130),
        "{waited:?}"
    );
    assert_eq!(h.fleet().count(|c| matches!(c, Call::Heartbeat(_))), 2);
    assert_eq!(h.fleet().count(|c| matches!(c, Call::Complete(_))), 0);
    assert!(out.response().batch_item_failures.is_empty());
    assert_eq!(handler_errors(&h, "true") + handler_errors(&h, "false"), 0);
}

#[tokio::test(start_paused = true)]
async fn describe_errors_while_waiting_keep_the_wait_going() {
    // Three throttled polls, then the tasks are seen stopped.
    let fleet = MemoryFleet {
        fail_describe: Some((transient(), 3)),
        stop_after_polls: Some(4),
        ..MemoryFleet::with_instance(OURS, OUR_ARN, "ACTIVE", 1)
    };
    let h = handler(fleet, config(false));
    let body = fixture("terminate-lifecycle-action.json");
    let started = tokio::time::Instant::now();
    let out = h.handle_batch(sqs_event(&[("m1", Some(&body))])).await;
    assert_eq!(
        out.records[0].outcome,
        RecordOutcome::LifecycleDone {
            container_instance_arn: Some(OUR_ARN.into()),
            wait: WaitEnd::TasksStopped,
            continued: true
        }
    );
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(15) && waited < Duration::from_secs(20),
        "{waited:?}"
    );
    assert_eq!(h.fleet().count(|c| matches!(c, Call::Describe(_))), 4);

    // Describe never works (a permission missing): the bound still ends the wait and
    // the hook is still answered.
    let fleet = MemoryFleet {
        fail_describe: Some((permanent("ecs:DescribeContainerInstances"), usize::MAX)),
        ..MemoryFleet::with_instance(OURS, OUR_ARN, "ACTIVE", 1)
    };
    let mut c = config(false);
    c.lifecycle.max_wait = Duration::from_secs(90);
    let h = handler(fleet, c);
    let started = tokio::time::Instant::now();
    let out = h.handle_batch(sqs_event(&[("m1", Some(&body))])).await;
    assert_eq!(
        out.records[0].outcome,
        RecordOutcome::LifecycleDone {
            container_instance_arn: Some(OUR_ARN.into()),
            wait: WaitEnd::BoundReached,
            continued: true
        }
    );
    assert!(started.elapsed() >= Duration::from_secs(90));
    assert_eq!(h.fleet().count(|c| matches!(c, Call::Complete(_))), 1);
    assert!(h.metrics().records_with("TaskStopLatency").is_empty());
}

#[tokio::test(start_paused = true)]
async fn an_instance_deregistering_while_waiting_ends_the_wait() {
    let fleet = MemoryFleet {
        deregister_at_poll: Some(3),
        ..MemoryFleet::with_instance(OURS, OUR_ARN, "ACTIVE", 2)
    };
    let h = handler(fleet, config(false));
    let body = fixture("terminate-lifecycle-action.json");
    let started = tokio::time::Instant::now();
    let out = h.handle_batch(sqs_event(&[("m1", Some(&body))])).await;
    assert_eq!(
        out.records[0].outcome,
        RecordOutcome::LifecycleDone {
            container_instance_arn: Some(OUR_ARN.into()),
            wait: WaitEnd::Deregistered,
            continued: true
        }
    );
    assert!(started.elapsed() < Duration::from_secs(15));
    assert_eq!(h.fleet().count(|c| matches!(c, Call::Describe(_))), 3);
    assert_eq!(
        h.fleet().calls().last(),
        Some(&Call::Complete(SAMPLE_TOKEN.into()))
    );
    assert_eq!(h.metrics().records_with("TaskStopLatency").len(), 1);
}

#[tokio::test]
async fn a_permanent_error_on_completion_is_reported_not_retried() {
    let fleet = MemoryFleet {
        fail_complete: Some(permanent("autoscaling:CompleteLifecycleAction")),
        ..MemoryFleet::with_instance(OURS, OUR_ARN, "ACTIVE", 0)
    };
    let h = handler(fleet, config(false));
    let body = fixture("terminate-lifecycle-action.json");
    let out = h.handle_batch(sqs_event(&[("m1", Some(&body))])).await;
    assert_eq!(
        out.records[0].outcome,
        RecordOutcome::Failed(permanent("autoscaling:CompleteLifecycleAction"))
    );
    assert!(out.response().batch_item_failures.is_empty());
    assert_eq!(handler_errors(&h, "false"), 1);
    assert_eq!(handler_errors(&h, "true"), 0);
    // The instance was drained all the same.
    assert_eq!(h.fleet().status(OURS), "DRAINING");
}

// --- S8: permanent errors do not hold the hook ----------------------------------------------

#[tokio::test]
async fn an_instance_that_cannot_be_drained_is_let_go_with_continue() {
    let fleet = MemoryFleet {
        fail_drain: Some(permanent("ecs:UpdateContainerInstancesState")),
        ..MemoryFleet::with_instance(OURS, OUR_ARN, "ACTIVE", 1)
    };
    let h = handler(fleet, config(false));
    let body = fixture("terminate-lifecycle-action.json");
    let out = h.handle_batch(sqs_event(&[("m1", Some(&body))])).await;
    assert_eq!(
        out.records[0].outcome,
        RecordOutcome::LifecycleDone {
            container_instance_arn: None,
            wait: WaitEnd::DrainFailed(permanent("ecs:UpdateContainerInstancesState")),
            continued: true
        }
    );
    assert_eq!(
        h.fleet().calls().last(),
        Some(&Call::Complete(SAMPLE_TOKEN.into()))
    );
    assert!(out.response().batch_item_failures.is_empty());
    // Still an error to alarm on.
    assert_eq!(handler_errors(&h, "false"), 1);
}

#[tokio::test]
async fn a_transient_drain_error_leaves_the_hook_pending_for_the_redelivery() {
    let fleet = MemoryFleet {
        fail_drain: Some(transient()),
        ..MemoryFleet::with_instance(OURS, OUR_ARN, "ACTIVE", 1)
    };
    let h = handler(fleet, config(false));
    let body = fixture("terminate-lifecycle-action.json");
    let out = h.handle_batch(sqs_event(&[("m1", Some(&body))])).await;
    assert_eq!(out.records[0].outcome, RecordOutcome::Failed(transient()));
    assert_eq!(out.response().batch_item_failures.len(), 1);
    assert_eq!(h.fleet().count(|c| matches!(c, Call::Complete(_))), 0);
    assert_eq!(handler_errors(&h, "true"), 1);
}

// --- S4: each interruption counted once ------------------------------------------------------

#[tokio::test]
async fn a_spot_warning_then_the_termination_hook_count_one_interruption() {
    let h = handler(
        MemoryFleet::with_instance(OURS, OUR_ARN, "ACTIVE", 0),
        config(false),
    );
    let spot = fixture("spot-interruption-warning.json");
    let lifecycle = fixture("terminate-lifecycle-action.json");
    let first = h.handle_batch(sqs_event(&[("m1", Some(&spot))])).await;
    let second = h.handle_batch(sqs_event(&[("m2", Some(&lifecycle))])).await;
    assert!(matches!(
        first.records[0].outcome,
        RecordOutcome::Drained { .. }
    ));
    assert!(matches!(
        second.records[0].outcome,
        RecordOutcome::LifecycleDone {
            continued: true,
            ..
        }
    ));
    let counted = h.metrics().records_with("Interruptions");
    assert_eq!(counted.len(), 1, "{counted:?}");
    assert_eq!(counted[0]["EventType"], "spot-interruption");
    assert_eq!(h.metrics().records_with("DrainLatency").len(), 1);
    // Only the first notice wrote the mark.
    assert_eq!(h.fleet().count(|c| matches!(c, Call::Mark(..))), 1);
}

#[tokio::test]
async fn notices_for_one_instance_in_one_batch_count_it_once() {
    // Same batch, same instance: handled in order, not concurrently, so the second
    // sees the first one's mark.
    let h = handler(
        MemoryFleet::with_instance(OURS, OUR_ARN, "ACTIVE", 0),
        config(true),
    );
    let spot = fixture("spot-interruption-warning.json");
    let rebalance = fixture("rebalance-recommendation.json");
    let lifecycle = fixture("terminate-lifecycle-action.json");
    let out = h
        .handle_batch(sqs_event(&[
            ("m1", Some(&rebalance)),
            ("m2", Some(&spot)),
            ("m3", Some(&lifecycle)),
        ]))
        .await;
    assert!(matches!(
        out.records[0].outcome,
        RecordOutcome::Drained { .. }
    ));
    assert!(matches!(
        out.records[1].outcome,
        RecordOutcome::AlreadyDraining { .. }
    ));
    assert!(matches!(
        out.records[2].outcome,
        RecordOutcome::LifecycleDone { .. }
    ));
    let counted = h.metrics().records_with("Interruptions");
    assert_eq!(counted.len(), 1, "{counted:?}");
    assert_eq!(counted[0]["EventType"], "rebalance-recommendation");
}

#[tokio::test]
async fn an_instance_ecs_drained_first_is_counted_once_as_drained_by_ecs() {
    let h = handler(
        MemoryFleet::with_instance(OURS, OUR_ARN, "DRAINING", 1),
        config(false),
    );
    let spot = fixture("spot-interruption-warning.json");
    h.handle_batch(sqs_event(&[("m1", Some(&spot))])).await;
    h.handle_batch(sqs_event(&[("m2", Some(&spot))])).await;
    assert_eq!(h.fleet().count(|c| matches!(c, Call::Drain(_))), 0);
    let counted = h.metrics().records_with("Interruptions");
    assert_eq!(counted.len(), 1);
    let latency = h.metrics().records_with("DrainLatency");
    assert_eq!(latency.len(), 1);
    assert_eq!(latency[0]["DrainedBy"], "ecs");
}

#[tokio::test]
async fn recorded_recommendations_count_once_and_do_not_hide_the_interruption() {
    let h = handler(
        MemoryFleet::with_instance(OURS, OUR_ARN, "ACTIVE", 1),
        config(false),
    );
    let rebalance = fixture("rebalance-recommendation.json");
    let again = with_id("rebalance-recommendation.json", "another-recommendation");
    let spot = fixture("spot-interruption-warning.json");
    h.handle_batch(sqs_event(&[("m1", Some(&rebalance))])).await;
    h.handle_batch(sqs_event(&[("m2", Some(&rebalance)), ("m3", Some(&again))]))
        .await;
    h.handle_batch(sqs_event(&[("m4", Some(&spot))])).await;
    let types: Vec<String> = h
        .metrics()
        .records_with("Interruptions")
        .iter()
        .map(|r| r["EventType"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(types, vec!["rebalance-recommendation", "spot-interruption"]);
    assert_eq!(h.fleet().status(OURS), "DRAINING");
    let m = h.fleet().marks(OURS);
    assert!(m.contains_key(marks::REBALANCE_RECORDED), "{m:?}");
    assert!(m.contains_key(marks::INTERRUPTION_COUNTED), "{m:?}");
}

#[tokio::test]
async fn a_failed_mark_still_drains_and_counts() {
    let fleet = MemoryFleet {
        fail_mark: Some(permanent("ecs:PutAttributes")),
        ..MemoryFleet::with_instance(OURS, OUR_ARN, "ACTIVE", 1)
    };
    let h = handler(fleet, config(false));
    let spot = fixture("spot-interruption-warning.json");
    let out = h.handle_batch(sqs_event(&[("m1", Some(&spot))])).await;
    assert!(matches!(
        out.records[0].outcome,
        RecordOutcome::Drained { .. }
    ));
    assert!(out.response().batch_item_failures.is_empty());
    assert_eq!(h.metrics().records_with("Interruptions").len(), 1);
    // Not a handler error: only the metric's de-duplication is weakened.
    assert!(h.metrics().records_with("HandlerErrors").is_empty());
}
