//! The pinned parameters, environment and trace the hand-computed cases share
//! (tests/hand_computed.rs, tests/candidates_hand_computed.rs): each case's numbers are
//! worked out from these values.

#![allow(dead_code)] // each test binary uses a different subset

use facerec_fleet_sim::fleet::Outcome;
use facerec_fleet_sim::params::{Environment, ScalingParams};
use facerec_fleet_sim::report::summarize;
use facerec_fleet_sim::trace::Trace;

pub fn params() -> ScalingParams {
    ScalingParams::from_json_str(include_str!("../../../../terraform/scaling.json")).unwrap()
}

/// The parameters pinned to the values the hand computations use, so a change
/// of terraform/scaling.json does not silently change what is being checked.
pub fn pinned() -> ScalingParams {
    let mut p = params();
    p.acceptable_latency_seconds = 300.0;
    p.job_seconds = 6.0;
    p.target_utilization = 1.0;
    p.batch_size = 3;
    p.min_tasks = 0;
    p.max_tasks = 5;
    p.scale_out_cooldown_seconds = 300;
    p.scale_in_cooldown_seconds = 300;
    p.scale_to_zero_idle_minutes = 1;
    p.instance_warmup_seconds = 300;
    p.capacity_target_percent = 100.0;
    p.minimum_scaling_step_size = 1;
    p.maximum_scaling_step_size = 5;
    p.max_receive_count = 5;
    p.stop_timeout_seconds = 110;
    p
}

pub fn env() -> Environment {
    Environment {
        instance_boot_seconds: 90,
        task_start_seconds: 75,
        metric_delay_seconds: 120,
        capacity_metric_delay_seconds: 0,
        job_time_cv: 0.0,
        spot_interruptions_per_instance_hour: 0.0,
        spot_notice_seconds: 120,
        tail_seconds: 3600,
        seed: 1,
        capacity_rebalance: false,
        scaler_outages: Vec::new(),
        count_staleness_seconds: 0,
        // The idealised world: nothing drawn, so every number is computable by hand.
        boot_spread_seconds: 0,
        task_start_spread_seconds: 0,
        placement_max_seconds: 0,
        count_staleness_spread_seconds: 0,
        missed_invocation_probability: 0.0,
        no_capacity: Vec::new(),
        random_no_capacity_minutes: 0,
    }
}

pub fn lone() -> Trace {
    Trace::new("lone", "one message after 2 h idle", vec![7230])
}

/// (desired, running) tasks at each sample of the half hour up to `end`, where a constant
/// load has had time to settle.
pub fn settled_tasks(o: &Outcome, end: u64) -> Vec<(u32, u32)> {
    o.samples
        .iter()
        .filter(|s| s.t > end - 1800 && s.t <= end)
        .map(|s| (s.desired_tasks, s.running_tasks))
        .collect()
}

/// No job lost, and 95 % of them served within the latency goal.
#[track_caller]
pub fn assert_served_within_goal(o: &Outcome, p: &ScalingParams) {
    let row = summarize(o, p);
    assert_eq!(row.lost(), 0);
    assert!(row.wait_p95.unwrap() <= p.acceptable_latency_seconds);
}
