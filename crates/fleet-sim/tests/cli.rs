//! The command line end to end: the report command writes the markdown and real PNG /
//! SVG plots (text rendered from the bundled font), and bad input is a clear error.

use std::path::PathBuf;

fn scaling_json() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../terraform/scaling.json")
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fleet-sim-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn report_writes_markdown_and_plots() {
    let out = temp_dir("report");
    let scaling = scaling_json();
    facerec_fleet_sim::run([
        "fleet-sim",
        "report",
        "--no-tuning",
        "--out",
        out.to_str().unwrap(),
        "--scaling",
        scaling.to_str().unwrap(),
    ])
    .unwrap();
    let md = std::fs::read_to_string(out.join("scaling.md")).unwrap();
    for name in facerec_fleet_sim::trace::TRACE_NAMES {
        assert!(
            md.contains(&format!("## Trace `{name}`")),
            "missing section for {name}"
        );
        let png = std::fs::read(out.join("scaling").join(format!("{name}.png"))).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert!(png.len() > 10_000, "{name}.png is suspiciously small");
        let svg = std::fs::read_to_string(out.join("scaling").join(format!("{name}.svg"))).unwrap();
        assert!(
            svg.contains("<svg") && svg.contains("running tasks"),
            "{name}.svg lacks its text"
        );
    }
    // The derived target comes from the same file Terraform reads.
    assert!(
        md.contains("= **50.0** messages per task"),
        "derived target missing"
    );
    assert!(md.contains("plan as written"));
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn bad_input_is_a_clear_error() {
    let dir = temp_dir("override");
    let scaling = scaling_json();
    let scaling = scaling.to_str().unwrap();
    let over = dir.join("tfvars.json");
    std::fs::write(&over, r#"{"max_tasks": 0}"#).unwrap();
    let over = over.to_str().unwrap();
    // Each command line, and what its error must name.
    for (args, names) in [
        (
            vec!["--trace", "lone", "--scaling", scaling, "--override", over],
            "max_tasks",
        ),
        (
            vec!["--trace", "nope", "--scaling", scaling],
            "unknown trace",
        ),
        (
            vec!["--scaling", "/nonexistent/scaling.json"],
            "/nonexistent/scaling.json",
        ),
    ] {
        let err =
            facerec_fleet_sim::run(["fleet-sim", "table"].into_iter().chain(args)).unwrap_err();
        assert!(err.to_string().contains(names), "{err}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `fleet-sim cost` (`facerec simulate cost`): runs with the user's file and prices, and
/// refuses nonsense speeds and prices.
#[test]
fn cost_report_runs_and_checks_its_inputs() {
    let scaling = scaling_json();
    let scaling = scaling.to_str().unwrap();
    facerec_fleet_sim::run([
        "fleet-sim",
        "cost",
        "--trace",
        "lone",
        "--spot-price",
        "0.05",
        "--images-per-vcpu-second",
        "2.5",
        "--scaling",
        scaling,
    ])
    .unwrap();
    facerec_fleet_sim::run([
        "fleet-sim",
        "cost",
        "--trace",
        "lone",
        "--json",
        "--scaling",
        scaling,
    ])
    .unwrap();
    for (flag, value) in [
        ("--images-per-vcpu-second", "0"),
        ("--task-vcpus", "-2"),
        ("--spot-price", "-1"),
    ] {
        let arg = format!("{flag}={value}");
        let err = facerec_fleet_sim::run([
            "fleet-sim",
            "cost",
            "--trace",
            "lone",
            arg.as_str(),
            "--scaling",
            scaling,
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains(flag), "{flag} {value}: {err}");
    }
    let err =
        facerec_fleet_sim::run(["fleet-sim", "cost", "--trace", "nope", "--scaling", scaling])
            .unwrap_err()
            .to_string();
    assert!(err.contains("unknown trace"), "{err}");
}

/// Runs the fleet-sim binary with `--json` on a trace file and the repository's scaling
/// file, plus `extra` flags.
fn run_on_trace(trace: &std::path::Path, extra: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_fleet-sim"))
        .args(["--trace", trace.to_str().unwrap(), "--json", "--scaling"])
        .arg(scaling_json())
        .args(extra)
        .output()
        .unwrap()
}

/// `fleet-sim --trace FILE --json` (`facerec simulate --trace FILE --json`): an operator's
/// own traffic, a summary a script can read, and bad files refused in one line.
#[test]
fn trace_file_runs_and_prints_json() {
    let dir = temp_dir("trace-file");
    let csv = dir.join("mine.csv");
    // A lone job after 10 minutes idle, then a small burst with one 20-minute job.
    std::fs::write(
        &csv,
        "arrival_seconds,job_seconds\n600,6\n3000,1200\n3001,6\n3002,6\n",
    )
    .unwrap();
    let run = |extra: &[&str]| {
        let out = run_on_trace(&csv, extra);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let v = run(&[]);
    assert_eq!(v["ours"]["jobs"], 4);
    assert_eq!(v["jobs_lost"], 0);
    assert_eq!(
        v["instances_at_end"], 0,
        "the scaler scales in after the trace"
    );
    assert!(v["wait_max_all_jobs"].as_u64().unwrap() > 0);
    assert!(v["oracle_instance_hours"].as_f64().unwrap() > 0.0);
    // The scaler dead from the start: the backstop serves every job, keeps its instances.
    let dead = run(&["--scaler-outage", "0-"]);
    assert_eq!(dead["jobs_lost"], 0);
    assert!(dead["instances_at_end"].as_u64().unwrap() >= 1);
    let first = |v: &serde_json::Value| v["ours"]["first_result"].as_f64().unwrap();
    assert!(
        first(&dead) > first(&v) + 300.0,
        "the backstop reacts minutes later"
    );
    // Without the backstop nothing serves them.
    let none = run(&["--scaler-outage", "0-", "--no-backstop"]);
    assert_eq!(none["jobs_lost"], 4);

    let bad = dir.join("bad.csv");
    std::fs::write(&bad, "600,6\n700;6\n").unwrap();
    let err = facerec_fleet_sim::run([
        "fleet-sim",
        "--trace",
        bad.to_str().unwrap(),
        "--scaling",
        scaling_json().to_str().unwrap(),
    ])
    .unwrap_err()
    .to_string();
    assert!(err.contains("bad.csv:2:") && !err.contains('\n'), "{err}");
    let err = facerec_fleet_sim::run([
        "fleet-sim",
        "--trace",
        csv.to_str().unwrap(),
        "--scaler-outage",
        "later",
        "--scaling",
        scaling_json().to_str().unwrap(),
    ])
    .unwrap_err()
    .to_string();
    assert!(err.contains("--scaler-outage"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `--world` and the world flags: the idealised world on request, a capacity window from
/// the command line, and a window without an end refused in one line.
#[test]
fn world_flags_reach_the_simulation() {
    let dir = temp_dir("world-flags");
    let csv = dir.join("one.csv");
    std::fs::write(&csv, "arrival_seconds,job_seconds\n600,6\n").unwrap();
    let run = |extra: &[&str]| {
        let out = run_on_trace(&csv, extra);
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let first = |extra: &[&str]| {
        let (ok, stdout, stderr) = run(extra);
        assert!(ok, "{stderr}");
        let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        v["ours"]["first_result"].as_f64().unwrap()
    };
    let ideal = first(&["--world", "ideal"]);
    let held = first(&["--world", "ideal", "--no-capacity", "500-1800"]);
    assert!(held >= ideal + 1000.0, "{ideal} s vs {held} s");
    let (ok, _, stderr) = run(&["--no-capacity", "500-"]);
    assert!(!ok && stderr.contains("--no-capacity"), "{stderr}");
    let (ok, _, stderr) = run(&["--missed-invocations", "2"]);
    assert!(!ok && stderr.contains("--missed-invocations"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}
