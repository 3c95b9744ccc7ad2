//! The lower bound of docs/scaling.md ("over all jobs, and against a lower bound") is one:
//! no policy, the oracle included, uses fewer instance-hours on any trace.

use facerec_fleet_sim::params::{Environment, ScalingParams};
use facerec_fleet_sim::policy::PolicyKind;
use facerec_fleet_sim::scaling_doc::{compare, honest::lower_bound_hours};

#[test]
fn no_policy_goes_below_the_lower_bound() {
    let p = ScalingParams::from_json_str(include_str!("../../../terraform/scaling.json")).unwrap();
    let env = Environment::default();
    let cmp = compare(&p, &env);
    for outs in &cmp.outcomes {
        for o in outs
            .iter()
            .filter(|o| !o.jobs.is_empty() && o.jobs.iter().all(|j| j.done.is_some()))
        {
            let bound = lower_bound_hours(o, &env);
            let used = o.instance_seconds as f64 / 3600.0;
            assert!(
                used >= bound,
                "{} on {}: {used} h < bound {bound} h",
                o.policy.label(),
                o.trace
            );
        }
    }
    // The lone job: its own seconds plus one cold start, exactly.
    let lone = cmp.outcomes[cmp.traces.iter().position(|t| t.name == "lone").unwrap()]
        .iter()
        .find(|o| o.policy == PolicyKind::Ours)
        .unwrap();
    let (s, d) = (lone.jobs[0].started.unwrap(), lone.jobs[0].done.unwrap());
    let want = (d - s + env.cold_start_seconds()) as f64 / 3600.0;
    assert!((lower_bound_hours(lone, &env) - want).abs() < 1e-12);
}
