//! Search over the alarms mode's tunable keys of `terraform/scaling.json` for values
//! with which it (`scaling_mode = "alarms"`) meets the goal on more traces (or at lower
//! cost). Only keys that are a deployment choice are varied; the acceptable latency, job
//! time and Spot price are facts of the workload, not knobs.

use serde::Serialize;

use crate::candidates::CandidateSettings;
use crate::fleet::simulate_with;
use crate::params::{Environment, ScalingParams};
use crate::policy::PolicyKind;
use crate::report::{judge, summarize, Row};
use crate::trace::{self, Trace, TRACE_NAMES};

/// Seeds every candidate is judged on: each seed draws other Poisson arrivals, job times
/// and Spot interruptions, so a value that only wins on one lucky draw does not win here.
pub const SEEDS: usize = 6;

/// One seed's traces and the oracle's row on each (the tuned keys do not change either).
#[derive(Debug, Clone)]
pub struct Scenario {
    pub env: Environment,
    pub traces: Vec<Trace>,
    pub oracles: Vec<Row>,
}

/// [`SEEDS`] scenarios, from `env.seed` upwards.
pub fn scenarios(base: &ScalingParams, env: &Environment) -> Vec<Scenario> {
    (0..SEEDS as u64)
        .map(|k| {
            let env = Environment {
                seed: env.seed + k,
                ..env.clone()
            };
            let traces: Vec<Trace> = TRACE_NAMES
                .iter()
                .map(|n| trace::build(n, base, env.seed).expect("built-in trace names are valid"))
                .collect();
            let oracles = traces
                .iter()
                .map(|t| {
                    summarize(
                        &crate::fleet::simulate(base, &env, t, PolicyKind::Oracle),
                        base,
                    )
                })
                .collect();
            Scenario {
                env,
                traces,
                oracles,
            }
        })
        .collect()
}

#[derive(Debug, Clone, Serialize)]
pub struct Evaluation {
    pub params: ScalingParams,
    /// `(key, value)` that differ from the base configuration.
    pub changes: Vec<(String, String)>,
    /// The policy's row per (seed, trace), judged against that run's oracle.
    pub rows: Vec<Row>,
    pub goals_met: usize,
    pub latency_met: usize,
    pub mean_cost_ratio: f64,
}

/// How one trace fared over all seeds.
#[derive(Debug, Clone, Serialize)]
pub struct TraceSpread {
    pub trace: String,
    pub runs: usize,
    pub goal_met: usize,
    pub latency_met: usize,
    /// Median and worst p95 wait (infinite = jobs never started; `None` = no warm job).
    pub p95_median: Option<f64>,
    pub p95_worst: Option<f64>,
    pub ratio_median: Option<f64>,
    pub ratio_worst: Option<f64>,
}

impl Evaluation {
    pub fn spread(&self) -> Vec<TraceSpread> {
        TRACE_NAMES
            .iter()
            .map(|name| {
                let rows: Vec<&Row> = self.rows.iter().filter(|r| r.trace == *name).collect();
                let median_worst = |mut v: Vec<f64>| {
                    v.sort_by(f64::total_cmp);
                    (
                        v.get(v.len().saturating_sub(1) / 2).copied(),
                        v.last().copied(),
                    )
                };
                let (p95_median, p95_worst) =
                    median_worst(rows.iter().filter_map(|r| r.wait_p95).collect());
                let (ratio_median, ratio_worst) =
                    median_worst(rows.iter().filter_map(|r| r.cost_ratio).collect());
                TraceSpread {
                    trace: name.to_string(),
                    runs: rows.len(),
                    goal_met: rows.iter().filter(|r| r.goal_met).count(),
                    latency_met: rows
                        .iter()
                        .filter(|r| r.latency_ok && r.lost() == 0)
                        .count(),
                    p95_median,
                    p95_worst,
                    ratio_median,
                    ratio_worst,
                }
            })
            .collect()
    }
}

/// Runs the alarms mode with `params` on every scenario (the grid search's unit).
pub fn evaluate_alarms(
    params: &ScalingParams,
    base: &ScalingParams,
    scenarios: &[Scenario],
) -> Evaluation {
    evaluate_policy(
        PolicyKind::OursAlarms,
        params,
        base,
        scenarios,
        &CandidateSettings::default(),
    )
}

/// Runs one policy with `params` (and the candidates' `settings`) on every scenario,
/// judged against each scenario's oracle.
pub fn evaluate_policy(
    kind: PolicyKind,
    params: &ScalingParams,
    base: &ScalingParams,
    scenarios: &[Scenario],
    settings: &CandidateSettings,
) -> Evaluation {
    let mut rows = Vec::new();
    for sc in scenarios {
        for (trace, oracle) in sc.traces.iter().zip(&sc.oracles) {
            let ours = summarize(
                &simulate_with(params, &sc.env, trace, kind, settings),
                params,
            );
            let mut pair = vec![ours, oracle.clone()];
            judge(&mut pair);
            rows.push(pair.swap_remove(0));
        }
    }
    let goals_met = rows.iter().filter(|r| r.goal_met).count();
    let latency_met = rows
        .iter()
        .filter(|r| r.latency_ok && r.lost() == 0)
        .count();
    let mean_cost_ratio =
        rows.iter().filter_map(|r| r.cost_ratio).sum::<f64>() / rows.len().max(1) as f64;
    let changes = diff(base, params);
    Evaluation {
        params: params.clone(),
        changes,
        rows,
        goals_met,
        latency_met,
        mean_cost_ratio,
    }
}

fn diff(base: &ScalingParams, p: &ScalingParams) -> Vec<(String, String)> {
    let (a, b) = (
        serde_json::to_value(base).unwrap_or_default(),
        serde_json::to_value(p).unwrap_or_default(),
    );
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
        return Vec::new();
    };
    b.iter()
        .filter(|(k, v)| a.get(*k) != Some(v))
        .map(|(k, v)| (k.clone(), v.to_string()))
        .collect()
}

/// The grid searched for the alarms mode: cooldowns and idle time are what the
/// CloudWatch delay and the cold start interact with, and the utilisation target trades
/// spare tasks for wait.
/// Everything else stays as configured.
pub fn candidates(base: &ScalingParams) -> Vec<ScalingParams> {
    let mut out = Vec::new();
    for utilization in [0.8, 0.9, 1.0, 1.2] {
        for out_cd in [60, 180, 300] {
            for in_cd in [60, 300] {
                for idle in [1, 2, 3, 5, 15] {
                    let mut p = base.clone();
                    p.target_utilization = utilization;
                    p.scale_out_cooldown_seconds = out_cd;
                    p.scale_in_cooldown_seconds = in_cd;
                    p.scale_to_zero_idle_minutes = idle;
                    out.push(p);
                }
            }
        }
    }
    out
}

/// Evaluates every candidate on every scenario (on two threads: the machine has two
/// cores); best first (most runs meeting the goal, then most meeting latency with no
/// loss, then lowest mean cost ratio).
pub fn search(base: &ScalingParams, scenarios: &[Scenario]) -> Vec<Evaluation> {
    let all = candidates(base);
    let (a, b) = all.split_at(all.len() / 2);
    let run = |part: &[ScalingParams]| -> Vec<Evaluation> {
        part.iter()
            .map(|p| evaluate_alarms(p, base, scenarios))
            .collect()
    };
    let mut evals = std::thread::scope(|s| {
        let first = s.spawn(|| run(a));
        let mut second = run(b);
        let mut all = first.join().expect("tuning thread panicked");
        all.append(&mut second);
        all
    });
    evals.sort_by(|a, b| {
        b.goals_met
            .cmp(&a.goals_met)
            .then(b.latency_met.cmp(&a.latency_met))
            .then(a.mean_cost_ratio.total_cmp(&b.mean_cost_ratio))
    });
    evals
}
