//! The section "Long jobs and held messages": the batch size against a long tail of job
//! times, over seeds 7–12.

use std::fmt::Write as _;

use crate::held::{self, LONG_JOB_SECONDS, SHORT_JOB_MAX_SECONDS};
use crate::params::{Environment, ScalingParams};

fn secs(v: Option<u64>) -> String {
    v.map_or("never".to_string(), |s| format!("{s} s"))
}

pub fn render(w: &mut String, p: &ScalingParams, env: &Environment) {
    let _ = writeln!(w, "{}", include_str!("held.md"));
    let _ = writeln!(
        w,
        "Trace `long-tail`: 10 min idle, then 2 h of Poisson arrivals at 0.8 tasks' worth of \
         {:.0}-s jobs, 1 % of them {} s long; the deployed design, waits over all jobs and over \
         the short ones (≤ {SHORT_JOB_MAX_SECONDS} s); worst of seeds 7–12 (p95 and max: the \
         worst seed's):\n",
        p.job_seconds, LONG_JOB_SECONDS
    );
    let _ = writeln!(
        w,
        "| `batch_size` | jobs lost | p95 wait, all | max wait, all | max wait, short jobs | instance-hours (mean) |"
    );
    let _ = writeln!(w, "|---:|---:|---:|---:|---:|---:|");
    for batch in [3, 2, 1] {
        let rows: Vec<held::HeldRow> = (7..13)
            .map(|seed| {
                let e = Environment {
                    seed,
                    ..env.clone()
                };
                held::run(p, &e, batch)
            })
            .collect();
        let worst = |f: fn(&held::HeldRow) -> Option<u64>| {
            rows.iter().map(f).max_by_key(|v| v.map_or(u64::MAX, |s| s))
        };
        let lost: usize = rows.iter().map(|r| r.lost).sum();
        let hours = rows.iter().map(|r| r.instance_hours).sum::<f64>() / rows.len() as f64;
        let _ = writeln!(
            w,
            "| {batch}{} | {lost} | {} | {} | {} | {hours:.2} |",
            if batch == p.batch_size {
                " (scaling.json)"
            } else {
                ""
            },
            secs(worst(|r| r.p95_all).flatten()),
            secs(worst(|r| r.max_all).flatten()),
            secs(worst(|r| r.max_short).flatten()),
        );
    }
    let _ = writeln!(w);
}
