//! The lower bound of `facerec_fleet_sim::feasibility` is a lower bound: no simulated
//! policy of its class (every reactive row: the fleet starts empty, nothing launches
//! before the first job) gets a p95 wait over all jobs below it, in either world, and a
//! lone job in a no-capacity window is out of reach by exactly what the window holds back.

use facerec_fleet_sim::feasibility::run_bound;
use facerec_fleet_sim::fleet::simulate;
use facerec_fleet_sim::outages::summarize_all_jobs;
use facerec_fleet_sim::params::{Environment, ScalerOutage, ScalingParams};
use facerec_fleet_sim::policy::PolicyKind;
use facerec_fleet_sim::trace::{self, TRACE_NAMES};
use facerec_fleet_sim::world::{realistic, resolve};

fn params() -> ScalingParams {
    ScalingParams::from_json_str(include_str!("../../../terraform/scaling.json")).unwrap()
}

#[test]
fn no_reactive_policy_beats_the_bound() {
    let p = params();
    let mut checked = 0;
    for env in [Environment::default(), realistic()] {
        for name in TRACE_NAMES {
            let t = trace::build(name, &p, env.seed).unwrap();
            let resolved = resolve(&env, t.duration, t.duration + env.tail_seconds);
            for kind in [
                PolicyKind::Ours,
                PolicyKind::OursAlarms,
                PolicyKind::KedaLike,
            ] {
                let o = simulate(&p, &env, &t, kind);
                let (bound, _) = run_bound(&o, &resolved, p.max_tasks).unwrap();
                let p95 = summarize_all_jobs(&o).wait_p95.unwrap_or(u64::MAX);
                assert!(
                    p95 >= bound,
                    "{name} {kind:?}: p95 {p95} s < bound {bound} s"
                );
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 36);
}

#[test]
fn a_lone_job_in_a_no_capacity_window_is_out_of_reach_by_what_it_holds_back() {
    let p = params();
    let t = trace::build("lone", &p, 7).unwrap(); // one job at 7230 s
    let env = Environment {
        no_capacity: vec![ScalerOutage {
            start: 7000,
            end: Some(7800),
        }],
        ..Environment::default()
    };
    let o = simulate(&p, &env, &t, PolicyKind::Ours);
    let (bound, held) = run_bound(&o, &env, p.max_tasks).unwrap();
    assert_eq!(held, 7800 - 7230);
    assert_eq!(bound, held + env.cold_start_seconds());
    let waited = summarize_all_jobs(&o).wait_max.unwrap();
    assert!(waited >= bound, "{waited} < {bound}");
    assert!(bound > p.acceptable_latency_seconds as u64);
}
