//! The real `bootstrap` executable, end to end (file named for the Runtime API so its
//! test binary does not share the `bootstrap` name): a loopback stand-in for the Lambda
//! Runtime API hands it one scheduled event, the function scales the fleet in moto, and
//! its response and stdout (JSON logs + EMF lines) are what Lambda would receive.

mod support;

use serde_json::json;
use support::{
    failed_cold_start, fleet, invoke_once, packaged_bootstrap, CLUSTER, GROUP, PARAMETER, SERVICE,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_serves_one_invocation_through_the_runtime_api() {
    serve_one_invocation(env!("CARGO_BIN_EXE_facerec-backlog-scaler")).await;
}

/// The binary that goes into the zip. `scripts/build-lambda.sh backlog-scaler` runs this
/// with `FACEREC_BACKLOG_SCALER_BOOTSTRAP` naming it, before zipping.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "runs the packaged binary named by FACEREC_BACKLOG_SCALER_BOOTSTRAP; scripts/build-lambda.sh backlog-scaler runs it"]
async fn packaged_bootstrap_serves_one_invocation() {
    serve_one_invocation(&packaged_bootstrap("FACEREC_BACKLOG_SCALER_BOOTSTRAP")).await;
}

/// A missing variable fails the cold start with its name, before any event is taken.
#[test]
fn bootstrap_refuses_a_missing_variable() {
    let all = failed_cold_start(
        env!("CARGO_BIN_EXE_facerec-backlog-scaler"),
        &[
            ("QUEUE_URL", "https://sqs.example/1/jobs"),
            ("CLUSTER_NAME", CLUSTER),
            ("SERVICE_NAME", SERVICE),
            ("AUTOSCALING_GROUP_NAME", GROUP),
        ],
    );
    assert!(all.contains("STATE_PARAMETER"), "{all}");
}

async fn serve_one_invocation(binary: &str) {
    let f = fleet(40, 0, 0).await;
    // What EventBridge Scheduler sends when the target has no input: an empty object.
    let event = "{}".to_string();
    let run = invoke_once(
        binary,
        "backlog-scaler",
        event,
        f.moto.endpoint(),
        &[
            ("QUEUE_URL", &f.queue_url),
            ("CLUSTER_NAME", CLUSTER),
            ("SERVICE_NAME", SERVICE),
            ("AUTOSCALING_GROUP_NAME", GROUP),
            ("STATE_PARAMETER", PARAMETER),
            ("JOB_SECONDS", "6"),
            ("ACCEPTABLE_LATENCY_SECONDS", "300"),
            ("TARGET_UTILIZATION", "1"),
            ("MIN_TASKS", "0"),
            ("MAX_TASKS", "5"),
            // One poll: the test does not wait 50 s of real time.
            ("RUN_SECONDS", "0"),
            ("METRICS_NAMESPACE", "test/bootstrap"),
        ],
    )
    .await;
    let (payload, lines, stdout) = (&run.payload, &run.lines, &run.stdout);
    assert_eq!(payload["polls"][0]["visible"], json!(40));
    assert_eq!(payload["polls"][0]["desired_tasks"], json!(2));
    assert_eq!(payload["failed_polls"], json!([]));
    assert_eq!(f.service_desired().await, 2);
    assert_eq!(f.group().await.0, 2);
    assert_eq!(f.state().await.samples.len(), 1);

    // Every stdout line is JSON (asserted by `invoke_once`): log and EMF records alike.
    let poll = lines
        .iter()
        .find(|v| v.get("DesiredTasks").is_some())
        .expect("the poll's EMF line");
    assert_eq!(
        poll["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        "test/bootstrap"
    );
    assert_eq!(poll["ServiceName"], SERVICE);
    assert_eq!(poll["Visible"], 40.0);
    assert!(
        lines
            .iter()
            .any(|v| v.get("level").is_some() && v["fields"]["message"] == "poll"),
        "{stdout}"
    );
}
