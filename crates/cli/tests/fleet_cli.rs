//! `facerec submit` and `facerec results` against moto (S3 + SQS on 127.0.0.1), with the
//! fleet worker's own runtime and recognition handler consuming the jobs in between — the
//! same code the ECS task runs — so the names read back are real recognitions.

mod support;

use aws_sdk_sqs::types::QueueAttributeName;
use facerec_engine::{Engine, ModelPaths};
use facerec_job::Limits;
use facerec_test_support::{create_queue, Moto};
use facerec_worker::recognition::RecognitionHandler;
use facerec_worker::source::ImageSources;
use facerec_worker_runtime::queue::sqs::SqsQueue;
use facerec_worker_runtime::results::{ResultSinks, S3Prefix};
use facerec_worker_runtime::{Runtime, RuntimeConfig};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::*;
use tokio_util::sync::CancellationToken;

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
    // Tests that do not pass --manifest keep no manifest (not one in the repository).
    c.env("FACEREC_MANIFEST", "/dev/null");
    c.env_remove("AWS_PROFILE").output().unwrap()
}

/// `facerec submit --queue-url JOBS --upload-to UPLOAD_TO REST…` run by `cli`.
fn cli_submit(moto: &Moto, jobs: &str, upload_to: &str, rest: &[&str]) -> std::process::Output {
    let mut args = vec!["submit", "--queue-url", jobs, "--upload-to", upload_to];
    args.extend(rest);
    cli(moto, &args)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_then_worker_then_results_names_the_faces() {
    for (k, v) in AWS_ENV {
        std::env::set_var(k, v);
    }
    let moto = Moto::start();
    let (sqs, s3, jobs) = photos_and_jobs(&moto).await;
    let results_q = create_queue(&sqs, "results").await;
    let dlq = create_queue(&sqs, "jobs-dlq").await;

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
    // A JPEG cut in half: sent (it looks like a JPEG), dead-lettered by the worker.
    let whole = std::fs::read(root().join("examples/demo/photos/eileen-collins.jpg")).unwrap();
    let truncated = tmp.path().join("truncated.jpg");
    std::fs::write(&truncated, &whole[..whole.len() / 2]).unwrap();
    let manifest = tmp.path().join("submitted.jsonl");

    let submit = |moto: &Moto| {
        cli_submit(
            moto,
            &jobs,
            "s3://photos/incoming",
            &[
                "--gallery",
                gallery.to_str().unwrap(),
                "--manifest",
                manifest.to_str().unwrap(),
                "examples/demo/photos/obama-and-biden.jpg",
                "examples/demo/photos/eileen-collins.jpg",
                tmp.path().join("notes.jpg").to_str().unwrap(),
                truncated.to_str().unwrap(),
            ],
        )
    };
    let o = submit(&moto);
    assert_eq!(o.status.code(), Some(1), "one bad photo: {}", stderr(&o));
    assert!(
        stderr(&o).contains("notes.jpg: not an image facerec reads"),
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
    assert_eq!(submitted.len(), 3, "{}", stdout(&o));
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

    // The fleet worker's runtime and handler consume the queue (6 messages, 3 jobs, the
    // truncated one dead-lettered twice).
    // Where the facerec binary finds them too: $FACEREC_MODELS, else the repository's models/.
    let models = std::env::var_os("FACEREC_MODELS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root().join("models"));
    let engine =
        Arc::new(Engine::load(&ModelPaths::in_dir(models)).expect("scripts/fetch-models.sh"));
    let limits = Limits {
        max_image_bytes: 25 << 20,
        max_pixels: 40_000_000,
    };
    let handler = RecognitionHandler::new(
        engine,
        ImageSources::with_s3(s3.clone(), limits.max_image_bytes),
        false,
        limits,
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
        SqsQueue::new(sqs.clone(), &jobs, Some(dlq.clone())),
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
        || stats
            .dead_lettered
            .load(std::sync::atomic::Ordering::Relaxed)
            < 2
    {
        assert!(t.elapsed() < Duration::from_secs(60), "worker too slow");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.cancel();
    worker.await.unwrap();

    let expected = pairs(&[
        ("obama-and-biden.jpg", "biden"),
        ("obama-and-biden.jpg", "obama"),
        ("eileen-collins.jpg", "unknown_person"),
    ]);
    let o = cli(
        &moto,
        &["results", "--prefix", "s3://photos/results", "--csv"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(names(&stdout(&o)), expected);
    // With the manifest, each result names the local photo that was submitted.
    let photos = root().join("examples/demo/photos");
    let o = cli(
        &moto,
        &[
            "results",
            "--prefix",
            "s3://photos/results",
            "--csv",
            "--manifest",
            manifest.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o)
            .lines()
            .all(|l| l.starts_with(photos.to_str().unwrap())),
        "{}",
        stdout(&o)
    );

    // --dlq-url adds the dead-lettered job once (two copies in the DLQ), with the
    // worker's reason and the local path; a failed job, so exit 1; nothing is deleted.
    let with_dlq = |csv: bool| {
        let mut a = vec![
            "results",
            "--prefix",
            "s3://photos/results",
            "--dlq-url",
            &dlq,
        ];
        a.extend(["--manifest", manifest.to_str().unwrap()]);
        if csv {
            a.push("--csv");
        }
        cli(&moto, &a)
    };
    let o = with_dlq(false);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let docs: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(docs.len(), 3, "{}", stdout(&o));
    let dead: Vec<_> = docs.iter().filter(|d| d.get("error").is_some()).collect();
    assert_eq!(dead.len(), 1, "{}", stdout(&o));
    assert_eq!(dead[0]["error"]["code"], "corrupt_image", "{}", dead[0]);
    assert_eq!(
        dead[0]["local_path"],
        truncated.canonicalize().unwrap().to_str().unwrap()
    );
    assert!(docs.iter().all(|d| d["local_path"].is_string()), "{docs:?}");
    let o = with_dlq(true);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("truncated.jpg,dead_letter:corrupt_image\n"),
        "{}",
        stdout(&o)
    );
    let attrs = queue_attributes(&sqs, &dlq, QueueAttributeName::ApproximateNumberOfMessages).await;
    assert_eq!(
        attrs[&QueueAttributeName::ApproximateNumberOfMessages],
        "2",
        "read, not deleted, and visible again"
    );

    let o = cli(&moto, &["results", "--prefix", "s3://photos/results"]);
    let docs: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut ids: Vec<&str> = docs.iter().map(|d| d["job_id"].as_str().unwrap()).collect();
    ids.sort();
    let mut want: Vec<&str> = submitted
        .iter()
        .filter(|(_, uri)| !uri.ends_with("truncated.jpg"))
        .map(|(id, _)| id.as_str())
        .collect();
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

async fn sdk(moto: &Moto) -> aws_config::SdkConfig {
    for (k, v) in AWS_ENV {
        std::env::set_var(k, v);
    }
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(&moto.endpoint)
        .load()
        .await
}

/// The attribute `name` (`All`: every one) of the queue at `url`, as SQS reports it.
async fn queue_attributes(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    name: QueueAttributeName,
) -> std::collections::HashMap<QueueAttributeName, String> {
    let got = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(name)
        .send()
        .await
        .unwrap();
    got.attributes().unwrap().clone()
}

/// Clients for `moto`, its bucket `photos` and its queue `jobs` (created): SQS, S3, the
/// queue's URL.
async fn photos_and_jobs(moto: &Moto) -> (aws_sdk_sqs::Client, aws_sdk_s3::Client, String) {
    let sdk = sdk(moto).await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let s3 = facerec_worker_runtime::aws::s3_client(&sdk);
    s3.create_bucket().bucket("photos").send().await.unwrap();
    let jobs = create_queue(&sqs, "jobs").await;
    (sqs, s3, jobs)
}

/// `facerec submit --queue-url QUEUE_URL --upload-to s3://photos/in --endpoint-url
/// ENDPOINT`, for the caller to add photos, options and environment to.
fn submit_cmd(queue_url: &str, endpoint: &str) -> std::process::Command {
    let mut c = facerec();
    c.args([
        "submit",
        "--queue-url",
        queue_url,
        "--upload-to",
        "s3://photos/in",
    ])
    .args(["--endpoint-url", endpoint]);
    c
}

/// The job ids of `results`' JSON lines, sorted.
fn job_ids(out: &str) -> Vec<String> {
    let mut ids: Vec<String> = out
        .lines()
        .map(|l| {
            let doc: serde_json::Value = serde_json::from_str(l).unwrap();
            doc["job_id"].as_str().unwrap().to_string()
        })
        .collect();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_max_prints_that_many_and_leaves_the_rest_in_the_queue() {
    let moto = Moto::start();
    let sqs = aws_sdk_sqs::Client::new(&sdk(&moto).await);
    let q = create_queue(&sqs, "results").await;
    for id in ["job-a", "job-b", "job-c"] {
        let doc = serde_json::json!({"version": 1, "job_id": id, "image": format!("s3://b/{id}.jpg"), "faces": []});
        sqs.send_message()
            .queue_url(&q)
            .message_body(doc.to_string())
            .send()
            .await
            .unwrap();
    }
    sqs.send_message()
        .queue_url(&q)
        .message_body("not a result")
        .send()
        .await
        .unwrap();

    let o = cli(
        &moto,
        &["results", "--queue-url", &q, "--max", "1", "--wait", "1"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let first = job_ids(&stdout(&o));
    assert_eq!(first.len(), 1, "{}", stdout(&o));

    // Nothing unprinted was deleted or hidden: the next reader gets the other two at once.
    let o = cli(&moto, &["results", "--queue-url", &q, "--wait", "2"]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "the foreign message: {}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("is not a result document"),
        "{}",
        stderr(&o)
    );
    let rest = job_ids(&stdout(&o));
    let mut all: Vec<String> = first.iter().chain(&rest).cloned().collect();
    all.sort();
    assert_eq!(all, ["job-a", "job-b", "job-c"], "each result exactly once");
    let attrs = queue_attributes(&sqs, &q, QueueAttributeName::All).await;
    let count = |name: QueueAttributeName| attrs[&name].parse::<u32>().unwrap();
    use aws_sdk_sqs::types::QueueAttributeName as A;
    // Left: only the message that is not a result (hidden for its visibility timeout).
    assert_eq!(
        count(A::ApproximateNumberOfMessages) + count(A::ApproximateNumberOfMessagesNotVisible),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_reports_each_bad_input_and_sends_the_rest() {
    let moto = Moto::start();
    let (sqs, s3, jobs) = photos_and_jobs(&moto).await;
    let queued = || async {
        let attrs =
            queue_attributes(&sqs, &jobs, QueueAttributeName::ApproximateNumberOfMessages).await;
        attrs[&QueueAttributeName::ApproximateNumberOfMessages]
            .parse::<u32>()
            .unwrap()
    };
    let uploaded = || async {
        s3.list_objects_v2()
            .bucket("photos")
            .send()
            .await
            .unwrap()
            .contents()
            .len()
    };

    // A gallery of another version: refused before anything is uploaded or sent.
    let tmp = tempfile::tempdir().unwrap();
    let v2 = tmp.path().join("v2.json");
    std::fs::write(
        &v2,
        r#"{"format": "facerec-gallery", "version": 2, "entries": []}"#,
    )
    .unwrap();
    let photo = "examples/demo/photos/obama-small.jpg";
    let o = cli_submit(
        &moto,
        &jobs,
        "s3://photos/in",
        &["--gallery", v2.to_str().unwrap(), photo],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("v2.json") && err.contains("version 2"),
        "{err}"
    );
    assert_eq!((queued().await, uploaded().await), (0, 0));

    // A missing path and an empty folder: one line each, the good photo still sent.
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let missing = tmp.path().join("missing.jpg");
    let o = cli_submit(
        &moto,
        &jobs,
        "s3://photos/in",
        &[missing.to_str().unwrap(), empty.to_str().unwrap(), photo],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    let errors = error_lines(&err);
    assert_eq!(errors.len(), 2, "{err}");
    assert!(errors
        .iter()
        .any(|l| l.contains("missing.jpg") && l.contains("no such file")));
    assert!(errors
        .iter()
        .any(|l| l.contains("empty") && l.contains("no images")));
    assert_eq!(stdout(&o).lines().count(), 1, "{}", stdout(&o));
    assert!(stdout(&o).contains("obama-small.jpg"));
    assert_eq!((queued().await, uploaded().await), (1, 1));

    // An upload that fails (no such bucket) fails the next ones too: one line, uploads
    // stop, and the s3:// image given as it is still goes out.
    let o = cli_submit(
        &moto,
        &jobs,
        "s3://no-such-bucket/in",
        &[
            photo,
            "examples/demo/photos/eileen-collins.jpg",
            "s3://photos/elsewhere/already-there.jpg",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    let errors = error_lines(&err);
    assert_eq!(errors.len(), 1, "{err}");
    assert!(
        errors[0].contains("obama-small.jpg")
            && errors[0].contains("NoSuchBucket")
            && errors[0].contains("stopped uploading (1 more photo(s) not submitted)"),
        "{err}"
    );
    let out = stdout(&o);
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(
        out.trim()
            .ends_with(",s3://photos/elsewhere/already-there.jpg"),
        "{out}"
    );
    assert_eq!(queued().await, 2);
}

/// `facerec submit` of a folder of photos with a clean environment: no profile files
/// (HOME is an empty folder), static test credentials and a region unless `strip` names
/// them.
fn submit_with(
    moto: &Moto,
    photos: &std::path::Path,
    queue_url: &str,
    strip: &[&str],
) -> std::process::Output {
    let home = tempfile::tempdir().unwrap();
    let mut c = submit_cmd(queue_url, &moto.endpoint);
    c.arg(photos)
        .env("HOME", home.path())
        .env("AWS_CONFIG_FILE", home.path().join("config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            home.path().join("credentials"),
        )
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_DEFAULT_REGION");
    for (k, v) in AWS_ENV {
        if strip.contains(&k) {
            c.env_remove(k);
        } else {
            c.env(k, v);
        }
    }
    c.output().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_fails_fast_and_once_before_uploading_anything() {
    let moto = Moto::start();
    let (_, s3, jobs) = photos_and_jobs(&moto).await;
    let tmp = tempfile::tempdir().unwrap();
    let photos = tmp.path().join("photos");
    for i in 0..5 {
        copy_photos(&photos, &[("obama_small.jpg", &format!("p{i}.jpg"))]);
    }
    let uploaded = || async {
        let listed = s3.list_objects_v2().bucket("photos").send().await.unwrap();
        listed.contents().len()
    };
    let one_line = |o: &std::process::Output, needle: &str| {
        let err = stderr(o);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(needle), "{needle:?} not in {err}");
    };

    let wrong = jobs.replace("/jobs", "/no-such-queue");
    one_line(
        &submit_with(&moto, &photos, &wrong, &[]),
        "the job queue does not answer",
    );
    one_line(
        &submit_with(&moto, &photos, &jobs, &["AWS_REGION"]),
        "no AWS region: pass --region",
    );
    one_line(
        &submit_with(
            &moto,
            &photos,
            &jobs,
            &["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"],
        ),
        "no AWS credentials",
    );
    // Nothing reachable at all: one line, in seconds, not one per photo.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let started = Instant::now();
    let o = submit_cmd(&jobs, &closed)
        .arg(&photos)
        .envs(AWS_ENV)
        .env_remove("AWS_PROFILE")
        .output()
        .unwrap();
    one_line(&o, "the job queue does not answer");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        uploaded().await,
        0,
        "nothing may be uploaded before the queue answers"
    );

    // --region works where the environment has none.
    let o = submit_cmd(&jobs, &moto.endpoint)
        .args(["--region", "us-east-1"])
        .arg(&photos)
        .envs(AWS_ENV.iter().filter(|(k, _)| *k != "AWS_REGION").copied())
        .env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION")
        .env_remove("AWS_PROFILE")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(uploaded().await, 5);
}
