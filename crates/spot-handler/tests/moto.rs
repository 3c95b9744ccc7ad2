//! The handler with the real SDK clients against moto (ECS, EC2) and, for the Auto
//! Scaling lifecycle calls moto does not implement (`CompleteLifecycleAction` and
//! `RecordLifecycleActionHeartbeat` answer HTTP 500 in moto 5.2), a recording stub that
//! checks the exact call shape the SDK puts on the wire.

mod support;

use std::time::Duration;

use aws_lambda_events::event::sqs::SqsEvent;
use aws_sdk_ecs::types::ContainerDefinition;
use facerec_spot_handler::{
    AwsFleet, FleetError, HandlerConfig, LifecycleWait, RecordOutcome, RecordedMetrics, SkipReason,
    SpotHandler,
};
use serde_json::json;
use support::{autoscaling_error, autoscaling_ok, ecs_error, sdk_config, Moto, Reply, Stub};

const CLUSTER: &str = "facerec";
const SAMPLE_INSTANCE: &str = "i-1234567890abcdef0";

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The AWS sample event `name`, retargeted at `instance_id` with a fresh event id.
fn event_for(name: &str, instance_id: &str, event_id: &str) -> String {
    let mut event: serde_json::Value =
        serde_json::from_str(&fixture(name).replace(SAMPLE_INSTANCE, instance_id)).unwrap();
    event["id"] = json!(event_id);
    event.to_string()
}

fn batch(bodies: &[&str]) -> SqsEvent {
    let records: Vec<_> = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| {
            json!({
                "messageId": format!("msg-{i}"),
                "body": body,
                "eventSource": "aws:sqs",
            })
        })
        .collect();
    serde_json::from_value(json!({ "Records": records })).unwrap()
}

fn config(capacity_rebalance: bool) -> HandlerConfig {
    HandlerConfig {
        cluster_name: CLUSTER.into(),
        capacity_rebalance,
        autoscaling_group: None,
        lifecycle: LifecycleWait {
            max_wait: Duration::from_secs(30),
            poll_interval: Duration::from_millis(250),
            heartbeat_interval: Duration::from_millis(500),
        },
        metrics_namespace: "test/spot".into(),
    }
}

/// Registers `instance_id` (which moto launched) as a container instance of `cluster`.
async fn register(ecs: &aws_sdk_ecs::Client, cluster: &str, instance_id: &str) -> String {
    let document = json!({ "instanceId": instance_id, "region": "us-east-1" }).to_string();
    ecs.register_container_instance()
        .cluster(cluster)
        .instance_identity_document(document)
        .send()
        .await
        .unwrap()
        .container_instance()
        .and_then(|ci| ci.container_instance_arn())
        .unwrap()
        .to_string()
}

async fn status_of(ecs: &aws_sdk_ecs::Client, cluster: &str, arn: &str) -> String {
    ecs.describe_container_instances()
        .cluster(cluster)
        .container_instances(arn)
        .send()
        .await
        .unwrap()
        .container_instances()[0]
        .status()
        .unwrap()
        .to_string()
}

/// Two instances in our cluster (in two AZs) and one in another cluster.
struct Cluster {
    ecs: aws_sdk_ecs::Client,
    sdk: aws_config::SdkConfig,
    instances: Vec<(String, String)>, // (ec2 id, container instance arn)
    foreign: (String, String),
}

async fn cluster(moto: &Moto) -> Cluster {
    let sdk = sdk_config(&moto.endpoint).await;
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    for name in [CLUSTER, "someone-else"] {
        ecs.create_cluster()
            .cluster_name(name)
            .send()
            .await
            .unwrap();
    }
    let mut instances = Vec::new();
    for az in ["us-east-1a", "us-east-1b"] {
        let id = moto.run_instance(az).await;
        let arn = register(&ecs, CLUSTER, &id).await;
        instances.push((id, arn));
    }
    let foreign_id = moto.run_instance("us-east-1c").await;
    let foreign_arn = register(&ecs, "someone-else", &foreign_id).await;
    Cluster {
        ecs,
        sdk,
        instances,
        foreign: (foreign_id, foreign_arn),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spot_warning_drains_only_the_interrupted_instance() {
    let moto = Moto::start();
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

    assert_eq!(status_of(&c.ecs, CLUSTER, victim_arn).await, "DRAINING");
    assert_eq!(status_of(&c.ecs, CLUSTER, bystander_arn).await, "ACTIVE");
    assert_eq!(
        status_of(&c.ecs, "someone-else", &c.foreign.1).await,
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
    assert_eq!(status_of(&c.ecs, CLUSTER, bystander_arn).await, "ACTIVE");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebalance_recommendation_follows_capacity_rebalance() {
    let moto = Moto::start();
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
    assert_eq!(status_of(&c.ecs, CLUSTER, first_arn).await, "ACTIVE");
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
    assert_eq!(status_of(&c.ecs, CLUSTER, second_arn).await, "DRAINING");
    assert_eq!(status_of(&c.ecs, CLUSTER, first_arn).await, "ACTIVE");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_waits_for_the_task_to_stop_then_continues() {
    let moto = Moto::start();
    let c = cluster(&moto).await;
    let (victim, victim_arn) = &c.instances[0];
    let (_, bystander_arn) = &c.instances[1];

    // One worker task on the victim, stopped 1.5 s into the wait (as ECS would once the
    // worker has handed its jobs back).
    c.ecs
        .register_task_definition()
        .family("facerec-worker")
        .container_definitions(
            ContainerDefinition::builder()
                .name("worker")
                .image("facerec-worker:test")
                .memory(512)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let task_arn = c
        .ecs
        .start_task()
        .cluster(CLUSTER)
        .task_definition("facerec-worker")
        .container_instances(victim_arn)
        .send()
        .await
        .unwrap()
        .tasks()[0]
        .task_arn()
        .unwrap()
        .to_string();
    let stopper = {
        let ecs = c.ecs.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            ecs.stop_task()
                .cluster(CLUSTER)
                .task(task_arn)
                .send()
                .await
                .unwrap();
        })
    };

    let autoscaling = Stub::start(|request| {
        let action = request.param("Action").unwrap_or_default();
        autoscaling_ok(&action)
    })
    .await;
    let autoscaling_sdk = sdk_config(&autoscaling.endpoint).await;
    let fleet = AwsFleet::from_clients(
        aws_sdk_ecs::Client::new(&c.sdk),
        aws_sdk_autoscaling::Client::new(&autoscaling_sdk),
        CLUSTER,
    );
    let handler = SpotHandler::new(config(false), fleet, RecordedMetrics::default());
    let body = event_for("terminate-lifecycle-action.json", victim, "ev-lc");
    let started = std::time::Instant::now();
    let out = handler.handle_batch(batch(&[&body])).await;
    let waited = started.elapsed();
    stopper.await.unwrap();

    assert_eq!(
        out.records[0].outcome,
        RecordOutcome::LifecycleCompleted {
            container_instance_arn: Some(victim_arn.clone()),
            tasks_stopped: true
        }
    );
    assert!(
        waited >= Duration::from_millis(1500),
        "completed before the task stopped: {waited:?}"
    );
    assert!(waited < Duration::from_secs(10), "{waited:?}");
    assert_eq!(status_of(&c.ecs, CLUSTER, victim_arn).await, "DRAINING");
    assert_eq!(status_of(&c.ecs, CLUSTER, bystander_arn).await, "ACTIVE");

    let requests = autoscaling.requests();
    let actions: Vec<String> = requests.iter().filter_map(|r| r.param("Action")).collect();
    assert!(
        actions
            .iter()
            .filter(|a| *a == "RecordLifecycleActionHeartbeat")
            .count()
            >= 1,
        "{actions:?}"
    );
    assert_eq!(
        actions.last().map(String::as_str),
        Some("CompleteLifecycleAction")
    );
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "CompleteLifecycleAction")
            .count(),
        1
    );
    for request in &requests {
        assert_eq!(
            request.param("AutoScalingGroupName").as_deref(),
            Some("my-asg")
        );
        assert_eq!(
            request.param("LifecycleHookName").as_deref(),
            Some("my-lifecycle-hook")
        );
        assert_eq!(
            request.param("LifecycleActionToken").as_deref(),
            Some("87654321-4321-4321-4321-210987654321")
        );
        assert_eq!(
            request.param("InstanceId").as_deref(),
            Some(victim.as_str())
        );
        // Signed for the Auto Scaling service in our region.
        assert!(
            request
                .headers
                .contains("/us-east-1/autoscaling/aws4_request"),
            "{}",
            request.headers
        );
    }
    let complete = requests.last().unwrap();
    assert_eq!(
        complete.param("LifecycleActionResult").as_deref(),
        Some("CONTINUE")
    );
    assert_eq!(handler.metrics().records_with("TaskStopLatency").len(), 1);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_lifecycle_action_counts_as_completed() {
    let ecs = Stub::start(|_| Reply {
        status: 200,
        headers: vec![("Content-Type".into(), "application/x-amz-json-1.1".into())],
        body: r#"{"containerInstanceArns":[]}"#.into(),
    })
    .await;
    let autoscaling = Stub::start(|_| {
        autoscaling_error(
            400,
            "ValidationError",
            "No active Lifecycle Action found with instance ID i-0abc",
        )
    })
    .await;
    let fleet = AwsFleet::from_clients(
        aws_sdk_ecs::Client::new(&sdk_config(&ecs.endpoint).await),
        aws_sdk_autoscaling::Client::new(&sdk_config(&autoscaling.endpoint).await),
        CLUSTER,
    );
    let handler = SpotHandler::new(config(false), fleet, RecordedMetrics::default());
    let body = event_for("terminate-lifecycle-action.json", "i-0abc", "ev-2");
    let out = handler.handle_batch(batch(&[&body])).await;
    assert_eq!(
        out.records[0].outcome,
        RecordOutcome::LifecycleCompleted {
            container_instance_arn: None,
            tasks_stopped: true
        }
    );
    assert_eq!(autoscaling.requests().len(), 1);

    // Any other Auto Scaling error on completion is a real failure.
    let autoscaling = Stub::start(|_| autoscaling_error(400, "Throttling", "Rate exceeded")).await;
    let fleet = AwsFleet::from_clients(
        aws_sdk_ecs::Client::new(&sdk_config(&ecs.endpoint).await),
        aws_sdk_autoscaling::Client::new(&sdk_config(&autoscaling.endpoint).await),
        CLUSTER,
    );
    let handler = SpotHandler::new(config(false), fleet, RecordedMetrics::default());
    let out = handler.handle_batch(batch(&[&body])).await;
    assert!(matches!(
        &out.records[0].outcome,
        RecordOutcome::Failed(FleetError::Transient {
            operation: "autoscaling:CompleteLifecycleAction",
            ..
        })
    ));
    assert_eq!(out.response().batch_item_failures.len(), 1);
}
