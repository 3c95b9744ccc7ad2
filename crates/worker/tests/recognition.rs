//! End-to-end tests of the `facerec-worker` binary with real models and photos
//! (testdata/faces, models/ from scripts/fetch-models.sh): the embedded queue with local
//! paths, and SQS + S3 on moto with results in both a result queue and an S3 prefix.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use facerec_engine::{load_image, Detector, Engine, LoadOptions, ModelPaths};
use facerec_test_support::worker_runtime::Backend;
use facerec_test_support::{create_queue, repo_root, WorkerProcess};
use serde_json::{json, Value};

fn faces() -> PathBuf {
    repo_root().join("testdata/faces/fr/examples")
}

fn models() -> PathBuf {
    std::env::var_os("FACEREC_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("models"))
}

fn worker_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_facerec-worker"))
}

/// Gallery entries computed with the engine from reference photos.
fn gallery() -> Value {
    let engine = Engine::load(&ModelPaths::in_dir(models()))
        .unwrap_or_else(|e| panic!("models missing ({e}); run scripts/fetch-models.sh"));
    let entry = |label: &str, file: &str| {
        let img = load_image(&faces().join(file), &LoadOptions::default()).unwrap();
        let faces = engine
            .encode_image(&img, Detector::Hog { upsample: 1 })
            .unwrap();
        assert_eq!(faces.len(), 1, "{file} has one face");
        json!({"label": label, "encoding": faces[0].embedding.to_vec()})
    };
    json!([entry("obama", "obama.jpg"), entry("biden", "biden.jpg")])
}

fn worker_env() -> Vec<(&'static str, String)> {
    vec![
        ("FACEREC_MODELS", models().display().to_string()),
        ("FACEREC_WAIT_TIME", "1".into()),
        ("FACEREC_VISIBILITY_TIMEOUT", "30".into()),
        ("FACEREC_STOP_TIMEOUT", "6".into()),
        ("FACEREC_STOP_MARGIN", "1".into()),
        ("FACEREC_ACK_LINGER", "0.1".into()),
        ("FACEREC_PARALLELISM", "2".into()),
    ]
}

fn check_obama_result(result: &Value) {
    assert_eq!(result["version"], 1);
    let faces = result["faces"].as_array().unwrap();
    assert_eq!(faces.len(), 1, "{result}");
    let face = &faces[0];
    assert_eq!(face["best_match"]["label"], "obama", "{result}");
    let d_obama = face["best_match"]["distance"].as_f64().unwrap();
    assert!(d_obama < 0.6, "{d_obama}");
    let nearest = face["nearest"].as_array().unwrap();
    assert_eq!(nearest.len(), 2);
    assert_eq!(nearest[1]["label"], "biden");
    assert!(nearest[1]["distance"].as_f64().unwrap() > 0.6);
    let b = &face["box"];
    assert!(b["right"].as_i64() > b["left"].as_i64() && b["bottom"].as_i64() > b["top"].as_i64());
    assert!(result["timings"]["total_ms"].as_f64().unwrap() > 0.0);
    assert!(result["width"].as_u64().unwrap() > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_queue_recognises_and_dead_letters_bad_input() {
    let backend = Backend::embedded();
    let dir = tempfile::tempdir().unwrap();
    let corrupt = dir.path().join("corrupt.jpg");
    let mut bytes = std::fs::read(faces().join("obama_small.jpg")).unwrap();
    bytes.truncate(200); // a JPEG header with nothing behind it
    std::fs::write(&corrupt, &bytes).unwrap();
    let job_with = |id: &str, image: &PathBuf, options: Value| {
        json!({"version": 1, "job_id": id, "image": image, "gallery": gallery(),
               "options": options})
        .to_string()
    };
    let job = |id: &str, image: &PathBuf| job_with(id, image, json!({"top_k": 2}));
    backend
        .send(&[
            job("obama", &faces().join("obama_small.jpg")),
            // The accurate detector, by face_recognition's name for it.
            job_with(
                "obama-cnn",
                &faces().join("obama.jpg"),
                json!({"top_k": 2, "detector": "cnn"}),
            ),
            job("corrupt", &corrupt),
            job("missing", &dir.path().join("nope.jpg")),
            "{\"version\":1,".to_string(),
            json!({"version": 7, "job_id": "future", "image": "s3://b/k"}).to_string(),
        ])
        .await;
    let env = worker_env();
    let extra: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut w = WorkerProcess::spawn_bin(
        &worker_bin(),
        &backend.worker_env(),
        &extra,
        dir.path(),
        "w",
    );
    let done = backend
        .wait_for(Duration::from_secs(60), |r, c| r.len() == 2 && c == (0, 0))
        .await;
    assert!(done, "{}", w.log_text());

    // The health check passes while the loop runs, and fails for a file nobody touches.
    let health = |file: PathBuf| {
        Command::new(worker_bin())
            .args(["health", "--max-age", "10"])
            .env("FACEREC_HEALTH_FILE", file)
            .status()
            .unwrap()
            .success()
    };
    assert!(health(dir.path().join("w.alive")));
    assert!(!health(dir.path().join("nobody.alive")));

    w.signal("TERM");
    let (status, _) = w.wait_exit(Duration::from_secs(10)).await.expect("exits");
    assert!(status.success());
    let results = backend.results().await;
    check_obama_result(&results["obama"]);
    check_obama_result(&results["obama-cnn"]);
    let mut reasons: Vec<String> = backend
        .dead_letters()
        .await
        .into_iter()
        .map(|d| d.reason)
        .collect();
    reasons.sort();
    assert_eq!(
        reasons,
        vec![
            "corrupt_image",
            "malformed_json",
            "missing_object",
            "unknown_version"
        ]
    );
    let log = w.log_text();
    assert!(log.contains("recognition models loaded"), "{log}");
    assert!(log.contains("start_to_ready_ms"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqs_job_with_s3_image_and_gallery_writes_both_result_destinations() {
    let backend = Backend::sqs().await;
    let Backend::Sqs { sqs, s3, .. } = &backend else {
        unreachable!()
    };
    s3.create_bucket().bucket("images").send().await.unwrap();
    let put = |key: &str, body: Vec<u8>| {
        s3.put_object()
            .bucket("images")
            .key(key)
            .body(ByteStream::from(body))
            .send()
    };
    put(
        "in/obama.jpg",
        std::fs::read(faces().join("obama_small.jpg")).unwrap(),
    )
    .await
    .unwrap();
    put("galleries/g.json", gallery().to_string().into_bytes())
        .await
        .unwrap();
    let result_queue = create_queue(sqs, "results").await;
    backend
        .send(&[
            json!({"version": 1, "job_id": "s3-obama", "image": "s3://images/in/obama.jpg",
                   "gallery": "s3://images/galleries/g.json"})
            .to_string(),
            json!({"version": 1, "job_id": "s3-missing", "image": "s3://images/in/nope.jpg"})
                .to_string(),
            // Local paths are refused from SQS: the image must be in S3.
            json!({"version": 1, "job_id": "local", "image": "/etc/passwd"}).to_string(),
        ])
        .await;
    let dir = tempfile::tempdir().unwrap();
    let mut env = worker_env();
    env.push(("RESULT_QUEUE_URL", result_queue.clone()));
    let extra: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut w = WorkerProcess::spawn_bin(
        &worker_bin(),
        &backend.worker_env(),
        &extra,
        dir.path(),
        "w",
    );
    let done = backend
        .wait_for(Duration::from_secs(60), |r, c| r.len() == 1 && c == (0, 0))
        .await;
    w.signal("TERM");
    let _ = w.wait_exit(Duration::from_secs(10)).await;
    assert!(done, "{}", w.log_text());
    check_obama_result(&backend.results().await["s3-obama"]);

    let msgs = sqs
        .receive_message()
        .queue_url(&result_queue)
        .max_number_of_messages(10)
        .message_attribute_names("All")
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    assert_eq!(msgs.len(), 1);
    let from_queue: Value = serde_json::from_str(msgs[0].body().unwrap()).unwrap();
    check_obama_result(&from_queue);
    assert_eq!(
        msgs[0].message_attributes().unwrap()["facerec.job-id"].string_value(),
        Some("s3-obama")
    );
    let mut reasons: Vec<String> = backend
        .dead_letters()
        .await
        .into_iter()
        .map(|d| d.reason)
        .collect();
    reasons.sort();
    assert_eq!(reasons, vec!["invalid_job", "missing_object"]);
}

/// A bad value of the worker's own settings exits 2 with one line naming the variable,
/// before any model is loaded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_worker_setting_exits_2_with_one_line() {
    let backend = Backend::embedded();
    let dir = tempfile::tempdir().unwrap();
    for (var, value) in [
        ("FACEREC_MAX_PIXELS", "0"),
        ("FACEREC_MAX_IMAGE_BYTES", "0"),
        ("FACEREC_STOP_MARGIN", "0"),
    ] {
        let mut w = WorkerProcess::spawn_bin(
            &worker_bin(),
            &backend.worker_env(),
            &[(var, value)],
            dir.path(),
            var,
        );
        let (status, _) = w.wait_exit(Duration::from_secs(10)).await.expect("exits");
        let err = w.log_text();
        assert_eq!(status.code(), Some(2), "{var}: {err}");
        let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{var}: {err}");
        assert!(lines[0].contains(var), "{var}: {err}");
    }
}
