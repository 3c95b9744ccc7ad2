//! `facerec simulate` and `facerec load` reach their crates with their own arguments.

mod support;

use support::*;

#[test]
fn simulate_prints_the_table_for_one_trace() {
    let out = facerec()
        .args(["simulate", "table", "--trace", "lone"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.contains("### lone"), "{table}");
    assert!(table.contains("ours (deployed)"), "{table}");
    assert!(table.contains("oracle"), "{table}");
}

#[test]
fn load_rejects_a_bad_speedup_before_sending_anything() {
    let out = facerec()
        .args([
            "load",
            "--queue-url",
            "http://127.0.0.1:9/123456789012/jobs",
            "--image",
            "s3://bucket/a.jpg",
            "--trace",
            "lone",
            "--speedup",
            "0",
        ])
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("speedup"));
}
