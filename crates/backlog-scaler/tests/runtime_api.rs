//! The real `bootstrap` executable, end to end (file named for the Runtime API so its
//! test binary does not share the `bootstrap` name): a loopback stand-in for the Lambda
//! Runtime API hands it one scheduled event, the function scales the fleet in moto, and
//! its response and stdout (JSON logs + EMF lines) are what Lambda would receive.

mod support;

use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use support::{answer_to_first_invocation, fleet, Reply, Stub, CLUSTER, GROUP, PARAMETER, SERVICE};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_serves_one_invocation_through_the_runtime_api() {
    serve_one_invocation(env!("CARGO_BIN_EXE_facerec-backlog-scaler")).await;
}

/// The binary that goes into the zip. `scripts/build-lambda.sh backlog-scaler` runs this
/// with `FACEREC_BACKLOG_SCALER_BOOTSTRAP` naming it, before zipping.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "runs the packaged binary named by FACEREC_BACKLOG_SCALER_BOOTSTRAP; scripts/build-lambda.sh backlog-scaler runs it"]
async fn packaged_bootstrap_serves_one_invocation() {
    let binary = std::env::var("FACEREC_BACKLOG_SCALER_BOOTSTRAP")
        .expect("FACEREC_BACKLOG_SCALER_BOOTSTRAP must name the packaged bootstrap");
    serve_one_invocation(&binary).await;
}

/// A missing variable fails the cold start with its name, before any event is taken.
#[test]
fn bootstrap_refuses_a_missing_variable() {
    let out = Command::new(env!("CARGO_BIN_EXE_facerec-backlog-scaler"))
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9") // never reached
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_REGION", "us-east-1")
        .env("QUEUE_URL", "https://sqs.example/1/jobs")
        .env("CLUSTER_NAME", CLUSTER)
        .env("SERVICE_NAME", SERVICE)
        .env("AUTOSCALING_GROUP_NAME", GROUP)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(all.contains("STATE_PARAMETER"), "{all}");
}

async fn serve_one_invocation(binary: &str) {
    let f = fleet(40, 0, 0).await;
    // What EventBridge Scheduler sends when the target has no input: an empty object.
    let event = "{}".to_string();
    let served = std::sync::atomic::AtomicBool::new(false);
    let runtime_api = Stub::start(move |request| {
        let first_line = request
            .headers
            .lines()
            .next()
            .unwrap_or_default()
            .to_string();
        if first_line.starts_with("GET /2018-06-01/runtime/invocation/next") {
            // Later `next` calls fail, which makes the runtime exit once it has responded.
            if served.swap(true, std::sync::atomic::Ordering::SeqCst) {
                return Reply {
                    status: 500,
                    headers: vec![],
                    body: String::new(),
                };
            }
            let now_ms = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_millis();
            return Reply {
                status: 200,
                headers: vec![
                    ("Content-Type".into(), "application/json".into()),
                    ("Lambda-Runtime-Aws-Request-Id".into(), "req-1".into()),
                    (
                        "Lambda-Runtime-Deadline-Ms".into(),
                        (now_ms + 60_000).to_string(),
                    ),
                    (
                        "Lambda-Runtime-Invoked-Function-Arn".into(),
                        "arn:aws:lambda:us-east-1:123456789012:function:backlog-scaler".into(),
                    ),
                ],
                body: event.clone(),
            };
        }
        Reply {
            status: 202,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: r#"{"status":"OK"}"#.into(),
        }
    })
    .await;

    let mut child = Command::new(binary)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env(
            "AWS_LAMBDA_RUNTIME_API",
            runtime_api.endpoint.trim_start_matches("http://"),
        )
        .env("AWS_LAMBDA_FUNCTION_NAME", "backlog-scaler")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "stream")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "group")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_ENDPOINT_URL", f.moto.endpoint())
        .env("QUEUE_URL", &f.queue_url)
        .env("CLUSTER_NAME", CLUSTER)
        .env("SERVICE_NAME", SERVICE)
        .env("AUTOSCALING_GROUP_NAME", GROUP)
        .env("STATE_PARAMETER", PARAMETER)
        .env("JOB_SECONDS", "6")
        .env("ACCEPTABLE_LATENCY_SECONDS", "300")
        .env("TARGET_UTILIZATION", "1")
        .env("MIN_TASKS", "0")
        .env("MAX_TASKS", "5")
        // One poll: the test does not wait 50 s of real time.
        .env("RUN_SECONDS", "0")
        .env("METRICS_NAMESPACE", "test/bootstrap")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
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
    assert_eq!(payload["polls"][0]["visible"], json!(40));
    assert_eq!(payload["polls"][0]["desired_tasks"], json!(2));
    assert_eq!(payload["failed_polls"], json!([]));
    assert_eq!(f.service_desired().await, 2);
    assert_eq!(f.group().await.0, 2);
    assert_eq!(f.state().await.samples.len(), 1);

    // Every stdout line is JSON: log records and EMF records alike.
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
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
