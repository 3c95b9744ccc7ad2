//! The real `bootstrap` executable, end to end (file named for the Runtime API so its
//! test binary does not share the `bootstrap` name): a loopback stand-in for the Lambda
//! Runtime API hands it one SQS batch, the function drains the instance in moto, and its
//! response and stdout (JSON logs + EMF lines) are what Lambda would receive.

mod support;

use serde_json::{json, Value};
use support::cluster::{container_instance_status, fixture, register_container_instance};
use support::{failed_cold_start, invoke_once, packaged_bootstrap, sdk_config, start_moto};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_serves_one_invocation_through_the_runtime_api() {
    serve_one_invocation(env!("CARGO_BIN_EXE_facerec-spot-handler")).await;
}

/// The binary that goes into the zip (cargo-zigbuild's, or the host release build).
/// `scripts/build-spot-handler.sh` runs this with `FACEREC_SPOT_HANDLER_BOOTSTRAP`
/// naming it, before zipping.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "runs the packaged binary named by FACEREC_SPOT_HANDLER_BOOTSTRAP; scripts/build-spot-handler.sh runs it"]
async fn packaged_bootstrap_serves_one_invocation() {
    serve_one_invocation(&packaged_bootstrap("FACEREC_SPOT_HANDLER_BOOTSTRAP")).await;
}

/// A group without our hook's name cannot tell our hook from ECS's: the cold start
/// fails with a message naming the missing variable, before any event is taken.
#[test]
fn bootstrap_refuses_a_group_without_a_hook_name() {
    let all = failed_cold_start(
        env!("CARGO_BIN_EXE_facerec-spot-handler"),
        &[
            ("CLUSTER_NAME", "facerec"),
            ("AUTOSCALING_GROUP_NAME", "facerec-workers"),
        ],
    );
    assert!(all.contains("LIFECYCLE_HOOK_NAME"), "{all}");
}

async fn serve_one_invocation(binary: &str) {
    let moto = start_moto();
    let sdk = sdk_config(&moto.endpoint).await;
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    ecs.create_cluster()
        .cluster_name("facerec")
        .send()
        .await
        .unwrap();
    let instance = moto.run_instance("us-east-1a").await;
    let arn = register_container_instance(&ecs, "facerec", &instance).await;

    let body = fixture("spot-interruption-warning.json").replace("i-1234567890abcdef0", &instance);
    let event = json!({ "Records": [
        { "messageId": "m-1", "body": body, "eventSource": "aws:sqs" },
        { "messageId": "m-2", "body": "garbage", "eventSource": "aws:sqs" },
    ]})
    .to_string();

    let run = invoke_once(
        binary,
        "spot",
        event,
        &moto.endpoint,
        &[
            ("CLUSTER_NAME", "facerec"),
            ("METRICS_NAMESPACE", "test/bootstrap"),
        ],
    )
    .await;
    let (lines, stdout) = (&run.lines, &run.stdout);
    assert_eq!(run.payload, json!({"batchItemFailures": []}));

    let status = container_instance_status(&ecs, "facerec", &arn).await;
    assert_eq!(status, "DRAINING");

    // Every stdout line is JSON (asserted by `invoke_once`): log and EMF records alike.
    let emf: Vec<&Value> = lines.iter().filter(|v| v.get("_aws").is_some()).collect();
    let interruption = emf
        .iter()
        .find(|v| v.get("Interruptions").is_some())
        .expect("Interruptions metric");
    assert_eq!(
        interruption["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        "test/bootstrap"
    );
    assert_eq!(interruption["AvailabilityZone"], "us-east-1a");
    assert!(emf.iter().any(|v| v["Reason"] == "malformed"));
    let logs: Vec<&Value> = lines.iter().filter(|v| v.get("level").is_some()).collect();
    assert!(
        logs.iter().any(
            |v| v["fields"]["message"] == "event handled" && v["fields"]["message_id"] == "m-1"
        ),
        "{stdout}"
    );
    assert!(
        logs.iter().any(
            |v| v["fields"]["message"] == "event skipped" && v["fields"]["message_id"] == "m-2"
        ),
        "{stdout}"
    );
}
