//! What a photo costs: the simulator's instance-hours on a trace, turned into dollars per
//! 1,000 photos with the engine's measured speed, plus the stack's fixed monthly costs
//! (docs/cost.md explains every number and cites its price page).
//!
//! The simulator counts work in task-seconds (a task runs one job at a time for
//! `job_seconds` on average), and its traces are written in "tasks' worth of work", so its
//! instance-hours are those of the traces' *shape*. What a task-second is worth in photos
//! comes from the benchmark: a task with `task_vcpus` vCPUs recognises
//! `task_vcpus × images_per_vcpu_second` photos a second when busy. So for a run:
//!
//! - busy task-hours = Σ over finished jobs of (done − started) / 3600;
//! - photos = busy task-seconds × task_vcpus × images_per_vcpu_second;
//! - utilisation = busy task-hours / instance-hours (one task per instance);
//! - $ per 1,000 photos = 1,000 × instance-hours × (instance price + per-instance extras)
//!   / photos + per-photo requests (SQS, logs).
//!
//! That assumes the fleet's instance-hours scale with the work, not with `job_seconds`
//! itself: true of every rule the simulator models except the few that count whole jobs
//! (batch size, visibility timeout).

use serde::Serialize;

use crate::fleet::Outcome;

/// Prices and measured speeds the cost is computed from. [`CostInputs::default`] is the
/// documented set (docs/cost.md): us-east-1 list prices read 2026-12-06, the engine's
/// benchmark of docs/benchmarks.md, the default instance (c5.large, 2 vCPUs).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CostInputs {
    /// Photos per second per vCPU, measured end to end (decode → detect → landmarks →
    /// embeddings): docs/benchmarks.md, 6.16 images/s on 2 threads = 3.08 per vCPU.
    pub images_per_vcpu_second: f64,
    /// vCPUs the task uses (its `cpu` / 1024; the default task gets the whole c5.large).
    pub task_vcpus: f64,
    /// On-Demand price of one instance-hour (c5.large, Linux, us-east-1: $0.085).
    pub on_demand_per_hour: f64,
    /// Spot price of one instance-hour (terraform/scaling.json `spot_price_per_hour`).
    pub spot_per_hour: f64,
    /// Per-instance-hour costs besides the instance: its root volume (30 GiB gp3 at
    /// $0.08 per GiB-month over 730 hours).
    pub instance_extra_per_hour: f64,
    /// Per-photo costs besides compute, per 1,000 photos: SQS requests (0.8 per photo at
    /// $0.40 per million) and CloudWatch Logs ingestion (about 1 KB per photo at $0.50 per
    /// GB).
    pub requests_per_1000: f64,
    /// Costs of every hour in which the fleet runs at all (any instance), whatever its
    /// size: custom metrics are billed by the hour they are published in. The worker's 6
    /// EMF metrics and Container Insights' (an estimate: about 40 cluster, service and
    /// task-family metrics), each $0.30 a month over 730 hours.
    pub per_active_hour: f64,
    /// Fixed monthly costs of an idle stack, by item.
    pub fixed_monthly: Vec<(String, f64)>,
    /// Amazon Rekognition, per 1,000 images, first tier (one Group 1 call per photo:
    /// SearchFacesByImage; IndexFaces for enrollment is priced the same).
    pub rekognition_per_1000: f64,
    /// face_recognition's measured photos per second per vCPU (docs/benchmarks.md: 2
    /// processes on 2 vCPUs, 2.23 images/s).
    pub face_recognition_images_per_vcpu_second: f64,
}

impl Default for CostInputs {
    fn default() -> Self {
        Self {
            images_per_vcpu_second: 6.16 / 2.0,
            task_vcpus: 2.0,
            on_demand_per_hour: 0.085,
            spot_per_hour: 0.0425,
            instance_extra_per_hour: 30.0 * 0.08 / 730.0,
            requests_per_1000: 0.8 * 0.40 / 1000.0 + 0.5 / 1000.0,
            per_active_hour: (6.0 + 40.0) * 0.30 / 730.0,
            fixed_monthly: vec![
                ("backlog scaler: Lambda (x86_64, 10 s polls), GetQueueAttributes, Scheduler (docs/scaling.md)".into(), 4.75),
                ("backlog scaler: 7 custom metrics published every minute, $0.30 each".into(), 2.10),
                ("alarms: 7 standard-resolution alarms, $0.10 each".into(), 0.70),
                ("dashboard: 1, $3.00 (beyond the account's 3 free ones)".into(), 3.00),
                ("logs: the scaler's lines, about 100 MB a month at $0.50 per GB ingested".into(), 0.05),
                ("Spot handler: Lambda invoked per Spot or lifecycle event only".into(), 0.0),
            ],
            rekognition_per_1000: 1.00,
            face_recognition_images_per_vcpu_second: 2.23 / 2.0,
        }
    }
}

impl CostInputs {
    /// The default inputs with the scaling file's Spot price.
    pub fn with_spot_price(spot_per_hour: f64) -> Self {
        Self {
            spot_per_hour,
            ..Self::default()
        }
    }

    pub fn fixed_monthly_total(&self) -> f64 {
        self.fixed_monthly.iter().map(|(_, v)| v).sum()
    }

    /// Photos one busy task recognises per hour.
    pub fn photos_per_task_hour(&self) -> f64 {
        self.task_vcpus * self.images_per_vcpu_second * 3600.0
    }

    /// $ per 1,000 photos at full utilisation and `price` per instance-hour, compute only.
    pub fn compute_per_1000_at_full_use(&self, price: f64) -> f64 {
        1000.0 * (price + self.instance_extra_per_hour) / self.photos_per_task_hour()
    }

    /// Monthly photos below which Rekognition costs less than the stack's fixed costs plus
    /// `variable_per_1000` (None when the fleet never wins).
    pub fn break_even_photos_per_month(&self, variable_per_1000: f64) -> Option<f64> {
        let saving = self.rekognition_per_1000 - variable_per_1000;
        (saving > 0.0).then(|| 1000.0 * self.fixed_monthly_total() / saving)
    }
}

/// One run's cost per photo.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunCost {
    pub trace: String,
    pub instance_hours: f64,
    /// Hours in which at least one instance ran (from the per-minute samples).
    pub active_hours: f64,
    pub busy_task_hours: f64,
    /// busy task-hours / instance-hours.
    pub utilization: f64,
    /// The run's work in photos at the measured speed.
    pub photos: f64,
    pub on_demand_per_1000: f64,
    pub spot_per_1000: f64,
    /// Rekognition's price over ours at Spot.
    pub rekognition_over_spot: f64,
    /// face_recognition on the same instances (compute only scales with its speed).
    pub face_recognition_spot_per_1000: f64,
}

pub fn busy_task_seconds(o: &Outcome) -> u64 {
    o.jobs
        .iter()
        .filter_map(|j| Some(j.done? - j.started?))
        .sum()
}

pub fn run_cost(o: &Outcome, c: &CostInputs) -> RunCost {
    let busy = busy_task_seconds(o) as f64;
    let instance_hours = o.instance_seconds as f64 / 3600.0;
    let active_hours = o.samples.iter().filter(|s| s.instances > 0).count() as f64 / 60.0;
    let photos = busy * c.task_vcpus * c.images_per_vcpu_second;
    let per_1000 = |price: f64, photos: f64| {
        if photos > 0.0 {
            1000.0
                * (instance_hours * (price + c.instance_extra_per_hour)
                    + active_hours * c.per_active_hour)
                / photos
                + c.requests_per_1000
        } else {
            f64::INFINITY
        }
    };
    let spot = per_1000(c.spot_per_hour, photos);
    let fr_photos = busy * c.task_vcpus * c.face_recognition_images_per_vcpu_second;
    RunCost {
        trace: o.trace.clone(),
        instance_hours,
        active_hours,
        busy_task_hours: busy / 3600.0,
        utilization: if instance_hours > 0.0 {
            busy / 3600.0 / instance_hours
        } else {
            0.0
        },
        photos,
        on_demand_per_1000: per_1000(c.on_demand_per_hour, photos),
        spot_per_1000: spot,
        rekognition_over_spot: c.rekognition_per_1000 / spot,
        face_recognition_spot_per_1000: per_1000(c.spot_per_hour, fr_photos),
    }
}

fn money(v: f64) -> String {
    if v.is_infinite() {
        "—".into()
    } else if v < 0.1 {
        format!("${v:.4}")
    } else {
        format!("${v:.2}")
    }
}

/// The report: per-trace costs, the fixed costs and the break-even volume.
pub fn markdown(rows: &[RunCost], c: &CostInputs) -> String {
    let mut s = String::new();
    s.push_str(&format!(
        "Inputs: {:.2} photos/s per vCPU (measured), task of {} vCPUs ({:.0} photos per busy task-hour), \
         instance-hour ${} On-Demand / ${} Spot + ${:.4} root volume, ${:.4} per hour the fleet runs (custom metrics), \
         requests ${:.5} per 1,000 photos, Rekognition ${:.2} per 1,000 images.\n\n",
        c.images_per_vcpu_second,
        c.task_vcpus,
        c.photos_per_task_hour(),
        c.on_demand_per_hour,
        c.spot_per_hour,
        c.instance_extra_per_hour,
        c.per_active_hour,
        c.requests_per_1000,
        c.rekognition_per_1000
    ));
    s.push_str("| trace | photos (at measured speed) | instance-hours | busy task-hours | utilisation | $ / 1,000 photos On-Demand | $ / 1,000 photos Spot | Rekognition ÷ ours (Spot) | face_recognition, same instances, Spot |\n");
    s.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for r in rows {
        s.push_str(&format!(
            "| {} | {:.0} | {:.2} | {:.2} | {:.0} % | {} | {} | {:.0}× | {} |\n",
            r.trace,
            r.photos,
            r.instance_hours,
            r.busy_task_hours,
            100.0 * r.utilization,
            money(r.on_demand_per_1000),
            money(r.spot_per_1000),
            r.rekognition_over_spot,
            money(r.face_recognition_spot_per_1000),
        ));
    }
    s.push_str(&format!(
        "\nAt full use: {} On-Demand, {} Spot per 1,000 photos (compute only).\n\nFixed monthly costs of the idle stack (before free tiers):\n\n| item | $ / month |\n|---|---:|\n",
        money(c.compute_per_1000_at_full_use(c.on_demand_per_hour)),
        money(c.compute_per_1000_at_full_use(c.spot_per_hour)),
    ));
    for (item, v) in &c.fixed_monthly {
        s.push_str(&format!("| {item} | {v:.2} |\n"));
    }
    s.push_str(&format!(
        "| **total** | **{:.2}** |\n",
        c.fixed_monthly_total()
    ));
    if let Some(steady) = rows.iter().find(|r| r.trace == "steady").or(rows.first()) {
        if let Some(n) = c.break_even_photos_per_month(steady.spot_per_1000) {
            s.push_str(&format!(
                "\nBreak-even against Rekognition: {:.0} photos a month (fixed ${:.2} ÷ (${:.2} − {}) per 1,000, at `{}`'s Spot cost); below that Rekognition costs less.\n",
                n,
                c.fixed_monthly_total(),
                c.rekognition_per_1000,
                money(steady.spot_per_1000),
                steady.trace
            ));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::Job;
    use crate::policy::PolicyKind;

    fn outcome(busy: &[(u64, u64)], instance_seconds: u64) -> Outcome {
        let minutes = instance_seconds / 60;
        Outcome {
            policy: PolicyKind::Ours,
            trace: "hand".into(),
            jobs: busy
                .iter()
                .map(|&(s, d)| Job {
                    arrival: s,
                    started: Some(s),
                    done: Some(d),
                    receives: 1,
                    dead_lettered: false,
                    cold: false,
                })
                .chain(std::iter::once(Job {
                    arrival: 0,
                    started: None,
                    done: None,
                    receives: 5,
                    dead_lettered: true,
                    cold: false,
                }))
                .collect(),
            // One instance for the first `minutes` minutes, then none for as long again.
            samples: (0..2 * minutes)
                .map(|m| crate::fleet::Sample {
                    t: m * 60,
                    visible: 0,
                    in_flight: 0,
                    desired_tasks: 0,
                    running_tasks: 0,
                    instances: u32::from(m < minutes),
                })
                .collect(),
            instance_seconds,
            instances_launched: 1,
            interruptions: 0,
            horizon: instance_seconds,
        }
    }

    fn inputs() -> CostInputs {
        CostInputs {
            images_per_vcpu_second: 3.0,
            task_vcpus: 2.0,
            on_demand_per_hour: 0.10,
            spot_per_hour: 0.04,
            instance_extra_per_hour: 0.01,
            requests_per_1000: 0.001,
            per_active_hour: 0.0,
            fixed_monthly: vec![("a".into(), 6.0), ("b".into(), 4.0)],
            rekognition_per_1000: 1.0,
            face_recognition_images_per_vcpu_second: 1.0,
        }
    }

    /// Hand-computed: 2 h of instance time, busy 1 h (two jobs of 1800 s; the
    /// dead-lettered job did no work). Photos = 3600 s × 2 vCPUs × 3 = 21,600.
    /// On-Demand: 1000 × 2 h × ($0.10 + $0.01) / 21,600 + $0.001 = $0.0111852 per 1,000.
    /// Spot: 1000 × 2 × 0.05 / 21,600 + 0.001 = $0.0056296. face_recognition (1 photo/s
    /// per vCPU: 7,200 photos): 1000 × 2 × 0.05 / 7,200 + 0.001 = $0.0148889.
    #[test]
    fn cost_per_photo_by_hand() {
        let c = inputs();
        let r = run_cost(&outcome(&[(0, 1800), (1800, 3600)], 7200), &c);
        assert_eq!(r.busy_task_hours, 1.0);
        assert_eq!(r.instance_hours, 2.0);
        assert_eq!(r.utilization, 0.5);
        assert_eq!(r.photos, 21_600.0);
        assert!((r.on_demand_per_1000 - 0.011_185_185).abs() < 1e-9, "{r:?}");
        assert!((r.spot_per_1000 - 0.005_629_630).abs() < 1e-9, "{r:?}");
        assert!((r.rekognition_over_spot - 1.0 / 0.005_629_630).abs() < 1e-3);
        assert!((r.face_recognition_spot_per_1000 - 0.014_888_889).abs() < 1e-9);
    }

    /// Fixed $10 a month; at $0.005 per 1,000 photos, Rekognition's $1.00 costs more from
    /// 10 / (0.995 / 1000) = 10,050.25 photos a month on.
    #[test]
    fn break_even_by_hand() {
        let c = inputs();
        assert_eq!(c.fixed_monthly_total(), 10.0);
        let n = c.break_even_photos_per_month(0.005).unwrap();
        assert!((n - 10_050.251_256).abs() < 1e-3, "{n}");
        assert_eq!(c.break_even_photos_per_month(1.5), None);
        // Full use: 1000 × (0.04 + 0.01) / (2 × 3 × 3600) = $0.0023148 per 1,000.
        assert!((c.compute_per_1000_at_full_use(0.04) - 0.002_314_815).abs() < 1e-9);
    }

    /// The per-active-hour cost: 2 active hours × $0.02 = $0.04 more per 21,600 photos,
    /// so Spot is 0.0056296 + 1000 × 0.04 / 21,600 = $0.0074815 per 1,000.
    #[test]
    fn active_hours_by_hand() {
        let c = CostInputs {
            per_active_hour: 0.02,
            ..inputs()
        };
        let r = run_cost(&outcome(&[(0, 1800), (1800, 3600)], 7200), &c);
        assert_eq!(r.active_hours, 2.0);
        assert!((r.spot_per_1000 - 0.007_481_481).abs() < 1e-9, "{r:?}");
    }

    #[test]
    fn no_work_costs_no_finite_price() {
        let r = run_cost(&outcome(&[], 3600), &inputs());
        assert_eq!(r.photos, 0.0);
        assert!(r.spot_per_1000.is_infinite());
        assert!(markdown(&[r], &inputs()).contains("| hand | 0 |"));
    }

    /// The documented defaults (docs/cost.md): c5.large at full use is
    /// 1000 × (0.0425 + 2.4/730) / (2 × 3.08 × 3600) = $0.0020647 per 1,000 at Spot.
    #[test]
    fn documented_defaults() {
        let c = CostInputs::default();
        assert!((c.instance_extra_per_hour - 0.003_287_671).abs() < 1e-8);
        assert!((c.compute_per_1000_at_full_use(0.0425) - 0.002_064_740).abs() < 1e-8);
        assert!((c.fixed_monthly_total() - 10.60).abs() < 1e-9);
    }
}
