//! The real `bootstrap` executable, end to end (file named for the Runtime API so its
//! test binary does not share the `bootstrap` name): a loopback stand-in for the Lambda
//! Runtime API hands it one SQS batch, the function drains the instance in moto, and its
//! response and stdout (JSON logs + EMF lines) are what Lambda would receive.

mod support;

use std::process::{Command, Stdio};

use serde_json::{json, Value};
use support::{answer_to_first_invocation, sdk_config, start_moto, Reply, Stub};

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
    let out = Command::new(env!("CARGO_BIN_EXE_facerec-spot-handler"))
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9") // never reached
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_REGION", "us-east-1")
        .env("CLUSTER_NAME", "facerec")
        .env("AUTOSCALING_GROUP_NAME", "facerec-workers")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
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
    let arn = ecs
        .register_container_instance()
        .cluster("facerec")
        .instance_identity_document(json!({ "instanceId": instance }).to_string())
        .send()
        .await
        .unwrap()
        .container_instance()
        .and_then(|c| c.container_instance_arn())
        .unwrap()
        .to_string();

    let fixture = format!(
        "{}/tests/fixtures/spot-interruption-warning.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let body = std::fs::read_to_string(fixture)
        .unwrap()
        .replace("i-1234567890abcdef0", &instance);
    let event = json!({ "Records": [
        { "messageId": "m-1", "body": body, "eventSource": "aws:sqs" },
        { "messageId": "m-2", "body": "garbage", "eventSource": "aws:sqs" },
    ]})
    .to_string();

    // The Runtime API: the first `next` returns the batch; later ones fail, which makes
    // the runtime exit once it has posted its response.
    let served = std::sync::atomic::AtomicBool::new(false);
    let runtime_api = Stub::start(move |request| {
        let first_line = request
            .headers
            .lines()
            .next()
            .unwrap_or_default()
            .to_string();
        if first_line.starts_with("GET /2018-06-01/runtime/invocation/next") {
            if served.swap(true, std::sync::atomic::Ordering::SeqCst) {
                return Reply {
                    status: 500,
                    headers: vec![],
                    body: String::new(),
                };
            }
            let deadline = chrono::Utc::now().timestamp_millis() + 60_000;
            return Reply {
                status: 200,
                headers: vec![
                    ("Content-Type".into(), "application/json".into()),
                    ("Lambda-Runtime-Aws-Request-Id".into(), "req-1".into()),
                    ("Lambda-Runtime-Deadline-Ms".into(), deadline.to_string()),
                    (
                        "Lambda-Runtime-Invoked-Function-Arn".into(),
                        "arn:aws:lambda:us-east-1:123456789012:function:spot".into(),
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
        .env("AWS_LAMBDA_FUNCTION_NAME", "spot")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "stream")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "group")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_ENDPOINT_URL", &moto.endpoint)
        .env("CLUSTER_NAME", "facerec")
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
    assert_eq!(payload, json!({"batchItemFailures": []}));

    let status = ecs
        .describe_container_instances()
        .cluster("facerec")
        .container_instances(&arn)
        .send()
        .await
        .unwrap()
        .container_instances()[0]
        .status()
        .unwrap()
        .to_string();
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
