//! `facerec submit` and `facerec results` against moto (S3 + SQS on 127.0.0.1), with the
//! fleet worker's own runtime and recognition handler consuming the jobs in between — the
//! same code the ECS task runs — so the names read back are real recognitions.

mod support;

use facerec_engine::{Engine, ModelPaths};
use facerec_worker::recognition::{Limits, RecognitionHandler};
use facerec_worker_runtime::queue::sqs::SqsQueue;
use facerec_worker_runtime::results::{ResultSinks, S3Prefix};
use facerec_worker_runtime::{Runtime, RuntimeConfig};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::*;
use tokio_util::sync::CancellationToken;

/// moto on a free loopback port, killed on drop.
struct Moto {
    _server: facerec_moto_server::MotoServer, // kept alive: dropping it stops moto
    endpoint: String,
}

impl Moto {
    fn start() -> Moto {
        let server = facerec_moto_server::MotoServer::start();
        let endpoint = server.endpoint().to_string();
        Moto {
            _server: server,
            endpoint,
        }
    }
}

const AWS_ENV: [(&str, &str); 4] = [
    ("AWS_EC2_METADATA_DISABLED", "true"),
    ("AWS_REGION", "us-east-1"),
    ("AWS_ACCESS_KEY_ID", "test"),
    ("AWS_SECRET_ACCESS_KEY", "test"),
];

fn cli(moto: &Moto, args: &[&str]) -> std::process::Output {
    let mut c = facerec();
    c.args(args).args(["--endpoint-url", &moto.endpoint]);
    for (k, v) in AWS_ENV {
        c.env(k, v);
    }
    c.env_remove("AWS_PROFILE").output().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_then_worker_then_results_names_the_faces() {
    for (k, v) in AWS_ENV {
        std::env::set_var(k, v);
    }
    let moto = Moto::start();
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(&moto.endpoint)
        .load()
        .await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let s3 = facerec_worker_runtime::aws::s3_client(&sdk);
    s3.create_bucket().bucket("photos").send().await.unwrap();
    let queue_url = |name: &str| {
        let sqs = sqs.clone();
        let name = name.to_string();
        async move {
            sqs.create_queue()
                .queue_name(name)
                .send()
                .await
                .unwrap()
                .queue_url
                .unwrap()
        }
    };
    let jobs = queue_url("jobs").await;
    let results_q = queue_url("results").await;

    let tmp = tempfile::tempdir().unwrap();
    let gallery = tmp.path().join("gallery.json");
    let o = run(&[
        "enroll",
        "examples/demo/known",
        "-o",
        gallery.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::write(tmp.path().join("notes.jpg"), "not a photo").unwrap();

    let submit = |moto: &Moto| {
        cli(
            moto,
            &[
                "submit",
                "--queue-url",
                &jobs,
                "--upload-to",
                "s3://photos/incoming",
                "--gallery",
                gallery.to_str().unwrap(),
                "examples/demo/photos/two_people.jpg",
                "examples/demo/photos/alex-lacamoire.png",
                tmp.path().join("notes.jpg").to_str().unwrap(),
            ],
        )
    };
    let o = submit(&moto);
    assert_eq!(o.status.code(), Some(1), "one bad photo: {}", stderr(&o));
    assert!(
        stderr(&o).contains("notes.jpg: not a JPEG or PNG image"),
        "{}",
        stderr(&o)
    );
    let submitted: Vec<(String, String)> = stdout(&o)
        .lines()
        .map(|l| {
            let (id, uri) = l.split_once(',').unwrap();
            (id.to_string(), uri.to_string())
        })
        .collect();
    assert_eq!(submitted.len(), 2, "{}", stdout(&o));
    for (id, uri) in &submitted {
        let key = uri.strip_prefix("s3://photos/").unwrap();
        assert!(
            key.starts_with("incoming/") && key.contains(id.as_str()),
            "{uri}"
        );
        s3.head_object()
            .bucket("photos")
            .key(key)
            .send()
            .await
            .unwrap();
    }
    // Submitting the same photos again gives the same job ids: results stay one per photo.
    let again = submit(&moto);
    assert_eq!(stdout(&again), stdout(&o));

    // The fleet worker's runtime and handler consume the queue (4 messages, 2 jobs).
    let engine = Arc::new(
        Engine::load(&ModelPaths::in_dir(root().join("models"))).expect("scripts/fetch-models.sh"),
    );
    let handler = RecognitionHandler::new(
        engine,
        s3.clone(),
        false,
        Limits {
            max_image_bytes: 25 << 20,
            max_pixels: 40_000_000,
        },
    );
    let sinks = ResultSinks::default()
        .with_s3(s3.clone(), S3Prefix::parse("s3://photos/results").unwrap())
        .with_queue(sqs.clone(), results_q.clone());
    let config = RuntimeConfig {
        parallelism: 2,
        wait_time: Duration::from_secs(1),
        ack_linger: Duration::from_millis(100),
        ..RuntimeConfig::default()
    };
    let runtime = Runtime::new(
        SqsQueue::new(sqs.clone(), &jobs, None),
        handler,
        sinks,
        config,
    );
    let stats = runtime.stats();
    let stop = CancellationToken::new();
    let worker = tokio::spawn(runtime.run(stop.clone()));
    let t = Instant::now();
    while stats.succeeded.load(std::sync::atomic::Ordering::Relaxed)
        + stats
            .already_done
            .load(std::sync::atomic::Ordering::Relaxed)
        < 4
    {
        assert!(t.elapsed() < Duration::from_secs(60), "worker too slow");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.cancel();
    worker.await.unwrap();

    let expected = pairs(&[
        ("two_people.jpg", "biden"),
        ("two_people.jpg", "obama"),
        ("alex-lacamoire.png", "unknown_person"),
    ]);
    let o = cli(
        &moto,
        &["results", "--prefix", "s3://photos/results", "--csv"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(names(&stdout(&o)), expected);

    let o = cli(&moto, &["results", "--prefix", "s3://photos/results"]);
    let docs: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut ids: Vec<&str> = docs.iter().map(|d| d["job_id"].as_str().unwrap()).collect();
    ids.sort();
    let mut want: Vec<&str> = submitted.iter().map(|(id, _)| id.as_str()).collect();
    want.sort();
    assert_eq!(ids, want);

    // The result queue holds a message per delivery (at-least-once); each job prints once,
    // and what was printed is consumed.
    let o = cli(
        &moto,
        &["results", "--queue-url", &results_q, "--wait", "2", "--csv"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(names(&stdout(&o)), expected);
    let o = cli(
        &moto,
        &["results", "--queue-url", &results_q, "--wait", "1"],
    );
    assert!(stdout(&o).is_empty(), "consumed: {}", stdout(&o));
}
