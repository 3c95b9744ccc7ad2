//! The real `bootstrap` executable, end to end (file named for the Runtime API so its
//! test binary does not share the `bootstrap` name): a loopback stand-in for the Lambda
//! Runtime API hands it one SQS batch, the function drains the instance in moto, and its
//! response and stdout (JSON logs + EMF lines) are what Lambda would receive.

mod support;

use serde_json::{json, Value};
use support::cluster::{fixture, register, status_of};
use support::{
    answer_to_first_invocation, failed_cold_start, lambda_bootstrap, runtime_api_with_one_event,
    sdk_config, start_moto,
};

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
    let binary = std::env::var("FACEREC_SPOT_HANDLER_BOOTSTRAP")
        .expect("FACEREC_SPOT_HANDLER_BOOTSTRAP must name the packaged bootstrap");
    serve_one_invocation(&binary).await;
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
    let arn = register(&ecs, "facerec", &instance).await;

    let body = fixture("spot-interruption-warning.json").replace("i-1234567890abcdef0", &instance);
    let event = json!({ "Records": [
        { "messageId": "m-1", "body": body, "eventSource": "aws:sqs" },
        { "messageId": "m-2", "body": "garbage", "eventSource": "aws:sqs" },
    ]})
    .to_string();

    let runtime_api = runtime_api_with_one_event("spot", event).await;

    let mut child = lambda_bootstrap(binary, &runtime_api, "spot", &moto.endpoint)
        .env("CLUSTER_NAME", "facerec")
        .env("METRICS_NAMESPACE", "test/bootstrap")
        .spawn()
        .unwrap();

    let (response, stdout, stderr) = answer_to_first_invocation(&runtime_api, &mut child).await;

    assert!(
        response.headers.contains("/invocation/req-1/response"),
        "the function reported an error: {} {}\nstderr: {stderr}",
        response.headers,
        response.body
    );
    let payload: Value = serde_json::from_str(&response.body).unwrap();
    assert_eq!(payload, json!({"batchItemFailures": []}));

    let status = status_of(&ecs, "facerec", &arn).await;
    assert_eq!(status, "DRAINING");

    // Every stdout line is JSON: log records and EMF records alike.
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
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
