//! Prints one policy's per-minute timeline on one trace (debugging aid):
//! `cargo run -p facerec-fleet-sim --example timeline -- ours steady`
use facerec_fleet_sim::{fleet::simulate, params::*, policy::PolicyKind, trace};
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let kind = PolicyKind::from_slug(args.get(1).map_or("ours", |s| s)).expect("policy slug");
    let name = args.get(2).map_or("steady", |s| s);
    let p =
        ScalingParams::load(std::path::Path::new("terraform/scaling.json"), None).expect("params");
    let env = Environment {
        seed: std::env::var("SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(7),
        ..Environment::default()
    };
    let t = trace::build(name, &p, env.seed).expect("trace");
    let o = simulate(&p, &env, &t, kind);
    for s in &o.samples {
        println!(
            "{:>6} min {:>5} vis {:>3} infl {:>2} desired {:>2} running {:>2} inst",
            s.t / 60,
            s.visible,
            s.in_flight,
            s.desired_tasks,
            s.running_tasks,
            s.instances
        );
    }
}
