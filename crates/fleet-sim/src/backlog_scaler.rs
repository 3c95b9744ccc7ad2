//! The backlog scaler as the simulator runs it: the deployed design
//! ([`PolicyKind::Ours`]) and its 60-s-poll variant ([`PolicyKind::BacklogScaler60`]),
//! with what it costs a month.
//!
//! A small Lambda (`crates/backlog-scaler`) on an EventBridge Scheduler `rate(1 minute)`
//! schedule (<https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html#rate-based>;
//! one minute is the smallest rate). Each invocation polls SQS GetQueueAttributes
//! (ApproximateNumberOfMessages, ApproximateNumberOfMessagesNotVisible:
//! <https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_GetQueueAttributes.html>)
//! and ECS GetTaskProtection (the worker keeps task scale-in protection on exactly while it
//! holds messages: <https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_GetTaskProtection.html>)
//! every P seconds for up to 50 s (P = `scaler_poll_seconds`, 10: polls at :00, :10 …
//! :50; the 60-s variant: one poll), and sets the service's desired count (UpdateService:
//! <https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_UpdateService.html>) and
//! raises the group's desired capacity (SetDesiredCapacity:
//! <https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_SetDesiredCapacity.html>)
//! itself. Its few numbers of state (the last 15 minutes of poll samples) persist between
//! invocations in an SSM parameter (standard tier, no charge).
//!
//! Interaction chosen: capacity-provider **managed scaling disabled** (and with it managed
//! termination protection, which requires it:
//! <https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_AutoScalingGroupProvider.html>),
//! no Application Auto Scaling target on the service (the scaler is the only writer of the
//! desired count). Why it is safe:
//! - The group keeps `protect_from_scale_in = true` on every instance and has no scaling
//!   policy, so the group itself never picks an instance to terminate on scale-in. The
//!   scaler removes instances only with TerminateInstanceInAutoScalingGroup
//!   (should-decrement-desired-capacity = true), which scale-in protection does not block
//!   (<https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-instance-protection.html>,
//!   <https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_TerminateInstanceInAutoScalingGroup.html>),
//!   and only on a registered ACTIVE container instance that runs no task: it first sets
//!   it DRAINING (no new task is placed on it:
//!   <https://docs.aws.amazon.com/AmazonECS/latest/developerguide/container-instance-draining.html>),
//!   re-reads runningTasksCount + pendingTasksCount = 0 (DescribeContainerInstances), then
//!   terminates. Instances still booting (no container instance yet) are left alone: they
//!   are counted, and the next polls terminate them once registered if still not needed.
//! - It lowers the service's desired count only to at least the busy (protected) tasks;
//!   ECS never stops a protected task on scale-in
//!   (<https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-scale-in-protection.html>),
//!   so only idle tasks stop. It never lowers the group's desired capacity with
//!   SetDesiredCapacity (only the terminate call decrements it), so two writers can never
//!   disagree about which instance goes.
//! - Spot interruptions are unchanged: the handler drains, the service replaces the task,
//!   the group replaces the instance to keep its desired capacity.
//! - If the Lambda stops running ([`Environment::scaler_outages`]), its backstop
//!   ([`crate::backstop`]) scales the fleet out while jobs wait; nothing scales in.
//!
//! The desired count at each poll is [`facerec_backlog_policy::BacklogPolicy`]'s (its
//! crate documents the rule): the simulator runs the Lambda's own code, with the
//! parameters `terraform/scaling.json` gives the Lambda.

use facerec_backlog_policy::{BacklogPolicy, Observation as PolicyObservation};

use crate::backstop::Backstop;
use crate::candidates::CandidateSettings;
use crate::params::{Environment, ScalerOutage, ScalingParams};
use crate::policy::{Decision, Observation};

#[cfg(doc)]
use crate::policy::PolicyKind;

/// The Lambda's `RUN_SECONDS` (its default): the last poll of an invocation is at most this
/// far into it, which leaves its 60-s timeout room for the last poll's calls and the state
/// write.
pub const SCALER_RUN_SECONDS: u64 = 50;

/// The backlog scaler Lambda: its rule ([`BacklogPolicy`], the deployed code) at the polls
/// of its schedule.
#[derive(Debug)]
pub struct BacklogScaler {
    poll_seconds: u64,
    policy: BacklogPolicy,
    params: ScalingParams,
    outages: Vec<ScalerOutage>,
    backstop: Option<Backstop>,
}

impl BacklogScaler {
    pub fn new(
        poll_seconds: u64,
        params: &ScalingParams,
        env: &Environment,
        settings: &CandidateSettings,
    ) -> Self {
        BacklogScaler {
            poll_seconds: poll_seconds.max(1),
            policy: BacklogPolicy::new(params.policy_config(settings.scaler_load)),
            params: params.clone(),
            outages: env.scaler_outages.clone(),
            backstop: settings.backstop.then(|| Backstop::new(params, env)),
        }
    }

    /// This second: the backstop's minute (at a minute boundary), then the scaler's poll
    /// unless it is in an outage. Both may act in one second: the poll's desired count is
    /// the later write; the group keeps the higher of the two (the scaler only raises it
    /// with SetDesiredCapacity, and removes instances one by one at later polls).
    pub fn decide(&mut self, obs: &Observation) -> Option<Decision> {
        let mut out = None;
        if obs.minute_boundary {
            if let Some(b) = self.backstop.as_mut() {
                let newest =
                    |s: &crate::cloudwatch::MinuteSeries| s.points.last().copied().flatten();
                out = b.minute(
                    obs.t,
                    newest(&obs.metrics.visible),
                    newest(&obs.metrics.desired),
                    obs.group_desired as f64,
                    obs.desired_tasks,
                    obs.group_desired,
                    &self.params,
                );
            }
        }
        if self.outages.iter().any(|o| o.covers(obs.t)) {
            return out;
        }
        let Some(mut polled) = self.poll(obs) else {
            return out;
        };
        if let Some(b) = self.backstop.as_mut() {
            b.heartbeat();
        }
        if let Some(backstop) = out.and_then(|d| d.desired_instances) {
            polled.desired_instances = polled.desired_instances.max(Some(backstop));
        }
        Some(polled)
    }

    /// One poll, if `obs.t` is a poll time: the desired task count and group capacity.
    /// The Lambda is invoked at every minute and polls at 0, P, 2P … ≤ [`SCALER_RUN_SECONDS`]
    /// seconds into it (for P = 10: every 10 s; for P = 60: once a minute).
    pub fn poll(&mut self, obs: &Observation) -> Option<Decision> {
        let into_minute = obs.t % 60;
        if !into_minute.is_multiple_of(self.poll_seconds) || into_minute > SCALER_RUN_SECONDS {
            return None;
        }
        let d = self.policy.poll(&PolicyObservation {
            t: obs.t,
            visible: obs.visible_now as u64,
            in_flight: obs.in_flight_now as u64,
            busy_tasks: obs.busy_tasks,
            desired_tasks: obs.desired_tasks,
        });
        Some(Decision {
            desired_tasks: Some(d.desired_tasks),
            desired_instances: Some(d.desired_tasks),
            scale_out_only: false,
        })
    }
}

/// What the backlog scaler costs per month (us-east-1 list prices, 128 MB).
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
/// Lambda x86_64 duration price, USD per GB-second: same page.
pub const LAMBDA_X86_GB_SECOND: f64 = 0.000_016_666_7;
/// Lambda request price, USD per request ($0.20 per million): same page.
pub const LAMBDA_REQUEST: f64 = 0.000_000_2;
/// SQS standard-queue request price, USD per request ($0.40 per million):
/// <https://aws.amazon.com/sqs/pricing/>
pub const SQS_REQUEST: f64 = 0.000_000_4;
/// EventBridge Scheduler, USD per invocation ($1.00 per million):
/// <https://aws.amazon.com/eventbridge/pricing/>
pub const SCHEDULER_INVOCATION: f64 = 0.000_001;
/// Memory of the function: a Rust binary polling five APIs needs no more.
pub const LAMBDA_MEMORY_GB: f64 = 0.125;
/// Wall time of one poll's API calls (GetQueueAttributes, ListTasks, GetTaskProtection,
/// DescribeServices, DescribeAutoScalingGroups; UpdateService when it changes).
pub const POLL_API_SECONDS: f64 = 0.3;

/// Monthly cost of the backlog scaler polling every `poll_seconds` (before the free
/// tiers: 400 000 GB-s and 1 M requests of Lambda, 1 M SQS requests and 14 M Scheduler
/// invocations a month, which would make both variants free on an otherwise idle account).
pub fn lambda_cost(poll_seconds: u64) -> LambdaCost {
    lambda_cost_at(poll_seconds, LAMBDA_ARM_GB_SECOND)
}

/// [`lambda_cost`] at another duration price (x86_64: [`LAMBDA_X86_GB_SECOND`]).
pub fn lambda_cost_at(poll_seconds: u64, gb_second_price: f64) -> LambdaCost {
    let invocations = HOURS_PER_MONTH * 60.0;
    let polls = (50 / poll_seconds.max(1) + 1) as f64; // :00 … :50
    let billed_seconds = (polls - 1.0) * poll_seconds as f64 + POLL_API_SECONDS;
    let gb_seconds = invocations * billed_seconds * LAMBDA_MEMORY_GB;
    let compute = gb_seconds * gb_second_price;
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
        // x86_64: 275 392.5 GB-s × $0.0000166667 = $4.590, total $4.748.
        let x86 = lambda_cost_at(10, LAMBDA_X86_GB_SECOND);
        assert!((x86.compute - 4.589_97).abs() < 0.001, "{x86:?}");
        assert!((x86.total - 4.7477).abs() < 0.001, "{x86:?}");
        // P = 60: one poll, 0.3 s.
        let c = lambda_cost(60);
        assert!((c.billed_seconds - 0.3).abs() < 1e-9);
        assert!(c.total < 0.1, "{c:?}");
    }
}
