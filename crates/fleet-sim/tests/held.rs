//! Messages held by a busy worker (issue 12): with a batch of 3 a short job received
//! behind a 20-minute one waits for it; with a batch of 1 the worker takes only what it
//! can start, and no short job waits behind a long one.

use facerec_fleet_sim::held::{self, LONG_JOB_SECONDS};
use facerec_fleet_sim::params::{Environment, ScalingParams};

#[test]
fn a_batch_of_one_keeps_short_jobs_from_waiting_behind_long_ones() {
    let p = ScalingParams::from_json_str(include_str!("../../../terraform/scaling.json")).unwrap();
    let env = Environment::default();
    let three = held::run(&p, &env, 3);
    let one = held::run(&p, &env, 1);
    assert_eq!((three.lost, one.lost), (0, 0));
    // Batch 3: some short job was held behind a long one for about its whole length.
    assert!(three.max_short.unwrap() >= LONG_JOB_SECONDS, "{three:?}");
    // Batch 1: the worst short wait is a cold start plus the latency budget at most.
    let bound = env.cold_start_seconds() + p.acceptable_latency_seconds as u64;
    assert!(one.max_short.unwrap() <= bound, "{one:?}, bound {bound} s");
}
