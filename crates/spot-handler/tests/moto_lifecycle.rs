//! The termination lifecycle hook with the real SDK clients against moto: a real Auto
//! Scaling group of two instances in our cluster with our hook and ECS's, whose lifecycle
//! events reach the handler as in AWS (Auto Scaling → EventBridge rule → SQS → the records
//! of a Lambda batch); moto's missing lifecycle part is restored by `tools/moto/patches.py`.

mod support;

use support::cluster::*;

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
    create_group(&autoscaling, GROUP, 2, 2, false).await;
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
    let mut instances = Vec::new();
    for id in group_instance_ids(&autoscaling, GROUP).await {
        let arn = register_container_instance(&ecs, CLUSTER, &id).await;
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
    // The rule docs/spot.md prescribes for lifecycle events (group filter only, so
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

    /// A scale-in that picks `instance`: Auto Scaling holds it in Terminating:Wait and
    /// emits one lifecycle event per hook.
    async fn scale_in(&self, instance: &str) {
        self.autoscaling
            .terminate_instance_in_auto_scaling_group()
            .instance_id(instance)
            .should_decrement_desired_capacity(true)
            .send()
            .await
            .unwrap();
    }

    /// Starts one worker task on the container instance; returns its ARN.
    async fn start_task(&self, container_instance_arn: &str) -> String {
        register_worker_task_definition(&self.ecs).await;
        start_worker_task(&self.ecs, CLUSTER, container_instance_arn, None, None).await
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
    g.scale_in(victim).await;
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
    assert_eq!(
        container_instance_status(&g.ecs, CLUSTER, victim_arn).await,
        "DRAINING"
    );
    assert_eq!(
        container_instance_status(&g.ecs, CLUSTER, bystander_arn).await,
        "ACTIVE"
    );

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
    g.scale_in(victim).await;
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
