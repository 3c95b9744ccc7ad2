//! The candidate designs beyond the alarms mode (none of them is deployed; the deployed
//! backlog scaler is [`crate::backlog_scaler`]). The alarms mode is [`crate::policy::deployed`], held to
//! `terraform/modules/scaling` by `tests/terraform_drift.rs`. Each rule modelled cites
//! its AWS documentation.
//!
//! # 1. Alarms mode + fast paths ([`PolicyKind::FastPaths`], [`PolicyKind::FastPathsRegisteredOnly`])
//!
//! The alarms mode (`scaling_mode = "alarms"`, [`PolicyKind::OursAlarms`]) plus three changes:
//! - (a) an EC2 Auto Scaling *step scaling* policy on the same wake alarm, adjustment
//!   type `ExactCapacity`, with the wake policy's intervals: the group's desired capacity
//!   becomes the number of tasks the wake policy starts. EC2 Auto Scaling step policies
//!   have no cooldown (they use the instance warm-up instead), and an alarm with an Auto
//!   Scaling action re-invokes it every minute it stays in ALARM:
//!   <https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-default-instance-warmup.html>,
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
//!   before managed scaling does, and the cost would be the alarms mode's. containers-roadmap#2814
//!   reports protection not being lifted for daemon-only instances; this service runs no
//!   daemon tasks.
//! - (c) the sleep alarm counts arrivals: [`SLEEP_WITH_ARRIVALS`], so a minute in which a
//!   job was sent is never idle.
//!

pub use facerec_backlog_policy::LoadEstimate;

use crate::cloudwatch::{AlarmRule, AlarmState, Comparison, MinuteSeries};
use crate::params::Environment;

#[cfg(doc)]
use crate::policy::PolicyKind;

/// The fast-path candidate's sleep alarm expression (ours' is `deployed::SLEEP`).
pub const SLEEP_WITH_ARRIVALS: &str = "visible + in_flight + FILL(sent, 0)";

/// The candidates' own settings (design choices, not Terraform variables today), and
/// the backlog scaler's load estimate (varied only for the comparison in docs/scaling.md;
/// the Lambda always uses the default).
#[derive(Debug, Clone, PartialEq)]
pub struct CandidateSettings {
    /// Consecutive CapacityProviderReservation == 0 datapoints before the fast scale-in
    /// sets the group to 0. One: the sleep policy has already waited
    /// `scale_to_zero_idle_minutes` plus the CloudWatch delay before any task stopped.
    pub fast_scale_in_datapoints: usize,
    /// What the backlog scaler takes as the load the arrivals put on the fleet.
    pub scaler_load: LoadEstimate,
    /// Whether the backlog scaler's backstop is deployed (`backstop.tf`; on by default,
    /// off only to show what it buys).
    pub backstop: bool,
}

impl Default for CandidateSettings {
    fn default() -> Self {
        CandidateSettings {
            fast_scale_in_datapoints: 1,
            scaler_load: LoadEstimate::BusyMean,
            backstop: true,
        }
    }
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
