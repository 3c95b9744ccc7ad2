//! The cluster the moto tests share: constants, the AWS sample events retargeted at moto's
//! instances, registration of container instances, two instances in our cluster and
//! one in another.

#![allow(dead_code, unused_imports)] // each test binary uses a different subset

pub use std::time::Duration;

pub use aws_lambda_events::event::sqs::SqsEvent;
pub use facerec_spot_handler::{
    AwsFleet, HandlerConfig, LifecycleWait, RecordOutcome, RecordedMetrics, SkipReason,
    SpotHandler, WaitEnd,
};
pub use serde_json::{json, Value};

pub use facerec_test_support::fleet::{
    container_instance_status, create_group, group_instance_ids, register_container_instance,
    register_worker_task_definition, start_worker_task,
};

pub use super::{autoscaling_error, ecs_error, sdk_config, start_moto, Moto, Reply, Stub};

pub const CLUSTER: &str = "facerec";
pub const SAMPLE_INSTANCE: &str = "i-1234567890abcdef0";
pub const GROUP: &str = "facerec-workers";
pub const OUR_HOOK: &str = "facerec-drain";
/// The hook ECS installs on the group when the capacity provider has managed draining.
pub const ECS_HOOK: &str = "ecs-managed-draining-termination-hook";

pub fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The AWS sample event `name`, retargeted at `instance_id` with a fresh event id.
pub fn event_for(name: &str, instance_id: &str, event_id: &str) -> String {
    let mut event: serde_json::Value =
        serde_json::from_str(&fixture(name).replace(SAMPLE_INSTANCE, instance_id)).unwrap();
    event["id"] = json!(event_id);
    event.to_string()
}

pub fn batch(bodies: &[&str]) -> SqsEvent {
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

pub fn config(capacity_rebalance: bool) -> HandlerConfig {
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

/// Two instances in our cluster (in two AZs) and one in another cluster.
pub struct Cluster {
    pub ecs: aws_sdk_ecs::Client,
    pub sdk: aws_config::SdkConfig,
    pub instances: Vec<(String, String)>, // (ec2 id, container instance arn)
    pub foreign: (String, String),
}

pub async fn cluster(moto: &Moto) -> Cluster {
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
        let arn = register_container_instance(&ecs, CLUSTER, &id).await;
        instances.push((id, arn));
    }
    let foreign_id = moto.run_instance("us-east-1c").await;
    let foreign_arn = register_container_instance(&ecs, "someone-else", &foreign_id).await;
    Cluster {
        ecs,
        sdk,
        instances,
        foreign: (foreign_id, foreign_arn),
    }
}
