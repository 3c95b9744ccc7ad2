//! The section "The realistic world" of docs/scaling.md: issue 12's goal judged over all
//! jobs in the realistic world ([`crate::world`]) beside the idealised one, per policy
//! and per trace, and the sensitivity of the deployed design to cold start, placement
//! and stale counts in both directions.

use std::fmt::Write as _;

use crate::candidates::CandidateSettings;
use crate::fleet::simulate_with;
use crate::outages::summarize_all_jobs;
use crate::params::{Environment, ScalingParams};
use crate::policy::PolicyKind;
use crate::report::{judge, summarize, COST_BOUND};
use crate::trace::TRACE_NAMES;
use crate::tuning;

/// Issue 12's goal: runs meeting it, of 36.
pub const ISSUE_GOAL_RUNS: usize = 32;

/// One run: [`crate::feasibility::run_bound`]'s (bound, seconds a no-capacity window held
/// the first launch back), and the policy's p95 wait over all jobs.
pub type RunVsBound = (Option<(u64, u64)>, Option<u64>);

/// One policy over every seed and trace, judged by issue 12's goal.
#[derive(Debug, Clone)]
pub struct WorldRuns {
    pub runs: usize,
    /// p95 wait over all jobs ≤ the acceptable latency, nothing lost, ≤ [`COST_BOUND`] × oracle.
    pub all_jobs_goal: usize,
    /// The same, latency and loss only.
    pub all_jobs_latency: usize,
    /// Issue 7's latency goal (warm p95: jobs outside cold starts), with the same cost
    /// bound, as the seed tables count it.
    pub warm_goal: usize,
    pub mean_cost_ratio: f64,
    /// Per trace (in [`TRACE_NAMES`] order): runs meeting the all-jobs goal, and the
    /// worst p95 wait over all jobs (`None`: a job never started).
    pub per_trace: Vec<(usize, Option<u64>)>,
    /// Per trace, per run (seed order): [`crate::feasibility`]'s lower bound on the p95
    /// wait over all jobs with how long a no-capacity window held the first launch back,
    /// and this policy's p95 over all jobs (`None`: a job never started).
    pub bounds: Vec<Vec<RunVsBound>>,
}

/// Runs `kind` on every scenario of `env` (its seeds) and counts.
pub fn evaluate(kind: PolicyKind, p: &ScalingParams, env: &Environment) -> WorldRuns {
    let scenarios = tuning::scenarios(p, env);
    let settings = CandidateSettings::default();
    let budget = p.acceptable_latency_seconds;
    let mut out = WorldRuns {
        runs: 0,
        all_jobs_goal: 0,
        all_jobs_latency: 0,
        warm_goal: 0,
        mean_cost_ratio: 0.0,
        per_trace: vec![(0, Some(0)); TRACE_NAMES.len()],
        bounds: vec![Vec::new(); TRACE_NAMES.len()],
    };
    let mut ratio_sum = 0.0;
    let mut ratios = 0;
    for sc in &scenarios {
        for (k, (trace, oracle)) in sc.traces.iter().zip(&sc.oracles).enumerate() {
            let o = simulate_with(p, &sc.env, trace, kind, &settings);
            let all = summarize_all_jobs(&o);
            let resolved = crate::world::resolve(
                &sc.env,
                trace.duration,
                trace.duration + sc.env.tail_seconds,
            );
            out.bounds[k].push((
                crate::feasibility::run_bound(&o, &resolved, p.max_tasks),
                all.wait_p95,
            ));
            let mut pair = vec![summarize(&o, p), oracle.clone()];
            judge(&mut pair);
            let r = &pair[0];
            // No oracle row to divide by only if the oracle ran no instance at all.
            let ratio = r.cost_ratio.unwrap_or(f64::INFINITY);
            let latency = all.lost == 0 && all.wait_p95.is_some_and(|w| w as f64 <= budget);
            let goal = latency && ratio <= COST_BOUND + 1e-9;
            out.runs += 1;
            out.all_jobs_latency += usize::from(latency);
            out.all_jobs_goal += usize::from(goal);
            out.warm_goal += usize::from(r.goal_met);
            if ratio.is_finite() {
                ratio_sum += ratio;
                ratios += 1;
            }
            let slot = &mut out.per_trace[k];
            slot.0 += usize::from(goal);
            slot.1 = match (slot.1, all.wait_p95) {
                (Some(a), Some(b)) => Some(a.max(b)),
                _ => None,
            };
        }
    }
    out.mean_cost_ratio = ratio_sum / f64::from(ratios.max(1));
    out
}

/// The realistic world's rows of the environment table.
pub fn assumption_rows(w: &mut String, env: &Environment) {
    if crate::world::is_ideal(env) {
        let _ = writeln!(w, "| world | idealised | constant boot and task start, instant placement, exact counts, no missed invocation, Spot capacity always there |");
        return;
    }
    let _ = writeln!(w, "| world | realistic | the draws below, each uniform and from the run's seed; sources and assumptions in `crates/fleet-sim/src/world.rs` |");
    let _ = writeln!(w, "| boot → registered, drawn | {}–{} s | assumption: AWS publishes no launch-to-registration time; a minute slower than the idealised value at worst |", env.instance_boot_seconds, env.instance_boot_seconds + env.boot_spread_seconds);
    let _ = writeln!(w, "| task start (image pull + model load), drawn | {}–{} s | assumption: a cold ECR pull of the image with its models |", env.task_start_seconds, env.task_start_seconds + env.task_start_spread_seconds);
    let _ = writeln!(w, "| registered → task placed, drawn | 0–{} s | assumption: the service scheduler's next placement attempt (managed scaling off: no PROVISIONING hold) |", env.placement_max_seconds);
    let _ = writeln!(w, "| age of the queue counts a poll reads (incl. API latency), drawn | {}–{} s | [GetQueueAttributes](https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_GetQueueAttributes.html): approximate, \"may not achieve consistency until at least 1 minute\" after sends stop |", env.count_staleness_seconds, env.count_staleness_seconds + env.count_staleness_spread_seconds);
    let _ = writeln!(w, "| scaler invocations missed | {:.0} % | assumption (AWS publishes no rate): the schedule retries nothing ([RetryPolicy](https://docs.aws.amazon.com/scheduler/latest/APIReference/API_RetryPolicy.html) 0 retries, as deployed), so a failed delivery or a throttle loses its minute |", env.missed_invocation_probability * 100.0);
    let _ = writeln!(w, "| background Spot interruptions | {} per instance-hour | the [Spot Instance Advisor](https://aws.amazon.com/ec2/spot/instance-advisor/)'s worst band, \">20%\" a month, is ≈ 0.0003; this is some 30× that |", env.spot_interruptions_per_instance_hour);
    let _ = writeln!(w, "| Capacity Rebalancing | {} | as deployed (`capacity_rebalance = true`): the replacement launches at the rebalance recommendation |", if env.capacity_rebalance { "on" } else { "off" });
    let _ = writeln!(w, "| window with no Spot capacity | {} min per run, at a drawn time | assumption; EC2's `InsufficientInstanceCapacity` advice is to wait \"a few minutes\" ([errors](https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html)) |", env.random_no_capacity_minutes);
}

pub(super) fn row(w: &mut String, label: &str, r: &WorldRuns) {
    let _ = writeln!(
        w,
        "| {label} | {} of {} | {} of {} | {} of {} | {:.2} |",
        r.all_jobs_goal, r.runs, r.all_jobs_latency, r.runs, r.warm_goal, r.runs, r.mean_cost_ratio
    );
}

/// The whole section. `env`: the realistic world the report runs in.
pub fn render(w: &mut String, p: &ScalingParams, env: &Environment) {
    let seeds = format!("{}–{}", env.seed, env.seed + tuning::SEEDS as u64 - 1);
    let ideal = Environment {
        seed: env.seed,
        ..Environment::default()
    };
    let _ = writeln!(w, "## The realistic world, and the goal over all jobs\n");
    let _ = writeln!(
        w,
        "Issue 12's goal: in the realistic world, the deployed design meets the latency goal over **all** jobs \
         (p95 wait, cold starts included, ≤ {:.0} s, nothing lost) in ≥ {ISSUE_GOAL_RUNS} of 36 seed runs at \
         ≤ {COST_BOUND:.2} × the oracle's instance-hours, and beats the alarms mode and the KEDA-like row on \
         every trace. Seeds {seeds}, 6 traces each; \"warm goal\" is issue 7's latency goal (p95 outside cold \
         starts) with the same cost bound, as the tables above count it.\n",
        p.acceptable_latency_seconds
    );
    let _ = writeln!(
        w,
        "| world, policy | goal over all jobs (≤ {COST_BOUND:.2} ×) | latency over all jobs, nothing lost | warm goal | mean × oracle |"
    );
    let _ = writeln!(w, "|---|---:|---:|---:|---:|");
    let kinds = [
        PolicyKind::Ours,
        PolicyKind::OursAlarms,
        PolicyKind::KedaLike,
    ];
    let real: Vec<WorldRuns> = kinds.iter().map(|&k| evaluate(k, p, env)).collect();
    for (k, r) in kinds.iter().zip(&real) {
        row(w, &format!("realistic, {}", k.label()), r);
    }
    let ours_ideal = evaluate(PolicyKind::Ours, p, &ideal);
    row(
        w,
        &format!("idealised, {}", PolicyKind::Ours.label()),
        &ours_ideal,
    );
    let _ = writeln!(w);
    let ours = &real[0];
    let verdict = if ours.all_jobs_goal >= ISSUE_GOAL_RUNS {
        "meets it".to_string()
    } else {
        format!("misses it by {} runs", ISSUE_GOAL_RUNS - ours.all_jobs_goal)
    };
    let _ = writeln!(
        w,
        "The deployed design meets the goal over all jobs in **{} of {}** realistic runs at a mean {:.2} × the \
         oracle's instance-hours ({verdict}; idealised world: {} of {}).\n",
        ours.all_jobs_goal,
        ours.runs,
        ours.mean_cost_ratio,
        ours_ideal.all_jobs_goal,
        ours_ideal.runs
    );
    let _ = writeln!(
        w,
        "Per trace, realistic world: runs meeting the goal over all jobs (of {}) and the worst p95 wait over all jobs:\n",
        tuning::SEEDS
    );
    let _ = writeln!(
        w,
        "| trace | {} | ours beats both? |",
        kinds.map(|k| k.label()).join(" | ")
    );
    let _ = writeln!(w, "|---|---:|---:|---:|:---:|");
    for (i, name) in TRACE_NAMES.iter().enumerate() {
        let cells: Vec<String> = real
            .iter()
            .map(|r| {
                let (met, worst) = r.per_trace[i];
                format!(
                    "{met} ({})",
                    worst.map_or("never".to_string(), |s| format!("{s} s"))
                )
            })
            .collect();
        let key = |r: &WorldRuns| {
            (
                r.per_trace[i].0,
                std::cmp::Reverse(r.per_trace[i].1.unwrap_or(u64::MAX)),
            )
        };
        let beats = real[1..].iter().all(|o| key(&real[0]) > key(o));
        let ties = real[1..].iter().all(|o| key(&real[0]) >= key(o));
        let _ = writeln!(
            w,
            "| {name} | {} | {} |",
            cells.join(" | "),
            if beats {
                "yes"
            } else if ties {
                "ties or better"
            } else {
                "no"
            }
        );
    }
    let _ = writeln!(
        w,
        "\n(\"Beats\": more runs meeting the goal, then a lower worst p95.)\n"
    );
    super::reach::lower_bound(w, p, env, ours);
    why_it_misses(w, p, env, ours);
    leave_one_out(w, p, env);
    super::reach::options(w, p, env);
    sensitivity(w, p, env);
}

/// Where the deployed design misses issue 12's goal, trace by trace, and why.
fn why_it_misses(w: &mut String, p: &ScalingParams, env: &Environment, ours: &WorldRuns) {
    let spike_bound = TRACE_NAMES
        .iter()
        .position(|n| *n == "spike")
        .and_then(|k| {
            let mut b: Vec<u64> = ours.bounds[k]
                .iter()
                .filter_map(|r| r.0.map(|b| b.0))
                .collect();
            b.sort_unstable();
            b.get(b.len().saturating_sub(1) / 2).copied()
        })
        .map_or("—".to_string(), |s| format!("{s} s"));
    let missed: Vec<String> = TRACE_NAMES
        .iter()
        .zip(&ours.per_trace)
        .filter(|(_, (met, _))| *met < tuning::SEEDS)
        .map(|(name, (met, _))| format!("`{name}` {met} of {}", tuning::SEEDS))
        .collect();
    if missed.is_empty() {
        return;
    }
    let _ = writeln!(
        w,
        "**Where it misses, and why** ({}). Cost is not the problem (a mean {:.2} × oracle); latency over all \
         jobs is:\n",
        missed.join(", "),
        ours.mean_cost_ratio
    );
    let _ = writeln!(
        w,
        "- `spike` lands 15 task-minutes of jobs on an idle fleet. Counted over all jobs, every one of them waits a \
         cold start ({}–{} s here) before the first task polls, and then for {} tasks to drain the rest. Even at \
         the shortest cold start, with perfect reaction and the jobs in the best order, the bound above is {} \
         (median of the runs): what is left of the {:.0} s is less than the spread of the cold starts the world \
         draws and the age of the counts a poll reads, so no reactive policy meets it reliably; only capacity \
         kept warm avoids the cold start, at the cost the `min_tasks` row of \"What a different policy would buy\" \
         shows.",
        env.cold_start_seconds(),
        env.cold_start_max_seconds(),
        p.max_tasks,
        spike_bound,
        p.acceptable_latency_seconds
    );
    let _ = writeln!(
        w,
        "- `bursty`'s bursts need all {} tasks; in the idealised world its p95 is already just under the budget, so \
         the longer cold starts, the placement delay and stale counts each push it over, and a no-capacity window \
         that falls on a burst holds every new instance back for its {} minutes (table below).",
        p.max_tasks, env.random_no_capacity_minutes
    );
    let _ = writeln!(
        w,
        "- `lone`, `spot-storm` and `steady` miss in the draws where the window without Spot capacity falls on the \
         work (checked seed by seed: with the window moved past the run, each of those runs meets the goal): the \
         queue waits for capacity that EC2 does not have, whatever the scaler asks for.\n"
    );
    let _ = writeln!(
        w,
        "**What the policy can change, and what it cannot.** No setting of the rule the Lambda and the simulator \
         share (`crates/backlog-policy`, read from `terraform/scaling.json`) meets the goal in more runs (table \
         \"What a different policy would buy\" below): asking for capacity earlier and keeping the last task \
         longer (a longer `cold_start_seconds`) or one task always warm (`min_tasks` = 1: latency, at several times \
         the oracle's instance-hours) costs more and meets the whole goal in no more runs, and a larger cap does \
         not either; so `terraform/scaling.json` keeps its values. What would gain runs \
         is capacity while the Spot pools have none: the table's last row removes the window, the most any \
         fallback could buy. The deployed group already spreads over several instance types and every subnet \
         (Availability Zone) given, with `price-capacity-optimized` allocation, which is AWS's advice for getting \
         Spot capacity (a Spot pool is one instance type in one Availability Zone: \
         [Spot best practices](https://docs.aws.amazon.com/whitepapers/latest/cost-optimization-leveraging-ec2-spot-instances/spot-best-practices.html)), \
         so a window with no capacity in any pool is this world's pessimistic assumption. An Auto Scaling group's \
         On-Demand share is set, not adaptive: a fixed base and a percentage above it \
         ([InstancesDistribution](https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_InstancesDistribution.html); \
         and ECS has no capacity strategy that falls back to On-Demand only when Spot runs out, a request on its roadmap: [containers-roadmap#773](https://github.com/aws/containers-roadmap/issues/773)). \
         A fallback the scaler drives — raise `OnDemandBaseCapacity` while launches fail, lower it when Spot \
         launches succeed again — would need the group's scaling activities read, the IAM to update the group, \
         and On-Demand priced in the cost; it is not built. Even the window removed leaves the deployed design \
         short of {ISSUE_GOAL_RUNS} runs: the rest of the gap is `bursty` and `spike`, whose bursts wait for cold \
         starts (above).\n"
    );
}

/// The realistic world with one of its roughnesses taken out at a time: what each costs.
fn leave_one_out(w: &mut String, p: &ScalingParams, env: &Environment) {
    let _ = writeln!(w, "### What each roughness costs (deployed design)\n");
    let _ = writeln!(
        w,
        "The realistic world with one thing taken out (set to the idealised value), 36 runs per row:\n"
    );
    let _ = writeln!(
        w,
        "| realistic world without | goal over all jobs | latency over all jobs, nothing lost | warm goal | mean × oracle |"
    );
    let _ = writeln!(w, "|---|---:|---:|---:|---:|");
    let variants: [(&str, Environment); 7] = [
        ("(nothing: the realistic world)", env.clone()),
        (
            "the no-capacity window",
            Environment {
                random_no_capacity_minutes: 0,
                ..env.clone()
            },
        ),
        (
            "the boot and task-start spreads",
            Environment {
                boot_spread_seconds: 0,
                task_start_spread_seconds: 0,
                ..env.clone()
            },
        ),
        (
            "the placement delay",
            Environment {
                placement_max_seconds: 0,
                ..env.clone()
            },
        ),
        (
            "the stale counts",
            Environment {
                count_staleness_spread_seconds: 0,
                ..env.clone()
            },
        ),
        (
            "the missed invocations",
            Environment {
                missed_invocation_probability: 0.0,
                ..env.clone()
            },
        ),
        (
            "background Spot interruptions",
            Environment {
                spot_interruptions_per_instance_hour: 0.0,
                ..env.clone()
            },
        ),
    ];
    for (label, e) in variants {
        row(w, label, &evaluate(PolicyKind::Ours, p, &e));
    }
    let _ = writeln!(w);
}

fn sensitivity(w: &mut String, p: &ScalingParams, env: &Environment) {
    let header = |w: &mut String, what: &str| {
        let _ = writeln!(
            w,
            "| {what} | goal over all jobs | latency over all jobs, nothing lost | warm goal | mean × oracle |"
        );
        let _ = writeln!(w, "|---:|---:|---:|---:|---:|");
    };
    let _ = writeln!(
        w,
        "### Sensitivity in the realistic world (deployed design)\n"
    );
    let _ = writeln!(
        w,
        "Each table changes one thing of the realistic world and keeps the rest; 36 runs per row.\n"
    );
    let _ = writeln!(
        w,
        "**Cold start** (the shortest draw, boot + task start, split as the default {} + {} s; the spreads stay):\n",
        env.instance_boot_seconds, env.task_start_seconds
    );
    header(w, "cold start, shortest");
    let base = env.cold_start_seconds();
    for cold in [45, 90, base, 225, 300] {
        let boot = cold * env.instance_boot_seconds / base;
        let e = Environment {
            instance_boot_seconds: boot,
            task_start_seconds: cold - boot,
            ..env.clone()
        };
        row(w, &format!("{cold} s"), &evaluate(PolicyKind::Ours, p, &e));
    }
    let _ = writeln!(w, "\n**Registration → placement** (uniform up to):\n");
    header(w, "placement, up to");
    for max in [0, 10, 20, 30] {
        let e = Environment {
            placement_max_seconds: max,
            ..env.clone()
        };
        row(w, &format!("{max} s"), &evaluate(PolicyKind::Ours, p, &e));
    }
    let _ = writeln!(
        w,
        "\n**Age of the counts a poll reads** (fixed instead of drawn; the realistic world draws 0–{} s):\n",
        env.count_staleness_seconds + env.count_staleness_spread_seconds
    );
    header(w, "counts s old");
    for stale in [0, 15, 30] {
        let e = Environment {
            count_staleness_seconds: stale,
            count_staleness_spread_seconds: 0,
            ..env.clone()
        };
        row(w, &format!("{stale} s"), &evaluate(PolicyKind::Ours, p, &e));
    }
    let _ = writeln!(w);
}
