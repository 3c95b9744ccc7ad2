//! Candidate designs that go beyond `terraform/scaling.json` (none is deployed; the
//! deployed design is [`crate::policy::deployed`], held to the Terraform by
//! `tests/terraform_drift.rs`). Each rule modelled cites its AWS documentation.
//!
//! # 1. Ours + fast paths ([`PolicyKind::FastPaths`], [`PolicyKind::FastPathsRegisteredOnly`])
//!
//! The deployed design plus three changes:
//! - (a) an EC2 Auto Scaling *step scaling* policy on the same wake alarm, adjustment
//!   type `ExactCapacity`, with the wake policy's intervals: the group's desired capacity
//!   becomes the number of tasks the wake policy starts. EC2 Auto Scaling step policies
//!   have no cooldown (they use the instance warm-up instead), and an alarm with an Auto
//!   Scaling action re-invokes it every minute it stays in ALARM:
//!   <https://docs.aws.amazon.com/autoscaling/ec2/userguide/as-scaling-simple-step.html>,
//!   <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html>
//!   (alarm actions: "the alarm continues to invoke the action for every period that
//!   the alarm remains in the new state" for Auto Scaling actions).
//!   With the group at M instances for M tasks, CapacityProviderReservation = M / N × 100
//!   is 100 — *if* N counts the instance while it is still pending. AWS defines N as
//!   "the number of instances already up and running" in the group
//!   (<https://docs.aws.amazon.com/AmazonECS/latest/developerguide/cluster-auto-scaling.html>,
//!   <https://aws.amazon.com/blogs/containers/deep-dive-on-amazon-ecs-cluster-auto-scaling/>)
//!   and does not say whether a pending instance (launched, not yet registered with the
//!   cluster) counts. Both readings are simulated: [`PolicyKind::FastPaths`] counts it,
//!   [`PolicyKind::FastPathsRegisteredOnly`] does not — then the first datapoint after the
//!   wake still sees M = 1, N = 0, i.e. 200, and managed scaling raises the group to 2
//!   (for a moment: the wake step policy sets it back to 1 in the same minute, but the
//!   second instance was launched, is protected while it boots, and is terminated once
//!   it registers empty).
//! - (b) a fast scale-in: an alarm on `CapacityProviderReservation <= 0` (no task at all on
//!   the provider) for [`CandidateSettings::fast_scale_in_datapoints`] one-minute
//!   datapoints (namespace `AWS/ECS/ManagedScaling`, dimensions ClusterName and
//!   CapacityProviderName, missing = not breaching; with no instance the metric is 100,
//!   never 0) → an EC2 Auto Scaling step policy `ExactCapacity 0`. Managed termination
//!   protection keeps every instance that runs a task: ECS turns on instance scale-in
//!   protection and turns it off "when all non-daemon tasks are stopped on an instance"
//!   (<https://docs.aws.amazon.com/AmazonECS/latest/developerguide/managed-termination-protection.html>);
//!   a scale-in then decrements the desired capacity and the group terminates protected
//!   instances once their protection is off
//!   (<https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-instance-protection.html>).
//!   We read that sentence as: protection is lifted when the instance becomes empty. If
//!   ECS lifted it only inside its own (15-datapoint) scale-in, (b) would remove nothing
//!   before managed scaling does, and the cost would be ours'. containers-roadmap#2814
//!   reports protection not being lifted for daemon-only instances; this service runs no
//!   daemon tasks.
//! - (c) the sleep alarm counts arrivals: [`SLEEP_WITH_ARRIVALS`], so a minute in which a
//!   job was sent is never idle.
//!
//! # 2. Backlog scaler ([`PolicyKind::BacklogScaler10`], [`PolicyKind::BacklogScaler60`])
//!
//! A small Lambda on an EventBridge Scheduler `rate(1 minute)` schedule
//! (<https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html#rate-based>;
//! one minute is the smallest rate). Each invocation polls SQS GetQueueAttributes
//! (ApproximateNumberOfMessages, ApproximateNumberOfMessagesNotVisible:
//! <https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_GetQueueAttributes.html>)
//! and ECS GetTaskProtection (the worker keeps task scale-in protection on exactly while it
//! holds messages: <https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_GetTaskProtection.html>)
//! every P seconds for up to 50 s (P = 10: polls at :00, :10 … :50; P = 60: one poll), and
//! sets the service's desired count (UpdateService:
//! <https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_UpdateService.html>) and
//! raises the group's desired capacity (SetDesiredCapacity:
//! <https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_SetDesiredCapacity.html>)
//! itself. Its few numbers of state (the last 15 minutes of poll samples) persist between
//! invocations in an SSM parameter (standard tier, no charge).
//!
//! Interaction chosen: capacity-provider **managed scaling disabled** (and with it managed
//! termination protection, which requires it:
//! <https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_AutoScalingGroupProvider.html>),
//! Application Auto Scaling's scalable target on the service removed (the scaler is the
//! only writer of the desired count). Why it is safe:
//! - The group keeps `protect_from_scale_in = true` on every instance and has no scaling
//!   policy, so the group itself never picks an instance to terminate on scale-in. The
//!   scaler removes instances only with TerminateInstanceInAutoScalingGroup
//!   (should-decrement-desired-capacity = true), which scale-in protection does not block
//!   (<https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-instance-protection.html>,
//!   <https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_TerminateInstanceInAutoScalingGroup.html>),
//!   and only on an instance that runs no task: it first sets the container instance to
//!   DRAINING (no new task is placed on it:
//!   <https://docs.aws.amazon.com/AmazonECS/latest/developerguide/container-instance-draining.html>),
//!   re-reads runningTasksCount + pendingTasksCount = 0 (DescribeContainerInstances), then
//!   terminates. Instances still booting (no container instance yet) have no task either.
//! - It lowers the service's desired count only to at least the busy (protected) tasks;
//!   ECS never stops a protected task on scale-in
//!   (<https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-scale-in-protection.html>),
//!   so only idle tasks stop. It never lowers the group's desired capacity with
//!   SetDesiredCapacity (only the terminate call decrements it), so two writers can never
//!   disagree about which instance goes.
//! - Spot interruptions are unchanged: the handler drains, the service replaces the task,
//!   the group replaces the instance to keep its desired capacity.
//! - If the Lambda stops running, nothing scales (no backstop); an alarm on its Errors and
//!   on ApproximateAgeOfOldestMessage must page someone (not modelled).
//!
//! Desired tasks at each poll (all quantities observable at that moment):
//! `want = ceil(load / target_utilization + visible × job_seconds / (L − c))`
//! with L = acceptable_latency_seconds, c = the cold start (instance boot + task start, a
//! configured constant of the Lambda), and `load` the mean number of busy tasks over the
//! polls of the last [`CandidateSettings::scaler_load_window_seconds`] (see
//! [`LoadEstimate`] for the alternatives tried, among them an arrival rate derived from
//! successive polls). The mean busy count is the fleet's throughput × job_seconds, i.e.
//! the offered load while the fleet keeps up; when it does not, jobs stay visible and
//! the backlog term adds the tasks that drain them within what is left of the latency
//! budget after a cold start.
//! Scaling out is immediate. Scaling down to k ≥ 1 tasks waits until every poll of the
//! last [`CandidateSettings::scaler_scale_down_window_seconds`] wanted fewer than now,
//! then takes the largest of those. Scaling to zero needs an empty system (nothing
//! visible, in flight or busy) for a grace period: one cold start if arrivals have been
//! frequent (expected arrivals within a cold start ≥ 1 over the last
//! [`CandidateSettings::scaler_activity_window_seconds`]: keeping the instance for that
//! long costs at most what a needless relaunch would), else none.

use std::collections::VecDeque;

use crate::cloudwatch::{AlarmRule, AlarmState, Comparison, MinuteSeries};
use crate::params::{Environment, ScalingParams};
use crate::policy::{Decision, Observation};

#[cfg(doc)]
use crate::policy::PolicyKind;

/// The fast-path candidate's sleep alarm expression (ours' is `deployed::SLEEP`).
pub const SLEEP_WITH_ARRIVALS: &str = "visible + in_flight + FILL(sent, 0)";

/// The candidates' own settings (design choices, not Terraform variables today).
#[derive(Debug, Clone, PartialEq)]
pub struct CandidateSettings {
    /// Consecutive CapacityProviderReservation == 0 datapoints before the fast scale-in
    /// sets the group to 0. One: the sleep policy has already waited
    /// `scale_to_zero_idle_minutes` plus the CloudWatch delay before any task stopped.
    pub fast_scale_in_datapoints: usize,
    /// The cold start the scaler is configured with; `None` = the environment's.
    pub scaler_cold_start_seconds: Option<u64>,
    /// Window of the load estimate (mean busy tasks, or the arrival rate).
    pub scaler_load_window_seconds: u64,
    /// What the scaler takes as the load the arrivals put on the fleet.
    pub scaler_load: LoadEstimate,
    /// How long every poll must want fewer tasks before the scaler scales down.
    pub scaler_scale_down_window_seconds: u64,
    /// Window over which "arrivals are frequent" is judged for the scale-to-zero grace.
    pub scaler_activity_window_seconds: u64,
}

impl Default for CandidateSettings {
    fn default() -> Self {
        CandidateSettings {
            fast_scale_in_datapoints: 1,
            scaler_cold_start_seconds: None,
            scaler_load_window_seconds: 60,
            scaler_load: LoadEstimate::BusyMean,
            scaler_scale_down_window_seconds: 60,
            scaler_activity_window_seconds: 900,
        }
    }
}

/// The backlog scaler's estimate of the tasks the arrivals keep busy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadEstimate {
    /// Mean number of busy (scale-in protected) tasks over the window's polls: the
    /// fleet's measured throughput × job_seconds, which equals the offered load while the
    /// fleet keeps up (when it does not, the backlog term grows).
    BusyMean,
    /// Arrival rate × job_seconds, arrivals estimated from successive polls as the growth
    /// of visible + in flight plus completions (mean busy × Δt / job_seconds).
    ArrivalRate,
    /// The busy tasks at this poll only.
    BusyNow,
}

/// The fast-path candidate's scale-in alarm on CapacityProviderReservation.
#[derive(Debug, Clone)]
pub struct FastPathAlarms {
    cpr_zero: AlarmRule,
}

impl FastPathAlarms {
    pub fn new(settings: &CandidateSettings, env: &Environment) -> Self {
        FastPathAlarms {
            cpr_zero: AlarmRule {
                comparison: Comparison::LessThanOrEqual,
                threshold: 0.0,
                datapoints: settings.fast_scale_in_datapoints.max(1),
                delay: env.capacity_metric_delay_seconds,
            },
        }
    }

    /// Whether the alarm is in ALARM at this evaluation (its step policy then sets the
    /// group's desired capacity to 0).
    pub fn scale_in_now(&self, cpr: &MinuteSeries, t: u64) -> bool {
        self.cpr_zero.evaluate(cpr, t) == AlarmState::Alarm
    }
}

/// One poll as the scaler remembers it.
#[derive(Debug, Clone, Copy)]
struct PollSample {
    t: u64,
    /// Visible + in flight.
    queued: f64,
    busy: f64,
    want: u32,
}

/// The backlog scaler Lambda and its persisted state.
#[derive(Debug)]
pub struct BacklogScaler {
    poll_seconds: u64,
    cold_start: f64,
    load_estimate: LoadEstimate,
    rate_window: u64,
    down_window: u64,
    activity_window: u64,
    samples: VecDeque<PollSample>,
    /// First poll of the current run of polls that saw an empty system.
    empty_since: Option<u64>,
}

impl BacklogScaler {
    pub fn new(poll_seconds: u64, env: &Environment, settings: &CandidateSettings) -> Self {
        BacklogScaler {
            poll_seconds: poll_seconds.max(1),
            cold_start: settings
                .scaler_cold_start_seconds
                .unwrap_or_else(|| env.cold_start_seconds()) as f64,
            load_estimate: settings.scaler_load,
            rate_window: settings.scaler_load_window_seconds,
            down_window: settings.scaler_scale_down_window_seconds,
            activity_window: settings.scaler_activity_window_seconds,
            samples: VecDeque::new(),
            empty_since: None,
        }
    }

    /// Jobs that arrived between the oldest remembered poll at or after `since` and a poll
    /// now with `queued` jobs visible or in flight and `busy` busy tasks, with the time
    /// span. Per pair of successive polls: the growth of visible + in flight plus the jobs
    /// completed meanwhile (mean busy × Δt / job_seconds), at least 0 — a pair cannot show
    /// fewer than no arrivals, and a job that came and went unseen by the busy count is
    /// still counted once, when it was visible.
    fn arrivals_since(&self, since: u64, now: u64, queued: f64, busy: f64, job: f64) -> (f64, f64) {
        let Some(start) = self.samples.iter().position(|s| s.t >= since) else {
            return (0.0, 0.0);
        };
        let current = PollSample {
            t: now,
            queued,
            busy,
            want: 0,
        };
        let mut arrived = 0.0;
        let mut prev = self.samples[start];
        for s in self
            .samples
            .iter()
            .skip(start + 1)
            .chain(std::iter::once(&current))
        {
            let completed = (prev.busy + s.busy) / 2.0 * (s.t - prev.t) as f64 / job;
            arrived += (s.queued - prev.queued + completed).max(0.0);
            prev = *s;
        }
        (arrived, (now - self.samples[start].t) as f64)
    }

    /// One poll, if `obs.t` is a poll time: the desired task count and group capacity.
    pub fn poll(&mut self, obs: &Observation, p: &ScalingParams) -> Option<Decision> {
        let t = obs.t;
        if !t.is_multiple_of(self.poll_seconds) {
            return None;
        }
        let job = p.job_seconds;
        let visible = obs.visible_now as f64;
        let queued = visible + obs.in_flight_now as f64;
        let busy = obs.busy_tasks as f64;
        let current = obs.desired_tasks;

        let since = t.saturating_sub(self.rate_window);
        let load = match self.load_estimate {
            LoadEstimate::BusyNow => busy,
            LoadEstimate::BusyMean => {
                let (sum, n) = self
                    .samples
                    .iter()
                    .filter(|s| s.t >= since)
                    .fold((busy, 1.0), |(sum, n), s| (sum + s.busy, n + 1.0));
                sum / n
            }
            LoadEstimate::ArrivalRate => {
                let (arrived, span) = self.arrivals_since(since, t, queued, busy, job);
                if span > 0.0 {
                    arrived / span * job
                } else {
                    busy
                }
            }
        };
        let budget = (p.acceptable_latency_seconds - self.cold_start)
            .max(p.acceptable_latency_seconds / 4.0)
            .max(job);
        let raw = load / p.target_utilization + visible * job / budget;
        let want = ((raw - 1e-9).ceil().max(0.0) as u32).clamp(p.min_tasks, p.max_tasks);

        let empty = queued == 0.0 && busy == 0.0;
        if empty {
            self.empty_since.get_or_insert(t);
        } else {
            self.empty_since = None;
        }

        let mut next = current;
        if want >= current {
            next = want;
        } else {
            // Down to k >= 1: every poll of the window wanted fewer than now.
            let since = t.saturating_sub(self.down_window);
            let covered = self.samples.front().is_some_and(|s| s.t <= since);
            let window_max = self
                .samples
                .iter()
                .filter(|s| s.t >= since)
                .map(|s| s.want)
                .fold(want, u32::max);
            if covered && window_max < current {
                next = window_max.max(1);
            }
            // Down to zero (want is 0 only when min_tasks is 0): an empty system for the
            // grace period.
            if empty && want == 0 {
                let (arrived, span) = self.arrivals_since(
                    t.saturating_sub(self.activity_window),
                    t,
                    queued,
                    busy,
                    job,
                );
                let frequent = span > 0.0 && arrived / span * self.cold_start >= 1.0;
                let grace = if frequent { self.cold_start as u64 } else { 0 };
                if self.empty_since.is_some_and(|s| t - s >= grace) {
                    next = 0;
                }
            }
        }
        let next = next.max(p.min_tasks);
        // Never below the busy tasks: ECS would not stop them anyway.
        let next = next.max(obs.busy_tasks.min(p.max_tasks));

        self.samples.push_back(PollSample {
            t,
            queued,
            busy,
            want,
        });
        let keep = self
            .rate_window
            .max(self.down_window)
            .max(self.activity_window);
        while self.samples.front().is_some_and(|s| s.t + keep < t) {
            self.samples.pop_front();
        }
        Some(Decision {
            desired_tasks: Some(next),
            desired_instances: Some(next),
        })
    }
}

/// What the backlog scaler costs per month (us-east-1 list prices, arm64, 128 MB).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LambdaCost {
    pub poll_seconds: u64,
    pub invocations: f64,
    /// Billed seconds per invocation (the function sleeps between polls, and is billed for it).
    pub billed_seconds: f64,
    pub gb_seconds: f64,
    pub compute: f64,
    pub requests: f64,
    pub sqs_requests: f64,
    pub scheduler: f64,
    pub total: f64,
}

/// Hours in an average month (AWS bills by 730-hour months).
pub const HOURS_PER_MONTH: f64 = 730.0;
/// Lambda arm64 duration price, USD per GB-second: <https://aws.amazon.com/lambda/pricing/>
pub const LAMBDA_ARM_GB_SECOND: f64 = 0.000_013_333_4;
/// Lambda request price, USD per request ($0.20 per million): same page.
pub const LAMBDA_REQUEST: f64 = 0.000_000_2;
/// SQS standard-queue request price, USD per request ($0.40 per million):
/// <https://aws.amazon.com/sqs/pricing/>
pub const SQS_REQUEST: f64 = 0.000_000_4;
/// EventBridge Scheduler, USD per invocation ($1.00 per million):
/// <https://aws.amazon.com/eventbridge/pricing/>
pub const SCHEDULER_INVOCATION: f64 = 0.000_001;
/// Memory of the function: a Rust binary polling four APIs needs no more.
pub const LAMBDA_MEMORY_GB: f64 = 0.125;
/// Wall time of one poll's API calls (GetQueueAttributes, ListTasks, GetTaskProtection,
/// DescribeServices, DescribeAutoScalingGroups; UpdateService when it changes).
pub const POLL_API_SECONDS: f64 = 0.3;

/// Monthly cost of the backlog scaler polling every `poll_seconds` (before the free
/// tiers: 400 000 GB-s and 1 M requests of Lambda, 1 M SQS requests and 14 M Scheduler
/// invocations a month, which would make both variants free on an otherwise idle account).
pub fn lambda_cost(poll_seconds: u64) -> LambdaCost {
    let invocations = HOURS_PER_MONTH * 60.0;
    let polls = (50 / poll_seconds.max(1) + 1) as f64; // :00 … :50
    let billed_seconds = (polls - 1.0) * poll_seconds as f64 + POLL_API_SECONDS;
    let gb_seconds = invocations * billed_seconds * LAMBDA_MEMORY_GB;
    let compute = gb_seconds * LAMBDA_ARM_GB_SECOND;
    let requests = invocations * LAMBDA_REQUEST;
    let sqs_requests = invocations * polls * SQS_REQUEST;
    let scheduler = invocations * SCHEDULER_INVOCATION;
    LambdaCost {
        poll_seconds,
        invocations,
        billed_seconds,
        gb_seconds,
        compute,
        requests,
        sqs_requests,
        scheduler,
        total: compute + requests + sqs_requests + scheduler,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambda_cost_by_hand() {
        // 730 h × 60 = 43 800 invocations; P = 10: 6 polls, 50.3 s billed each.
        let c = lambda_cost(10);
        assert_eq!(c.invocations, 43_800.0);
        assert!((c.billed_seconds - 50.3).abs() < 1e-9);
        assert!((c.gb_seconds - 43_800.0 * 50.3 * 0.125).abs() < 1e-6);
        assert!((c.compute - 275_392.5 * 0.000_013_333_4).abs() < 1e-6);
        // 275 392.5 GB-s × $0.0000133334 = $3.672; 43 800 requests × $0.20 / M = $0.009;
        // 6 × 43 800 GetQueueAttributes × $0.40 / M = $0.105; 43 800 × $1 / M = $0.044.
        assert!((c.requests - 0.00876).abs() < 1e-9);
        assert!((c.sqs_requests - 0.10512).abs() < 1e-9);
        assert!((c.scheduler - 0.0438).abs() < 1e-9);
        assert!((c.total - 3.8296).abs() < 0.001, "{c:?}");
        // P = 60: one poll, 0.3 s.
        let c = lambda_cost(60);
        assert!((c.billed_seconds - 0.3).abs() < 1e-9);
        assert!(c.total < 0.1, "{c:?}");
    }
}
