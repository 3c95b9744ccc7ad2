//! The backlog scaler silent: the scenarios docs/scaling.md's section "When the scaler
//! stops: the backstop" runs, with and without the backstop ([`crate::backstop`]), and
//! their numbers over **all** jobs (cold starts included).

use crate::candidates::CandidateSettings;
use crate::fleet::{simulate_with, Outcome};
use crate::params::{Environment, ScalerOutage, ScalingParams};
use crate::policy::PolicyKind;
use crate::trace::{self, Trace};

/// One scenario: a trace and when the scaler is silent.
#[derive(Debug, Clone)]
pub struct OutageScenario {
    pub name: &'static str,
    pub trace: Trace,
    pub outage: ScalerOutage,
}

/// A job every 30 s (a fifth of one task's work) for an hour, and at 45 min a burst of
/// 15 task-minutes of jobs: the scaler, dead since 30 min, left the fleet at one task.
pub fn frozen_at_one_task(params: &ScalingParams) -> Trace {
    let mut a: Vec<u64> = (0..120).map(|k| 600 + 30 * k).collect();
    let burst = (15.0 * 60.0 / params.job_seconds).round() as usize;
    a.extend(vec![600 + 2700; burst]);
    Trace::new(
        "frozen-at-one",
        "a job every 30 s for 1 h, and 15 task-minutes of jobs at once at 45 min",
        a,
    )
}

/// 15 task-minutes of jobs at once at 10 min, then nothing: the scaler takes the fleet to
/// `max_tasks`, and [`frozen_fleet`]'s outage freezes it there with every task busy.
pub fn burst_then_idle(params: &ScalingParams) -> Trace {
    let burst = (15.0 * 60.0 / params.job_seconds).round() as usize;
    Trace::new(
        "burst-then-idle",
        "15 task-minutes of jobs at once at 10 min, then nothing",
        vec![600; burst],
    )
}

/// The scaler stops at 15 min, with [`burst_then_idle`]'s burst on `max_tasks` busy tasks,
/// and comes back at 45 min: the frozen fleet drains the burst, idles, and is scaled in
/// once the scaler is back ([`frozen_scale_in_bound`]).
pub fn frozen_fleet(params: &ScalingParams) -> OutageScenario {
    OutageScenario {
        name: "tasks frozen at max_tasks, scaler back after 30 min",
        trace: burst_then_idle(params),
        outage: ScalerOutage {
            start: 900,
            end: Some(2700),
        },
    }
}

/// The bound on scaling in a fleet the scaler left frozen, from the scaler's return to
/// an idle queue until no instance runs: the next invocation (≤ 60 s); the rule's
/// windows — the mean busy count forgets the busy polls before the outage within
/// `scaler_load_window_seconds`, a scale-down needs `scaler_scale_down_window_seconds`
/// of lower wants, and going to zero waits at most one cold start
/// (`cold_start_seconds`) when arrivals were frequent; the idle tasks stopping after
/// the desired count drops (at most `stop_timeout_seconds`); and one more poll to
/// terminate the now-empty instances (`scaler_poll_seconds`). Each missed invocation in
/// between adds 60 s. While the scaler is silent nothing scales in (every instance is
/// protected from the group's scale-in), so the fleet costs at most
/// max(N, `max_tasks`) instances an hour until the scaler returns.
pub fn frozen_scale_in_bound(params: &ScalingParams) -> u64 {
    60 + params
        .scaler_load_window_seconds
        .max(params.scaler_scale_down_window_seconds)
        + params.cold_start_seconds
        + params.stop_timeout_seconds
        + params.scaler_poll_seconds
}

/// Seconds from `since` until the first minute sample with no instance, if any.
pub fn seconds_to_no_instance(o: &Outcome, since: u64) -> Option<u64> {
    o.samples
        .iter()
        .find(|s| s.t >= since && s.instances == 0)
        .map(|s| s.t - since)
}

/// The four scenarios of the issue: a lone job with the scaler dead from the start, the
/// scaler stopped for 10 minutes under load, stopped for good with bursts to come, and
/// frozen at one task before a burst.
pub fn scenarios(params: &ScalingParams, seed: u64) -> Vec<OutageScenario> {
    let built = |n: &str| trace::build(n, params, seed).expect("built-in trace");
    vec![
        OutageScenario {
            name: "lone job, scaler dead from the start",
            trace: built("lone"),
            outage: ScalerOutage {
                start: 0,
                end: None,
            },
        },
        OutageScenario {
            name: "steady, scaler stopped for 10 min at 1 h",
            trace: built("steady"),
            outage: ScalerOutage {
                start: 3600,
                end: Some(4200),
            },
        },
        OutageScenario {
            name: "bursty, scaler stopped for good at 40 min",
            trace: built("bursty"),
            outage: ScalerOutage {
                start: 2400,
                end: None,
            },
        },
        OutageScenario {
            name: "frozen at one task, then a burst",
            trace: frozen_at_one_task(params),
            outage: ScalerOutage {
                start: 2400,
                end: None,
            },
        },
    ]
}

/// One run's numbers over all jobs.
#[derive(Debug, Clone, PartialEq)]
pub struct OutageRow {
    pub jobs: usize,
    pub done: usize,
    /// Dead-lettered or never done by the end of the run.
    pub lost: usize,
    /// Queue waits over every job (`None` if some job never started).
    pub wait_p95: Option<u64>,
    pub wait_max: Option<u64>,
    pub instance_hours: f64,
    /// Instances still running when the run ends (trace plus one hour's tail).
    pub instances_at_end: u32,
}

pub fn summarize_all_jobs(o: &Outcome) -> OutageRow {
    let mut waits: Vec<Option<u64>> = o
        .jobs
        .iter()
        .map(|j| j.started.map(|s| s - j.arrival))
        .collect();
    // None (never started) sorts last, as an infinite wait.
    waits.sort_by_key(|w| w.map_or((1, 0), |v| (0, v)));
    let pick = |q: f64| -> Option<u64> {
        if waits.is_empty() {
            return Some(0);
        }
        let k = ((q * waits.len() as f64).ceil() as usize).clamp(1, waits.len()) - 1;
        waits[k]
    };
    let done = o.jobs.iter().filter(|j| j.done.is_some()).count();
    OutageRow {
        jobs: o.jobs.len(),
        done,
        lost: o.jobs.len() - done,
        wait_p95: pick(0.95),
        wait_max: pick(1.0),
        instance_hours: o.instance_seconds as f64 / 3600.0,
        instances_at_end: o.samples.last().map_or(0, |s| s.instances),
    }
}

/// A scenario run with the backstop (`true`) or without it.
pub fn run(
    params: &ScalingParams,
    env: &Environment,
    scenario: &OutageScenario,
    backstop: bool,
) -> OutageRow {
    summarize_all_jobs(&simulate(params, env, scenario, backstop))
}

/// The run behind [`run`]'s row.
pub fn simulate(
    params: &ScalingParams,
    env: &Environment,
    scenario: &OutageScenario,
    backstop: bool,
) -> Outcome {
    let env = Environment {
        scaler_outages: vec![scenario.outage],
        ..env.clone()
    };
    let settings = CandidateSettings {
        backstop,
        ..CandidateSettings::default()
    };
    simulate_with(params, &env, &scenario.trace, PolicyKind::Ours, &settings)
}

/// The bound on a lone job's wait with the scaler dead: the backstop's tasks alarm needs
/// [`crate::backstop::SILENT_MINUTES`] datapoints with the job visible (the minute it
/// lands in closes within 60 s, two more minutes) plus the CloudWatch delay; the group
/// alarm one more datapoint and the delay; then a cold start. `acceptable_latency` is
/// the allowance on top.
pub fn lone_job_bound(params: &ScalingParams, env: &Environment) -> u64 {
    let silent = crate::backstop::SILENT_MINUTES as u64 * 60;
    let tasks_alarm = silent + env.metric_delay_seconds;
    let group_alarm = 60 + env.metric_delay_seconds;
    tasks_alarm
        + group_alarm
        + env.cold_start_max_seconds()
        + params.acceptable_latency_seconds as u64
}
