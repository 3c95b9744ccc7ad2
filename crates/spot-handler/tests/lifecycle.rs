//! The lifecycle hook over an in-memory cluster (`memory/`): only our hook's actions are
//! completed, and every way the wait for the tasks can end.

mod memory;
use memory::*;

// --- S1: only our hook -------------------------------------------------------------------

#[tokio::test]
async fn another_hooks_lifecycle_action_is_skipped_never_completed() {
    // ECS managed draining installs its own termination hook on the same group; its
    // events reach us through the same rule.
    let h = handler_with_ours("ACTIVE", 1, config(false));
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
    let h = handler_with_ours("ACTIVE", 1, c);
    let out = deliver(&h, "terminate-lifecycle-action.json").await;
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
    let h = handler_with_ours("ACTIVE", 0, c);
    let out = deliver(&h, "terminate-lifecycle-action-warm-pool.json").await;
    assert_eq!(
        out.records[0].outcome,
        ours_lifecycle_done(WaitEnd::TasksStopped, true)
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
        ..ours_active(1)
    };
    let (h, out, waited) = lifecycle_timed(fleet).await;
    assert_eq!(
        out.records[0].outcome,
        ours_lifecycle_done(WaitEnd::ActionEnded, false)
    );
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
        ..ours_active(1)
    };
    let (h, out, waited) = lifecycle_timed(fleet).await;
    assert_eq!(
        out.records[0].outcome,
        ours_lifecycle_done(WaitEnd::TasksStopped, true)
    );
    assert!(
        waited >= Duration::from_secs(15) && waited < Duration::from_secs(20),
        "{waited:?}"
    );
    assert_eq!(h.fleet().count(|c| matches!(c, Call::Describe(_))), 4);

    // Describe never works (a permission missing): the bound still ends the wait and
    // the hook is still answered.
    let fleet = MemoryFleet {
        fail_describe: Some((permanent("ecs:DescribeContainerInstances"), usize::MAX)),
        ..ours_active(1)
    };
    let mut c = config(false);
    c.lifecycle.max_wait = Duration::from_secs(90);
    let h = handler(fleet, c);
    let (out, waited) = deliver_timed(&h, "terminate-lifecycle-action.json").await;
    assert_eq!(
        out.records[0].outcome,
        ours_lifecycle_done(WaitEnd::BoundReached, true)
    );
    assert!(waited >= Duration::from_secs(90));
    assert_eq!(h.fleet().count(|c| matches!(c, Call::Complete(_))), 1);
    assert!(h.metrics().records_with("TaskStopLatency").is_empty());
}

#[tokio::test(start_paused = true)]
async fn an_instance_deregistering_while_waiting_ends_the_wait() {
    let fleet = MemoryFleet {
        deregister_at_poll: Some(3),
        ..ours_active(2)
    };
    let (h, out, waited) = lifecycle_timed(fleet).await;
    assert_eq!(
        out.records[0].outcome,
        ours_lifecycle_done(WaitEnd::Deregistered, true)
    );
    assert!(waited < Duration::from_secs(15));
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
        ..ours_active(0)
    };
    let (h, out) = lifecycle(fleet).await;
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
        ..ours_active(1)
    };
    let (h, out) = lifecycle(fleet).await;
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
        ..ours_active(1)
    };
    let (h, out) = lifecycle(fleet).await;
    assert_eq!(out.records[0].outcome, RecordOutcome::Failed(transient()));
    assert_eq!(out.response().batch_item_failures.len(), 1);
    assert_eq!(h.fleet().count(|c| matches!(c, Call::Complete(_))), 0);
    assert_eq!(handler_errors(&h, "true"), 1);
}

// --- S4: each interruption counted once ------------------------------------------------------

#[tokio::test]
async fn a_spot_warning_then_the_termination_hook_count_one_interruption() {
    let h = handler_with_ours("ACTIVE", 0, config(false));
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
    let h = handler_with_ours("ACTIVE", 0, config(true));
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
    let h = handler_with_ours("DRAINING", 1, config(false));
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
    let h = handler_with_ours("ACTIVE", 1, config(false));
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
        ..ours_active(1)
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
