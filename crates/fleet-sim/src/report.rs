//! Turns runs into numbers: per-trace rows (queue wait percentiles, jobs lost,
//! instance-hours, cost, first result after idle) and the goal check against the oracle.

use serde::Serialize;

use crate::fleet::Outcome;
use crate::params::ScalingParams;
use crate::policy::PolicyKind;

/// The goal's cost bound: at most this multiple of the oracle's instance-hours (issue 12:
/// ≤ 1.15 ×; issue 7 had 1.10). The one constant every goal check and table reads.
pub const COST_BOUND: f64 = 1.15;

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub policy: PolicyKind,
    pub trace: String,
    pub jobs: usize,
    pub done: usize,
    /// Moved to the dead-letter queue.
    pub dead_lettered: usize,
    /// Neither done nor dead-lettered when the simulation ended.
    pub unserved: usize,
    /// Queue wait (arrival → processing starts) of jobs outside cold starts; infinite
    /// for jobs never started.
    pub wait_p50: Option<f64>,
    pub wait_p95: Option<f64>,
    pub wait_max: Option<f64>,
    pub cold_jobs: usize,
    pub cold_wait_max: Option<f64>,
    pub instance_hours: f64,
    pub cost: f64,
    /// First arrival of the trace (the system starts idle) → first job done.
    pub first_result: Option<f64>,
    pub instances_launched: u32,
    pub interruptions: u32,
    /// instance_hours / oracle's, filled by [`judge`].
    pub cost_ratio: Option<f64>,
    pub latency_ok: bool,
    pub goal_met: bool,
}

impl Row {
    pub fn lost(&self) -> usize {
        self.dead_lettered + self.unserved
    }
}

/// Nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

pub fn summarize(o: &Outcome, params: &ScalingParams) -> Row {
    let mut warm = Vec::new();
    let mut cold_max: Option<f64> = None;
    let mut cold_jobs = 0;
    for j in o.jobs.iter().filter(|j| !j.dead_lettered) {
        let wait = j.started.map_or(f64::INFINITY, |s| (s - j.arrival) as f64);
        if j.cold {
            cold_jobs += 1;
            cold_max = Some(cold_max.map_or(wait, |m: f64| m.max(wait)));
        } else {
            warm.push(wait);
        }
    }
    warm.sort_by(|a, b| a.partial_cmp(b).expect("waits are never NaN"));
    let done = o.jobs.iter().filter(|j| j.done.is_some()).count();
    let dead = o.jobs.iter().filter(|j| j.dead_lettered).count();
    let first_arrival = o.jobs.first().map(|j| j.arrival);
    let first_done = o.jobs.iter().filter_map(|j| j.done).min();
    let instance_hours = o.instance_seconds as f64 / 3600.0;
    let wait_p95 = percentile(&warm, 0.95);
    Row {
        policy: o.policy,
        trace: o.trace.clone(),
        jobs: o.jobs.len(),
        done,
        dead_lettered: dead,
        unserved: o.jobs.len() - done - dead,
        wait_p50: percentile(&warm, 0.50),
        wait_p95,
        wait_max: warm.last().copied(),
        cold_jobs,
        cold_wait_max: cold_max,
        instance_hours,
        cost: instance_hours * params.spot_price_per_hour,
        first_result: match (first_arrival, first_done) {
            (Some(a), Some(d)) => Some((d - a) as f64),
            _ => None,
        },
        instances_launched: o.instances_launched,
        interruptions: o.interruptions,
        cost_ratio: None,
        latency_ok: wait_p95.is_none_or(|w| w <= params.acceptable_latency_seconds)
            && cold_max.is_none_or(f64::is_finite),
        goal_met: false,
    }
}

/// Fills cost ratios against the oracle's row of the same trace and the goal verdict:
/// p95 warm wait within the acceptable latency, every job done, cost ≤ [`COST_BOUND`] × oracle.
pub fn judge(rows: &mut [Row]) {
    let oracle = rows
        .iter()
        .find(|r| r.policy == PolicyKind::Oracle)
        .map(|r| r.instance_hours);
    for r in rows.iter_mut() {
        r.cost_ratio = oracle.filter(|&o| o > 0.0).map(|o| r.instance_hours / o);
        r.goal_met =
            r.latency_ok && r.lost() == 0 && r.cost_ratio.is_some_and(|c| c <= COST_BOUND + 1e-9);
    }
}

pub fn fmt_secs(v: Option<f64>) -> String {
    match v {
        None => "—".to_string(),
        Some(x) if x.is_infinite() => "never".to_string(),
        Some(x) => format!("{x:.0} s"),
    }
}

/// One markdown table for one trace.
pub fn markdown_table(rows: &[Row]) -> String {
    let mut s = String::new();
    s.push_str("| policy | p50 wait | p95 wait | max wait | cold-start jobs (max wait) | jobs lost (DLQ + never done) | instance-hours | Spot cost | × oracle | first result after idle | goal |\n");
    s.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|\n");
    for r in rows {
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} ({}) | {} ({} + {}) | {:.2} | ${:.3} | {} | {} | {} |\n",
            r.policy.label(),
            fmt_secs(r.wait_p50),
            fmt_secs(r.wait_p95),
            fmt_secs(r.wait_max),
            r.cold_jobs,
            fmt_secs(r.cold_wait_max),
            r.lost(),
            r.dead_lettered,
            r.unserved,
            r.instance_hours,
            r.cost,
            r.cost_ratio.map_or("—".to_string(), |c| format!("{c:.2}")),
            fmt_secs(r.first_result),
            if r.policy == PolicyKind::Oracle {
                "(bound)"
            } else if r.goal_met {
                "✅"
            } else {
                "❌"
            },
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 0.95), Some(95.0));
        assert_eq!(percentile(&v, 0.50), Some(50.0));
        assert_eq!(percentile(&[7.0], 0.95), Some(7.0));
        assert_eq!(percentile(&[], 0.5), None);
    }

    fn row(policy: PolicyKind, instance_hours: f64) -> Row {
        Row {
            policy,
            trace: "t".into(),
            jobs: 1,
            done: 1,
            dead_lettered: 0,
            unserved: 0,
            wait_p50: Some(1.0),
            wait_p95: Some(1.0),
            wait_max: Some(1.0),
            cold_jobs: 0,
            cold_wait_max: None,
            instance_hours,
            cost: 0.0,
            first_result: None,
            instances_launched: 1,
            interruptions: 0,
            cost_ratio: None,
            latency_ok: true,
            goal_met: false,
        }
    }

    #[test]
    fn the_goal_allows_issue_12s_cost_bound_and_no_more() {
        assert_eq!(COST_BOUND, 1.15);
        // 1.14 × and exactly 1.15 × the oracle meet it (1.14 missed issue 7's 1.10); 1.16 ×
        // does not.
        let mut rows = [
            row(PolicyKind::Oracle, 1.0),
            row(PolicyKind::Ours, 1.14),
            row(PolicyKind::OursAlarms, 1.15),
            row(PolicyKind::KedaLike, 1.16),
        ];
        judge(&mut rows);
        let met: Vec<bool> = rows[1..].iter().map(|r| r.goal_met).collect();
        assert_eq!(met, [true, true, false]);
    }
}
