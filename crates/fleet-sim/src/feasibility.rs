//! A true lower bound on the p95 queue wait over all jobs: what no policy of the kind
//! deployed can beat, run by run, so docs/scaling.md can say where issue 12's latency
//! goal is out of reach for any such policy, and by how much.
//!
//! The class of policies: the fleet starts empty (every trace starts idle) and no
//! instance is launched before the first job arrives (a launch before it would be
//! foresight — or capacity kept warm, which the cost bound rules out over hours of
//! idle), and at most `max_tasks` tasks run, one per instance (the Terraform cap).
//! Everything else is granted, so the bound only errs on the low side:
//! - all `max_tasks` instances launch the second the first job arrives — or, if that
//!   second falls in a window without Spot capacity, the second the window ends — and
//!   all are polling one *shortest* cold start later (the world's fastest boot and task
//!   start, no placement delay);
//! - they are never interrupted, never scaled in, and later no-capacity windows do not
//!   matter to them;
//! - the jobs may be served in any order (p95 lets 5 % of them wait as long as needed).
//!
//! With deadline `arrival + X` per job, for any time D after the servers start at s0:
//! a server that starts r of the jobs due by D has finished r − 1 of them by D, so the
//! jobs due by D that start on time number at most `max_tasks + m`, where m is the
//! most of them whose shortest durations fit in `max_tasks × (D − s0)`. The others are
//! late; if more than `n − ceil(0.95 n)` jobs are late, the p95 wait is above X. The
//! bound is the least X for which that count allows it.
//!
//! The job durations are the run's own (what the deployed run's workers took: the
//! simulator draws a job's time when a worker starts it); a job received more than once
//! (a Spot interruption) counts as 1 s, which only weakens the bound.

use crate::fleet::Outcome;
use crate::params::{Environment, ScalerOutage};

/// The inputs of the bound for one run.
#[derive(Debug, Clone)]
pub struct Jobs {
    /// Arrival seconds, sorted.
    pub arrivals: Vec<u64>,
    /// Processing seconds, in the same order; at least 1.
    pub durations: Vec<u64>,
}

impl Jobs {
    /// The jobs of a run, with the durations its workers took.
    pub fn from_outcome(o: &Outcome) -> Self {
        let mut pairs: Vec<(u64, u64)> = o
            .jobs
            .iter()
            .map(|j| {
                let d = match (j.started, j.done) {
                    (Some(s), Some(d)) if j.receives <= 1 => d.saturating_sub(s),
                    _ => 1,
                };
                (j.arrival, d.max(1))
            })
            .collect();
        pairs.sort_unstable();
        Jobs {
            arrivals: pairs.iter().map(|p| p.0).collect(),
            durations: pairs.iter().map(|p| p.1).collect(),
        }
    }
}

/// When the first instance can be polling: the first arrival, pushed past a
/// no-capacity window that covers it, plus the shortest cold start.
pub fn servers_from(first_arrival: u64, no_capacity: &[ScalerOutage], cold_start: u64) -> u64 {
    let mut launch = first_arrival;
    // Windows may chain; a window with no end means no launch ever (u64::MAX).
    while let Some(w) = no_capacity.iter().find(|w| w.covers(launch)) {
        launch = w.end.unwrap_or(u64::MAX / 2);
    }
    launch.saturating_add(cold_start)
}

/// At least how many jobs wait longer than `x` seconds, for any schedule on `servers`
/// servers polling from `s0` on.
pub fn late_at_least(jobs: &Jobs, servers: u64, s0: u64, x: u64) -> usize {
    let n = jobs.arrivals.len();
    let max_d = jobs.durations.iter().copied().max().unwrap_or(1) as usize;
    // Durations of the jobs due so far, by value: the m shortest are read off in order.
    let mut count = vec![0u64; max_d + 1];
    let mut worst = 0usize;
    let mut k = 0;
    while k < n {
        // Every job arriving at the same second is due at the same time D.
        let a = jobs.arrivals[k];
        while k < n && jobs.arrivals[k] == a {
            count[jobs.durations[k] as usize] += 1;
            k += 1;
        }
        let due = a + x;
        let late = if due < s0 {
            k
        } else {
            let mut budget = servers * (due - s0);
            let mut fit = 0u64;
            for (d, &c) in count.iter().enumerate().skip(1) {
                if c == 0 {
                    continue;
                }
                let take = c.min(budget / d as u64);
                fit += take;
                budget -= take * d as u64;
                if take < c {
                    break;
                }
            }
            k.saturating_sub((servers + fit) as usize)
        };
        worst = worst.max(late);
    }
    worst
}

/// The least p95 wait over all jobs any policy of the class can reach (nearest rank,
/// as the tables count it); `None` without jobs.
pub fn p95_lower_bound(jobs: &Jobs, servers: u64, s0: u64) -> Option<u64> {
    let n = jobs.arrivals.len();
    if n == 0 {
        return None;
    }
    let allowed = n - (0.95 * n as f64).ceil() as usize;
    // late_at_least is non-increasing in x; at x = s0 + total work nothing need be late.
    let (mut lo, mut hi) = (0u64, s0 + jobs.durations.iter().sum::<u64>());
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if late_at_least(jobs, servers, s0, mid) <= allowed {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    Some(lo)
}

/// The bound for one run of the deployed design in `env` (already resolved: its
/// no-capacity windows explicit), with `max_tasks` servers, and how long a no-capacity
/// window held the first launch back (0: none covered the first job).
pub fn run_bound(o: &Outcome, env: &Environment, max_tasks: u32) -> Option<(u64, u64)> {
    let jobs = Jobs::from_outcome(o);
    let first = *jobs.arrivals.first()?;
    let cold = env.cold_start_seconds();
    let s0 = servers_from(first, &env.no_capacity, cold);
    let bound = p95_lower_bound(&jobs, u64::from(max_tasks), s0)?;
    Some((bound, s0 - cold - first))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jobs(arrivals: Vec<u64>, durations: Vec<u64>) -> Jobs {
        Jobs {
            arrivals,
            durations,
        }
    }

    #[test]
    fn a_burst_on_an_empty_fleet_by_hand() {
        // 10 jobs of 10 s at 0; 2 servers from 100 s. p95 of 10 is the largest wait:
        // the last two start after 8 jobs (80 s of work on 2 servers): 100 + 40 = 140.
        let j = jobs(vec![0; 10], vec![10; 10]);
        assert_eq!(p95_lower_bound(&j, 2, 100), Some(140));
        assert_eq!(late_at_least(&j, 2, 100, 139), 1);
        assert_eq!(late_at_least(&j, 2, 100, 140), 0);
        // Every job due before the servers start is late.
        assert_eq!(late_at_least(&j, 2, 100, 99), 10);
        // Shorter jobs first is what the bound grants: 8 of 5 s and 2 of 100 s: the
        // servers may take the short ones first, 100 + 20 = 120.
        let j = jobs(vec![0; 10], vec![5, 5, 100, 5, 5, 5, 5, 100, 5, 5]);
        assert_eq!(p95_lower_bound(&j, 2, 100), Some(120));
    }

    #[test]
    fn a_job_in_a_no_capacity_window_waits_for_its_end() {
        let w = [ScalerOutage {
            start: 50,
            end: Some(500),
        }];
        assert_eq!(servers_from(60, &w, 165), 665);
        assert_eq!(servers_from(40, &w, 165), 205);
        let chained = [
            w[0],
            ScalerOutage {
                start: 500,
                end: Some(900),
            },
        ];
        assert_eq!(servers_from(60, &chained, 165), 1065);
        // A lone job at 60: waits 665 − 60 s at best.
        let j = jobs(vec![60], vec![6]);
        assert_eq!(p95_lower_bound(&j, 5, servers_from(60, &w, 165)), Some(605));
    }

    #[test]
    fn later_jobs_on_standing_servers_wait_nothing() {
        // One job at 0, then 100 jobs spread after the servers are up: only the first
        // waits; it is 1 of 101, within the 5 % p95 allows, so the bound is 0.
        let mut a = vec![0];
        a.extend((0..100).map(|k| 1000 + 60 * k));
        let j = jobs(a, vec![6; 101]);
        assert_eq!(p95_lower_bound(&j, 1, 165), Some(0));
    }
}
