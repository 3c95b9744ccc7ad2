//! Command line: `fleet-sim report --out docs` regenerates `docs/scaling.md` and its
//! plots; `fleet-sim table` prints the comparison for chosen traces; `fleet-sim cost`
//! (`facerec simulate cost`) prints the cost per 1,000 photos (docs/cost.md);
//! `fleet-sim --trace FILE` (`facerec simulate --trace FILE`) runs the deployed design on
//! an operator's own traffic ([`crate::trace_file`]). The same [`run`] backs
//! `facerec simulate …`.

use std::ffi::OsString;
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};

use crate::cost::{markdown as cost_markdown, run_cost, CostInputs};
use crate::fleet::simulate;
use crate::params::{Environment, ScalerOutage, ScalingParams};
use crate::policy::{PolicyKind, ALL_POLICIES};
use crate::report::{judge, markdown_table, summarize};
use crate::scaling_doc;
use crate::trace::{self, TRACE_NAMES};
use crate::world::WorldKind;

#[derive(Debug, Parser)]
#[command(
    name = "fleet-sim",
    about = "Simulate facerec-fleet's autoscaling policies on load traces",
    args_conflicts_with_subcommands = true,
    subcommand_required = false
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    trace_run: TraceRun,
}

/// `--trace FILE` without a subcommand: the deployed design on the file's traffic.
#[derive(Debug, Args)]
struct TraceRun {
    /// A trace file: CSV, one job per line, `arrival_seconds,job_seconds` (docs/cli.md).
    #[arg(long = "trace", value_name = "FILE")]
    trace_file: Option<PathBuf>,
    /// Print the summary as one JSON object instead of markdown.
    #[arg(long)]
    json: bool,
    /// A window in which the backlog scaler does not run: START-END or START- (for
    /// good), seconds from the trace's start; repeatable.
    #[arg(long = "scaler-outage", value_name = "START-END")]
    scaler_outages: Vec<String>,
    /// Leave the scaler's backstop out (to see what it buys).
    #[arg(long)]
    no_backstop: bool,
    #[command(flatten)]
    common: Common,
}

fn parse_outage(text: &str) -> anyhow::Result<ScalerOutage> {
    parse_window(text, "--scaler-outage")
}

fn parse_window(text: &str, flag: &str) -> anyhow::Result<ScalerOutage> {
    let bad = || anyhow::anyhow!("{flag} must be START-END or START- in seconds, got {text:?}");
    let (start, end) = text.split_once('-').ok_or_else(bad)?;
    let start: u64 = start.trim().parse().map_err(|_| bad())?;
    let end = match end.trim() {
        "" => None,
        e => Some(e.parse::<u64>().map_err(|_| bad())?),
    };
    if end.is_some_and(|e| e <= start) {
        bail!("{flag} {text:?}: END must come after START");
    }
    Ok(ScalerOutage { start, end })
}

/// The summary `--trace FILE` prints (`--json`: this object).
#[derive(Debug, serde::Serialize)]
struct TraceSummary {
    trace: String,
    /// The deployed design's row (waits outside cold starts, cost against the oracle;
    /// the oracle sizes by `job_seconds`, not the file's job times).
    ours: crate::report::Row,
    oracle_instance_hours: f64,
    /// Waits over every job, cold starts included.
    wait_p95_all_jobs: Option<u64>,
    wait_max_all_jobs: Option<u64>,
    jobs_lost: usize,
    instances_at_end: u32,
}

fn run_trace_file(run: TraceRun) -> anyhow::Result<()> {
    let Some(path) = run.trace_file else {
        bail!("give a subcommand (report, table, cost) or --trace FILE; see --help");
    };
    let (params, mut env) = run.common.load()?;
    for o in &run.scaler_outages {
        env.scaler_outages.push(parse_outage(o)?);
    }
    let trace = crate::trace_file::read(&path)?;
    let settings = crate::candidates::CandidateSettings {
        backstop: !run.no_backstop,
        ..Default::default()
    };
    let ours = crate::fleet::simulate_with(&params, &env, &trace, PolicyKind::Ours, &settings);
    let oracle = simulate(&params, &env, &trace, PolicyKind::Oracle);
    let all = crate::outages::summarize_all_jobs(&ours);
    let mut rows = vec![summarize(&ours, &params), summarize(&oracle, &params)];
    judge(&mut rows);
    let summary = TraceSummary {
        trace: path.display().to_string(),
        oracle_instance_hours: rows[1].instance_hours,
        ours: rows[0].clone(),
        wait_p95_all_jobs: all.wait_p95,
        wait_max_all_jobs: all.wait_max,
        jobs_lost: all.lost,
        instances_at_end: all.instances_at_end,
    };
    if run.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        let secs = |v: Option<u64>| v.map_or("never".to_string(), |s| format!("{s} s"));
        println!(
            "### {}

{}",
            summary.trace,
            markdown_table(&rows)
        );
        println!(
            "Over all jobs (cold starts included): p95 wait {}, max {}; {} lost; {} instances at the end.",
            secs(summary.wait_p95_all_jobs),
            secs(summary.wait_max_all_jobs),
            summary.jobs_lost,
            summary.instances_at_end
        );
    }
    Ok(())
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Regenerate docs/scaling.md and docs/scaling/*.png|svg.
    Report {
        /// Directory that receives scaling.md and scaling/.
        #[arg(long, default_value = "docs")]
        out: PathBuf,
        /// Skip the seed spread and the parameter search (faster).
        #[arg(long)]
        no_tuning: bool,
        #[command(flatten)]
        common: Common,
    },
    /// Cost per 1,000 photos of the deployed design on the chosen traces (all by
    /// default), the fixed monthly costs and the break-even against Rekognition.
    Cost {
        /// Trace name; repeatable. One of: steady, bursty, diurnal, lone, spike, spot-storm.
        #[arg(long = "trace")]
        traces: Vec<String>,
        /// Print rows as JSON instead of markdown.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        cost: CostArgs,
        #[command(flatten)]
        common: Common,
    },
    /// Print the comparison table of the chosen traces (all by default).
    Table {
        /// Trace name; repeatable. One of: steady, bursty, diurnal, lone, spike, spot-storm.
        #[arg(long = "trace")]
        traces: Vec<String>,
        /// Policy slug; repeatable. One of: plan, plan-fixed, ours-v0, ours (deployed: the
        /// backlog scaler), ours-alarms, keda, oracle, fast, fast-registered, scaler-60.
        #[arg(long = "policy")]
        policies: Vec<String>,
        /// Print rows as JSON instead of markdown.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        common: Common,
    },
}

/// The cost report's measured speeds and prices (defaults: docs/cost.md).
#[derive(Debug, Args)]
struct CostArgs {
    /// Photos per second per vCPU, measured end to end (docs/benchmarks.md: 3.08).
    #[arg(long)]
    images_per_vcpu_second: Option<f64>,
    /// vCPUs of the task (task_cpu / 1024; the default task gets a whole c5.large: 2).
    #[arg(long)]
    task_vcpus: Option<f64>,
    /// On-Demand price of one instance-hour (c5.large, us-east-1: 0.085).
    #[arg(long)]
    on_demand_price: Option<f64>,
    /// Spot price of one instance-hour (default: spot_price_per_hour of the scaling file).
    #[arg(long)]
    spot_price: Option<f64>,
    /// Amazon Rekognition's price per 1,000 images (first tier: 1.00).
    #[arg(long)]
    rekognition_per_1000: Option<f64>,
}

impl CostArgs {
    fn inputs(&self, params: &ScalingParams) -> anyhow::Result<CostInputs> {
        let mut c =
            CostInputs::with_spot_price(self.spot_price.unwrap_or(params.spot_price_per_hour));
        if let Some(v) = self.images_per_vcpu_second {
            c.images_per_vcpu_second = v;
        }
        if let Some(v) = self.task_vcpus {
            c.task_vcpus = v;
        }
        if let Some(v) = self.on_demand_price {
            c.on_demand_per_hour = v;
        }
        if let Some(v) = self.rekognition_per_1000 {
            c.rekognition_per_1000 = v;
        }
        for (what, v) in [
            ("--images-per-vcpu-second", c.images_per_vcpu_second),
            ("--task-vcpus", c.task_vcpus),
        ] {
            if !(v.is_finite() && v > 0.0) {
                bail!("{what} must be a positive number, got {v}");
            }
        }
        for (what, v) in [
            ("--on-demand-price", c.on_demand_per_hour),
            ("--spot-price", c.spot_per_hour),
            ("--rekognition-per-1000", c.rekognition_per_1000),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                bail!("{what} must be a price ≥ 0, got {v}");
            }
        }
        Ok(c)
    }
}

#[derive(Debug, Args)]
struct Common {
    /// The scaling parameters Terraform reads (one source of truth).
    #[arg(long, default_value = "terraform/scaling.json")]
    scaling: PathBuf,
    /// Optional JSON with any subset of the same keys (e.g. a terraform.tfvars.json).
    #[arg(long = "override")]
    override_path: Option<PathBuf>,
    /// EC2 launch → ECS agent registered, seconds.
    #[arg(long)]
    instance_boot_seconds: Option<u64>,
    /// Task placed → worker polling (image pull + model load), seconds.
    #[arg(long)]
    task_start_seconds: Option<u64>,
    /// Seconds after a one-minute SQS datapoint closes before alarms see it.
    #[arg(long)]
    metric_delay_seconds: Option<u64>,
    /// Coefficient of variation of job time (0 = constant).
    #[arg(long)]
    job_time_cv: Option<f64>,
    /// Background Spot interruptions per instance-hour (added to each trace's own).
    #[arg(long)]
    spot_rate: Option<f64>,
    /// Simulated time after the last arrival.
    #[arg(long)]
    tail_seconds: Option<u64>,
    /// Replace an interrupted Spot instance at the notice (Capacity Rebalancing).
    #[arg(long)]
    capacity_rebalance: bool,
    /// How old the queue counts the scaler reads are, seconds (GetQueueAttributes'
    /// counts are approximate; 0 = exact).
    #[arg(long)]
    count_staleness_seconds: Option<u64>,
    #[arg(long)]
    seed: Option<u64>,
    /// The world: `realistic` (boot, placement and task start drawn, stale counts, missed
    /// invocations, a no-capacity window; docs/scaling.md) or `ideal`. Default: realistic,
    /// except for `cost` (docs/cost.md is computed in the idealised world).
    #[arg(long, value_enum)]
    world: Option<WorldKind>,
    /// Boot to registration is --instance-boot-seconds plus a uniform draw up to this.
    #[arg(long)]
    boot_spread_seconds: Option<u64>,
    /// Registration to placement: a uniform draw up to this many seconds.
    #[arg(long)]
    placement_max_seconds: Option<u64>,
    /// Probability that one one-minute scaler invocation does not run.
    #[arg(long)]
    missed_invocations: Option<f64>,
    /// A window with no Spot capacity: START-END in seconds from the trace's start;
    /// repeatable. Replaces the realistic world's randomly placed window.
    #[arg(long = "no-capacity", value_name = "START-END")]
    no_capacity: Vec<String>,
}

impl Common {
    fn load(&self) -> anyhow::Result<(ScalingParams, Environment)> {
        self.load_in(WorldKind::Realistic)
    }

    /// The parameters and the environment, in `default_world` unless --world says otherwise.
    fn load_in(&self, default_world: WorldKind) -> anyhow::Result<(ScalingParams, Environment)> {
        let params = ScalingParams::load(&self.scaling, self.override_path.as_deref())?;
        let mut env = self.world.unwrap_or(default_world).environment();
        if let Some(v) = self.boot_spread_seconds {
            env.boot_spread_seconds = v;
        }
        if let Some(v) = self.placement_max_seconds {
            env.placement_max_seconds = v;
        }
        if let Some(v) = self.missed_invocations {
            if !(0.0..=1.0).contains(&v) {
                bail!("--missed-invocations must be a probability within 0..=1, got {v}");
            }
            env.missed_invocation_probability = v;
        }
        if !self.no_capacity.is_empty() {
            env.random_no_capacity_minutes = 0;
            for w in &self.no_capacity {
                let o = parse_window(w, "--no-capacity")?;
                let Some(_) = o.end else {
                    bail!("--no-capacity {w:?}: give an END (Spot capacity never returning is not modelled)");
                };
                env.no_capacity.push(o);
            }
        }
        if let Some(v) = self.instance_boot_seconds {
            env.instance_boot_seconds = v;
        }
        if let Some(v) = self.task_start_seconds {
            env.task_start_seconds = v;
        }
        if let Some(v) = self.metric_delay_seconds {
            env.metric_delay_seconds = v;
        }
        if let Some(v) = self.job_time_cv {
            if !(0.0..=5.0).contains(&v) {
                bail!("--job-time-cv must be within 0..=5, got {v}");
            }
            env.job_time_cv = v;
        }
        if let Some(v) = self.spot_rate {
            if !(0.0..=3600.0).contains(&v) {
                bail!("--spot-rate must be within 0..=3600 per instance-hour, got {v}");
            }
            env.spot_interruptions_per_instance_hour = v;
        }
        if let Some(v) = self.tail_seconds {
            env.tail_seconds = v;
        }
        if let Some(v) = self.seed {
            env.seed = v;
        }
        if self.capacity_rebalance {
            env.capacity_rebalance = true;
        }
        if let Some(v) = self.count_staleness_seconds {
            if v > 3600 {
                bail!("--count-staleness-seconds must be within 0..=3600, got {v}");
            }
            env.count_staleness_seconds = v;
        }
        Ok((params, env))
    }
}

/// Entry point of `fleet-sim` (and later `facerec simulate`). `args` includes the program name first.
pub fn run<I, T>(args: I) -> anyhow::Result<()>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help / --version: print and succeed.
            print!("{e}");
            return Ok(());
        }
        Err(e) => return Err(anyhow::anyhow!(e.to_string())),
    };
    let Some(command) = cli.command else {
        return run_trace_file(cli.trace_run);
    };
    match command {
        Command::Report {
            out,
            no_tuning,
            common,
        } => {
            let (params, env) = common.load()?;
            let written = scaling_doc::generate(&params, &env, &out, !no_tuning, &common.scaling)
                .with_context(|| format!("writing the report under {}", out.display()))?;
            println!("wrote {}", written.display());
        }
        Command::Cost {
            traces,
            json,
            cost,
            common,
        } => {
            let (params, env) = common.load_in(WorldKind::Ideal)?;
            let inputs = cost.inputs(&params)?;
            let traces: Vec<String> = if traces.is_empty() {
                TRACE_NAMES.iter().map(|s| s.to_string()).collect()
            } else {
                traces
            };
            let mut rows = Vec::new();
            for name in &traces {
                let Some(trace) = trace::build(name, &params, env.seed) else {
                    bail!("unknown trace {name:?} (one of {})", TRACE_NAMES.join(", "));
                };
                rows.push(run_cost(
                    &simulate(&params, &env, &trace, PolicyKind::Ours),
                    &inputs,
                ));
            }
            if json {
                println!("{}", serde_json::to_string(&rows)?);
            } else {
                println!("{}", cost_markdown(&rows, &inputs));
            }
        }
        Command::Table {
            traces,
            policies,
            json,
            common,
        } => {
            let (params, env) = common.load()?;
            let traces: Vec<String> = if traces.is_empty() {
                TRACE_NAMES.iter().map(|s| s.to_string()).collect()
            } else {
                traces
            };
            let mut kinds = Vec::new();
            for slug in &policies {
                match PolicyKind::from_slug(slug) {
                    Some(k) => kinds.push(k),
                    None => bail!("unknown policy {slug:?} (one of {})", PolicyKind::slugs()),
                }
            }
            if kinds.is_empty() {
                kinds = ALL_POLICIES.to_vec();
            }
            if !kinds.contains(&PolicyKind::Oracle) {
                kinds.push(PolicyKind::Oracle); // needed for the cost ratio
            }
            for name in &traces {
                let Some(trace) = trace::build(name, &params, env.seed) else {
                    bail!("unknown trace {name:?} (one of {})", TRACE_NAMES.join(", "));
                };
                let mut rows: Vec<_> = kinds
                    .iter()
                    .map(|&k| summarize(&simulate(&params, &env, &trace, k), &params))
                    .collect();
                judge(&mut rows);
                if json {
                    println!("{}", serde_json::to_string(&rows)?);
                } else {
                    println!("### {name}\n\n{}", markdown_table(&rows));
                }
            }
        }
    }
    Ok(())
}
