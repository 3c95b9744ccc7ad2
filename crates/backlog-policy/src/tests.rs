//! The rule against cases worked out by hand (L = 300 s, c = 165 s, j = 6 s: the backlog
//! term is visible × 6 / 135 tasks).

use super::*;

fn config() -> PolicyConfig {
    PolicyConfig {
        job_seconds: 6.0,
        acceptable_latency_seconds: 300.0,
        cold_start_seconds: 165,
        target_utilization: 1.0,
        min_tasks: 0,
        max_tasks: 5,
        load_window_seconds: 60,
        scale_down_window_seconds: 60,
        activity_window_seconds: 900,
        load_estimate: LoadEstimate::BusyMean,
    }
}

fn obs(t: u64, visible: u64, in_flight: u64, busy: u32, desired: u32) -> Observation {
    Observation {
        t,
        visible,
        in_flight,
        busy_tasks: busy,
        desired_tasks: desired,
    }
}

#[test]
fn one_visible_message_from_zero_starts_one_task() {
    let mut p = BacklogPolicy::new(config());
    // ceil(0 + 1 × 6 / 135) = 1
    let d = p.poll(&obs(1000, 1, 0, 0, 0));
    assert_eq!(
        d,
        Decision {
            want: 1,
            desired_tasks: 1
        }
    );
}

#[test]
fn a_backlog_is_sized_to_drain_within_the_budget_left_after_a_cold_start() {
    let mut p = BacklogPolicy::new(config());
    // 40 × 6 / 135 = 1.78 → 2; 100 × 6 / 135 = 4.44 → 5; 1000 → capped at max_tasks.
    assert_eq!(p.poll(&obs(1000, 40, 0, 0, 0)).desired_tasks, 2);
    assert_eq!(p.poll(&obs(1010, 100, 0, 0, 2)).desired_tasks, 5);
    assert_eq!(p.poll(&obs(1020, 1000, 0, 0, 5)).want, 5);
    // A cold start longer than the budget: the budget is a quarter of L (75 s), not 0.
    let mut c = config();
    c.cold_start_seconds = 400;
    let mut p = BacklogPolicy::new(c);
    // 40 × 6 / 75 = 3.2 → 4
    assert_eq!(p.poll(&obs(1000, 40, 0, 0, 0)).want, 4);
}

#[test]
fn the_load_term_is_the_mean_busy_count_over_the_window() {
    let mut p = BacklogPolicy::new(config());
    // Busy 2, 3, 2, 3 … at 10 s polls: the mean over the last 60 s (7 polls) is 2.43 or
    // 2.57; ceil → 3 either way, with nothing visible.
    let mut d = None;
    for k in 0..12u64 {
        let busy = if k % 2 == 0 { 2 } else { 3 };
        d = Some(p.poll(&obs(1000 + 10 * k, 0, busy.into(), busy, 3)));
    }
    assert_eq!(d.unwrap().want, 3);
    // An exact integer mean does not round up on float noise: 2 busy throughout → 2.
    let mut p = BacklogPolicy::new(config());
    for k in 0..7u64 {
        d = Some(p.poll(&obs(1000 + 10 * k, 0, 2, 2, 2)));
    }
    assert_eq!(d.unwrap().want, 2);
}

#[test]
fn target_utilization_below_one_keeps_spare_tasks() {
    let mut c = config();
    c.target_utilization = 0.5;
    let mut p = BacklogPolicy::new(c);
    // 2 busy / 0.5 = 4
    assert_eq!(p.poll(&obs(1000, 0, 2, 2, 2)).desired_tasks, 4);
}

#[test]
fn scales_up_at_once_and_down_only_after_a_whole_window_of_lower_wants() {
    let mut p = BacklogPolicy::new(config());
    // 4 busy: up to 4 at once.
    assert_eq!(p.poll(&obs(1000, 0, 4, 4, 1)).desired_tasks, 4);
    // Then 1 busy from t = 1010. The mean falls: (4+1)/2 = 2.5 → 3, then 2, 2, 2, 2 (the
    // 4 leaves the 60-s window at 1070) and 1. Nothing goes down until some remembered
    // poll is at or before t − 60 and every poll since wanted fewer than 4.
    let mut desired = 4;
    let mut seen = Vec::new();
    for k in 1..=9u64 {
        let d = p.poll(&obs(1000 + 10 * k, 0, 1, 1, desired));
        desired = d.desired_tasks;
        seen.push((d.want, d.desired_tasks));
    }
    assert_eq!(
        seen,
        [
            (3, 4), // 1010: (4+1)/2
            (2, 4), // 1020: (4+1+1)/3
            (2, 4),
            (2, 4),
            (2, 4),
            // 1060: the window [1000, 1060] is covered (the poll at 1000), but the poll at
            // 1000 wanted 4, not fewer than 4.
            (2, 4),
            // 1070: window [1010, 1070]: wants 3, 2, 2, 2, 2, 2, 1 → the largest, 3.
            (1, 3),
            // 1080: window [1020, 1080]: 2, 2, 2, 2, 1, 1 → 2.
            (1, 2),
            (1, 2),
        ]
    );
}

#[test]
fn never_below_the_busy_tasks_nor_min_tasks() {
    let mut c = config();
    c.min_tasks = 1;
    let mut p = BacklogPolicy::new(c);
    // Empty system for a long time: min_tasks holds.
    for k in 0..20u64 {
        assert_eq!(p.poll(&obs(1000 + 10 * k, 0, 0, 0, 1)).desired_tasks, 1);
    }
    // Three busy tasks with a history that wants fewer: never below 3.
    let mut p = BacklogPolicy::new(config());
    for k in 0..20u64 {
        let d = p.poll(&obs(1000 + 10 * k, 0, 0, 0, 5));
        assert!(d.desired_tasks <= 5);
    }
    let d = p.poll(&obs(1200, 0, 3, 3, 5));
    assert!(d.desired_tasks >= 3, "{d:?}");
    // More busy tasks than max_tasks (during a deployment): capped at max_tasks.
    let d = p.poll(&obs(1210, 0, 7, 7, 5));
    assert_eq!(d.desired_tasks, 5);
}

#[test]
fn a_lone_job_after_idle_gets_no_grace_before_zero() {
    let mut p = BacklogPolicy::new(config());
    assert_eq!(p.poll(&obs(7230, 1, 0, 0, 0)).desired_tasks, 1);
    // The task is busy at 7400, the queue empty from 7410.
    let mut desired = 1;
    for t in (7240..=7400).step_by(10) {
        let busy = u32::from(t == 7400);
        let d = p.poll(&obs(t, u64::from(t < 7400), u64::from(busy), busy, desired));
        desired = d.desired_tasks;
        assert_eq!(desired, 1, "t = {t}");
    }
    // From 7410 empty; the mean busy count is > 0 until the busy poll at 7400 leaves the
    // window (at 7470). One arrival in 900 s × 165 s < 1: no grace, 0 at 7470.
    for t in (7410..=7460).step_by(10) {
        assert_eq!(p.poll(&obs(t, 0, 0, 0, 1)).desired_tasks, 1, "t = {t}");
    }
    assert_eq!(p.poll(&obs(7470, 0, 0, 0, 1)).desired_tasks, 0);
}

#[test]
fn frequent_arrivals_keep_the_last_task_one_cold_start() {
    let mut p = BacklogPolicy::new(config());
    // One job every 20 s for 15 minutes, each seen visible by one poll and gone by the
    // next: 45 arrivals in 900 s, 8.25 expected within a cold start.
    let mut t = 1000;
    while t < 1900 {
        let visible = u64::from((t - 1000) % 20 == 0);
        p.poll(&obs(t, visible, 0, 0, 1));
        t += 10;
    }
    // The last job was seen at 1880; empty from the poll at 1890 on: the task stays until
    // 165 s have passed (the first poll at or after 1890 + 165 is 2060).
    let mut zero_at = None;
    for t in (1900..=2200).step_by(10) {
        if p.poll(&obs(t, 0, 0, 0, 1)).desired_tasks == 0 {
            zero_at = Some(t);
            break;
        }
    }
    assert_eq!(zero_at, Some(2060));
}

#[test]
fn the_arrival_rate_estimate_counts_growth_plus_completions() {
    let mut c = config();
    c.load_estimate = LoadEstimate::ArrivalRate;
    let mut p = BacklogPolicy::new(c);
    // 0 queued at 1000; 30 queued at 1060 with nothing completed: 30 arrivals in 60 s =
    // 0.5 / s × 6 s = 3 tasks of load, + the 30 visible × 6 / 135 = 1.33: ceil 4.34 = 5.
    p.poll(&obs(1000, 0, 0, 0, 0));
    assert_eq!(p.poll(&obs(1060, 30, 0, 0, 0)).want, 5);
    // Busy-now ignores history.
    let mut c = config();
    c.load_estimate = LoadEstimate::BusyNow;
    let mut p = BacklogPolicy::new(c);
    p.poll(&obs(1000, 0, 5, 5, 5));
    assert_eq!(p.poll(&obs(1010, 0, 1, 1, 5)).want, 1);
}

#[test]
fn state_round_trips_and_resuming_decides_as_if_never_stopped() {
    // One run of 120 polls, and the same run cut every 6 polls with the state through
    // JSON (the Lambda's invocations with the SSM parameter between them).
    let load = |k: u64| -> (u64, u32) {
        let busy = ((k / 15) % 4) as u32;
        (((k * 7) % 11).saturating_sub(6), busy)
    };
    let mut whole = BacklogPolicy::new(config());
    let mut state = PolicyState::default();
    let (mut d_whole, mut d_cut) = (0, 0);
    for k in 0..120u64 {
        let (visible, busy) = load(k);
        let t = 5000 + 10 * k;
        let a = whole.poll(&obs(t, visible, busy.into(), busy, d_whole));
        let mut cut = BacklogPolicy::with_state(config(), state);
        let b = cut.poll(&obs(t, visible, busy.into(), busy, d_cut));
        state = cut.into_state();
        if k % 6 == 5 {
            let json = serde_json::to_string(&state).unwrap();
            state = serde_json::from_str(&json).unwrap();
        }
        assert_eq!(a, b, "poll {k}");
        d_whole = a.desired_tasks;
        d_cut = b.desired_tasks;
    }
    assert_eq!(whole.state(), &state);
}

#[test]
fn the_state_format_is_compact_and_empty_object_is_a_fresh_state() {
    assert_eq!(
        serde_json::from_str::<PolicyState>("{}").unwrap(),
        PolicyState::default()
    );
    let mut s = PolicyState::default();
    s.samples.push_back(PollSample {
        t: 1_767_225_600,
        queued: 12,
        busy: 3,
        want: 4,
    });
    s.empty_since = Some(1_767_225_590);
    assert_eq!(
        serde_json::to_string(&s).unwrap(),
        r#"{"samples":[[1767225600,12,3,4]],"empty_since":1767225590}"#
    );
    // A full window (15 min of 10-s polls, plus one) with large numbers fits an SSM
    // standard parameter (4096 bytes) with room to spare.
    let mut p = BacklogPolicy::new(config());
    for k in 0..200u64 {
        p.poll(&obs(1_767_225_600 + 10 * k, 999_999, 99_999, 100, 5));
    }
    assert_eq!(p.state().samples.len(), 91);
    let json = serde_json::to_string(p.state()).unwrap();
    assert!(json.len() < 3500, "{} bytes", json.len());
    // Garbage is an error, not a silent empty state (the Lambda logs it and starts fresh).
    assert!(serde_json::from_str::<PolicyState>(r#"{"samples":[[1,2]]}"#).is_err());
    assert!(serde_json::from_str::<PolicyState>("not json").is_err());
}

#[test]
fn a_clock_that_steps_back_drops_the_future_instead_of_panicking() {
    let mut p = BacklogPolicy::new(config());
    for k in 0..10u64 {
        p.poll(&obs(2000 + 10 * k, 0, 0, 0, 1));
    }
    assert!(p.state().empty_since.is_some());
    // Now a poll "before" all of them.
    let d = p.poll(&obs(1000, 3, 0, 0, 1));
    assert_eq!(d.desired_tasks, 1);
    assert_eq!(p.state().samples.len(), 1);
    assert_eq!(p.state().empty_since, None);

    let mut s = PolicyState::default();
    for t in [10, 30, 20, 40, 90] {
        s.samples.push_back(PollSample {
            t,
            queued: 0,
            busy: 0,
            want: 0,
        });
    }
    s.empty_since = Some(100);
    assert_eq!(s.sanitize(50), 2); // 20 is out of order, 90 is in the future
    assert_eq!(
        s.samples.iter().map(|s| s.t).collect::<Vec<_>>(),
        [10, 30, 40]
    );
    assert_eq!(s.empty_since, None);
}

#[test]
fn invalid_configurations_name_the_field() {
    type Break = fn(&mut PolicyConfig);
    let cases: [(Break, &str); 6] = [
        (|c| c.job_seconds = 0.0, "job_seconds"),
        (|c| c.job_seconds = f64::NAN, "job_seconds"),
        (
            |c| c.acceptable_latency_seconds = -1.0,
            "acceptable_latency_seconds",
        ),
        (|c| c.target_utilization = 2.5, "target_utilization"),
        (|c| c.max_tasks = 0, "max_tasks"),
        (|c| c.min_tasks = 6, "min_tasks"),
    ];
    for (break_it, field) in cases {
        let mut c = config();
        break_it(&mut c);
        let err = c.validate().unwrap_err();
        assert_eq!(err.field, field);
        assert!(err.to_string().starts_with(field), "{err}");
    }
    assert_eq!(config().validate(), Ok(()));
    assert_eq!(config().memory_seconds(), 900);
}
