//! The backlog scaler (deployed: `PolicyKind::Ours`, 10-s polls; and its 60-s variant;
//! crates/fleet-sim/src/backlog_scaler.rs) and the alarms mode's fast-path candidates
//! (crates/fleet-sim/src/candidates.rs)
//! against cases worked out by hand from the AWS rules they rely on. Job times are
//! constant (CV 0), parameters pinned, as in tests/hand_computed.rs.

mod hand;
use hand::{assert_served_within_goal, env, lone, settled_tasks};

use facerec_fleet_sim::fleet::{simulate, Outcome};
use facerec_fleet_sim::params::ScalingParams;
use facerec_fleet_sim::policy::PolicyKind;
use facerec_fleet_sim::report::summarize;
use facerec_fleet_sim::trace::{SpotStorm, Trace};

/// [`hand::pinned`], and the backlog scaler's keys: 10-s polls, the simulator's 165-s
/// cold start.
fn pinned() -> ScalingParams {
    let mut p = hand::pinned();
    p.cold_start_seconds = 165;
    p.scaler_poll_seconds = 10;
    p.scaler_load_window_seconds = 60;
    p.scaler_scale_down_window_seconds = 60;
    p.scaler_activity_window_seconds = 900;
    p
}

fn at<T>(o: &Outcome, t: u64, f: impl Fn(&facerec_fleet_sim::fleet::Sample) -> T) -> T {
    f(o.samples.iter().find(|s| s.t == t).expect("sampled minute"))
}

/// One message at 7230 into an idle system, alarms mode + fast paths, N counting pending
/// instances:
/// - 7380: the wake alarm sees visible = 1 of minute [7200, 7260) with DesiredTaskCount 0
///   (120 s late): the service step +1 → 1 task, and the group's step policy on the same
///   alarm → ExactCapacity 1: one instance launched at 7380 (not two a minute later).
/// - 7440: CapacityProviderReservation of minute [7380, 7440) is M / N = 1 / 1 = 100: no
///   managed scale-out. The instance registers at 7470, the task polls at 7545, the job
///   runs 7545–7551 (wait 315 s, a cold-start job).
/// - 7680: minute [7500, 7560) had nothing visible, in flight or sent; published 120 s
///   later, the sleep alarm (1 datapoint) sets the service to 0 → the idle task stops.
/// - 7740: CapacityProviderReservation of minute [7680, 7740) is 0 / 1 = 0; one datapoint
///   → the group's ExactCapacity 0; the instance, empty, has no scale-in protection and
///   is terminated: 7740 − 7380 = 360 instance-seconds (the alarms mode: two instances
///   for 900 s each).
#[test]
fn fast_paths_lone_message_launches_one_instance() {
    let p = pinned();
    let o = simulate(&p, &env(), &lone(), PolicyKind::FastPaths);
    assert_eq!(o.jobs[0].started, Some(7545));
    assert_eq!(o.jobs[0].done, Some(7551));
    assert_eq!(summarize(&o, &p).first_result, Some(321.0));
    assert_eq!(
        [7320, 7380, 7440, 7620, 7680].map(|t| at(&o, t, |s| s.desired_tasks)),
        [0, 1, 1, 1, 0]
    );
    assert_eq!(
        [7320, 7380, 7440, 7680, 7740].map(|t| at(&o, t, |s| s.instances)),
        [0, 1, 1, 1, 0]
    );
    assert_eq!(o.instances_launched, 1);
    assert_eq!(o.instance_seconds, 7740 - 7380);
}

/// The same message when N counts only registered instances: at 7440 the instance is
/// still booting (registers at 7470), so the datapoint of [7380, 7440) is M = 1, N = 0 →
/// 200, and managed scaling raises the group to two. The wake alarm is still in ALARM
/// (DesiredTaskCount datapoints are 120 s stale) and its step policy sets ExactCapacity
/// 1 again in the same minute, but the second instance was launched at 7440. It is
/// protected while it boots; it registers at 7530 with no task, ECS lifts its
/// protection, and the group (desired 1) terminates it at 7530: 90 s more. The first
/// instance goes at 7740 as above: 360 + 90 instance-seconds.
#[test]
fn fast_paths_registered_only_pays_a_second_instance_for_its_boot() {
    let p = pinned();
    let o = simulate(&p, &env(), &lone(), PolicyKind::FastPathsRegisteredOnly);
    assert_eq!(o.jobs[0].started, Some(7545));
    assert_eq!(o.instances_launched, 2);
    assert_eq!(
        [7380, 7440, 7500, 7560, 7740].map(|t| at(&o, t, |s| s.instances)),
        [1, 2, 2, 1, 0]
    );
    assert_eq!(o.instance_seconds, (7740 - 7380) + (7530 - 7440));
}

/// One job every 50 s for 100 jobs, from 600 s: a 6 s job rarely spans a minute
/// boundary, so most one-minute samples of visible + in flight are 0 while jobs keep
/// coming. The alarms mode's sleep alarm (`visible + in_flight <= 0` for 1 datapoint) stops the task
/// in the middle of the load and each restart is a new cold start; the fast-path sleep
/// (`visible + in_flight + FILL(sent, 0)`) sees at least one job sent in every minute
/// (50 s < 60 s), so after the first wake the service stays at one task until the load
/// ends: one cold start, one instance.
#[test]
fn fast_paths_sleep_counts_arrivals() {
    let p = pinned();
    let arrivals: Vec<u64> = (0..100).map(|k| 601 + 50 * k).collect();
    let last = *arrivals.last().unwrap();
    let trace = Trace::new("sparse", "one job every 50 s", arrivals);
    let fast = simulate(&p, &env(), &trace, PolicyKind::FastPaths);
    let first_running = fast.samples.iter().find(|s| s.running_tasks > 0).unwrap().t;
    assert!(
        fast.samples
            .iter()
            .filter(|s| s.t >= first_running && s.t <= last)
            .all(|s| s.desired_tasks == 1 && s.running_tasks == 1),
        "the fast-path sleep never fires while jobs are sent"
    );
    assert_eq!(fast.instances_launched, 1);
    let ours = simulate(&p, &env(), &trace, PolicyKind::OursAlarms);
    let restarts = ours
        .samples
        .windows(2)
        .filter(|w| w[0].desired_tasks == 0 && w[1].desired_tasks > 0)
        .count();
    assert!(
        restarts >= 3,
        "the alarms mode's sleep stops the task mid-load: {restarts} restarts"
    );
    let cold = |o: &Outcome| o.jobs.iter().filter(|j| j.cold).count();
    assert!(
        cold(&ours) > cold(&fast),
        "{} vs {}",
        cold(&ours),
        cold(&fast)
    );
    assert_eq!(summarize(&fast, &p).lost(), 0);
}

/// The backlog scaler (deployed, 10 s polls), one message at 7230 (a poll second: the message is
/// visible to that poll):
/// - poll 7230: visible 1, nothing busy → want = ceil(0 + 1 × 6 / (300 − 165)) = 1: the
///   service and the group go to 1 at once; the instance launches at 7230, registers at
///   7320, the worker polls at 7395 and runs the job 7395–7401.
/// - poll 7400 sees the task busy; from 7410 nothing is visible, in flight or busy. The
///   load estimate (mean busy tasks over the polls of the last 60 s) is 0 from the poll
///   at 7470 on (its window 7410–7470 has no busy poll). Arrivals were rare (one in the
///   last 15 min: 1 / 900 s × 165 s < 1 expected in a cold start), so there is no grace:
///   the service goes to 0 at 7470, and the scaler terminates the empty instance in the
///   same poll — 69 s after the job ended, 240 instance-seconds (the oracle: 226).
#[test]
fn backlog_scaler_10s_lone_message() {
    let p = pinned();
    let o = simulate(&p, &env(), &lone(), PolicyKind::Ours);
    assert_eq!(o.jobs[0].started, Some(7395));
    assert_eq!(o.jobs[0].done, Some(7401));
    assert_eq!(o.instances_launched, 1);
    assert_eq!(o.instance_seconds, 7470 - 7230);
    assert_eq!(summarize(&o, &p).first_result, Some(171.0));
    assert_eq!(
        [7200, 7260, 7440, 7500].map(|t| at(&o, t, |s| s.instances)),
        [0, 1, 1, 0]
    );
}

/// The same with one poll a minute: the poll at 7260 starts one instance (registered
/// 7350, polling 7425, job 7425–7431); the poll at 7440 finds the system empty and its
/// window (polls 7380 and 7440) without a busy task: 0 at once, the instance terminated
/// 9 s after the job ended, 180 instance-seconds.
#[test]
fn backlog_scaler_60s_lone_message() {
    let p = pinned();
    let o = simulate(&p, &env(), &lone(), PolicyKind::BacklogScaler60);
    assert_eq!(o.jobs[0].started, Some(7425));
    assert_eq!(o.jobs[0].done, Some(7431));
    assert_eq!(o.instances_launched, 1);
    assert_eq!(o.instance_seconds, 7440 - 7260);
}

/// Jobs every 40 s (1.5 a minute: 4.1 expected within a 165 s cold start) until 3960 s,
/// then nothing. Each job is seen visible by the poll of its arrival second and gone by
/// the next (6 s jobs between 10 s polls: the busy count never sees one), so the load
/// estimate is 0 — but the system is never empty for long, and arrivals are frequent, so
/// the task stays. After the last job (3960–3966) the system is empty from the poll at
/// 3970; the scaler keeps the task one cold start longer: it scales to 0 at the first
/// poll 165 s after 3970, i.e. 4140, and terminates the instance then. (A lone message,
/// above, gets no such grace.) The first instance launched at 600 took the whole load.
#[test]
fn backlog_scaler_keeps_the_last_task_a_cold_start_when_arrivals_are_frequent() {
    let p = pinned();
    let arrivals: Vec<u64> = (0..85).map(|k| 600 + 40 * k).collect();
    assert_eq!(*arrivals.last().unwrap(), 3960);
    let trace = Trace::new("regular", "one job every 40 s", arrivals);
    let o = simulate(&p, &env(), &trace, PolicyKind::Ours);
    assert_eq!(o.jobs.last().unwrap().done, Some(3966));
    assert_eq!(o.instances_launched, 1, "one task for the whole load");
    assert_eq!(at(&o, 4140 - 60, |s| s.instances), 1);
    let end = o
        .samples
        .iter()
        .find(|s| s.t > 3966 && s.instances == 0)
        .unwrap()
        .t;
    // Samples are taken at the end of their second: the instance is gone at 4140.
    assert_eq!(end, 4140);
    assert_eq!(o.instance_seconds, 4140 - 600);
}

/// Constant load: the scaler settles at ceil(load) tasks — the mean busy count over a
/// minute is the offered load (2.5 tasks at 25 jobs a minute of 6 s), the visible
/// backlog stays near 0, and ceil(2.5 + small) = 3. At 15 and 35 jobs a minute: 2 and 4.
#[test]
fn backlog_scaler_constant_load_settles_at_ceil_of_the_load() {
    for (per_minute, by_hand) in [(25u64, 3u32), (15, 2), (35, 4)] {
        let p = pinned();
        let arrivals: Vec<u64> = (0..120 * per_minute)
            .map(|k| 600 + k * 60 / per_minute)
            .collect();
        let end = *arrivals.last().unwrap();
        let trace = Trace::new("constant", "", arrivals);
        for kind in [PolicyKind::Ours, PolicyKind::BacklogScaler60] {
            let o = simulate(&p, &env(), &trace, kind);
            let tail = settled_tasks(&o, end);
            assert!(
                tail.iter().all(|&(d, r)| d == by_hand && r == by_hand),
                "{kind:?} at {per_minute}/min: want {by_hand}, got {tail:?}"
            );
            assert_served_within_goal(&o, &p);
        }
    }
}

/// 100 jobs of 60 s at once: the scaler goes to max_tasks and, as the backlog drains,
/// lowers the desired count only to at least the busy tasks, so ECS stops idle tasks
/// only and every job is received exactly once (the KEDA-like row stops busy ones).
#[test]
fn backlog_scaler_never_stops_a_busy_task() {
    let mut p = pinned();
    p.job_seconds = 60.0;
    p.acceptable_latency_seconds = 3000.0;
    let trace = Trace::new("burst", "", vec![600; 100]);
    let mut e = env();
    e.tail_seconds = 7200;
    for kind in [PolicyKind::Ours, PolicyKind::BacklogScaler60] {
        let o = simulate(&p, &e, &trace, kind);
        assert_eq!(o.samples.iter().map(|s| s.desired_tasks).max(), Some(5));
        assert!(o.jobs.iter().all(|j| j.receives == 1), "{kind:?}");
        assert_eq!(summarize(&o, &p).lost(), 0);
        assert_eq!(o.samples.last().unwrap().instances, 0, "back to zero");
    }
}

/// Capacity Rebalancing (sensitivity only): with it the group launches the replacement
/// of an interrupted instance at the notice, so right after a storm there are twice as
/// many instances (the old ones drain for up to the two-minute notice); without it the
/// replacements start only when the old ones are gone.
#[test]
fn capacity_rebalance_replaces_at_the_notice() {
    let p = pinned();
    let arrivals: Vec<u64> = (0..900).map(|k| 600 + 4 * k).collect();
    let mut trace = Trace::new("storm", "", arrivals);
    trace.storms = vec![SpotStorm {
        at: 2400,
        fraction: 1.0,
    }];
    for kind in [PolicyKind::OursAlarms, PolicyKind::Ours] {
        let mut e = env();
        let plain = simulate(&p, &e, &trace, kind);
        e.capacity_rebalance = true;
        let rebalanced = simulate(&p, &e, &trace, kind);
        let before = at(&plain, 2340, |s| s.instances);
        assert!(before >= 2);
        assert_eq!(at(&plain, 2460, |s| s.instances), before, "{kind:?}");
        assert_eq!(
            at(&rebalanced, 2460, |s| s.instances),
            2 * before,
            "{kind:?}"
        );
        assert_eq!(summarize(&rebalanced, &p).lost(), 0);
        let first_job_after = |o: &Outcome| {
            o.jobs
                .iter()
                .filter(|j| j.arrival >= 2400)
                .filter_map(|j| j.started)
                .min()
                .unwrap()
        };
        assert!(first_job_after(&rebalanced) < first_job_after(&plain));
    }
}
