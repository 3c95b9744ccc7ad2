//! The two worlds the simulator runs in: the idealised one ([`Environment::default`]:
//! constant boot and task start, placement the second an instance registers, exact
//! counts, every scaler invocation on time, Spot capacity always there) and the
//! realistic one ([`realistic`]), which docs/scaling.md uses by default.
//!
//! Every draw comes from its own random stream, seeded from the run's seed, so a run is
//! deterministic per seed and the idealised world (which draws nothing from it) stays
//! exactly what it was.
//!
//! Sources for the realistic values, and where no source gives a number, why the
//! assumed one is on the pessimistic side:
//! - **Boot to registration, 90–150 s** (uniform). AWS publishes no launch-to-registration
//!   time for the ECS-optimized AMI; its cluster auto scaling guide lists "the time taken
//!   by a newly launched Amazon EC2 instance to warm-up" among the latencies to plan for
//!   (<https://docs.aws.amazon.com/AmazonECS/latest/bestpracticesguide/capacity-cluster-speed-up-ec2.html>).
//!   Assumption: the idealised 90 s is the fast end and a minute more the slow end
//!   (bigger AMI, slower EBS first reads), mean 120 s.
//! - **Task start, 75–120 s** (uniform): image pull from ECR plus model load. No AWS
//!   number (it depends on the image: ours is a few hundred MB with the models);
//!   assumption: up to 45 s more than the idealised 75 s for a cold ECR pull.
//! - **Registration to placement, 0–30 s** (uniform). With managed scaling off, a task the
//!   service cannot place is not held in PROVISIONING; the service scheduler places it
//!   at its next attempt. AWS gives no interval; assumption: up to 30 s, the upper end
//!   of the sensitivity range.
//! - **Stale counts, 0–60 s per poll** (uniform), which also covers the poll's API
//!   latency: GetQueueAttributes' counts are approximate and "may not achieve
//!   consistency until at least 1 minute after the producers stop sending messages"
//!   (<https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_GetQueueAttributes.html>).
//!   The draw spans that whole minute.
//! - **Missed invocations, 1 %** of the scaler's one-minute invocations do not run. The
//!   deployed schedule and the function's asynchronous invoke configuration retry
//!   nothing (0 retries, 60 s maximum age: `terraform/modules/backlog_scaler/main.tf`;
//!   [RetryPolicy](https://docs.aws.amazon.com/scheduler/latest/APIReference/API_RetryPolicy.html)),
//!   so every failed delivery, throttle or crash loses its minute. AWS publishes no
//!   failure rate; assumption: 1 % (about 14 a day), which an account near its Lambda
//!   concurrency quota could see, far more than a healthy one.
//! - **Spot interruptions, 0.01 per instance-hour** in the background, on top of each
//!   trace's own storms. The Spot Instance Advisor gives the "rate at which Spot has
//!   reclaimed capacity during the trailing month" in bands from "< 5%" to ">20%"
//!   (<https://aws.amazon.com/ec2/spot/instance-advisor/>); even ">20%" a month is
//!   ≈ 0.0003 per instance-hour, so 0.01 is some 30× the worst band.
//! - **Rebalance recommendations: Capacity Rebalancing on**, as deployed
//!   (`terraform/variables.tf` `capacity_rebalance = true`): the group launches the
//!   replacement at the signal, which the model takes as no later than the notice
//!   (<https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-capacity-rebalancing.html>).
//! - **No Spot capacity, one 15-minute window per run** at a time drawn within the trace.
//!   EC2 answers a Spot request it cannot fill with `InsufficientInstanceCapacity` /
//!   `UnfulfillableCapacity` and advises waiting "a few minutes"
//!   (<https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html>);
//!   the group keeps retrying. Assumption: 15 minutes in every run of a few hours.
//! - **Scaler outages** beyond single missed minutes are the backstop section's scenarios
//!   ([`crate::outages`]), not part of every run.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::params::{Environment, ScalerOutage};

/// Which world a command runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum WorldKind {
    /// Constant boot and task start, instant placement, exact counts, no misses, no outages.
    Ideal,
    /// The rough world of this module's sources and assumptions.
    Realistic,
}

impl WorldKind {
    pub fn environment(self) -> Environment {
        match self {
            WorldKind::Ideal => Environment::default(),
            WorldKind::Realistic => realistic(),
        }
    }
}

/// The realistic world (values and sources: this module's documentation).
pub fn realistic() -> Environment {
    Environment {
        boot_spread_seconds: 60,
        task_start_spread_seconds: 45,
        placement_max_seconds: 30,
        count_staleness_spread_seconds: 60,
        missed_invocation_probability: 0.01,
        spot_interruptions_per_instance_hour: 0.01,
        capacity_rebalance: true,
        random_no_capacity_minutes: 15,
        ..Environment::default()
    }
}

/// Whether `env` is the idealised world's (nothing drawn).
pub fn is_ideal(env: &Environment) -> bool {
    env.boot_spread_seconds == 0
        && env.task_start_spread_seconds == 0
        && env.placement_max_seconds == 0
        && env.count_staleness_spread_seconds == 0
        && env.missed_invocation_probability == 0.0
        && env.random_no_capacity_minutes == 0
        && env.no_capacity.is_empty()
}

/// The world's own random stream: apart from the jobs' and Spot's, so adding realism
/// does not move the idealised world's draws.
pub fn stream(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed ^ 0x57_4f_52_4c_44) // "WORLD"
}

/// A uniform draw in `0..=max` (nothing drawn when `max` is 0).
pub fn draw(rng: &mut StdRng, max: u64) -> u64 {
    if max == 0 {
        0
    } else {
        rng.gen_range(0..=max)
    }
}

/// `env` with this run's drawn events made explicit: missed invocations become
/// one-minute scaler outages, and the random no-capacity window a fixed one.
/// `duration`: the trace's; `horizon`: the run's last second.
pub fn resolve(env: &Environment, duration: u64, horizon: u64) -> Environment {
    let mut out = env.clone();
    let mut rng = stream(env.seed.wrapping_add(1));
    if env.missed_invocation_probability > 0.0 {
        for minute in 0..=horizon / 60 {
            if rng.gen::<f64>() < env.missed_invocation_probability {
                out.scaler_outages.push(ScalerOutage {
                    start: minute * 60,
                    end: Some(minute * 60 + 60),
                });
            }
        }
    }
    if env.random_no_capacity_minutes > 0 {
        let start = rng.gen_range(0..duration.max(1));
        out.no_capacity.push(ScalerOutage {
            start,
            end: Some(start + env.random_no_capacity_minutes * 60),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolving_is_deterministic_per_seed_and_draws_nothing_when_ideal() {
        let ideal = Environment::default();
        assert!(is_ideal(&ideal));
        assert_eq!(resolve(&ideal, 3600, 7200), ideal);
        let real = realistic();
        assert!(!is_ideal(&real));
        let a = resolve(&real, 3600, 7200);
        assert_eq!(a, resolve(&real, 3600, 7200));
        assert_eq!(a.no_capacity.len(), 1);
        let w = a.no_capacity[0];
        assert!(w.start < 3600 && w.end == Some(w.start + 900));
        let other = resolve(
            &Environment {
                seed: real.seed + 1,
                ..real.clone()
            },
            3600,
            7200,
        );
        assert_ne!(
            a.no_capacity, other.no_capacity,
            "another seed, another window"
        );
    }

    #[test]
    fn missed_invocations_come_at_about_their_rate() {
        let env = Environment {
            missed_invocation_probability: 0.01,
            ..Environment::default()
        };
        let missed = resolve(&env, 0, 600_000).scaler_outages.len();
        // 10,001 minutes at 1 %: 100 expected; ±40 is beyond 4 standard deviations.
        assert!((60..=140).contains(&missed), "{missed}");
    }
}
