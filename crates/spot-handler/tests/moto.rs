//! The handler with the real SDK clients against moto: EC2 instances, ECS container
//! instances and tasks, and for the termination hook a real Auto Scaling group with two
//! hooks (ours and ECS managed draining's), whose lifecycle events reach the handler the
//! way they do in AWS: Auto Scaling → EventBridge rule → SQS queue → the SQS records of a
//! Lambda batch. moto 5.2 lacks the lifecycle part (Terminating:Wait, the event,
//! `RecordLifecycleActionHeartbeat`, `CompleteLifecycleAction`); `tools/moto/patches.py`
//! restores it, checking group, hook, token and instance as Auto Scaling does.
//! Responses moto cannot produce (throttling, 5xx, access denied) come from a canned
//! loopback stub.

mod support;

use std::time::Duration;

use aws_lambda_events::event::sqs::SqsEvent;
use aws_sdk_ecs::types::ContainerDefinition;
use facerec_spot_handler::{
    AwsFleet, HandlerConfig, LifecycleWait, RecordOutcome, RecordedMetrics, SkipReason,
    SpotHandler, WaitEnd,
};
use serde_json::{json, Value};
use support::{autoscaling_error, ecs_error, sdk_config, start_moto, Moto, Reply, Stub};

const CLUSTER: &str = "facerec";
const SAMPLE_INSTANCE: &str = "i-1234567890abcdef0";
const GROUP: &str = "facerec-workers";
const OUR_HOOK: &str = "facerec-drain";
/// The hook ECS installs on the group when the capacity provider has managed draining.
const ECS_HOOK: &str = "ecs-managed-draining-termination-hook";

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
        autoscaling_group: Some(GROUP.into()),
        lifecycle_hook: Some(OUR_HOOK.into()),
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

/// A real Auto Scaling group of two instances in our cluster, with our termination hook
/// and ECS's, and the delivery path of lifecycle events: an EventBridge rule on the group
/// sending them to an SQS queue.
struct Group {
    ecs: aws_sdk_ecs::Client,
    autoscaling: aws_sdk_autoscaling::Client,
    sdk: aws_config::SdkConfig,
    instances: Vec<(String, String)>, // (ec2 id, container instance arn)
    queue_url: String,
    queue_arn: String,
}

async fn group(moto: &Moto, our_heartbeat_timeout: i32) -> Group {
    let sdk = sdk_config(&moto.endpoint).await;
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    let autoscaling = aws_sdk_autoscaling::Client::new(&sdk);
    ecs.create_cluster()
        .cluster_name(CLUSTER)
        .send()
        .await
        .unwrap();
    autoscaling
        .create_launch_configuration()
        .launch_configuration_name("facerec-workers")
        .image_id("ami-12c6146b")
        .instance_type("c6i.large")
        .send()
        .await
        .unwrap();
    autoscaling
        .create_auto_scaling_group()
        .auto_scaling_group_name(GROUP)
        .launch_configuration_name("facerec-workers")
        .min_size(0)
        .max_size(2)
        .desired_capacity(2)
        .availability_zones("us-east-1a")
        .send()
        .await
        .unwrap();
    for (hook, timeout) in [(OUR_HOOK, our_heartbeat_timeout), (ECS_HOOK, 300)] {
        autoscaling
            .put_lifecycle_hook()
            .auto_scaling_group_name(GROUP)
            .lifecycle_hook_name(hook)
            .lifecycle_transition("autoscaling:EC2_INSTANCE_TERMINATING")
            .heartbeat_timeout(timeout)
            .default_result("CONTINUE")
            .send()
            .await
            .unwrap();
    }
    let members = autoscaling
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(GROUP)
        .send()
        .await
        .unwrap();
    let mut instances = Vec::new();
    for member in members.auto_scaling_groups()[0].instances() {
        let id = member.instance_id().unwrap().to_string();
        let arn = register(&ecs, CLUSTER, &id).await;
        instances.push((id, arn));
    }
    assert_eq!(instances.len(), 2);

    let queue_url = moto
        .json_call(
            "sqs",
            "AmazonSQS.CreateQueue",
            &json!({ "QueueName": "facerec-spot-events" }),
        )
        .await["QueueUrl"]
        .as_str()
        .unwrap()
        .to_string();
    let queue_arn = moto
        .json_call(
            "sqs",
            "AmazonSQS.GetQueueAttributes",
            &json!({ "QueueUrl": queue_url, "AttributeNames": ["QueueArn"] }),
        )
        .await["Attributes"]["QueueArn"]
        .as_str()
        .unwrap()
        .to_string();
    // The rule docs/operations.md prescribes for lifecycle events (group filter only, so
    // ECS's hook's events arrive too and the handler must tell them apart).
    let pattern = json!({
        "source": ["aws.autoscaling"],
        "detail-type": ["EC2 Instance-terminate Lifecycle Action"],
        "detail": { "AutoScalingGroupName": [GROUP] },
    });
    moto.json_call(
        "events",
        "AWSEvents.PutRule",
        &json!({ "Name": "facerec-lifecycle", "EventPattern": pattern.to_string() }),
    )
    .await;
    moto.json_call(
        "events",
        "AWSEvents.PutTargets",
        &json!({ "Rule": "facerec-lifecycle", "Targets": [{ "Id": "queue", "Arn": queue_arn }] }),
    )
    .await;
    Group {
        ecs,
        autoscaling,
        sdk,
        instances,
        queue_url,
        queue_arn,
    }
}

impl Group {
    /// The instance's `LifecycleState` in the group; `None` once it has left it.
    async fn lifecycle_state(&self, instance_id: &str) -> Option<String> {
        self.autoscaling
            .describe_auto_scaling_instances()
            .instance_ids(instance_id)
            .send()
            .await
            .unwrap()
            .auto_scaling_instances()
            .first()
            .and_then(|i| i.lifecycle_state().map(str::to_string))
    }

    /// Receives `count` messages and hands them over as Lambda's event source mapping
    /// does: one SQS record per message, the EventBridge event as its body.
    async fn receive(&self, moto: &Moto, count: usize) -> SqsEvent {
        let mut records = Vec::new();
        for _ in 0..10 {
            let out = moto
                .json_call(
                    "sqs",
                    "AmazonSQS.ReceiveMessage",
                    &json!({
                        "QueueUrl": self.queue_url,
                        "MaxNumberOfMessages": 10,
                        "WaitTimeSeconds": 1,
                        "AttributeNames": ["All"],
                    }),
                )
                .await;
            for m in out["Messages"].as_array().into_iter().flatten() {
                records.push(json!({
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": m["Attributes"],
                    "messageAttributes": {},
                    "md5OfBody": m["MD5OfBody"],
                    "eventSource": "aws:sqs",
                    "eventSourceARN": self.queue_arn,
                    "awsRegion": "us-east-1",
                }));
            }
            if records.len() >= count {
                break;
            }
        }
        assert_eq!(records.len(), count, "{records:?}");
        serde_json::from_value(json!({ "Records": records })).unwrap()
    }

    /// Starts one worker task on the container instance; returns its ARN.
    async fn start_task(&self, container_instance_arn: &str) -> String {
        self.ecs
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
        self.ecs
            .start_task()
            .cluster(CLUSTER)
            .task_definition("facerec-worker")
            .container_instances(container_instance_arn)
            .send()
            .await
            .unwrap()
            .tasks()[0]
            .task_arn()
            .unwrap()
            .to_string()
    }

    /// ECS managed draining's side: completing its own hook.
    async fn complete_as_ecs(&self, instance_id: &str) -> Result<(), String> {
        self.autoscaling
            .complete_lifecycle_action()
            .auto_scaling_group_name(GROUP)
            .lifecycle_hook_name(ECS_HOOK)
            .instance_id(instance_id)
            .lifecycle_action_result("CONTINUE")
            .send()
            .await
            .map(|_| ())
            .map_err(|e| aws_sdk_autoscaling::error::DisplayErrorContext(&e).to_string())
    }
}

fn hook_of(record: &aws_lambda_events::event::sqs::SqsMessage) -> String {
    let event: Value = serde_json::from_str(record.body.as_deref().unwrap()).unwrap();
    event["detail"]["LifecycleHookName"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_completes_our_hook_with_continue_once_the_task_stops() {
    let moto = start_moto();
    // Our hook times out after 3 s without a heartbeat; the task runs 4 s. Only the
    // handler's heartbeats (every 0.5 s) keep the action open until the task stops.
    let g = group(&moto, 3).await;
    let (victim, victim_arn) = &g.instances[0];
    let (_, bystander_arn) = &g.instances[1];
    let task_arn = g.start_task(victim_arn).await;

    // A scale-in picks the victim: Auto Scaling holds it in Terminating:Wait and emits
    // one lifecycle event per hook.
    g.autoscaling
        .terminate_instance_in_auto_scaling_group()
        .instance_id(victim)
        .should_decrement_desired_capacity(true)
        .send()
        .await
        .unwrap();
    // The worker task stops 4 s later (as ECS stops it once the instance drains).
    let stopper = {
        let ecs = g.ecs.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(4)).await;
            ecs.stop_task()
                .cluster(CLUSTER)
                .task(task_arn)
                .send()
                .await
                .unwrap();
            std::time::Instant::now()
        })
    };
    assert_eq!(
        g.lifecycle_state(victim).await,
        Some("Terminating:Wait".to_string())
    );
    let batch = g.receive(&moto, 2).await;
    let ours = batch
        .records
        .iter()
        .position(|r| hook_of(r) == OUR_HOOK)
        .unwrap();
    let theirs = 1 - ours;
    assert_eq!(hook_of(&batch.records[theirs]), ECS_HOOK);

    let handler = SpotHandler::new(
        config(false),
        AwsFleet::new(&g.sdk, CLUSTER),
        RecordedMetrics::default(),
    );
    let started = std::time::Instant::now();
    let out = handler.handle_batch(batch.clone()).await;
    let finished = std::time::Instant::now();
    let task_stopped = stopper.await.unwrap();

    assert_eq!(
        out.records[ours].outcome,
        RecordOutcome::LifecycleDone {
            container_instance_arn: Some(victim_arn.clone()),
            wait: WaitEnd::TasksStopped,
            continued: true
        }
    );
    assert_eq!(
        out.records[theirs].outcome,
        RecordOutcome::Skipped(SkipReason::OtherHook(ECS_HOOK.into()))
    );
    assert!(out.response().batch_item_failures.is_empty());
    assert!(
        finished >= task_stopped,
        "completed before the task stopped"
    );
    let waited = finished - started;
    assert!(waited < Duration::from_secs(15), "{waited:?}");
    assert_eq!(status_of(&g.ecs, CLUSTER, victim_arn).await, "DRAINING");
    assert_eq!(status_of(&g.ecs, CLUSTER, bystander_arn).await, "ACTIVE");

    // Our CONTINUE did not end ECS's action (ABANDON would have): the instance waits on
    // ECS's hook alone, and ECS can still complete it. Then Auto Scaling terminates it.
    assert_eq!(
        g.lifecycle_state(victim).await,
        Some("Terminating:Wait".to_string())
    );
    g.complete_as_ecs(victim).await.unwrap();
    assert_eq!(g.lifecycle_state(victim).await, None);

    let counted = handler.metrics().records_with("Interruptions");
    assert_eq!(counted.len(), 1);
    assert_eq!(counted[0]["EventType"], "terminate-lifecycle");
    assert_eq!(counted[0]["AvailabilityZone"], "us-east-1a");
    let skipped = handler.metrics().records_with("EventsSkipped");
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0]["Reason"], "other-hook");
    assert_eq!(handler.metrics().records_with("TaskStopLatency").len(), 1);

    // SQS redelivers the same messages (say the function timed out): our action is
    // over, which Auto Scaling reports as "No active Lifecycle Action found"; nothing
    // fails, nothing more is counted.
    let again = handler.handle_batch(batch).await;
    assert!(
        matches!(
            again.records[ours].outcome,
            RecordOutcome::LifecycleDone {
                continued: false,
                ..
            }
        ),
        "{:?}",
        again.records[ours].outcome
    );
    assert!(again.response().batch_item_failures.is_empty());
    assert_eq!(handler.metrics().records_with("Interruptions").len(), 1);
    assert_eq!(handler.metrics().records_with("TaskStopLatency").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hook_completed_by_someone_else_ends_the_wait() {
    let moto = start_moto();
    let g = group(&moto, 300).await;
    let (victim, victim_arn) = &g.instances[0];
    g.start_task(victim_arn).await; // never stops
    g.autoscaling
        .terminate_instance_in_auto_scaling_group()
        .instance_id(victim)
        .should_decrement_desired_capacity(true)
        .send()
        .await
        .unwrap();
    let batch = g.receive(&moto, 2).await;
    // An operator answers our hook 1 s into the wait.
    let operator = {
        let autoscaling = g.autoscaling.clone();
        let victim = victim.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            autoscaling
                .complete_lifecycle_action()
                .auto_scaling_group_name(GROUP)
                .lifecycle_hook_name(OUR_HOOK)
                .instance_id(victim)
                .lifecycle_action_result("CONTINUE")
                .send()
                .await
                .unwrap();
        })
    };
    let handler = SpotHandler::new(
        config(false),
        AwsFleet::new(&g.sdk, CLUSTER),
        RecordedMetrics::default(),
    );
    let started = std::time::Instant::now();
    let out = handler.handle_batch(batch).await;
    operator.await.unwrap();
    let done = out
        .records
        .iter()
        .find(|r| matches!(r.outcome, RecordOutcome::LifecycleDone { .. }))
        .unwrap();
    assert_eq!(
        done.outcome,
        RecordOutcome::LifecycleDone {
            container_instance_arn: Some(victim_arn.clone()),
            wait: WaitEnd::ActionEnded,
            continued: false
        }
    );
    // The next heartbeat after the operator's call found the action over (the bound is
    // 30 s).
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(out.response().batch_item_failures.is_empty());
    // ECS's hook is still open: nobody abandoned it.
    g.complete_as_ecs(victim).await.unwrap();
    assert_eq!(g.lifecycle_state(victim).await, None);
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
