//! The realistic world (`facerec_fleet_sim::world`): its draws land within their stated
//! ranges, a run is the same for the same seed, and a window without Spot capacity
//! holds every launch back until it ends.

use facerec_fleet_sim::fleet::simulate;
use facerec_fleet_sim::params::{Environment, ScalerOutage, ScalingParams};
use facerec_fleet_sim::policy::PolicyKind;
use facerec_fleet_sim::report::summarize;
use facerec_fleet_sim::trace;
use facerec_fleet_sim::world::realistic;

fn params() -> ScalingParams {
    ScalingParams::from_json_str(include_str!("../../../terraform/scaling.json")).unwrap()
}

fn first_result(env: &Environment, seed: u64) -> f64 {
    let p = params();
    let t = trace::build("lone", &p, seed).unwrap();
    let env = Environment {
        seed,
        ..env.clone()
    };
    summarize(&simulate(&p, &env, &t, PolicyKind::Ours), &p)
        .first_result
        .unwrap()
}

#[test]
fn boot_task_start_and_placement_draws_stay_within_their_ranges() {
    let ideal = Environment::default();
    let rough = Environment {
        boot_spread_seconds: 60,
        task_start_spread_seconds: 45,
        placement_max_seconds: 30,
        ..Environment::default()
    };
    let mut extra = Vec::new();
    for seed in 1..=12 {
        let d = first_result(&rough, seed) - first_result(&ideal, seed);
        // The lone job's first instance (the fastest of those launched) is at most the
        // three spreads later, never earlier.
        assert!((0.0..=135.0).contains(&d), "seed {seed}: {d} s");
        extra.push(d);
    }
    assert!(
        extra.iter().any(|&d| d > 0.0) && extra.windows(2).any(|w| w[0] != w[1]),
        "the draws must vary: {extra:?}"
    );
}

#[test]
fn a_realistic_run_is_the_same_for_the_same_seed() {
    let p = params();
    let t = trace::build("bursty", &p, 9).unwrap();
    let env = Environment {
        seed: 9,
        ..realistic()
    };
    let run = || summarize(&simulate(&p, &env, &t, PolicyKind::Ours), &p);
    let (a, b) = (run(), run());
    assert_eq!(a.instance_hours, b.instance_hours);
    assert_eq!(a.wait_p95, b.wait_p95);
    assert_eq!(a.interruptions, b.interruptions);
    let ideal = summarize(
        &simulate(
            &p,
            &Environment {
                seed: 9,
                ..Environment::default()
            },
            &t,
            PolicyKind::Ours,
        ),
        &p,
    );
    assert_ne!(
        (a.instance_hours, a.wait_p95),
        (ideal.instance_hours, ideal.wait_p95),
        "the realistic world must differ from the idealised one"
    );
}

#[test]
fn no_spot_capacity_holds_launches_until_the_window_ends() {
    // The lone job arrives after 2 h idle (trace "lone"); no capacity from then for 20 min.
    let p = params();
    let t = trace::build("lone", &p, 7).unwrap();
    let arrival = t.arrivals[0];
    let env = Environment {
        no_capacity: vec![ScalerOutage {
            start: arrival - 60,
            end: Some(arrival + 1200),
        }],
        ..Environment::default()
    };
    let held = first_result(&env, 7);
    let cold = Environment::default().cold_start_seconds() as f64;
    assert!(
        held >= 1200.0 + cold,
        "first result {held} s after the job: launched before capacity returned"
    );
    assert!(held > first_result(&Environment::default(), 7) + 900.0);
}
