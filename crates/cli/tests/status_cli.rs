//! `facerec status` against moto: the queue's and the DLQ's counts, the ECS service's
//! tasks and the Auto Scaling group's instances, set up as Terraform names them; the
//! oldest job's age from the CloudWatch metric SQS publishes (put into moto here, which
//! publishes no SQS metrics of its own).

mod support;

use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use facerec_test_support::fleet::{create_group, create_worker_service};
use facerec_test_support::{aws_env, create_queue, sdk_config, set_test_env, Moto};
use support::*;

fn status(moto: &Moto, args: &[&str]) -> std::process::Output {
    let mut c = facerec();
    c.arg("status")
        .args(args)
        .args(["--endpoint-url", &moto.endpoint]);
    c.envs(aws_env(&moto.endpoint));
    c.env_remove("AWS_PROFILE")
        .env_remove("QUEUE_URL")
        .env_remove("DLQ_URL")
        .env_remove("FACEREC_NAME")
        .output()
        .unwrap()
}

/// `facerec status --queue-url JOBS --json`, asserting success; the document it prints.
fn status_json(moto: &Moto, jobs: &str) -> serde_json::Value {
    let o = status(moto, &["--queue-url", jobs, "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_str(&stdout(&o)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_shows_queue_dlq_tasks_and_instances() {
    set_test_env();
    let moto = Moto::start();
    let sdk = sdk_config(&moto.endpoint).await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    let asg = aws_sdk_autoscaling::Client::new(&sdk);
    let jobs = &create_queue(&sqs, "facerec-worker-jobs").await;
    let dlq = &create_queue(&sqs, "facerec-worker-jobs-dlq").await;
    for (url, n) in [(jobs, 3), (dlq, 2)] {
        for k in 0..n {
            let body = format!("{{\"job\":{k}}}");
            sqs.send_message()
                .queue_url(url)
                .message_body(body)
                .send()
                .await
                .unwrap();
        }
    }
    // One job in flight.
    let got = sqs
        .receive_message()
        .queue_url(jobs)
        .visibility_timeout(300)
        .send()
        .await
        .unwrap();
    assert_eq!(got.messages().len(), 1);
    ecs.create_cluster()
        .cluster_name("facerec-worker-cluster")
        .send()
        .await
        .unwrap();
    create_worker_service(&ecs, "facerec-worker-cluster", "facerec-worker-service", 4).await;
    create_group(&asg, "facerec-worker-asg", 10, 2, true).await;

    // No metric yet: the age is unknown, and the rest of the status still stands.
    let s = status_json(&moto, jobs);
    assert_eq!(
        s["queue"]["oldest"]["seconds"],
        serde_json::Value::Null,
        "{s}"
    );
    assert!(
        s["queue"]["oldest"]["why"]
            .as_str()
            .is_some_and(|w| w.contains(
                "no AWS/SQS ApproximateAgeOfOldestMessage datapoint for facerec-worker-jobs"
            )),
        "{s}"
    );

    // The age as SQS publishes it: per queue name, each minute. The newest datapoint wins,
    // and another queue's metric is not taken for ours.
    let cw = aws_sdk_cloudwatch::Client::new(&sdk);
    let now = std::time::SystemTime::now();
    for (queue, minutes_ago, age) in [
        ("facerec-worker-jobs", 3, 120.0),
        ("facerec-worker-jobs", 1, 245.0),
        ("other-jobs", 0, 9_999.0),
    ] {
        let at = now - std::time::Duration::from_secs(60 * minutes_ago);
        cw.put_metric_data()
            .namespace("AWS/SQS")
            .metric_data(
                MetricDatum::builder()
                    .metric_name("ApproximateAgeOfOldestMessage")
                    .dimensions(Dimension::builder().name("QueueName").value(queue).build())
                    .timestamp(at.into())
                    .value(age)
                    .unit(StandardUnit::Seconds)
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }

    // Default names (Terraform's `name` = facerec-worker), the DLQ beside the queue.
    let s = status_json(&moto, jobs);
    assert_eq!(s["queue"]["visible"], 2, "{s}");
    assert_eq!(s["queue"]["in_flight"], 1, "{s}");
    assert_eq!(s["dlq"]["url"], dlq.as_str(), "{s}");
    assert_eq!(s["dlq"]["visible"], 2, "{s}");
    assert_eq!(s["queue"]["oldest"]["seconds"], 245.0, "{s}");
    assert_eq!(s["service"]["desired"], 4, "{s}");
    assert_eq!(s["group"]["desired"], 2, "{s}");
    let instances = s["group"]["instances"].as_array().unwrap();
    assert_eq!(instances.len(), 2, "{s}");
    assert!(instances.iter().all(|i| i["zone"] == "us-east-1a"
        && i["protected_from_scale_in"] == true
        && i["id"].as_str().is_some_and(|id| id.starts_with("i-"))));

    let o = status(&moto, &["--queue-url", jobs]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains("queue    2 visible, 1 in flight, 0 delayed"),
        "{text}"
    );
    assert!(
        text.contains("\noldest   4 min 5 s (CloudWatch, "),
        "{text}"
    );
    assert!(text.contains("dlq      2 message(s)"), "{text}");
    assert!(
        text.contains("service  facerec-worker-cluster/facerec-worker-service: 4 desired"),
        "{text}"
    );
    assert!(
        text.contains("group    facerec-worker-asg: 2 desired (min 0, max 10), 2 instance(s)"),
        "{text}"
    );

    // A service that does not exist: one line naming it and the fix, exit 2.
    let o = status(&moto, &["--queue-url", jobs, "--service", "nope"]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("service nope in cluster facerec-worker-cluster"),
        "{err}"
    );
}
