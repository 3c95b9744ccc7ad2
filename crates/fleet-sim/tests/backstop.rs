//! The backlog scaler silent, with and without its backstop (issue 12): nothing lost, a
//! lone job served within a stated bound, and the backstop changes nothing while the
//! scaler runs.

use facerec_fleet_sim::candidates::CandidateSettings;
use facerec_fleet_sim::fleet::simulate_with;
use facerec_fleet_sim::outages::{self, lone_job_bound, summarize_all_jobs};
use facerec_fleet_sim::params::{Environment, ScalingParams};
use facerec_fleet_sim::policy::PolicyKind;
use facerec_fleet_sim::trace;

fn params() -> ScalingParams {
    ScalingParams::from_json_str(include_str!("../../../terraform/scaling.json")).unwrap()
}

fn scenario(name_starts: &str) -> outages::OutageScenario {
    outages::scenarios(&params(), 7)
        .into_iter()
        .find(|s| s.name.starts_with(name_starts))
        .unwrap()
}

#[test]
fn lone_job_with_the_scaler_dead_is_served_within_the_bound() {
    let (p, env) = (params(), Environment::default());
    let s = scenario("lone job");
    let with = outages::run(&p, &env, &s, true);
    assert_eq!((with.jobs, with.lost), (1, 0), "{with:?}");
    let bound = lone_job_bound(&p, &env);
    let wait = with.wait_max.unwrap();
    assert!(wait <= bound, "waited {wait} s, bound {bound} s");
    // Not before the alarm can have seen three silent minutes with the job visible.
    assert!(
        wait >= 2 * 60 + env.metric_delay_seconds + env.cold_start_seconds(),
        "{wait}"
    );
    let without = outages::run(&p, &env, &s, false);
    assert_eq!(
        without.lost, 1,
        "without the backstop nothing serves it: {without:?}"
    );
}

#[test]
fn scaler_stopped_for_ten_minutes_loses_nothing() {
    let (p, env) = (params(), Environment::default());
    let row = outages::run(&p, &env, &scenario("steady"), true);
    assert_eq!(row.lost, 0, "{row:?}");
    assert_eq!(
        row.instances_at_end, 0,
        "the scaler, back, scales in: {row:?}"
    );
}

#[test]
fn scaler_dead_for_good_loses_nothing_but_keeps_its_instances() {
    let (p, env) = (params(), Environment::default());
    let s = scenario("bursty");
    let with = outages::run(&p, &env, &s, true);
    assert_eq!(with.lost, 0, "{with:?}");
    let without = outages::run(&p, &env, &s, false);
    assert!(
        without.wait_max.is_none_or(|w| w > with.wait_max.unwrap()),
        "the backstop must shorten the worst wait: {with:?} vs {without:?}"
    );
    // Scale-out only: the fleet stays as the backstop left it (instances are protected
    // from the group's scale-in), which docs/scaling.md states as the cost of a dead scaler.
    assert!(with.instances_at_end >= 1, "{with:?}");
}

#[test]
fn frozen_at_one_task_the_backstop_scales_out() {
    let (p, env) = (params(), Environment::default());
    let s = scenario("frozen");
    let with = outages::run(&p, &env, &s, true);
    let without = outages::run(&p, &env, &s, false);
    assert_eq!(with.lost, 0, "{with:?}");
    assert_eq!(
        without.lost, 0,
        "one task drains it too, slowly: {without:?}"
    );
    assert!(
        with.wait_max.unwrap() + 300 < without.wait_max.unwrap(),
        "the backstop must add tasks: {with:?} vs {without:?}"
    );
}

#[test]
fn backstop_changes_nothing_while_the_scaler_runs() {
    let (p, env) = (params(), Environment::default());
    for name in ["bursty", "spike", "lone"] {
        let t = trace::build(name, &p, 7).unwrap();
        let run = |backstop| {
            let s = CandidateSettings {
                backstop,
                ..CandidateSettings::default()
            };
            summarize_all_jobs(&simulate_with(&p, &env, &t, PolicyKind::Ours, &s))
        };
        assert_eq!(run(true), run(false), "{name}");
    }
}

#[test]
fn frozen_fleet_is_scaled_in_within_the_bound_once_the_scaler_returns() {
    let (p, env) = (params(), Environment::default());
    let s = outages::frozen_fleet(&p);
    let back = s.outage.end.unwrap();
    let o = outages::simulate(&p, &env, &s, true);
    assert_eq!(summarize_all_jobs(&o).lost, 0);
    // Frozen: max_tasks instances the whole outage, long after the burst has drained.
    let during: Vec<u32> = o
        .samples
        .iter()
        .filter(|x| x.t >= s.outage.start && x.t < back)
        .map(|x| x.instances)
        .collect();
    assert!(!during.is_empty());
    assert!(during.iter().all(|&n| n == p.max_tasks), "{during:?}");
    let bound = outages::frozen_scale_in_bound(&p);
    assert_eq!(bound, 60 + 60 + 165 + 110 + 10);
    let took = outages::seconds_to_no_instance(&o, back).expect("scaled in");
    assert!(took <= bound, "{took} s > {bound} s");
    // The scale-in is the scaler's: dead for good, the fleet keeps its instances.
    let dead = outages::OutageScenario {
        outage: facerec_fleet_sim::params::ScalerOutage {
            start: s.outage.start,
            end: None,
        },
        ..s
    };
    let o = outages::simulate(&p, &env, &dead, true);
    assert_eq!(outages::seconds_to_no_instance(&o, back), None);
    assert_eq!(o.samples.last().unwrap().instances, p.max_tasks);
}
