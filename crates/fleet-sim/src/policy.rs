//! The scaling policies compared, as controllers that set the ECS service's desired
//! task count (and, for the oracle only, the instance count directly).
//!
//! Application Auto Scaling rules modelled here:
//! - Target tracking creates a high alarm (3 consecutive 1-minute datapoints above the
//!   target) and a low alarm (15 consecutive datapoints below 90 % of the target), and
//!   sets capacity = ceil(current capacity × metric / target):
//!   <https://docs.aws.amazon.com/autoscaling/application/userguide/target-tracking-scaling-policy-overview.html>
//!   <https://docs.aws.amazon.com/autoscaling/application/userguide/application-auto-scaling-target-tracking.html>
//!   It cannot act on INSUFFICIENT_DATA (no datapoints), which is why a per-task metric
//!   never leaves zero tasks on its own (same page, "Considerations").
//! - Cooldowns: during a scale-out cooldown the capacity added by the activity that
//!   started it counts towards the next scale-out (new = max(current, from-base));
//!   scale-in waits out its cooldown, and a scale-out ends a scale-in cooldown:
//!   <https://docs.aws.amazon.com/autoscaling/application/APIReference/API_TargetTrackingScalingPolicyConfiguration.html>
//!   <https://docs.aws.amazon.com/autoscaling/application/APIReference/API_StepScalingPolicyConfiguration.html>
//! - Step scaling: ChangeInCapacity / ExactCapacity by metric intervals relative to the
//!   alarm threshold (lower bound inclusive, upper bound exclusive):
//!   <https://docs.aws.amazon.com/autoscaling/application/userguide/step-scaling-policy-overview.html>
//! - The plan's (docs/plan.md) predefined metric `SQSQueueMessagesVisiblePerTask` is not
//!   one of the predefined metric types (for ECS only ECSServiceAverageCPUUtilization,
//!   ECSServiceAverageMemoryUtilization and ALBRequestCountPerTarget exist), so
//!   PutScalingPolicy rejects it and no policy exists at all:
//!   <https://docs.aws.amazon.com/autoscaling/application/APIReference/API_PredefinedMetricSpecification.html>

use serde::Serialize;

use crate::backlog_scaler::BacklogScaler;
use crate::candidates::{CandidateSettings, FastPathAlarms};
use crate::cloudwatch::{AlarmRule, AlarmState, Comparison, MinuteSeries};
use crate::params::{Environment, ScalingParams};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum PolicyKind {
    /// The plan verbatim: a target tracking policy on a metric type that does not exist.
    PlanAsWritten,
    /// The plan's intent with a valid metric: target tracking of visible/running, target 1.
    PlanIntentFixed,
    /// The alarms mode as first specified (historical): backlog per *running* task target
    /// tracking, a wake alarm on RunningTaskCount, the sleep policy. Kept to show why it
    /// was replaced.
    OursFirstDraft,
    /// Ours as deployed by default (`scaling_mode = "backlog_scaler"`): the backlog scaler
    /// Lambda polling every `scaler_poll_seconds`, managed scaling disabled. See
    /// [`crate::backlog_scaler::BacklogScaler`].
    Ours,
    /// Ours in the fallback mode `scaling_mode = "alarms"`, as
    /// `terraform/modules/scaling/main.tf` creates it: see [`deployed`].
    OursAlarms,
    /// KEDA-like: polls the queue directly, desired = ceil((visible + in flight) / target).
    KedaLike,
    /// Perfect foresight of arrivals: instances ready exactly when work arrives.
    Oracle,
    /// Candidate (not deployed): the alarms mode plus Auto Scaling group step policies — the wake
    /// alarm also sets the group's desired capacity, CapacityProviderReservation == 0 sets
    /// it to 0 — and a sleep alarm that counts arrivals. See [`crate::candidates`].
    /// CapacityProviderReservation's N counts instances that are still pending.
    FastPaths,
    /// The same candidate under the other reading: N counts only instances registered
    /// with the cluster, so a pending instance leaves N = 0 (CapacityProviderReservation 200).
    FastPathsRegisteredOnly,
    /// Candidate (not deployed): the deployed backlog scaler polling once a minute (one
    /// poll per invocation) instead of every `scaler_poll_seconds`.
    BacklogScaler60,
}

pub const ALL_POLICIES: [PolicyKind; 10] = [
    PolicyKind::PlanAsWritten,
    PolicyKind::PlanIntentFixed,
    PolicyKind::OursFirstDraft,
    PolicyKind::Ours,
    PolicyKind::OursAlarms,
    PolicyKind::KedaLike,
    PolicyKind::Oracle,
    PolicyKind::FastPaths,
    PolicyKind::FastPathsRegisteredOnly,
    PolicyKind::BacklogScaler60,
];

/// The candidate designs (none of them is deployed).
pub const CANDIDATES: [PolicyKind; 3] = [
    PolicyKind::FastPaths,
    PolicyKind::FastPathsRegisteredOnly,
    PolicyKind::BacklogScaler60,
];

/// How the Auto Scaling group may remove instances under a policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstanceScaleIn {
    /// The model every existing row was judged with: the group removes empty instances
    /// first, then idle ones, then busy ones (managed scaling never asks for fewer
    /// instances than tasks, so in practice only empty ones go).
    EmptyFirst,
    /// ECS managed termination protection, modelled exactly: ECS turns on instance
    /// scale-in protection and lifts it once no (non-daemon) task runs on the instance;
    /// a protected instance is never chosen by a scale-in, the group's desired capacity
    /// is decremented anyway and it terminates the instance once protection is lifted.
    /// An instance still booting (not yet registered) is protected: it inherits the
    /// group's setting at InService and ECS has not yet seen it empty.
    /// <https://docs.aws.amazon.com/AmazonECS/latest/developerguide/managed-termination-protection.html>
    /// <https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-instance-protection.html>
    ManagedProtection,
    /// Only the scaler terminates instances, one by one, with
    /// TerminateInstanceInAutoScalingGroup (should-decrement-desired-capacity) on
    /// registered instances without a task, at its polls (booting ones are left alone); the group's own scale-in never runs
    /// (every instance is protected from scale-in, which that call ignores).
    /// <https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_TerminateInstanceInAutoScalingGroup.html>
    ScalerTerminatesIdle,
}

impl PolicyKind {
    pub fn label(self) -> &'static str {
        match self {
            PolicyKind::PlanAsWritten => "plan as written",
            PolicyKind::PlanIntentFixed => "plan intent, fixed",
            PolicyKind::OursFirstDraft => "ours-v0 (first draft)",
            PolicyKind::Ours => "ours (deployed)",
            PolicyKind::OursAlarms => "ours, alarms mode (scaling_mode = alarms)",
            PolicyKind::KedaLike => "KEDA-like",
            PolicyKind::Oracle => "oracle",
            PolicyKind::FastPaths => "alarms mode + fast paths (N incl. pending)",
            PolicyKind::FastPathsRegisteredOnly => "alarms mode + fast paths (N registered only)",
            PolicyKind::BacklogScaler60 => "backlog scaler, 60 s polls",
        }
    }

    pub fn slug(self) -> &'static str {
        match self {
            PolicyKind::PlanAsWritten => "plan",
            PolicyKind::PlanIntentFixed => "plan-fixed",
            PolicyKind::OursFirstDraft => "ours-v0",
            PolicyKind::Ours => "ours",
            PolicyKind::OursAlarms => "ours-alarms",
            PolicyKind::KedaLike => "keda",
            PolicyKind::Oracle => "oracle",
            PolicyKind::FastPaths => "fast",
            PolicyKind::FastPathsRegisteredOnly => "fast-registered",
            PolicyKind::BacklogScaler60 => "scaler-60",
        }
    }

    /// Every slug, for error messages.
    pub fn slugs() -> String {
        ALL_POLICIES
            .iter()
            .map(|p| p.slug())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// A candidate design, not what Terraform deploys.
    pub fn is_candidate(self) -> bool {
        CANDIDATES.contains(&self)
    }

    pub fn from_slug(s: &str) -> Option<Self> {
        ALL_POLICIES.into_iter().find(|p| p.slug() == s)
    }

    /// Whether the worker protects itself from scale-in while it holds messages
    /// (ECS task scale-in protection). The KEDA-like scaler models a plain worker
    /// that is stopped with jobs in hand.
    pub fn protects_busy_tasks(self) -> bool {
        self != PolicyKind::KedaLike
    }

    /// Whether ECS cluster auto scaling (capacity provider managed scaling) manages
    /// instances. The oracle sets instances itself; the backlog scaler runs with managed
    /// scaling disabled (see [`crate::candidates`] for why that is safe).
    pub fn uses_managed_scaling(self) -> bool {
        !matches!(
            self,
            PolicyKind::Oracle | PolicyKind::Ours | PolicyKind::BacklogScaler60
        )
    }

    /// The backlog scaler Lambda (deployed, or its 60-s variant).
    pub fn is_backlog_scaler(self) -> bool {
        matches!(self, PolicyKind::Ours | PolicyKind::BacklogScaler60)
    }

    /// Which instances CapacityProviderReservation's N counts: every instance of the
    /// group, pending ones included (the reading every row but one uses), or only those
    /// registered with the cluster. AWS documents N as "the number of instances already
    /// up and running" without saying which (see [`crate::candidates`]).
    pub fn cpr_counts_pending_instances(self) -> bool {
        self != PolicyKind::FastPathsRegisteredOnly
    }

    pub fn instance_scale_in(self) -> InstanceScaleIn {
        match self {
            PolicyKind::FastPaths | PolicyKind::FastPathsRegisteredOnly => {
                InstanceScaleIn::ManagedProtection
            }
            PolicyKind::Ours | PolicyKind::BacklogScaler60 => InstanceScaleIn::ScalerTerminatesIdle,
            _ => InstanceScaleIn::EmptyFirst,
        }
    }
}

/// The alarms mode of "ours" (`scaling_mode = "alarms"`), in the words of
/// `terraform/modules/scaling/main.tf`.
/// The controller below evaluates exactly these expressions (in Rust), and
/// `tests/terraform_drift.rs` checks that the Terraform still says the same, so the
/// simulator cannot silently judge a design that is no longer deployed.
pub mod deployed {
    /// CloudWatch metrics the policies read: (query id, namespace, metric name).
    pub const METRICS: [(&str, &str, &str); 4] = [
        ("sent", "AWS/SQS", "NumberOfMessagesSent"),
        ("visible", "AWS/SQS", "ApproximateNumberOfMessagesVisible"),
        (
            "in_flight",
            "AWS/SQS",
            "ApproximateNumberOfMessagesNotVisible",
        ),
        ("desired", "ECS/ContainerInsights", "DesiredTaskCount"),
    ];
    /// Target tracking, step 1: tasks needed to keep up with arrivals (a task clears
    /// 60 / job_seconds jobs a minute) plus to drain the visible backlog within the
    /// acceptable latency. `{arrival}` = job_seconds / 60, `{backlog}` = job_seconds /
    /// acceptable_latency_seconds, both printed with six decimals.
    pub const TASKS_NEEDED: &str = "FILL(sent, 0) * {arrival} + FILL(visible, 0) * {backlog}";
    /// Target tracking, step 2 (the tracked metric; target value = target_utilization).
    pub const TASKS_NEEDED_PER_TASK: &str =
        "IF(FILL(desired, 0) > 0, needed / FILL(desired, 0), needed)";
    /// Wake alarm metric (`> 0`, 1 of 1 datapoint): visible jobs while the service wants no task.
    pub const WAKE: &str = "IF(FILL(desired, 0) == 0, visible, 0)";
    /// Sleep alarm metric (`<= 0` for scale_to_zero_idle_minutes datapoints).
    pub const SLEEP: &str = "visible + in_flight";
    /// The wake policy has at most this many steps (+1 … +n tasks).
    pub const WAKE_MAX_STEPS: u32 = 10;

    /// A coefficient as Terraform's `format("%.6f", x)` prints it.
    pub fn coefficient(x: f64) -> f64 {
        (x * 1e6).round() / 1e6
    }
}

/// Raw one-minute metrics the simulator publishes at every minute boundary.
#[derive(Debug, Default)]
pub struct RawMetrics {
    /// SQS ApproximateNumberOfMessagesVisible.
    pub visible: MinuteSeries,
    /// SQS ApproximateNumberOfMessagesNotVisible (in flight).
    pub not_visible: MinuteSeries,
    /// Container Insights RunningTaskCount (FILL(…, 0) makes missing = 0 anyway).
    pub running: MinuteSeries,
    /// Container Insights DesiredTaskCount.
    pub desired: MinuteSeries,
    /// SQS NumberOfMessagesSent (Sum over the minute).
    pub sent: MinuteSeries,
}

/// Wake step policy (ChangeInCapacity): visible jobs in `[i·T, (i+1)·T)` add `i + 1`
/// tasks, the last step capped at min(max_tasks, [`deployed::WAKE_MAX_STEPS`]).
pub fn wake_step(visible: f64, params: &ScalingParams) -> u32 {
    let cap = params.max_tasks.min(deployed::WAKE_MAX_STEPS);
    ((visible / params.backlog_target()).floor() as u32 + 1).min(cap)
}

/// What a controller may look at, at time `t`.
pub struct Observation<'a> {
    pub t: u64,
    /// Live queue attributes (GetQueueAttributes), for pollers that bypass CloudWatch.
    pub visible_now: usize,
    pub in_flight_now: usize,
    pub desired_tasks: u32,
    /// Tasks holding messages: the ones with ECS task scale-in protection on
    /// (GetTaskProtection), which the worker keeps in line with busy/idle.
    pub busy_tasks: u32,
    /// The Auto Scaling group's desired capacity.
    pub group_desired: u32,
    pub metrics: &'a RawMetrics,
    /// CapacityProviderReservation, one datapoint per minute (ECS publishes it itself).
    pub cpr: &'a MinuteSeries,
    /// True right after a new minute's datapoints were pushed.
    pub minute_boundary: bool,
}

/// A controller's output for this second.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Decision {
    pub desired_tasks: Option<u32>,
    /// The Auto Scaling group's desired capacity, when the policy sets it: the oracle and
    /// the backlog scaler set it themselves; the fast-path candidate's step policies set
    /// it (ExactCapacity) in the minutes their alarms are in ALARM. `None` leaves the
    /// group to the capacity provider's managed scaling, if any.
    pub desired_instances: Option<u32>,
    /// Set by the backlog scaler's backstop: its step policies only add, and it never
    /// terminates an instance (the scaler's own removal of idle instances does not run).
    pub scale_out_only: bool,
}

/// Cooldown bookkeeping of one Application Auto Scaling policy.
#[derive(Debug, Clone, Copy, Default)]
struct Cooldowns {
    out_started: Option<u64>,
    out_base: u32,
    in_started: Option<u64>,
}

impl Cooldowns {
    fn in_out_cooldown(&self, t: u64, cooldown: u64) -> bool {
        self.out_started.is_some_and(|s| t < s + cooldown)
    }
    fn in_in_cooldown(&self, t: u64, cooldown: u64) -> bool {
        self.in_started.is_some_and(|s| t < s + cooldown)
    }
}

/// Target tracking on a derived metric.
#[derive(Debug)]
struct TargetTracking {
    target: f64,
    out_cooldown: u64,
    in_cooldown: u64,
    high: AlarmRule,
    low: AlarmRule,
    metric: MinuteSeries,
    cd: Cooldowns,
}

impl TargetTracking {
    fn new(target: f64, out_cooldown: u64, in_cooldown: u64, delay: u64) -> Self {
        TargetTracking {
            target,
            out_cooldown,
            in_cooldown,
            high: AlarmRule {
                comparison: Comparison::GreaterThan,
                threshold: target,
                datapoints: 3,
                delay,
            },
            low: AlarmRule {
                comparison: Comparison::LessThan,
                threshold: 0.9 * target,
                datapoints: 15,
                delay,
            },
            metric: MinuteSeries::default(),
            cd: Cooldowns::default(),
        }
    }

    fn step(&mut self, t: u64, desired: u32, lo: u32, hi: u32) -> u32 {
        let delay = self.high.delay;
        let Some(m) = self.metric.latest(t, delay) else {
            return desired; // no data: target tracking cannot act
        };
        if self.high.evaluate(&self.metric, t) == AlarmState::Alarm {
            let base = if self.cd.in_out_cooldown(t, self.out_cooldown) {
                self.cd.out_base
            } else {
                desired
            };
            let want = ((base as f64 * m / self.target).ceil() as u32).clamp(lo, hi);
            if want > desired {
                if !self.cd.in_out_cooldown(t, self.out_cooldown) {
                    self.cd.out_base = desired;
                    self.cd.out_started = Some(t);
                }
                self.cd.in_started = None; // a scale-out ends the scale-in cooldown
                return want;
            }
        }
        if self.low.evaluate(&self.metric, t) == AlarmState::Alarm
            && !self.cd.in_in_cooldown(t, self.in_cooldown)
        {
            let want = ((desired as f64 * m / self.target).ceil() as u32).clamp(lo, hi);
            if want < desired {
                self.cd.in_started = Some(t);
                return want;
            }
        }
        desired
    }
}

// One controller exists per simulation run, so variant size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
enum Controller {
    Nothing,
    PlanIntent(TargetTracking),
    Ours {
        /// True for [`PolicyKind::OursFirstDraft`]: per-running-task backlog, wake on running.
        first_draft: bool,
        tt: TargetTracking,
        wake: AlarmRule,
        wake_metric: MinuteSeries,
        wake_cd: Cooldowns,
        sleep: AlarmRule,
        sleep_metric: MinuteSeries,
        sleep_cd: Cooldowns,
        /// The fast-path candidate's additions (`None` = ours as deployed).
        fast: Option<FastPathAlarms>,
    },
    Scaler(BacklogScaler),
    Keda {
        history: Vec<(u64, u32)>,
    },
    Oracle {
        schedule: Vec<u32>,
    },
}

/// A policy with its state.
#[derive(Debug)]
pub struct Scaler {
    pub kind: PolicyKind,
    params: ScalingParams,
    controller: Controller,
}

/// KEDA defaults: pollingInterval 30 s (<https://keda.sh/docs/2.x/reference/scaledobject-spec/#pollinginterval>),
/// cooldownPeriod 300 s before scaling to zero (…#cooldownperiod), and the HPA's default
/// 300 s scale-down stabilization window
/// (<https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/#stabilization-window>).
/// The SQS scaler counts visible + in-flight messages by default (scaleOnInFlight):
/// <https://keda.sh/docs/2.x/scalers/aws-sqs/>
pub const KEDA_POLL_SECONDS: u64 = 30;
pub const KEDA_STABILIZATION_SECONDS: u64 = 300;

/// The plan's literal cooldowns and target.
pub const PLAN_TARGET: f64 = 1.0;
pub const PLAN_SCALE_OUT_COOLDOWN: u64 = 30;
pub const PLAN_SCALE_IN_COOLDOWN: u64 = 300;

impl Scaler {
    /// `oracle_schedule` (instances wanted per second) is only used by the oracle.
    pub fn new(
        kind: PolicyKind,
        params: &ScalingParams,
        env: &Environment,
        oracle_schedule: Vec<u32>,
    ) -> Self {
        Self::with_settings(
            kind,
            params,
            env,
            oracle_schedule,
            &CandidateSettings::default(),
        )
    }

    /// As [`Scaler::new`], with the candidates' own settings.
    pub fn with_settings(
        kind: PolicyKind,
        params: &ScalingParams,
        env: &Environment,
        oracle_schedule: Vec<u32>,
        settings: &CandidateSettings,
    ) -> Self {
        let delay = env.metric_delay_seconds;
        let controller = match kind {
            PolicyKind::PlanAsWritten => Controller::Nothing,
            PolicyKind::PlanIntentFixed => Controller::PlanIntent(TargetTracking::new(
                PLAN_TARGET,
                PLAN_SCALE_OUT_COOLDOWN,
                PLAN_SCALE_IN_COOLDOWN,
                delay,
            )),
            PolicyKind::OursAlarms
            | PolicyKind::OursFirstDraft
            | PolicyKind::FastPaths
            | PolicyKind::FastPathsRegisteredOnly => Controller::Ours {
                first_draft: kind == PolicyKind::OursFirstDraft,
                tt: TargetTracking::new(
                    if kind == PolicyKind::OursFirstDraft {
                        params.backlog_target()
                    } else {
                        params.target_utilization
                    },
                    params.scale_out_cooldown_seconds,
                    params.scale_in_cooldown_seconds,
                    delay,
                ),
                // treat_missing_data = notBreaching: a missing datapoint never wakes.
                wake: AlarmRule {
                    comparison: Comparison::GreaterThan,
                    threshold: 0.0,
                    datapoints: 1,
                    delay,
                },
                wake_metric: MinuteSeries::default(),
                wake_cd: Cooldowns::default(),
                sleep: AlarmRule {
                    comparison: Comparison::LessThanOrEqual,
                    threshold: 0.0,
                    datapoints: params.scale_to_zero_idle_minutes.max(1) as usize,
                    delay,
                },
                sleep_metric: MinuteSeries::default(),
                sleep_cd: Cooldowns::default(),
                fast: matches!(
                    kind,
                    PolicyKind::FastPaths | PolicyKind::FastPathsRegisteredOnly
                )
                .then(|| FastPathAlarms::new(settings, env)),
            },
            PolicyKind::Ours => Controller::Scaler(BacklogScaler::new(
                params.scaler_poll_seconds,
                params,
                env,
                settings,
            )),
            PolicyKind::BacklogScaler60 => {
                Controller::Scaler(BacklogScaler::new(60, params, env, settings))
            }
            PolicyKind::KedaLike => Controller::Keda {
                history: Vec::new(),
            },
            PolicyKind::Oracle => Controller::Oracle {
                schedule: oracle_schedule,
            },
        };
        Scaler {
            kind,
            params: params.clone(),
            controller,
        }
    }

    pub fn decide(&mut self, obs: &Observation) -> Decision {
        let p = &self.params;
        let (lo, hi) = (p.min_tasks, p.max_tasks);
        let t = obs.t;
        let desired = obs.desired_tasks;
        let mut out = Decision::default();
        let newest = |s: &MinuteSeries| s.points.last().copied().flatten();
        match &mut self.controller {
            Controller::Nothing => {}
            Controller::PlanIntent(tt) => {
                if obs.minute_boundary {
                    let m = &obs.metrics;
                    // visible / running with no IF: running = 0 gives no datapoint.
                    let v = match (newest(&m.visible), newest(&m.running)) {
                        (Some(v), Some(r)) if r > 0.0 => Some(v / r),
                        _ => None,
                    };
                    tt.metric.push(v);
                    out.desired_tasks = Some(tt.step(t, desired, lo, hi));
                }
            }
            Controller::Ours {
                first_draft,
                tt,
                wake,
                wake_metric,
                wake_cd,
                sleep,
                sleep_metric,
                sleep_cd,
                fast,
            } => {
                if obs.minute_boundary {
                    let m = &obs.metrics;
                    let visible = newest(&m.visible);
                    let fill = |v: Option<f64>| v.unwrap_or(0.0); // FILL(x, 0)
                    let running = fill(newest(&m.running));
                    let desired_ci = fill(newest(&m.desired));
                    let not_visible = newest(&m.not_visible);
                    let tt_value = if *first_draft {
                        // IF(running > 0, visible / running, visible)
                        visible.map(|v| if running > 0.0 { v / running } else { v })
                    } else {
                        // deployed::TASKS_NEEDED and deployed::TASKS_NEEDED_PER_TASK
                        let arrival = deployed::coefficient(p.job_seconds / 60.0);
                        let backlog =
                            deployed::coefficient(p.job_seconds / p.acceptable_latency_seconds);
                        let needed = fill(newest(&m.sent)) * arrival + fill(visible) * backlog;
                        Some(if desired_ci > 0.0 {
                            needed / desired_ci
                        } else {
                            needed
                        })
                    };
                    tt.metric.push(tt_value);
                    // deployed::WAKE; the first draft had RunningTaskCount in place of desired.
                    let asleep = if *first_draft {
                        running == 0.0
                    } else {
                        desired_ci == 0.0
                    };
                    wake_metric.push(visible.map(|v| if asleep { v } else { 0.0 }));
                    // deployed::SLEEP (metric math adds only where both exist); the
                    // fast-path candidate adds FILL(sent, 0): candidates::SLEEP_WITH_ARRIVALS.
                    let arrivals = if fast.is_some() {
                        fill(newest(&m.sent))
                    } else {
                        0.0
                    };
                    sleep_metric.push(match (visible, not_visible) {
                        (Some(a), Some(b)) => Some(a + b + arrivals),
                        _ => None,
                    });
                    // Fast scale-in first, the wake step after it: when both act in one
                    // minute the wake's ExactCapacity is the later one (and is re-invoked
                    // the next minute anyway while the wake alarm stays in ALARM).
                    if let Some(f) = fast.as_ref() {
                        if f.scale_in_now(obs.cpr, t) {
                            out.desired_instances = Some(0);
                        }
                    }

                    let mut d = desired;
                    // Wake: step ChangeInCapacity, intervals at multiples of the target.
                    if wake.evaluate(wake_metric, t) == AlarmState::Alarm {
                        let v = wake_metric.latest(t, wake.delay).unwrap_or(0.0);
                        let steps = wake_step(v, p);
                        if fast.is_some() {
                            // The group's step policy on the same alarm: ExactCapacity of the
                            // same step (EC2 Auto Scaling step policies have no cooldown, so
                            // it is re-applied every minute the alarm stays in ALARM).
                            out.desired_instances = Some(steps.min(p.max_tasks));
                        }
                        let in_cd = wake_cd.in_out_cooldown(t, p.scale_out_cooldown_seconds);
                        let want = if in_cd {
                            d.max(wake_cd.out_base + steps)
                        } else {
                            d + steps
                        }
                        .clamp(lo, hi);
                        if want > d {
                            if !in_cd {
                                wake_cd.out_base = d;
                                wake_cd.out_started = Some(t);
                            }
                            d = want;
                        }
                    }
                    d = tt.step(t, d, lo, hi);
                    // Sleep: ExactCapacity 0 once nothing was visible or in flight for N minutes.
                    if sleep.evaluate(sleep_metric, t) == AlarmState::Alarm
                        && d > 0
                        && !sleep_cd.in_in_cooldown(t, p.scale_in_cooldown_seconds)
                    {
                        sleep_cd.in_started = Some(t);
                        d = lo;
                    }
                    out.desired_tasks = Some(d);
                }
            }
            Controller::Scaler(scaler) => {
                if let Some(d) = scaler.decide(obs) {
                    out = d;
                }
            }
            Controller::Keda { history } => {
                if t.is_multiple_of(KEDA_POLL_SECONDS) {
                    let backlog = (obs.visible_now + obs.in_flight_now) as f64;
                    let raw = ((backlog / p.backlog_target()).ceil() as u32).clamp(lo, hi);
                    history.push((t, raw));
                    history.retain(|(s, _)| s + KEDA_STABILIZATION_SECONDS > t);
                    // Scale up at once; scale down to the highest recommendation of the window.
                    let stable = history.iter().map(|(_, r)| *r).max().unwrap_or(raw);
                    out.desired_tasks = Some(stable.max(raw));
                }
            }
            Controller::Oracle { schedule } => {
                let want = schedule
                    .get(t as usize)
                    .copied()
                    .unwrap_or(0)
                    .max(obs.busy_tasks)
                    .min(hi);
                out.desired_tasks = Some(want);
                out.desired_instances = Some(want);
            }
        }
        out
    }
}
