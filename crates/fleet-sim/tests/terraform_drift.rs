//! The simulator's "ours" rows must be the designs Terraform deploys. For the alarms mode
//! this reads `terraform/modules/scaling/main.tf` (and the root `locals.tf` that derives
//! T) and checks every metric, expression, alarm rule and step that `policy::deployed`
//! and the controller model; for the backlog scaler (the default mode), that the Lambda's
//! environment carries scaling.json's values (end of file). Neither side can change
//! without the other.

use std::collections::BTreeSet;
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
         update the simulator's model of the alarms mode (crates/fleet-sim/src/policy.rs) with it"
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

// --- The backlog scaler (scaling_mode = "backlog_scaler", the default) -------------------
//
// The simulator's "ours (deployed)" row runs the Lambda's rule with scaling.json's values
// (ScalingParams::policy_config). The Lambda gets them from its environment, which
// terraform/modules/backlog_scaler/main.tf sets from module variables, which the root
// main.tf sets from local.scaling (terraform/locals.tf: scaling.json). Each link is
// checked, so the function cannot run with other numbers than the simulator judged.

/// Each environment variable the Lambda reads a scaling value from, with the
/// scaling.json key that feeds it (docs/operations.md lists the same).
const SCALER_ENVIRONMENT: [(&str, &str); 10] = [
    ("JOB_SECONDS", "job_seconds"),
    ("ACCEPTABLE_LATENCY_SECONDS", "acceptable_latency_seconds"),
    ("COLD_START_SECONDS", "cold_start_seconds"),
    ("TARGET_UTILIZATION", "target_utilization"),
    ("MIN_TASKS", "min_tasks"),
    ("MAX_TASKS", "max_tasks"),
    ("POLL_SECONDS", "scaler_poll_seconds"),
    ("LOAD_WINDOW_SECONDS", "scaler_load_window_seconds"),
    (
        "SCALE_DOWN_WINDOW_SECONDS",
        "scaler_scale_down_window_seconds",
    ),
    ("ACTIVITY_WINDOW_SECONDS", "scaler_activity_window_seconds"),
];

/// The text between the `{` that follows `head` in `text` and its matching `}`. `head`
/// must begin a line (after indentation), so a word in a comment or a string is not taken
/// for the block.
fn braced_after<'a>(text: &'a str, head: &str) -> Option<&'a str> {
    let at = text.match_indices(head).map(|(i, _)| i).find(|&i| {
        let line_start = text[..i].rfind('\n').map_or(0, |n| n + 1);
        text[line_start..i].trim().is_empty()
    })?;
    let start = at + head.len();
    let open = start + text[start..].find('{')?;
    let mut depth = 0usize;
    for (i, c) in text[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(&text[open + 1..open + i]);
                }
            }
            _ => {}
        }
    }
    None
}

/// `NAME = expression` pairs of an HCL object body (one per line or comma-separated),
/// comments dropped.
fn assignments(body: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut current = String::new();
    let text: String = body
        .lines()
        .map(|l| match l.find('#') {
            Some(i) if !l[..i].contains('"') => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let mut flush = |current: &mut String| {
        if let Some((k, v)) = current.split_once('=') {
            let k = k.trim().trim_matches('"').to_string();
            let v = v.trim().to_string();
            if !k.is_empty() && !v.is_empty() {
                out.push((k, v));
            }
        }
        current.clear();
    };
    for c in text.chars() {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            _ => {}
        }
        if depth == 0 && (c == '\n' || c == ',') {
            flush(&mut current);
        } else {
            current.push(c);
        }
    }
    flush(&mut current);
    out
}

/// The module variable an environment expression reads (`var.x`, also inside
/// `tostring(var.x)` or `format("%d", var.x)`).
fn module_variable(expression: &str) -> Option<String> {
    let at = expression.find("var.")? + 4;
    let name: String = expression[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty()).then_some(name)
}

/// Every problem in the chain scaling.json → local.scaling → module input → Lambda
/// environment, for the module's `main.tf` and the root `main.tf` given as text.
fn scaler_environment_drift(module_main: &str, root_main: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(function) = braced_after(module_main, "module \"function\"") else {
        return vec![
            "modules/backlog_scaler/main.tf has no module \"function\" (modules/lambda)".into(),
        ];
    };
    let Some(variables) = braced_after(function, "environment_variables") else {
        return vec![
            "the backlog scaler's module \"function\" has no environment_variables = { … }".into(),
        ];
    };
    let env = assignments(variables);
    let Some(module_call) = braced_after(root_main, "module \"backlog_scaler\"") else {
        return vec!["the root main.tf has no module \"backlog_scaler\"".into()];
    };
    let inputs = assignments(module_call);
    for (name, key) in SCALER_ENVIRONMENT {
        let Some((_, expression)) = env.iter().find(|(k, _)| k == name) else {
            problems.push(format!("the Lambda environment does not set {name}"));
            continue;
        };
        let Some(variable) = module_variable(expression) else {
            problems.push(format!(
                "{name} = {expression} does not come from a module variable"
            ));
            continue;
        };
        let wanted = format!("local.scaling.{key}");
        match inputs.iter().find(|(k, _)| *k == variable) {
            Some((_, value)) if squash(value) == wanted => {}
            Some((_, value)) => problems.push(format!(
                "{name} = var.{variable}, which the root sets to `{value}`, not {wanted} (scaling.json's {key})"
            )),
            None => problems.push(format!(
                "{name} = var.{variable}, which the root module \"backlog_scaler\" does not set (want {wanted})"
            )),
        }
    }
    problems
}

/// The checker itself, on the wiring the spec prescribes and on three ways to break it.
#[test]
fn scaler_environment_drift_check_finds_what_it_must() {
    let module = r#"
module "function" {
  source        = "../lambda"
  function_name = "${var.name}-backlog-scaler"
  environment_variables = {
    QUEUE_URL                  = var.queue_url
    JOB_SECONDS                = tostring(var.job_seconds)
    ACCEPTABLE_LATENCY_SECONDS = var.acceptable_latency_seconds # seconds
    COLD_START_SECONDS         = var.cold_start_seconds
    TARGET_UTILIZATION         = var.target_utilization
    MIN_TASKS                  = var.min_tasks
    MAX_TASKS                  = var.max_tasks
    POLL_SECONDS               = format("%d", var.poll_seconds)
    LOAD_WINDOW_SECONDS        = var.load_window_seconds
    SCALE_DOWN_WINDOW_SECONDS  = var.scale_down_window_seconds
    ACTIVITY_WINDOW_SECONDS    = var.activity_window_seconds
  }
}
"#;
    let root = r#"
module "backlog_scaler" {
  source                     = "./modules/backlog_scaler"
  count                      = var.scaling_mode == "backlog_scaler" ? 1 : 0
  job_seconds                = local.scaling.job_seconds
  acceptable_latency_seconds = local.scaling.acceptable_latency_seconds
  cold_start_seconds         = local.scaling.cold_start_seconds
  target_utilization         = local.scaling.target_utilization
  min_tasks                  = local.scaling.min_tasks
  max_tasks                  = local.scaling.max_tasks
  poll_seconds               = local.scaling.scaler_poll_seconds
  load_window_seconds        = local.scaling.scaler_load_window_seconds
  scale_down_window_seconds  = local.scaling.scaler_scale_down_window_seconds
  activity_window_seconds    = local.scaling.scaler_activity_window_seconds
}
"#;
    assert_eq!(scaler_environment_drift(module, root), Vec::<String>::new());
    let unset = module.replace("    MAX_TASKS                  = var.max_tasks\n", "");
    let problems = scaler_environment_drift(&unset, root);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("MAX_TASKS"), "{problems:?}");
    let literal = module.replace("var.cold_start_seconds", "\"120\"");
    assert!(scaler_environment_drift(&literal, root)[0].contains("COLD_START_SECONDS"));
    let wrong_key = root.replace(
        "local.scaling.scaler_poll_seconds",
        "local.scaling.scaler_load_window_seconds",
    );
    let problems = scaler_environment_drift(module, &wrong_key);
    assert!(
        problems.len() == 1 && problems[0].contains("POLL_SECONDS"),
        "{problems:?}"
    );
}

/// The deployed Lambda's environment carries exactly scaling.json's values. Needs
/// terraform/modules/backlog_scaler (the Terraform half of the backlog scaler).
#[test]
fn backlog_scaler_lambda_environment_comes_from_scaling_json() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../terraform/modules/backlog_scaler/main.tf");
    let module = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}: the backlog scaler's Terraform module is missing, so nothing holds its Lambda \
             environment to terraform/scaling.json",
            path.display()
        )
    });
    // Exactly the variables the crate reads (its config.rs `VARIABLES`), no more, no fewer.
    let config = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../backlog-scaler/src/config.rs"),
    )
    .expect("crates/backlog-scaler/src/config.rs");
    let list_at = config
        .find("pub const VARIABLES")
        .expect("config.rs lists its VARIABLES");
    let list = &config[list_at..];
    let list = &list[list.find('=').unwrap()..list.find("];").unwrap()];
    let read: BTreeSet<&str> = list.split('"').skip(1).step_by(2).collect();
    let function = braced_after(&module, "module \"function\"").unwrap();
    let variables =
        braced_after(function, "environment_variables").expect("the function has an environment");
    let set = assignments(variables);
    let set: BTreeSet<&str> = set.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        set, read,
        "modules/backlog_scaler's environment vs crates/backlog-scaler/src/config.rs"
    );
    let problems = scaler_environment_drift(&module, &terraform("main.tf"));
    assert!(
        problems.is_empty(),
        "the backlog scaler's Terraform no longer passes scaling.json's values to the Lambda \
         the simulator judges:\n- {}",
        problems.join("\n- ")
    );
}

/// terraform/locals.tf reads the scaler's keys from scaling.json, and the simulator maps
/// them to the rule's parameters as the Lambda's environment does.
#[test]
fn scaler_keys_are_read_by_terraform_and_the_simulator() {
    let locals = terraform("locals.tf");
    for (_, key) in SCALER_ENVIRONMENT {
        let from_json = format!("local.scaling_defaults.{key}");
        let lookup = format!("lookup(local.scaling_defaults, \"{key}\"");
        let line = locals
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{key} ")))
            .unwrap_or_else(|| panic!("terraform/locals.tf's local.scaling has no {key}"));
        assert!(
            line.contains(&from_json) || line.contains(&lookup),
            "local.scaling.{key} is not read from scaling.json: {line}"
        );
    }
    let p = ScalingParams::from_json_str(include_str!("../../../terraform/scaling.json")).unwrap();
    let c = p.policy_config(Default::default());
    let json: serde_json::Value =
        serde_json::from_str(include_str!("../../../terraform/scaling.json")).unwrap();
    let num = |k: &str| {
        json[k]
            .as_f64()
            .unwrap_or_else(|| panic!("scaling.json has no {k}"))
    };
    assert_eq!(c.job_seconds, num("job_seconds"));
    assert_eq!(
        c.acceptable_latency_seconds,
        num("acceptable_latency_seconds")
    );
    assert_eq!(c.cold_start_seconds as f64, num("cold_start_seconds"));
    assert_eq!(c.target_utilization, num("target_utilization"));
    assert_eq!(c.min_tasks as f64, num("min_tasks"));
    assert_eq!(c.max_tasks as f64, num("max_tasks"));
    assert_eq!(
        c.load_window_seconds as f64,
        num("scaler_load_window_seconds")
    );
    assert_eq!(
        c.scale_down_window_seconds as f64,
        num("scaler_scale_down_window_seconds")
    );
    assert_eq!(
        c.activity_window_seconds as f64,
        num("scaler_activity_window_seconds")
    );
    assert_eq!(p.scaler_poll_seconds as f64, num("scaler_poll_seconds"));
}

/// The AWS actions `source` calls through its SDK clients (`self.ecs.list_tasks()` →
/// `ecs:ListTasks`), comments dropped, however the call chain is broken over lines.
fn sdk_actions(source: &str) -> BTreeSet<String> {
    let code: String = source
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<String>()
        .split_whitespace()
        .collect();
    let mut out = BTreeSet::new();
    for client in ["sqs", "ecs", "autoscaling", "ssm"] {
        // `self.ecs.x()` or a client passed in, `ecs.x()`: the name must not end a longer one.
        let head = format!("{client}.");
        for (at, _) in code.match_indices(&head) {
            if code[..at]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                continue;
            }
            let rest = &code[at + head.len()..];
            let call: String = rest
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            if call.is_empty() || !rest[call.len()..].starts_with("()") {
                continue;
            }
            let pascal: String = call
                .split('_')
                .map(|w| w[..1].to_uppercase() + &w[1..])
                .collect();
            out.insert(format!("{client}:{pascal}"));
        }
    }
    out
}

/// The actions (other than logs) a policy document block grants.
fn granted_actions(block: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in block
        .lines()
        .filter(|l| l.trim_start().starts_with("actions"))
    {
        for quoted in line.split('"').skip(1).step_by(2) {
            if !quoted.starts_with("logs:") {
                out.insert(quoted.to_string());
            }
        }
    }
    out
}

/// The backlog scaler's role grants exactly the SDK calls crates/backlog-scaler makes (and
/// its logs): no permission it does not use, no call that would be denied.
#[test]
fn backlog_scaler_role_grants_exactly_the_crates_sdk_calls() {
    // Its own calls, and the container-instance listing it shares with the Spot handler.
    let read = |path: &str| {
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path))
            .unwrap_or_else(|e| panic!("{path}: {e}"))
    };
    let source = read("../backlog-scaler/src/aws.rs") + &read("../aws-support/src/ecs.rs");
    let calls = sdk_actions(&source);
    let want: BTreeSet<String> = [
        "sqs:GetQueueAttributes",
        "ecs:DescribeServices",
        "ecs:UpdateService",
        "ecs:ListTasks",
        "ecs:GetTaskProtection",
        "ecs:UpdateTaskProtection",
        "ecs:ListContainerInstances",
        "ecs:DescribeContainerInstances",
        "ecs:UpdateContainerInstancesState",
        "autoscaling:DescribeAutoScalingGroups",
        "autoscaling:SetDesiredCapacity",
        "autoscaling:TerminateInstanceInAutoScalingGroup",
        "ssm:GetParameter",
        "ssm:PutParameter",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(calls, want, "the scaler's calls are the spec's list");
    let iam = terraform("modules/iam/main.tf");
    let block = braced_after(&iam, "data \"aws_iam_policy_document\" \"backlog_scaler\"")
        .expect("modules/iam has the backlog_scaler policy document");
    assert_eq!(granted_actions(block), calls);
    // The scanner sees a call broken over lines, and not one in a comment.
    let sample =
        "let a = self\n    .ecs\n    .list_tasks()\n    .send();\n// self.ssm.delete_parameter()\n";
    assert_eq!(
        sdk_actions(sample),
        BTreeSet::from(["ecs:ListTasks".to_string()])
    );
}

/// The backstop (`modules/backlog_scaler/backstop.tf`) is what `backstop.rs` models: the
/// heartbeat, both expressions, their datapoints, the steps and the cooldown.
#[test]
fn backstop_is_what_the_simulator_models() {
    use facerec_fleet_sim::backstop::{
        cooldown_seconds, HEARTBEAT_METRIC, HEARTBEAT_STAT, INSTANCES_EXPRESSION, SILENT_MINUTES,
        TASKS_EXPRESSION,
    };
    use facerec_fleet_sim::params::Environment;
    let tf = terraform("modules/backlog_scaler/backstop.tf");
    let what = "backstop.tf";
    assert_has(
        &tf,
        what,
        &format!("backstop_silent_minutes = {SILENT_MINUTES}"),
    );
    let env = Environment::default();
    let extra = cooldown_seconds(0, env.metric_delay_seconds);
    assert_has(
        &tf,
        what,
        &format!("backstop_cooldown_seconds = var.cold_start_seconds + {extra}"),
    );
    assert_has(&tf, what, &format!("metric_name = \"{HEARTBEAT_METRIC}\""));
    let tasks = resource(&tf, "aws_cloudwatch_metric_alarm", "backstop_tasks");
    assert_has(
        &tasks,
        what,
        &format!("expression = \"{TASKS_EXPRESSION}\""),
    );
    assert_has(&tasks, what, "threshold = 0");
    assert_has(
        &tasks,
        what,
        "evaluation_periods = local.backstop_silent_minutes",
    );
    assert_has(
        &tasks,
        what,
        "datapoints_to_alarm = local.backstop_silent_minutes",
    );
    assert_has(&tasks, what, &format!("stat = \"{HEARTBEAT_STAT}\""));
    let instances = resource(&tf, "aws_cloudwatch_metric_alarm", "backstop_instances");
    assert_has(
        &instances,
        what,
        &format!("expression = \"{INSTANCES_EXPRESSION}\""),
    );
    assert_has(&instances, what, "threshold = 0.5");
    assert_has(&instances, what, "evaluation_periods = 1");
    assert_has(&instances, what, &format!("stat = \"{HEARTBEAT_STAT}\""));
    // The tasks steps are the wake policy's (wake_step): +1 per T visible jobs.
    assert_has(&tf, what, "lower = i * var.jobs_per_task_within_latency");
    for policy in [
        resource(&tf, "aws_appautoscaling_policy", "backstop_tasks"),
        resource(&tf, "aws_autoscaling_policy", "backstop_instances"),
    ] {
        assert!(squash(&policy).contains("ChangeInCapacity"), "{policy}");
    }
}
