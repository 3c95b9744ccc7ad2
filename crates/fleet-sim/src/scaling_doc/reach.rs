//! Where issue 12's latency goal is within reach: the lower bound of
//! [`crate::feasibility`] per trace against the deployed design, and what other settings
//! of the deployed rule, or capacity from elsewhere, would buy in the realistic world.

use std::fmt::Write as _;

use super::world::{evaluate, row, RunVsBound, WorldRuns, ISSUE_GOAL_RUNS};
use crate::params::{Environment, ScalingParams};
use crate::policy::PolicyKind;
use crate::report::COST_BOUND;
use crate::trace::TRACE_NAMES;
use crate::tuning;

/// Median and worst of some seconds (`None`: never).
fn median_worst(mut v: Vec<Option<u64>>) -> String {
    v.sort_by_key(|x| x.map_or((1, 0), |s| (0, s)));
    let f = |x: Option<u64>| x.map_or("never".to_string(), |s| format!("{s} s"));
    match (v.get((v.len().max(1) - 1) / 2), v.last()) {
        (Some(&m), Some(&w)) => format!("{} ({})", f(m), f(w)),
        _ => "—".to_string(),
    }
}

/// The lower bound of [`crate::feasibility`], per trace, against the deployed design.
pub fn lower_bound(w: &mut String, p: &ScalingParams, env: &Environment, ours: &WorldRuns) {
    let budget = p.acceptable_latency_seconds as u64;
    let _ = writeln!(
        w,
        "**What no policy of this kind can beat.** A lower bound per run on the p95 wait over all jobs \
         (`crates/fleet-sim/src/feasibility.rs`), for any policy that, like every row here, starts from an empty \
         fleet, launches nothing before the first job arrives and runs at most `max_tasks` ({}) tasks, one per \
         instance. Everything else is granted: all {} instances launch the second the first job arrives (or the \
         second a no-capacity window covering it ends), all poll one *shortest* cold start ({} s) later, none is \
         ever interrupted or scaled in, and the jobs (with the run's own job times) may be served in any order. \
         \"Out of reach\": runs whose bound is itself above {budget} s — no policy of the kind meets the latency \
         goal there, whatever it costs.\n",
        p.max_tasks,
        p.max_tasks,
        env.cold_start_seconds()
    );
    let _ = writeln!(
        w,
        "| trace | out of reach (of {}) | bound on p95: median (worst) | deployed p95 over all jobs: median (worst) | deployed misses the bound allows |",
        tuning::SEEDS
    );
    let _ = writeln!(w, "|---|---:|---:|---:|---:|");
    let (mut out_total, mut gap_total) = (0, 0);
    let mut ruled_out = Vec::new();
    for (name, runs) in TRACE_NAMES.iter().zip(&ours.bounds) {
        let over = |v: Option<u64>| v.is_none_or(|s| s > budget);
        let bound = |r: &RunVsBound| r.0.map(|b| b.0);
        let out_of_reach = runs.iter().filter(|r| over(bound(r))).count();
        let gap = runs.iter().filter(|r| !over(bound(r)) && over(r.1)).count();
        for (k, r) in runs.iter().enumerate() {
            if over(bound(r)) {
                let (b, held) = r.0.unwrap_or((u64::MAX, 0));
                let why = if held > 0 {
                    format!(
                        "its first job lands {held} s before the end of a no-capacity window, on an empty fleet"
                    )
                } else {
                    format!(
                        "its work on {} tasks from one cold start after the first job",
                        p.max_tasks
                    )
                };
                ruled_out.push(format!(
                    "`{name}` seed {}: bound {b} s, {} s over the goal — {why}",
                    env.seed + k as u64,
                    b.saturating_sub(budget)
                ));
            }
        }
        out_total += out_of_reach;
        gap_total += gap;
        let _ = writeln!(
            w,
            "| {name} | {out_of_reach} | {} | {} | {gap} |",
            median_worst(runs.iter().map(|r| r.0.map(|b| b.0)).collect()),
            median_worst(runs.iter().map(|r| r.1).collect()),
        );
    }
    if !ruled_out.is_empty() {
        let _ = writeln!(w, "\nOut of reach, run by run:\n");
        for line in &ruled_out {
            let _ = writeln!(w, "- {line};");
        }
    }
    let runs = ours.runs;
    let reachable = runs - out_total;
    let _ = writeln!(
        w,
        "\nThe bound puts {out_total} of {runs} runs out of reach, so a policy of this kind can meet the latency goal \
         over all jobs in at most {reachable} of {runs}: issue 12's {ISSUE_GOAL_RUNS} is {}. The deployed design \
         misses {gap_total} runs the bound does not rule out; there the gap is what the bound grants and no \
         real fleet has: cold starts longer than the shortest, counts a poll reads up to a minute old, and \
         `max_tasks` instances standing from the first job on — on `bursty` that is hours of light traffic \
         between bursts, at several times the oracle's instance-hours where the goal allows \
         {COST_BOUND:.2} ×.\n",
        if reachable > ISSUE_GOAL_RUNS {
            "not ruled out by it".to_string()
        } else if reachable == ISSUE_GOAL_RUNS {
            "not ruled out by it, but only a policy that meets every other run could reach it".to_string()
        } else {
            format!(
                "out of reach by {} runs in this world",
                ISSUE_GOAL_RUNS - reachable
            )
        },
    );
}

/// Other settings of the deployed rule, and capacity from other pools, in the realistic
/// world: what each buys against issue 12's goal.
pub fn options(w: &mut String, p: &ScalingParams, env: &Environment) {
    let _ = writeln!(w, "### What a different policy would buy\n");
    let longest = env.cold_start_max_seconds();
    let _ = writeln!(
        w,
        "The deployed design with one setting changed (`terraform/scaling.json`, which both the Lambda and the \
         simulator read), and the realistic world without its no-capacity window — the most any source of \
         capacity outside the Spot pools could buy; 36 runs per row.\n"
    );
    let _ = writeln!(
        w,
        "| change | goal over all jobs | latency over all jobs, nothing lost | warm goal | mean × oracle |"
    );
    let _ = writeln!(w, "|---|---:|---:|---:|---:|");
    let with = |f: &dyn Fn(&mut ScalingParams)| {
        let mut q = p.clone();
        f(&mut q);
        q
    };
    let rows: Vec<(String, ScalingParams, Environment)> = vec![
        ("(none: as deployed)".into(), p.clone(), env.clone()),
        (
            format!(
                "`cold_start_seconds` = {longest} (the longest cold start the world draws): more tasks per \
                 visible job, the last task kept longer"
            ),
            with(&|q| q.cold_start_seconds = longest),
            env.clone(),
        ),
        (
            "`min_tasks` = 1: one task always warm".into(),
            with(&|q| q.min_tasks = 1),
            env.clone(),
        ),
        (
            format!(
                "`max_tasks` = {} (the oracle gets the same cap)",
                2 * p.max_tasks
            ),
            with(&|q| q.max_tasks = 2 * p.max_tasks),
            env.clone(),
        ),
        (
            "capacity during the no-capacity window (other pools, On-Demand): the window removed".into(),
            p.clone(),
            Environment {
                random_no_capacity_minutes: 0,
                no_capacity: Vec::new(),
                ..env.clone()
            },
        ),
    ];
    for (label, q, e) in rows {
        row(w, &label, &evaluate(PolicyKind::Ours, &q, &e));
    }
    let _ = writeln!(w);
}
