//! The handler with the real SDK clients against moto: EC2 instances, ECS container
//! instances and tasks, and for the termination hook a real Auto Scaling group with two
//! hooks (ours and ECS managed draining's), whose lifecycle events reach the handler the
//! way they do in AWS: Auto Scaling → EventBridge rule → SQS queue → the SQS records of a
//! Lambda batch. moto 5.2 lacks the lifecycle part (Terminating:Wait, the event,
//! `RecordLifecycleActionHeartbeat`, `CompleteLifecycleAction`); `tools/moto/patches.py`
//! restores it, checking group, hook, token and instance as Auto Scaling does.
//! Responses moto cannot produce (throttling, 5xx, access denied) come from a canned
//! loopback stub.
//! (The termination lifecycle hook through a real group: `tests/moto_lifecycle.rs`.)

mod support;

use support::cluster::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spot_warning_drains_only_the_interrupted_instance() {
    let moto = start_moto();
    let c = cluster(&moto).await;
    let (victim, victim_arn) = &c.instances[1];
    let (bystander, bystander_arn) = &c.instances[0];
    let handler = SpotHandler::new(
        config(false),
        AwsFleet::new(&c.sdk, CLUSTER),
        RecordedMetrics::default(),
    );

    let spot = event_for("spot-interruption-warning.json", victim, "ev-spot");
    let foreign = event_for("spot-interruption-warning.json", &c.foreign.0, "ev-foreign");
    let unknown_instance = event_for(
        "spot-interruption-warning.json",
        "i-0ffffffffffffffff",
        "ev-x",
    );
    let out = handler
        .handle_batch(batch(&[&spot, &foreign, &unknown_instance, &spot]))
        .await;

    assert_eq!(
        out.records[0].outcome,
        RecordOutcome::Drained {
            container_instance_arn: victim_arn.clone()
        }
    );
    assert_eq!(
        out.records[1].outcome,
        RecordOutcome::Skipped(SkipReason::NotInCluster)
    );
    assert_eq!(
        out.records[2].outcome,
        RecordOutcome::Skipped(SkipReason::NotInCluster)
    );
    assert_eq!(out.records[3].outcome, RecordOutcome::Duplicate);
    assert!(out.response().batch_item_failures.is_empty());

    assert_eq!(
        container_instance_status(&c.ecs, CLUSTER, victim_arn).await,
        "DRAINING"
    );
    assert_eq!(
        container_instance_status(&c.ecs, CLUSTER, bystander_arn).await,
        "ACTIVE"
    );
    assert_eq!(
        container_instance_status(&c.ecs, "someone-else", &c.foreign.1).await,
        "ACTIVE"
    );
    assert_ne!(victim, bystander);

    // The AZ comes from the attribute the ECS agent registered (moto: the EC2 placement).
    let counted = handler.metrics().records_with("Interruptions");
    assert_eq!(counted.len(), 1);
    assert_eq!(counted[0]["AvailabilityZone"], "us-east-1b");
    assert_eq!(counted[0]["InstanceId"], victim.as_str());

    // Redelivery of the same event in a later batch: idempotent, nothing fails.
    let again = handler.handle_batch(batch(&[&spot])).await;
    assert_eq!(
        again.records[0].outcome,
        RecordOutcome::AlreadyDraining {
            container_instance_arn: victim_arn.clone()
        }
    );
    assert_eq!(
        container_instance_status(&c.ecs, CLUSTER, bystander_arn).await,
        "ACTIVE"
    );
    // The first delivery left its mark on the container instance (an ECS attribute, read
    // back by DescribeContainerInstances): the redelivery counts nothing more.
    assert_eq!(handler.metrics().records_with("Interruptions").len(), 1);
    assert_eq!(handler.metrics().records_with("DrainLatency").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebalance_recommendation_follows_capacity_rebalance() {
    let moto = start_moto();
    let c = cluster(&moto).await;
    let (first, first_arn) = &c.instances[0];
    let (second, second_arn) = &c.instances[1];

    let off = SpotHandler::new(
        config(false),
        AwsFleet::new(&c.sdk, CLUSTER),
        RecordedMetrics::default(),
    );
    let body = event_for("rebalance-recommendation.json", first, "ev-r1");
    let out = off.handle_batch(batch(&[&body])).await;
    assert!(matches!(
        out.records[0].outcome,
        RecordOutcome::Recorded { .. }
    ));
    assert_eq!(
        container_instance_status(&c.ecs, CLUSTER, first_arn).await,
        "ACTIVE"
    );
    assert_eq!(
        off.metrics().records_with("Interruptions")[0]["AvailabilityZone"],
        "us-east-1a"
    );

    let on = SpotHandler::new(
        config(true),
        AwsFleet::new(&c.sdk, CLUSTER),
        RecordedMetrics::default(),
    );
    let body = event_for("rebalance-recommendation.json", second, "ev-r2");
    let out = on.handle_batch(batch(&[&body])).await;
    assert!(matches!(
        out.records[0].outcome,
        RecordOutcome::Drained { .. }
    ));
    assert_eq!(
        container_instance_status(&c.ecs, CLUSTER, second_arn).await,
        "DRAINING"
    );
    assert_eq!(
        container_instance_status(&c.ecs, CLUSTER, first_arn).await,
        "ACTIVE"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_errors_are_classified_for_redelivery() {
    let spot = event_for("spot-interruption-warning.json", "i-0abc", "ev-1");
    for (reply, transient) in [
        (ecs_error(400, "ThrottlingException", "Rate exceeded"), true),
        (ecs_error(500, "ServerException", "boom"), true),
        (ecs_error(503, "ServiceUnavailableException", "later"), true),
        (ecs_error(400, "AccessDeniedException", "no"), false),
        (
            ecs_error(400, "ClusterNotFoundException", "Cluster not found."),
            false,
        ),
    ] {
        let code = reply.headers[1].1.clone();
        let ecs = Stub::start(move |_| Reply {
            status: reply.status,
            headers: reply.headers.clone(),
            body: reply.body.clone(),
        })
        .await;
        let sdk = sdk_config(&ecs.endpoint).await;
        let handler = SpotHandler::new(
            config(false),
            AwsFleet::new(&sdk, CLUSTER),
            RecordedMetrics::default(),
        );
        let out = handler.handle_batch(batch(&[&spot])).await;
        match &out.records[0].outcome {
            RecordOutcome::Failed(e) => {
                assert_eq!(e.is_transient(), transient, "{code}: {e}");
                assert!(e.to_string().contains("ecs:ListContainerInstances"), "{e}");
            }
            other => panic!("{code}: {other:?}"),
        }
        let failures = out.response().batch_item_failures;
        assert_eq!(failures.len(), usize::from(transient), "{code}");
        // ECS speaks awsJson1_1: the request names its operation in X-Amz-Target.
        let requests = ecs.requests();
        assert_eq!(requests.len(), 1);
        assert!(requests[0]
            .headers
            .contains("AmazonEC2ContainerServiceV20141113.ListContainerInstances"));
        assert!(
            requests[0].body.contains("ec2InstanceId == i-0abc"),
            "{}",
            requests[0].body
        );
    }
}

/// Completion errors as the SDK parses them from Auto Scaling's awsQuery error bodies,
/// including the ones moto never gives (throttling, access denied).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completion_errors_from_auto_scaling_are_classified() {
    let ecs = Stub::start(|_| Reply {
        status: 200,
        headers: vec![("Content-Type".into(), "application/x-amz-json-1.1".into())],
        body: r#"{"containerInstanceArns":[]}"#.into(),
    })
    .await;
    let mut c = config(false);
    // The sample event's group and hook.
    c.autoscaling_group = Some("my-asg".into());
    c.lifecycle_hook = Some("my-lifecycle-hook".into());
    let body = event_for("terminate-lifecycle-action.json", "i-0abc", "ev-2");
    for (reply, expected) in [
        (
            autoscaling_error(
                400,
                "ValidationError",
                "No active Lifecycle Action found with instance ID i-0abc",
            ),
            None,
        ),
        (
            autoscaling_error(400, "Throttling", "Rate exceeded"),
            Some(true),
        ),
        (
            autoscaling_error(
                403,
                "AccessDenied",
                "not authorized to perform: autoscaling:CompleteLifecycleAction",
            ),
            Some(false),
        ),
    ] {
        let autoscaling = Stub::start(move |_| Reply {
            status: reply.status,
            headers: reply.headers.clone(),
            body: reply.body.clone(),
        })
        .await;
        let fleet = AwsFleet::from_clients(
            aws_sdk_ecs::Client::new(&sdk_config(&ecs.endpoint).await),
            aws_sdk_autoscaling::Client::new(&sdk_config(&autoscaling.endpoint).await),
            CLUSTER,
        );
        let handler = SpotHandler::new(c.clone(), fleet, RecordedMetrics::default());
        let out = handler.handle_batch(batch(&[&body])).await;
        assert_eq!(autoscaling.requests().len(), 1);
        match expected {
            // The action had ended already: done, not an error.
            None => {
                assert_eq!(
                    out.records[0].outcome,
                    RecordOutcome::LifecycleDone {
                        container_instance_arn: None,
                        wait: WaitEnd::NotInCluster,
                        continued: false
                    }
                );
                assert!(handler.metrics().records_with("HandlerErrors").is_empty());
            }
            Some(transient) => {
                match &out.records[0].outcome {
                    RecordOutcome::Failed(e) => {
                        assert_eq!(e.is_transient(), transient, "{e}");
                        assert!(e
                            .to_string()
                            .contains("autoscaling:CompleteLifecycleAction"));
                    }
                    other => panic!("{other:?}"),
                }
                assert_eq!(
                    out.response().batch_item_failures.len(),
                    usize::from(transient)
                );
                let errors = handler.metrics().records_with("HandlerErrors");
                assert_eq!(errors.len(), 1);
                assert_eq!(
                    errors[0]["Transient"],
                    if transient { "true" } else { "false" }
                );
            }
        }
    }
}
