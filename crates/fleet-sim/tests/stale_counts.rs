//! Stale queue counts (GetQueueAttributes is approximate): a poller reading counts s
//! seconds old reacts s seconds later.

use facerec_fleet_sim::fleet::simulate;
use facerec_fleet_sim::params::{Environment, ScalingParams};
use facerec_fleet_sim::policy::PolicyKind;
use facerec_fleet_sim::report::summarize;
use facerec_fleet_sim::trace;

#[test]
fn a_lone_job_is_seen_as_late_as_the_counts_are_old() {
    let p = ScalingParams::from_json_str(include_str!("../../../terraform/scaling.json")).unwrap();
    let t = trace::build("lone", &p, 7).unwrap();
    let first = |stale: u64| {
        let env = Environment {
            count_staleness_seconds: stale,
            ..Environment::default()
        };
        summarize(&simulate(&p, &env, &t, PolicyKind::Ours), &p)
            .first_result
            .unwrap()
    };
    let (fresh, stale) = (first(0), first(60));
    // Polls every 10 s: the stale poll sees the job 60 s later, give or take a poll.
    assert!(
        (50.0..=70.0).contains(&(stale - fresh)),
        "{fresh} s vs {stale} s"
    );
}
