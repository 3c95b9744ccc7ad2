//! End-to-end: the `facerec-load` binary against SQS on moto (spawned per test on a free
//! loopback port, killed on drop), plus its input errors.

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Output};
use std::time::Duration;

use aws_sdk_sqs::types::{QueueAttributeName, SendMessageBatchRequestEntry};
use facerec_fleet_sim::params::ScalingParams;
use facerec_job::{GallerySpec, ImageRef, JobV1};
use facerec_load_generator::arrivals::{Pacing, Schedule};
use facerec_load_generator::job::JobFactory;
use facerec_load_generator::load::{execute, LoadPlan};
use facerec_load_generator::sampler::parse_csv;
use facerec_test_support::{repo_root, sdk_config, Moto};

/// A client of `moto`'s SQS and a new queue `name` in it (FIFO if the name says so).
async fn queue(moto: &Moto, name: &str) -> (aws_sdk_sqs::Client, String) {
    let client = aws_sdk_sqs::Client::new(&sdk_config(&moto.endpoint).await);
    let mut create = client.create_queue().queue_name(name);
    if name.ends_with(".fifo") {
        create = create.attributes(QueueAttributeName::FifoQueue, "true");
    }
    let url = create.send().await.unwrap().queue_url.unwrap();
    (client, url)
}

/// The binary with the AWS environment common.md prescribes (endpoint added per test).
fn load_command() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_facerec-load"));
    cmd.current_dir(repo_root())
        .env_remove("QUEUE_URL")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ENDPOINT_URL_SQS")
        .env_remove("AWS_PROFILE")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null");
    cmd
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn depth(client: &aws_sdk_sqs::Client, url: &str) -> BTreeMap<String, u64> {
    let out = client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .unwrap();
    out.attributes
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(k, v)| Some((k.as_str().to_string(), v.parse().ok()?)))
        .collect()
}

/// Receives every message (hidden for 10 minutes so none comes back) and parses each
/// body with the worker's contract type.
async fn drain_jobs(client: &aws_sdk_sqs::Client, url: &str) -> Vec<JobV1> {
    let mut jobs = Vec::new();
    let mut empty = 0;
    while empty < 2 {
        let out = client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .visibility_timeout(600)
            .send()
            .await
            .unwrap();
        let messages = out.messages.unwrap_or_default();
        if messages.is_empty() {
            empty += 1;
        }
        for m in messages {
            let body = m.body.unwrap();
            jobs.push(JobV1::parse(&body, false).unwrap_or_else(|e| panic!("{body}: {e:?}")));
        }
    }
    jobs
}

fn s3_key(job: &JobV1) -> String {
    match &job.image {
        ImageRef::S3 { bucket, key } => format!("{bucket}/{key}"),
        other => panic!("not an S3 image: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spike_trace_sends_every_job_and_records_depth() {
    let moto = Moto::start();
    let (client, url) = queue(&moto, "jobs").await;
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("depth.csv");

    // The simulator's whole spike trace (10 min idle, 15 task-minutes of jobs at once,
    // then 20 min of Poisson arrivals), kept short by an override that makes jobs take
    // 60 s, so there are ~75 of them (moto slows down as a queue grows). At 1200x: 0.5 s
    // of idle, then about a second of sending.
    let overrides = dir.path().join("slow-jobs.json");
    std::fs::write(&overrides, r#"{"job_seconds": 60}"#).unwrap();
    let params = ScalingParams::load(
        &repo_root().join("terraform/scaling.json"),
        Some(&overrides),
    )
    .unwrap();
    let expected = facerec_fleet_sim::trace::build("spike", &params, 7)
        .unwrap()
        .arrivals
        .len();
    assert!(
        (40..200).contains(&expected),
        "spike has {expected} arrivals"
    );

    let out = load_command()
        .args(["--queue-url", &url, "--endpoint-url", &moto.endpoint])
        .args([
            "--trace",
            "spike",
            "--speedup",
            "1200",
            "--run-id",
            "e2e-spike",
        ])
        .args([
            "--image",
            "s3://photos/a.jpg",
            "--image",
            "s3://photos/b.jpg",
        ])
        .args(["--sample-seconds", "0.1", "--watch-after", "0.3"])
        .arg("--override")
        .arg(&overrides)
        .arg("--out")
        .arg(&csv)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        stdout.contains(&format!("jobs sent:     {expected} of {expected}")),
        "{stdout}"
    );

    // The queue holds exactly the trace's jobs.
    let counts = depth(&client, &url).await;
    assert_eq!(counts["ApproximateNumberOfMessages"], expected as u64);

    // The recording: increasing times, plausible counts, ending with everything sent.
    let samples = parse_csv(&std::fs::read_to_string(&csv).unwrap()).unwrap();
    assert!(samples.len() >= 3, "{} samples", samples.len());
    assert!(samples.windows(2).all(|w| w[1].t_seconds > w[0].t_seconds));
    assert!(samples.windows(2).all(|w| w[1].sent >= w[0].sent));
    assert_eq!(
        samples[0].sent, 0,
        "the first sample precedes the first arrival"
    );
    for s in &samples {
        // `sent` counts acknowledged jobs; batches SQS has stored but not yet answered
        // (at most 4 calls of 10, the default concurrency) may be counted by the queue.
        assert!(s.depth.total() <= s.sent + 40, "no consumer: {s:?}");
    }
    let last = samples.last().unwrap();
    assert_eq!(last.sent, expected as u64);
    assert_eq!(last.depth.visible, expected as u64);
    // Sending started after the 0.5 s of leading idle time, not before.
    let first_sent = samples.iter().find(|s| s.sent > 0).unwrap();
    assert!(first_sent.t_seconds >= 0.5, "{first_sent:?}");

    // Every body is a v1 job; ids unique and from this run; images round-robin.
    let jobs = drain_jobs(&client, &url).await;
    assert_eq!(jobs.len(), expected);
    let ids: BTreeSet<&str> = jobs.iter().map(|j| j.job_id.as_str()).collect();
    assert_eq!(ids.len(), expected, "job ids must be unique");
    assert!(ids.iter().all(|id| id.starts_with("e2e-spike:")));
    let a = jobs.iter().filter(|j| s3_key(j) == "photos/a.jpg").count();
    assert_eq!(a, expected.div_ceil(2));
    assert!(jobs
        .iter()
        .all(|j| j.gallery == GallerySpec::Inline(vec![])));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arrivals_file_to_a_fifo_queue_via_aws_endpoint_url() {
    let moto = Moto::start();
    let (client, url) = queue(&moto, "jobs.fifo").await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("arrivals.csv");
    std::fs::write(&file, "offset_seconds\n0\n0.5\n0.5\n1.0\n2.5\n").unwrap();

    let out = load_command()
        .env("AWS_ENDPOINT_URL", &moto.endpoint)
        .args(["--queue-url", &url, "--arrivals"])
        .arg(&file)
        .args(["--speedup", "10", "--run-id", "e2e-fifo"])
        .args([
            "--image",
            "s3://photos/x.png",
            "--gallery",
            "s3://galleries/staff.json",
        ])
        .args(["--sample-seconds", "0.1"])
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("jobs sent:     5 of 5"), "{stdout}");

    let jobs = drain_jobs(&client, &url).await;
    let ids: BTreeSet<String> = jobs.iter().map(|j| j.job_id.clone()).collect();
    let want: BTreeSet<String> = (0..5).map(|i| format!("e2e-fifo:00000{i}")).collect();
    assert_eq!(ids, want);
    assert!(jobs
        .iter()
        .all(|j| j.gallery == GallerySpec::Uri("s3://galleries/staff.json".into())));

    // A queue that does not exist fails before anything is sent, naming the queue.
    let missing = format!("{}/123456789012/no-such-queue", moto.endpoint);
    let out = load_command()
        .env("AWS_ENDPOINT_URL", &moto.endpoint)
        .args(["--queue-url", &missing, "--arrivals"])
        .arg(&file)
        .args(["--image", "s3://photos/x.png"])
        .output()
        .unwrap();
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot read the attributes of queue"),
        "{stderr}"
    );
    assert!(stderr.contains("no-such-queue"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_ends_sending_early_and_still_summarises() {
    let moto = Moto::start();
    let (client, url) = queue(&moto, "stop").await;
    // Five jobs at once, then one an hour later: stopping after 0.5 s sends five.
    let pacing = Pacing::new(1.0, None, false).unwrap();
    let schedule = Schedule::new(vec![0.0, 0.0, 0.0, 0.0, 0.0, 3600.0], pacing).unwrap();
    let jobs = JobFactory::new("stop".into(), vec!["s3://b/k.jpg".into()], None, 6).unwrap();
    let plan = LoadPlan {
        queue_url: url.clone(),
        schedule,
        jobs,
        sample_every: Duration::from_millis(100),
        watch_after: Duration::ZERO,
        stop_when_drained: false,
        out: None,
        concurrency: 2,
    };
    // An async block's timer starts when sending starts polling it, not at creation.
    let stop = async { tokio::time::sleep(Duration::from_millis(500)).await };
    let summary =
        tokio::time::timeout(Duration::from_secs(20), execute(plan, client.clone(), stop))
            .await
            .expect("stopped promptly")
            .unwrap();
    assert!(summary.interrupted);
    assert_eq!(summary.jobs_sent, 5);
    assert_eq!(summary.jobs_planned, 6);
    assert_eq!(summary.peak_visible, 5);
    assert_eq!(depth(&client, &url).await["ApproximateNumberOfMessages"], 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_include_messages_already_queued() {
    let moto = Moto::start();
    let (client, url) = queue(&moto, "busy").await;
    let entries = (0..3)
        .map(|i| {
            SendMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .message_body("old")
                .build()
                .unwrap()
        })
        .collect();
    client
        .send_message_batch()
        .queue_url(&url)
        .set_entries(Some(entries))
        .send()
        .await
        .unwrap();
    let plan = LoadPlan {
        queue_url: url.clone(),
        schedule: Schedule::new(vec![0.0, 0.1], Pacing::new(1.0, None, false).unwrap()).unwrap(),
        jobs: JobFactory::new("busy".into(), vec!["s3://b/k.jpg".into()], None, 2).unwrap(),
        sample_every: Duration::from_millis(50),
        watch_after: Duration::from_millis(100),
        stop_when_drained: false,
        out: None,
        concurrency: 1,
    };
    let summary = execute(plan, client, std::future::pending()).await.unwrap();
    assert_eq!(summary.initial_depth.visible, 3);
    assert_eq!(summary.jobs_sent, 2);
    assert_eq!(summary.peak_visible, 5);
    assert!(summary
        .to_string()
        .contains("held 3 messages before the run"));
}

#[test]
fn bad_arguments_fail_with_clear_messages() {
    let base = [
        "--queue-url",
        "http://127.0.0.1:9/123456789012/jobs",
        "--image",
        "s3://b/k.jpg",
    ];
    let cases: &[(&[&str], &str)] = &[
        (&["--trace", "weekly"], "unknown trace \"weekly\""),
        (
            &["--trace", "steady", "--speedup", "0"],
            "--speedup must be a finite number > 0",
        ),
        (
            &["--trace", "steady", "--speedup", "-60"],
            "--speedup must be a finite number > 0",
        ),
        (
            &["--trace", "steady", "--speedup", "fast"],
            "invalid value 'fast'",
        ),
        (
            &["--trace", "steady", "--endpoint-url", "127.0.0.1:4566"],
            "--endpoint-url",
        ),
        (
            &["--trace", "steady", "--image", "photos/a.jpg"],
            "expected s3://bucket/key",
        ),
        (
            &["--trace", "steady", "--run-id", "a/b"],
            "--run-id \"a/b\"",
        ),
        (&["--trace", "steady", "--limit", "0"], "--limit is 0"),
        (
            &["--arrivals", "/nonexistent/arrivals.csv"],
            "arrivals file /nonexistent/arrivals.csv",
        ),
        (&[], "--trace <TRACE>|--arrivals <FILE>"),
    ];
    for (extra, needle) in cases {
        let out = load_command().args(base).args(*extra).output().unwrap();
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {stderr}");
        assert!(
            stderr.contains(needle),
            "{extra:?}: want {needle:?} in:\n{stderr}"
        );
        assert!(
            stdout.is_empty(),
            "{extra:?}: nothing is sent or summarised"
        );
    }
    // A queue URL that is not one.
    let out = load_command()
        .args([
            "--queue-url",
            "jobs",
            "--image",
            "s3://b/k.jpg",
            "--trace",
            "lone",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("--queue-url \"jobs\""));
    // No region anywhere.
    let out = load_command()
        .env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION")
        .args(base)
        .args(["--trace", "lone"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("no AWS region"), "{}", text(&out).1);
}
