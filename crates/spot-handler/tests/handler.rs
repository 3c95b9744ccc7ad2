//! The handler over an in-memory cluster (`memory/`): the AWS sample events, malformed and
//! unknown events, duplicate delivery (and what it counts), error classification. The
//! lifecycle hook's own cases are in `tests/lifecycle.rs`; the same handler against the
//! real SDK and moto is in `tests/moto.rs`.

mod memory;
use memory::*;

#[tokio::test]
async fn spot_warning_drains_our_instance_and_counts_it_by_az() {
    let h = handler_with_ours("ACTIVE", 1, config(false));
    let out = deliver(&h, "spot-interruption-warning.json").await;
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
    let h = handler_with_ours("DRAINING", 1, config(false));
    let out = deliver(&h, "spot-interruption-warning.json").await;
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
    let h = handler_with_ours("ACTIVE", 1, config(false));
    let out = deliver(&h, "rebalance-recommendation.json").await;
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
    let h = handler_with_ours("ACTIVE", 1, config(true));
    let out = deliver(&h, "rebalance-recommendation.json").await;
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
        ..ours_active(2)
    };
    let (h, out, waited) = lifecycle_timed(fleet).await;
    assert_eq!(
        out.records[0].outcome,
        ours_lifecycle_done(WaitEnd::TasksStopped, true)
    );
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
    let h = handler_with_ours("ACTIVE", 1, {
        let mut c = config(false);
        c.lifecycle.max_wait = Duration::from_secs(120);
        c
    });
    let (out, waited) = deliver_timed(&h, "terminate-lifecycle-action.json").await;
    assert_eq!(
        out.records[0].outcome,
        ours_lifecycle_done(WaitEnd::BoundReached, true)
    );
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
    let out = deliver(&h, "terminate-lifecycle-action.json").await;
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
    let h = handler_with_ours("ACTIVE", 0, c);
    let out = deliver(&h, "terminate-lifecycle-action.json").await;
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
        ..ours_active(0)
    };
    let (h, out) = lifecycle(fleet).await;
    assert_eq!(
        out.records[0].outcome,
        ours_lifecycle_done(WaitEnd::TasksStopped, false)
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
    let h = handler_with_ours("ACTIVE", 1, config(false));
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
    let h = handler_with_ours("ACTIVE", 1, config(false));
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
    let h = handler_with_ours("ACTIVE", 1, config(false));
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
            ..ours_active(1)
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
            ..ours_active(1)
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
    let fleet = ours_active(1);
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
