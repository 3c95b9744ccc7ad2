//! The oracle: a reference policy that knows every arrival in advance and launches each
//! instance exactly one cold start before the work needs it. It is a reference for
//! cost, not a lower bound: its fluid per-minute model of the work can keep more
//! instances than a policy that reacts to the queue (docs/scaling.md).

use crate::params::{Environment, ScalingParams};

/// The oracle's instance schedule: a fluid model of the work (arrivals × job_seconds)
/// per minute gives the tasks each minute needs; an instance is wanted at `t` if it is
/// needed anywhere in `[t, t + cold start]`, so it is launched exactly one cold start
/// before it is needed and kept through gaps shorter than a cold start. In the
/// realistic world it launches the longest cold start any draw gives ahead.
pub fn oracle_schedule(
    arrivals: &[u64],
    horizon: u64,
    params: &ScalingParams,
    env: &Environment,
) -> Vec<u32> {
    let minutes = (horizon / 60 + 2) as usize;
    let mut work = vec![0.0f64; minutes];
    for &a in arrivals {
        work[(a / 60) as usize] += params.job_seconds;
    }
    let mut need_min = vec![0u32; minutes];
    let mut carry = 0.0;
    for m in 0..minutes {
        let total = carry + work[m];
        let n = ((total / 60.0).ceil() as u32).min(params.max_tasks);
        need_min[m] = n;
        carry = (total - n as f64 * 60.0).max(0.0);
    }
    // One second of margin so the task is polling before the first job of its minute arrives.
    let lead = env.cold_start_max_seconds() as usize + 1;
    let len = horizon as usize + 1;
    let mut schedule = vec![0u32; len];
    for (t, slot) in schedule.iter_mut().enumerate() {
        let first = t / 60;
        let last = ((t + lead) / 60).min(minutes - 1);
        *slot = need_min[first..=last].iter().copied().max().unwrap_or(0);
    }
    schedule
}
