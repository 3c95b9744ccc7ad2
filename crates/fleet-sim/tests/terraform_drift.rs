//! The simulator's "ours" must be the design Terraform deploys. This reads
//! `terraform/modules/scaling/main.tf` (and the root `locals.tf` that derives T) and
//! checks every metric, expression, alarm rule and step that `policy::deployed` and the
//! controller model, so neither side can change without the other.

use std::path::PathBuf;

use facerec_fleet_sim::params::ScalingParams;
use facerec_fleet_sim::policy::{deployed, wake_step};

fn terraform(path: &str) -> String {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../terraform")
        .join(path);
    std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

/// Whitespace-insensitive text without whole-line comments: Terraform aligns `=` with
/// spaces, `terraform fmt` may realign them, and neither that nor a comment that names
/// a metric counts.
fn squash(s: &str) -> String {
    s.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .flat_map(str::split_whitespace)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The text of one `resource "TYPE" "NAME" { … }` block (up to the next top-level
/// resource), squashed.
fn resource(tf: &str, kind: &str, name: &str) -> String {
    let head = format!("resource \"{kind}\" \"{name}\"");
    let start = tf
        .find(&head)
        .unwrap_or_else(|| panic!("main.tf has no {head}"));
    let rest = &tf[start + head.len()..];
    let end = rest.find("\nresource \"").unwrap_or(rest.len());
    rest[..end].to_string()
}

fn assert_has(text: &str, what: &str, needle: &str) {
    let needle = squash(needle);
    assert!(
        squash(text).contains(&needle),
        "{what}: terraform/ no longer contains `{needle}`; \
         update the simulator's model of \"ours\" (crates/fleet-sim/src/policy.rs) with it"
    );
}

/// Terraform's spelling of a metric query on one of the metrics the simulator models.
fn metric_name(id: &str) -> String {
    let (_, namespace, name) = deployed::METRICS
        .iter()
        .find(|(i, _, _)| *i == id)
        .unwrap_or_else(|| panic!("no metric {id}"));
    format!("namespace = \"{namespace}\" metric_name = \"{name}\"")
}

#[test]
fn target_tracking_is_tasks_needed_per_desired_task() {
    let tf = terraform("modules/scaling/main.tf");
    let tt = resource(&tf, "aws_appautoscaling_policy", "tasks_needed");
    let what = "target tracking";
    assert_has(&tt, what, "policy_type = \"TargetTrackingScaling\"");
    assert_has(&tt, what, "target_value = var.target_utilization");
    assert_has(
        &tt,
        what,
        "scale_out_cooldown = var.scale_out_cooldown_seconds",
    );
    assert_has(
        &tt,
        what,
        "scale_in_cooldown = var.scale_in_cooldown_seconds",
    );
    // Statistics the simulator's datapoints stand for: sent is a per-minute Sum, the
    // gauges are Averages (one sample per minute in the model).
    for (id, stat) in [
        ("sent", "Sum"),
        ("visible", "Average"),
        ("desired", "Average"),
    ] {
        assert_has(
            &tt,
            what,
            &format!(
                "id = \"{id}\" return_data = false metric_stat {{ stat = \"{stat}\" metric {{ {}",
                metric_name(id)
            ),
        );
    }
    // The simulator's two expressions, with Terraform's interpolated coefficients.
    let needed = deployed::TASKS_NEEDED
        .replace("{arrival}", "${local.arrival_coefficient}")
        .replace("{backlog}", "${local.backlog_coefficient}");
    assert_has(&tt, what, "id = \"needed\"");
    assert_has(&tt, what, &format!("expression = \"{needed}\""));
    assert_has(
        &tt,
        what,
        &format!(
            "return_data = true expression = \"{}\"",
            deployed::TASKS_NEEDED_PER_TASK
        ),
    );
    // Coefficients as the simulator computes them (job_seconds / 60, job_seconds / latency).
    assert_has(
        &tf,
        "coefficients",
        "arrival_coefficient = format(\"%.6f\", var.job_seconds / 60)",
    );
    assert_has(
        &tf,
        "coefficients",
        "backlog_coefficient = format(\"%.6f\", var.job_seconds / var.acceptable_latency_seconds)",
    );
    assert_eq!(deployed::coefficient(6.0 / 60.0), 0.1);
    assert_eq!(deployed::coefficient(7.0 / 300.0), 0.023333);
}

#[test]
fn wake_alarm_watches_desired_tasks_and_steps_by_t() {
    let tf = terraform("modules/scaling/main.tf");
    let alarm = resource(&tf, "aws_cloudwatch_metric_alarm", "wake");
    let what = "wake alarm";
    assert_has(&alarm, what, "comparison_operator = \"GreaterThanThreshold\" threshold = 0 evaluation_periods = 1 datapoints_to_alarm = 1");
    assert_has(&alarm, what, "treat_missing_data = \"notBreaching\"");
    assert_has(&alarm, what, &metric_name("visible"));
    assert_has(&alarm, what, &metric_name("desired"));
    assert!(
        !squash(&alarm).contains("RunningTaskCount"),
        "the wake alarm must not watch RunningTaskCount (ours-v0's overshoot)"
    );
    assert_has(
        &alarm,
        what,
        &format!("expression = \"{}\" return_data = true", deployed::WAKE),
    );
    let policy = resource(&tf, "aws_appautoscaling_policy", "wake");
    let what = "wake policy";
    assert_has(&policy, what, "adjustment_type = \"ChangeInCapacity\"");
    assert_has(&policy, what, "cooldown = var.scale_out_cooldown_seconds");
    // Steps: [i·T, (i+1)·T) → +(i+1), i < min(max_tasks, WAKE_MAX_STEPS), last one open.
    let cap = format!("min(var.max_tasks, {})", deployed::WAKE_MAX_STEPS);
    assert_has(
        &tf,
        what,
        &format!("for i in range({cap}) : {{ lower = i * var.jobs_per_task_within_latency upper = i == {cap} - 1 ? null : (i + 1) * var.jobs_per_task_within_latency adjustment = i + 1 }}"),
    );
    // T as the simulator derives it (ScalingParams::backlog_target).
    assert_has(
        &terraform("locals.tf"),
        "T",
        "jobs_per_task_within_latency = max(1, floor(local.scaling.acceptable_latency_seconds / local.scaling.job_seconds))",
    );
    // …and the simulator's steps, for the Terraform's intervals.
    let mut p =
        ScalingParams::from_json_str(include_str!("../../../terraform/scaling.json")).unwrap();
    p.acceptable_latency_seconds = 300.0;
    p.job_seconds = 6.0; // T = 50
    p.max_tasks = 40;
    assert_eq!(
        [1.0, 49.0, 50.0, 99.0, 100.0, 499.0, 500.0, 9999.0].map(|v| wake_step(v, &p)),
        [1, 1, 2, 2, 3, 10, 10, 10]
    );
    p.max_tasks = 3;
    assert_eq!(wake_step(9999.0, &p), 3);
}

#[test]
fn sleep_alarm_counts_in_flight_jobs() {
    let tf = terraform("modules/scaling/main.tf");
    let alarm = resource(&tf, "aws_cloudwatch_metric_alarm", "sleep");
    let what = "sleep alarm";
    assert_has(&alarm, what, "comparison_operator = \"LessThanOrEqualToThreshold\" threshold = 0 evaluation_periods = var.scale_to_zero_idle_minutes datapoints_to_alarm = var.scale_to_zero_idle_minutes");
    assert_has(&alarm, what, &metric_name("visible"));
    assert_has(&alarm, what, &metric_name("in_flight"));
    assert_has(
        &alarm,
        what,
        &format!("expression = \"{}\" return_data = true", deployed::SLEEP),
    );
    let policy = resource(&tf, "aws_appautoscaling_policy", "sleep");
    let what = "sleep policy";
    assert_has(
        &policy,
        what,
        "adjustment_type = \"ExactCapacity\" cooldown = var.scale_in_cooldown_seconds",
    );
    assert_has(
        &policy,
        what,
        "metric_interval_upper_bound = 0 scaling_adjustment = var.min_tasks",
    );
}

/// The simulator's parameters are the root module's: every key of scaling.json is a
/// key the simulator reads (ScalingParams denies unknown keys), and Terraform passes
/// target_utilization from it to the scaling module.
#[test]
fn scaling_json_feeds_both() {
    let p = ScalingParams::from_json_str(include_str!("../../../terraform/scaling.json"))
        .expect("the simulator reads every key of terraform/scaling.json");
    assert!(p.target_utilization > 0.0);
    assert_has(
        &terraform("main.tf"),
        "root module",
        "target_utilization = local.scaling.target_utilization",
    );
}
