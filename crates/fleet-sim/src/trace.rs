//! Arrival traces: when jobs are sent, plus Spot storms. Rates are expressed in
//! multiples of one task's throughput (`60 / job_seconds` jobs per minute) so the
//! traces keep their shape if `job_seconds` changes. All randomness is seeded.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use crate::params::ScalingParams;

/// A moment at which a share of the running instances receives a Spot interruption notice.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SpotStorm {
    pub at: u64,
    /// Fraction (0..=1) of live instances interrupted; rounded up.
    pub fraction: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Trace {
    pub name: String,
    pub description: String,
    /// Send times in seconds, sorted.
    pub arrivals: Vec<u64>,
    pub storms: Vec<SpotStorm>,
    /// Extra background Spot interruption rate for this trace (per instance-hour).
    pub spot_rate_per_instance_hour: f64,
    /// Time of the last arrival plus one second (the tail is added by the simulator).
    pub duration: u64,
    /// Each job's processing seconds, in arrival order; `None`: drawn by the simulator
    /// (log-normal, mean `job_seconds`).
    pub job_seconds: Option<Vec<u64>>,
}

impl Trace {
    pub fn new(name: &str, description: &str, mut arrivals: Vec<u64>) -> Self {
        arrivals.sort_unstable();
        let duration = arrivals.last().map_or(0, |t| t + 1);
        Trace {
            name: name.to_string(),
            description: description.to_string(),
            arrivals,
            storms: Vec::new(),
            spot_rate_per_instance_hour: 0.0,
            duration,
            job_seconds: None,
        }
    }

    /// A trace whose jobs say how long each takes: `(arrival, seconds)` pairs, any order.
    pub fn with_job_seconds(name: &str, description: &str, mut jobs: Vec<(u64, u64)>) -> Self {
        jobs.sort_by_key(|&(at, _)| at);
        let mut t = Trace::new(name, description, jobs.iter().map(|&(at, _)| at).collect());
        t.job_seconds = Some(jobs.iter().map(|&(_, s)| s.max(1)).collect());
        t
    }
}

/// Names accepted by `--trace`, in report order.
pub const TRACE_NAMES: [&str; 6] = ["steady", "bursty", "diurnal", "lone", "spike", "spot-storm"];

/// Poisson arrivals with a time-varying rate (jobs per second), by thinning.
fn poisson(
    rng: &mut StdRng,
    start: u64,
    end: u64,
    peak: f64,
    rate: impl Fn(u64) -> f64,
) -> Vec<u64> {
    let mut out = Vec::new();
    if peak <= 0.0 {
        return out;
    }
    let mut t = start as f64;
    loop {
        let u: f64 = rng.gen_range(f64::MIN_POSITIVE..1.0);
        t += -u.ln() / peak;
        if t >= end as f64 {
            return out;
        }
        let accept: f64 = rng.gen();
        if accept * peak <= rate(t as u64) {
            out.push(t as u64);
        }
    }
}

/// Builds the named trace. `seed` makes it reproducible.
pub fn build(name: &str, params: &ScalingParams, seed: u64) -> Option<Trace> {
    // One task's throughput in jobs per second.
    let c = 1.0 / params.job_seconds;
    let mut rng = StdRng::seed_from_u64(seed ^ fnv(name));
    let idle = 600;
    let trace = match name {
        "steady" => {
            let a = poisson(&mut rng, idle, idle + 7200, 2.5 * c, |_| 2.5 * c);
            Trace::new(
                name,
                "10 min idle, then 2 h of Poisson arrivals at 2.5 tasks' worth of work",
                a,
            )
        }
        "bursty" => {
            let mut a = poisson(&mut rng, idle, idle + 3 * 3600, 0.3 * c, |_| 0.3 * c);
            let burst = (15.0 * c * 60.0).round() as usize; // 15 task-minutes of work at once
            for k in 0..4u64 {
                let at = idle + 1800 + k * 2400;
                a.extend(vec![at; burst]);
            }
            Trace::new(
                name,
                "3 h of light Poisson traffic (0.3 tasks' worth) with a burst of 15 task-minutes of jobs every 40 min",
                a,
            )
        }
        "diurnal" => {
            let day = 86_400.0;
            let peak = 4.0 * c;
            let rate = move |t: u64| {
                let phase = 2.0 * std::f64::consts::PI * (t as f64 - 6.0 * 3600.0) / day;
                (peak * phase.sin()).max(0.0)
            };
            let a = poisson(&mut rng, 0, 86_400, peak, rate);
            Trace::new(
                name,
                "24 h: a sine-shaped day (06:00–18:00) peaking at 4 tasks' worth, nothing at night",
                a,
            )
        }
        "lone" => Trace::new(name, "2 h idle, then one single message", vec![7200 + 30]),
        "spike" => {
            let mut a = vec![idle; (15.0 * c * 60.0).round() as usize];
            a.extend(poisson(&mut rng, idle, idle + 1200, 3.0 * c, |_| 3.0 * c));
            Trace::new(
                name,
                "10 min idle, then 15 task-minutes of jobs at once followed by 20 min at 3 tasks' worth",
                a,
            )
        }
        "spot-storm" => {
            let a = poisson(&mut rng, idle, idle + 7200, 2.5 * c, |_| 2.5 * c);
            let mut t = Trace::new(
                name,
                "the steady trace, with every instance interrupted at 45 min and 80 min and 0.5 interruptions per instance-hour besides",
                a,
            );
            t.storms = vec![
                SpotStorm {
                    at: idle + 2700,
                    fraction: 1.0,
                },
                SpotStorm {
                    at: idle + 4800,
                    fraction: 1.0,
                },
            ];
            t.spot_rate_per_instance_hour = 0.5;
            t
        }
        _ => return None,
    };
    Some(trace)
}

/// Small stable string hash so each trace draws its own random stream from one seed.
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> ScalingParams {
        ScalingParams::from_json_str(include_str!("../../../terraform/scaling.json")).unwrap()
    }

    #[test]
    fn traces_are_deterministic_and_plausible() {
        let p = params();
        for name in TRACE_NAMES {
            let a = build(name, &p, 1).unwrap();
            let b = build(name, &p, 1).unwrap();
            assert_eq!(a.arrivals, b.arrivals, "{name} must be reproducible");
            assert!(!a.arrivals.is_empty());
        }
        // Steady: 2.5 jobs/min per... 2.5 * 10 jobs/min for 120 min = 3000 expected.
        let n = build("steady", &p, 1).unwrap().arrivals.len() as f64;
        assert!((n - 3000.0).abs() < 200.0, "steady has {n} arrivals");
        assert_eq!(build("lone", &p, 1).unwrap().arrivals, vec![7230]);
        assert!(build("nope", &p, 1).is_none());
    }

    #[test]
    fn job_seconds_stay_with_their_arrivals() {
        let t = Trace::with_job_seconds("t", "", vec![(30, 5), (10, 1200), (20, 0)]);
        assert_eq!(t.arrivals, vec![10, 20, 30]);
        assert_eq!(
            t.job_seconds,
            Some(vec![1200, 1, 5]),
            "sorted together, at least 1 s"
        );
        assert_eq!(t.duration, 31);
    }
}
