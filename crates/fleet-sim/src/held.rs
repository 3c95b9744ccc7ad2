//! Messages a busy worker holds (issue 12): a worker receives up to `batch_size`
//! messages when it is free and runs them one after the other, so with a long job in
//! front the others wait invisible, where no scaler sees them as backlog. The section
//! "Long jobs and held messages" of docs/scaling.md compares the batch sizes on a trace
//! with a long tail of job times.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::fleet::{simulate, Outcome};
use crate::outages::summarize_all_jobs;
use crate::params::{Environment, ScalingParams};
use crate::policy::PolicyKind;
use crate::trace::Trace;

/// Seconds of a long job in the trace: 20 minutes, as in the issue.
pub const LONG_JOB_SECONDS: u64 = 1200;
/// Share of long jobs.
pub const LONG_SHARE: f64 = 0.01;
/// A job at most this long counts as short in the table.
pub const SHORT_JOB_MAX_SECONDS: u64 = 60;

/// 10 min idle, then 2 h of Poisson arrivals at 0.8 tasks' worth of `job_seconds` jobs;
/// 1 % of the jobs take 20 minutes, the rest log-normal (mean `job_seconds`, CV 0.5).
pub fn long_tail(params: &ScalingParams, seed: u64) -> Trace {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x10e6_7a11);
    let rate = 0.8 / params.job_seconds;
    let (mut t, end) = (600.0_f64, 600.0 + 7200.0);
    let mut jobs = Vec::new();
    loop {
        let u: f64 = rng.gen_range(f64::MIN_POSITIVE..1.0);
        t += -u.ln() / rate;
        if t >= end {
            break;
        }
        let seconds = if rng.gen::<f64>() < LONG_SHARE {
            LONG_JOB_SECONDS
        } else {
            lognormal(&mut rng, params.job_seconds, 0.5)
        };
        jobs.push((t as u64, seconds));
    }
    Trace::with_job_seconds(
        "long-tail",
        "10 min idle, then 2 h at 0.8 tasks' worth of jobs, 1 % of them 20 min long",
        jobs,
    )
}

fn lognormal(rng: &mut StdRng, mean: f64, cv: f64) -> u64 {
    let s2 = (1.0 + cv * cv).ln();
    let mu = mean.ln() - s2 / 2.0;
    let u1: f64 = rng.gen_range(f64::MIN_POSITIVE..1.0);
    let u2: f64 = rng.gen();
    let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
    ((mu + s2.sqrt() * z).exp().round() as u64).max(1)
}

/// One run's waits: over all jobs, and over the short ones only.
#[derive(Debug, Clone, PartialEq)]
pub struct HeldRow {
    pub batch_size: u32,
    pub lost: usize,
    pub p95_all: Option<u64>,
    pub max_all: Option<u64>,
    pub p95_short: Option<u64>,
    pub max_short: Option<u64>,
    pub instance_hours: f64,
}

fn quantile(mut waits: Vec<Option<u64>>, q: f64) -> Option<u64> {
    if waits.is_empty() {
        return Some(0);
    }
    waits.sort_by_key(|w| w.map_or((1, 0), |v| (0, v)));
    let k = ((q * waits.len() as f64).ceil() as usize).clamp(1, waits.len()) - 1;
    waits[k]
}

pub fn summarize(o: &Outcome, trace: &Trace, batch_size: u32) -> HeldRow {
    let all = summarize_all_jobs(o);
    let seconds = trace.job_seconds.as_deref().unwrap_or(&[]);
    let short: Vec<Option<u64>> = o
        .jobs
        .iter()
        .enumerate()
        .filter(|(k, _)| seconds.get(*k).is_none_or(|&s| s <= SHORT_JOB_MAX_SECONDS))
        .map(|(_, j)| j.started.map(|s| s - j.arrival))
        .collect();
    HeldRow {
        batch_size,
        lost: all.lost,
        p95_all: all.wait_p95,
        max_all: all.wait_max,
        p95_short: quantile(short.clone(), 0.95),
        max_short: quantile(short, 1.0),
        instance_hours: all.instance_hours,
    }
}

/// The deployed design on the long-tail trace with the given batch size.
pub fn run(params: &ScalingParams, env: &Environment, batch_size: u32) -> HeldRow {
    let p = ScalingParams {
        batch_size,
        ..params.clone()
    };
    let trace = long_tail(&p, env.seed);
    summarize(
        &simulate(&p, env, &trace, PolicyKind::Ours),
        &trace,
        batch_size,
    )
}
