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
    let env = Environment {
        scaler_outages: vec![scenario.outage],
        ..env.clone()
    };
    let settings = CandidateSettings {
        backstop,
        ..CandidateSettings::default()
    };
    summarize_all_jobs(&simulate_with(
        params,
        &env,
        &scenario.trace,
        PolicyKind::Ours,
        &settings,
    ))
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
