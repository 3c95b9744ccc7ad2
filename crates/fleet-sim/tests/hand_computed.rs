//! The simulator against cases worked out by hand from the AWS rules it models: the
//! plans, the alarms mode and its first draft, KEDA-like, the oracle. (The deployed
//! backlog scaler's are in tests/candidates_hand_computed.rs.) Job times are constant
//! (CV 0) so every number below follows from the rules alone.

mod hand;
use hand::{assert_served_within_goal, env, lone, params, pinned, settled_tasks};

use facerec_fleet_sim::fleet::{simulate, Outcome};
use facerec_fleet_sim::params::{Environment, ScalingParams};
use facerec_fleet_sim::policy::PolicyKind;
use facerec_fleet_sim::report::summarize;
use facerec_fleet_sim::trace::{SpotStorm, Trace};

/// The values of the first draft's time (60 s scale-out cooldown, 15 idle minutes).
fn first_draft_era() -> ScalingParams {
    let mut p = pinned();
    p.scale_out_cooldown_seconds = 60;
    p.scale_to_zero_idle_minutes = 15;
    p
}

fn max_desired(o: &Outcome) -> u32 {
    o.samples.iter().map(|s| s.desired_tasks).max().unwrap_or(0)
}

/// One message at 7230 s into an idle system, ours-v0 (the first draft, with the values
/// of its time):
/// - minute [7200, 7260) has visible = 1, published 120 s after it closes → the wake
///   alarm (1 of 1 datapoint) sees it at the evaluation at 7380 → desired 1;
/// - CapacityProviderReservation for minute [7380, 7440) is 200 (M = 1, N = 0) → two
///   instances launched at 7440; registered at 7530; task polling at 7605; the job
///   starts at 7605 (wait 375 s) and is done at 7611: first result 381 s after sending.
/// - Meanwhile the wake alarm still sees RunningTaskCount = 0 (stale by 2 min) and
///   fires after every 60 s cooldown. At 7440 its +1 is undone by target tracking's
///   low alarm (in ALARM all through the idle hours: ceil(2 × 1 / 50) = 1), which then
///   sits in its 300 s scale-in cooldown; so 7500 → 2, 7560 → 3, 7620 → 4, and the
///   datapoint of minute [7500, 7560) (running still 0) gives 7680 → 5 = max_tasks.
///   The capacity provider follows to 5 instances for one message.
#[test]
fn lone_message_first_draft_overshoots() {
    let p = first_draft_era();
    let o = simulate(&p, &env(), &lone(), PolicyKind::OursFirstDraft);
    let job = &o.jobs[0];
    assert_eq!(job.started, Some(7605));
    assert_eq!(job.done, Some(7611));
    assert!(job.cold);
    let row = summarize(&o, &p);
    assert_eq!(row.first_result, Some(381.0));
    assert_eq!(row.cold_wait_max, Some(375.0));
    let at = |t: u64| o.samples.iter().find(|s| s.t == t).unwrap().desired_tasks;
    assert_eq!(
        [7320, 7380, 7440, 7500, 7560, 7620, 7680].map(at),
        [0, 1, 1, 2, 3, 4, 5],
        "wake on RunningTaskCount overshoots to max_tasks"
    );
    assert_eq!(o.instances_launched, 5);
}

/// Same message, alarms mode (wake on DesiredTaskCount == 0, 300 s cooldown, sleep
/// after 1 idle minute):
/// - 7380: the wake alarm sees visible = 1 of minute [7200, 7260) with desired 0 → +1
///   (visible 1 is in the first interval [0, T)) → desired 1. Target tracking's metric
///   is needed = 1 sent × 0.1 + 1 visible × 0.02 = 0.12 over FILL(desired, 0) = 0 →
///   0.12; its low alarm (in ALARM since the idle hours) computes ceil(1 × 0.12 / 1) = 1:
///   no change.
/// - 7440 and 7500: DesiredTaskCount of minutes [7260, 7320) and [7320, 7380) is still 0
///   (120 s stale), so the wake alarm fires again; inside the 300 s cooldown the step
///   is taken from the capacity at the cooldown start, max(1, 0 + 1) = 1: no change.
/// - 7560: desired datapoint 1, the wake metric is 0. The task was placed at 7380; two
///   instances launch at 7440 (CapacityProviderReservation = 200 from zero), register
///   at 7530, the worker polls at 7605; the job runs 7605–7611.
/// - 7740: minute [7560, 7620) had nothing visible or in flight, published 120 s later:
///   the sleep alarm (1 datapoint ≤ 0) sets ExactCapacity 0 (target tracking, at
///   ceil(1 × 0 / 1) = 0, agrees).
/// - The group's 15-datapoint scale-in: CPR is 50 from the datapoint published at 7500
///   and 0 after; it fires at 7500 + 14 min = 8340 (warm-up ended at 7740).
#[test]
fn lone_message_alarms_mode_starts_exactly_one_task() {
    let mut p = pinned();
    let o = simulate(&p, &env(), &lone(), PolicyKind::OursAlarms);
    assert_eq!(o.jobs[0].started, Some(7605));
    assert_eq!(o.jobs[0].done, Some(7611));
    let at = |t: u64| o.samples.iter().find(|s| s.t == t).unwrap().desired_tasks;
    assert_eq!(
        [7320, 7380, 7440, 7500, 7560, 7680, 7740].map(at),
        [0, 1, 1, 1, 1, 1, 0]
    );
    assert_eq!(
        max_desired(&o),
        1,
        "one message starts one task, not max_tasks"
    );
    assert_eq!(
        o.samples.iter().map(|s| s.running_tasks).max(),
        Some(1),
        "exactly one task ever runs"
    );
    assert_eq!(
        o.instances_launched, 2,
        "CapacityProviderReservation = 200 from zero launches two"
    );
    let inst = |t: u64| o.samples.iter().find(|s| s.t == t).unwrap().instances;
    assert_eq!([7380, 7440, 8280, 8340].map(inst), [0, 2, 2, 0]);
    assert_eq!(o.instance_seconds, 2 * (8340 - 7440));
    assert_eq!(summarize(&o, &p).first_result, Some(381.0));
    // With a 60 s cooldown the stale DesiredTaskCount makes the wake policy step again
    // at 7440 (+1 from desired 1): a second task for one message. This is why the
    // deployed scale-out cooldown must cover the metric delay.
    p.scale_out_cooldown_seconds = 60;
    let o = simulate(&p, &env(), &lone(), PolicyKind::OursAlarms);
    assert_eq!(max_desired(&o), 2);
}

/// A burst from zero takes the larger wake steps: 160 visible jobs are in the interval
/// [3T, 4T) = [150, 200) → +4 tasks at once, not one task per cooldown.
#[test]
fn burst_from_zero_takes_a_large_wake_step() {
    let p = pinned();
    let trace = Trace::new("burst", "", vec![7230; 160]);
    let o = simulate(&p, &env(), &trace, PolicyKind::OursAlarms);
    let at = |t: u64| o.samples.iter().find(|s| s.t == t).unwrap().desired_tasks;
    assert_eq!([7320, 7380].map(at), [0, 4]);
    assert_eq!(summarize(&o, &p).lost(), 0);
}

/// Constant load converges to ceil(rate × job_seconds / target_utilization) tasks.
/// Target tracking's fixed point, worked by hand for 25 jobs/min (2.5 tasks of work):
/// at 3 tasks the metric is 2.5 / 3 = 0.83 — below the 1.0 scale-out threshold, and the
/// scale-in alarm (< 0.9) computes ceil(3 × 0.83) = 3: stable; at 2 tasks it is 1.25 →
/// ceil(2 × 1.25) = 3. With target 0.8: 4 tasks give 0.625 → ceil(4 × 0.625 / 0.8) = 4,
/// 3 tasks give 0.83 > 0.8 → ceil(3.125) = 4.
#[test]
fn constant_load_converges_to_work_over_target_utilization() {
    // (jobs per minute, target_utilization, tasks worked out by hand)
    for (per_minute, utilization, by_hand) in
        [(25u64, 1.0, 3u32), (25, 0.8, 4), (15, 1.0, 2), (35, 1.0, 4)]
    {
        let mut p = pinned();
        p.target_utilization = utilization;
        let work = per_minute as f64 / 60.0 * p.job_seconds;
        let expected = (work / utilization).ceil() as u32;
        assert_eq!(expected, by_hand, "{per_minute}/min at {utilization}");
        // Two hours of load, never on a sampling second.
        let arrivals: Vec<u64> = (0..120 * per_minute)
            .map(|k| 600 + k * 60 / per_minute)
            .map(|t| if t % 60 == 0 { t + 1 } else { t })
            .collect();
        let end = *arrivals.last().unwrap();
        let trace = Trace::new("constant", "", arrivals);
        let o = simulate(&p, &env(), &trace, PolicyKind::OursAlarms);
        let last_half_hour = settled_tasks(&o, end);
        assert!(last_half_hour.len() >= 29);
        assert!(
            last_half_hour.iter().all(|&(d, r)| d == expected && r == expected),
            "{per_minute}/min at {utilization}: want {expected} tasks, got (desired, running) {last_half_hour:?}"
        );
        assert_served_within_goal(&o, &p);
    }
}

/// A longer CloudWatch delay moves the whole chain by exactly the extra delay.
#[test]
fn metric_delay_shifts_first_result() {
    let p = pinned();
    let mut e = env();
    e.metric_delay_seconds = 180;
    let o = simulate(&p, &e, &lone(), PolicyKind::OursAlarms);
    assert_eq!(max_desired(&o), 1);
    assert_eq!(summarize(&o, &p).first_result, Some(441.0));
}

/// Constant load of half a task (one job every 12 s) with min_tasks = 1: the single
/// task, running from 165 s, starts every job the second it arrives; nothing scales
/// (target tracking and sleep both clamp to min_tasks); one instance is up for the
/// whole simulated time, t = 0 ..= horizon.
#[test]
fn constant_half_load_with_one_warm_task() {
    let mut p = pinned();
    p.min_tasks = 1;
    let arrivals: Vec<u64> = (0..300).map(|k| 600 + 12 * k).collect();
    let trace = Trace::new("constant", "1 job / 12 s", arrivals);
    let o = simulate(&p, &env(), &trace, PolicyKind::OursAlarms);
    let row = summarize(&o, &p);
    assert_eq!(row.done, 300);
    assert_eq!(row.wait_max, Some(0.0));
    assert_eq!(row.first_result, Some(6.0));
    assert_eq!(max_desired(&o), 1);
    assert_eq!(o.jobs[0].started, Some(600));
    // min_tasks = 1 asks for a task at t = 0: CPR = 200 for minute [0, 60) → two
    // instances at 60 (first task polling at 225); CPR = 50 from the datapoint
    // published at 120, so the idle second instance goes at 120 + 14 min = 960.
    let horizon = 600 + 12 * 299 + 1 + 3600;
    assert_eq!(o.instances_launched, 2);
    assert_eq!(o.instance_seconds, (horizon + 1 - 60) + (960 - 60));
    assert!((row.cost - o.instance_seconds as f64 / 3600.0 * p.spot_price_per_hour).abs() < 1e-9);
}

/// The plan as written never has a policy; the plan's intent (visible / running,
/// target 1) never gets a datapoint while nothing runs, so it never leaves 0 either.
#[test]
fn both_plans_never_leave_zero() {
    let p = pinned();
    let arrivals: Vec<u64> = (0..100).map(|k| 600 + 6 * k).collect();
    let trace = Trace::new("load", "", arrivals);
    for kind in [PolicyKind::PlanAsWritten, PolicyKind::PlanIntentFixed] {
        let o = simulate(&p, &env(), &trace, kind);
        let row = summarize(&o, &p);
        assert_eq!(row.unserved, 100, "{kind:?}");
        assert_eq!(o.instance_seconds, 0);
        assert_eq!(max_desired(&o), 0);
    }
    // …while ours serves all of it.
    let o = simulate(&p, &env(), &trace, PolicyKind::OursAlarms);
    assert_eq!(summarize(&o, &p).done, 100);
}

/// The first draft's stuck state: at 2.5 tasks' worth of load (values of its time) it overshoots to 5 tasks, the queue is empty at every sample, and after 15
/// datapoints target tracking computes ceil(5 × 0 / 50) = 0. Idle tasks stop; the two
/// that stay saturated are scale-in protected and never stop. With tasks running, the
/// wake alarm (RunningTaskCount == 0) cannot fire, and target tracking computes
/// ceil(0 × metric / target) = 0, so the half task of excess load piles up.
#[test]
fn first_draft_gets_stuck_at_desired_zero() {
    let p = first_draft_era();
    // One job every 2.4 s, never on a sampling second (a boundary arrival would be
    // counted visible before any worker could take it).
    let arrivals: Vec<u64> = (0..3000u64)
        .map(|k| 600 + k * 12 / 5)
        .map(|t| if t % 60 == 0 { t + 1 } else { t })
        .collect();
    let trace = Trace::new("steady", "", arrivals);
    let o = simulate(&p, &env(), &trace, PolicyKind::OursFirstDraft);
    let stuck = o
        .samples
        .iter()
        .filter(|s| s.desired_tasks == 0 && s.running_tasks >= 1 && s.visible > 100)
        .count();
    assert!(
        stuck > 30,
        "expected a long stretch at desired 0 with protected tasks, got {stuck} min"
    );
    let row = summarize(&o, &p);
    assert!(
        row.wait_max.unwrap() > 1000.0,
        "backlog piled up: max wait {:?}",
        row.wait_max
    );
    let p = pinned();
    let deployed = summarize(&simulate(&p, &env(), &trace, PolicyKind::OursAlarms), &p);
    assert_eq!(deployed.unserved, 0);
    assert!(
        deployed.wait_p95.unwrap() <= 300.0,
        "deployed p95 {:?}",
        deployed.wait_p95
    );
}

/// A Spot storm interrupts every instance; draining within the stop timeout (110 s <
/// the 120 s notice) finishes every held job, so nothing is lost, and the service and
/// the group bring capacity back.
#[test]
fn spot_storm_loses_no_job() {
    let p = pinned();
    let arrivals: Vec<u64> = (0..900).map(|k| 600 + 4 * k).collect();
    let mut trace = Trace::new("storm", "", arrivals);
    trace.storms = vec![SpotStorm {
        at: 2400,
        fraction: 1.0,
    }];
    for kind in [PolicyKind::Ours, PolicyKind::OursAlarms] {
        let o = simulate(&p, &env(), &trace, kind);
        let row = summarize(&o, &p);
        assert!(
            o.interruptions >= 2,
            "{kind:?}: storm interrupted {}",
            o.interruptions
        );
        assert_eq!(row.lost(), 0, "{kind:?}");
        assert!(
            o.jobs.iter().all(|j| j.receives == 1),
            "{kind:?}: draining finished every held job"
        );
        let before = o.samples.iter().find(|s| s.t == 2340).unwrap().instances;
        let after = o.samples.iter().find(|s| s.t == 2700).unwrap().instances;
        assert!(
            before >= 2 && after >= 1,
            "{kind:?}: instances before {before}, after {after}"
        );
    }
}

/// KEDA-like scale-down stops busy tasks (no scale-in protection): their in-hand
/// messages come back after the visibility timeout and are received twice. Ours
/// protects busy tasks, so every job is received once.
#[test]
fn keda_like_redelivers_jobs_it_scaled_in_on() {
    let mut p = pinned();
    p.job_seconds = 60.0;
    p.acceptable_latency_seconds = 3000.0; // T stays 50
    let trace = Trace::new("burst", "", vec![600; 100]);
    let mut e = env();
    e.tail_seconds = 7200;
    let keda = simulate(&p, &e, &trace, PolicyKind::KedaLike);
    assert!(
        keda.jobs.iter().any(|j| j.receives >= 2),
        "KEDA-like never killed a busy task"
    );
    assert_eq!(summarize(&keda, &p).lost(), 0, "redelivered, not lost");
    for kind in [PolicyKind::Ours, PolicyKind::OursAlarms] {
        let ours = simulate(&p, &e, &trace, kind);
        assert!(ours.jobs.iter().all(|j| j.receives == 1), "{kind:?}");
    }
}

/// The oracle launches an instance exactly one cold start (+1 s) before the minute
/// that needs it and keeps it until that minute ends: 7200 − 166 → 7260.
#[test]
fn oracle_lone_message_cost() {
    let p = pinned();
    let o = simulate(&p, &env(), &lone(), PolicyKind::Oracle);
    assert_eq!(o.jobs[0].started, Some(7230));
    assert_eq!(o.instances_launched, 1);
    assert_eq!(o.instance_seconds, 7260 - (7200 - 166));
}

/// Same seed, same results; another seed, other job times.
#[test]
fn deterministic_with_seed() {
    let p = params();
    let e = Environment {
        seed: 3,
        ..Environment::default()
    };
    let t = facerec_fleet_sim::trace::build("bursty", &p, 3).unwrap();
    let a = simulate(&p, &e, &t, PolicyKind::OursAlarms);
    let b = simulate(&p, &e, &t, PolicyKind::OursAlarms);
    assert_eq!(a.instance_seconds, b.instance_seconds);
    assert_eq!(
        a.jobs.iter().map(|j| j.done).collect::<Vec<_>>(),
        b.jobs.iter().map(|j| j.done).collect::<Vec<_>>()
    );
}
