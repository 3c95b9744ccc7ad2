//! The handler over an in-memory cluster: the three AWS sample events, malformed and
//! unknown events, duplicate delivery, error classification and the lifecycle wait.
//! (The same handler against the real SDK and moto is in `tests/moto.rs`.)

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use aws_lambda_events::event::sqs::SqsEvent;
use facerec_spot_handler::{
    ClusterControl, ContainerInstance, FleetError, HandlerConfig, LifecycleAction, LifecycleHooks,
    LifecycleWait, RecordOutcome, RecordedMetrics, SkipReason, SpotHandler,
};
use serde_json::{json, Value};

const OURS: &str = "i-1234567890abcdef0";
const OUR_ARN: &str = "arn:aws:ecs:us-east-2:123456789012:container-instance/facerec/ours";

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
    Heartbeat(String),
    Complete(String),
}

/// A cluster in memory. Tasks stop after `stop_after_polls` describes of a draining
/// instance, like ECS replacing them elsewhere.
#[derive(Default)]
struct MemoryFleet {
    instances: Mutex<HashMap<String, ContainerInstance>>,
    calls: Mutex<Vec<Call>>,
    stop_after_polls: Option<usize>,
    polls: Mutex<usize>,
    fail_drain: Option<FleetError>,
    fail_complete: Option<FleetError>,
}

impl MemoryFleet {
    fn with_instance(ec2: &str, arn: &str, status: &str, running: i32) -> Self {
        let fleet = Self::default();
        fleet.instances.lock().unwrap().insert(
            ec2.into(),
            ContainerInstance {
                arn: arn.into(),
                ec2_instance_id: ec2.into(),
                status: status.into(),
                availability_zone: Some("us-east-2a".into()),
                running_tasks: running,
                pending_tasks: 0,
            },
        );
        fleet
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
        let mut instances = self.instances.lock().unwrap();
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
}

impl LifecycleHooks for MemoryFleet {
    async fn record_heartbeat(&self, action: &LifecycleAction) -> Result<(), FleetError> {
        self.calls
            .lock()
            .unwrap()
            .push(Call::Heartbeat(action.token.clone()));
        Ok(())
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
        RecordOutcome::LifecycleCompleted {
            container_instance_arn: Some(OUR_ARN.into()),
            tasks_stopped: true
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
    assert_eq!(
        calls.last(),
        Some(&Call::Complete(
            "87654321-4321-4321-4321-210987654321".into()
        ))
    );
    assert_eq!(h.metrics().records_with("TaskStopLatency").len(), 1);
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
        RecordOutcome::LifecycleCompleted {
            container_instance_arn: Some(OUR_ARN.into()),
            tasks_stopped: false
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
        RecordOutcome::LifecycleCompleted {
            container_instance_arn: None,
            tasks_stopped: true
        }
    );
    assert_eq!(
        h.fleet().calls(),
        vec![
            Call::Find(OURS.into()),
            Call::Complete("87654321-4321-4321-4321-210987654321".into())
        ]
    );
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
    assert!(matches!(
        out.records[0].outcome,
        RecordOutcome::LifecycleCompleted { .. }
    ));
    assert!(out.response().batch_item_failures.is_empty());
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
    fleet.instances.lock().unwrap().insert(
        other.into(),
        ContainerInstance {
            arn: "arn:other".into(),
            ec2_instance_id: other.into(),
            status: "ACTIVE".into(),
            availability_zone: Some("us-east-2b".into()),
            running_tasks: 1,
            pending_tasks: 0,
        },
    );
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
