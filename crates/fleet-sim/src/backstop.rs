//! The backlog scaler's backstop, as `terraform/modules/backlog_scaler/backstop.tf`
//! deploys it: what scales the fleet out when the scaler is silent (stopped, throttled,
//! failing every poll, a bad deploy, reserved concurrency 0).
//!
//! Two CloudWatch alarms, each on a metric-math expression, where heartbeat is the
//! SampleCount of the scaler's own `DesiredTasks` EMF metric (one sample per successful
//! poll), and two step policies, both ChangeInCapacity with only positive steps, so
//! they can only add:
//! - *tasks*: `IF(FILL(heartbeat, 0) == 0, FILL(visible, 0), 0) > 0` for
//!   [`SILENT_MINUTES`] consecutive minutes (visible: the queue's
//!   ApproximateNumberOfMessagesVisible) → Application Auto Scaling on the service's
//!   desired count, the wake policy's steps (+1 per `T = floor(acceptable_latency /
//!   job_seconds)` visible jobs, capped at max_tasks), cooldown `cold_start_seconds`
//!   (during a scale-out cooldown a further scale-out happens only for a larger step than
//!   the one in progress:
//!   <https://docs.aws.amazon.com/autoscaling/application/userguide/step-scaling-policy-overview.html>);
//! - *instances*: `IF(FILL(heartbeat, 0) == 0, FILL(desired, 0) - FILL(group, 0), 0) > 0.5`
//!   for one minute (desired: Container Insights' DesiredTaskCount; group: the group's
//!   GroupDesiredCapacity) → EC2 Auto Scaling on the group, +1 instance per task the
//!   group lacks, instance warm-up likewise (instances still warming count
//!   toward the next step:
//!   <https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-default-instance-warmup.html>).
//!   The group follows the service, one task per instance; one datapoint is enough
//!   because a live scaler never leaves the group below the service.
//!
//! Auto Scaling alarm actions, unlike the others, are invoked again every minute the
//! alarm stays in ALARM
//! (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarm-actions.html>),
//! so a backlog that persists keeps adding a step per cooldown, up to max_tasks.
//!
//! Why it never fights the scaler: while the scaler polls, the heartbeat has samples and
//! the expression is 0; it adds only, and the scaler, once back, removes what it does
//! not need (idle tasks by the desired count, empty instances one by one). Its datapoints
//! are one CloudWatch delay late, so in the minutes after the scaler returns it can add
//! at most the step in progress once more, which the scaler then removes. What it
//! cannot do: scale in. Every instance is protected from scale-in, and a group whose
//! instances are all protected lowers its desired capacity on a scale-in but terminates
//! none (<https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-instance-protection.html>),
//! so a fleet frozen by a dead scaler keeps its instances until the scaler returns;
//! the not-running and errors alarms (modules/monitoring) page after 3 minutes.

use crate::cloudwatch::{AlarmRule, AlarmState, Comparison, MinuteSeries};
use crate::params::{Environment, ScalingParams};
use crate::policy::{wake_step, Decision};

/// Consecutive one-minute datapoints without a heartbeat and with jobs visible before the
/// backstop acts: as the scaler's not-running alarm, so one missed schedule tick (or a
/// Lambda cold start) never triggers it.
pub const SILENT_MINUTES: usize = 3;

/// The tasks alarm's expression, as `backstop.tf` spells it.
pub const TASKS_EXPRESSION: &str = "IF(FILL(heartbeat, 0) == 0, FILL(visible, 0), 0)";
/// The instances alarm's expression, as `backstop.tf` spells it.
pub const INSTANCES_EXPRESSION: &str =
    "IF(FILL(heartbeat, 0) == 0, FILL(desired, 0) - FILL(group, 0), 0)";
/// The heartbeat: this statistic of the scaler's own metric (crates/backlog-scaler).
pub const HEARTBEAT_METRIC: &str = "DesiredTasks";
pub const HEARTBEAT_STAT: &str = "SampleCount";

/// Both policies' cooldown (warm-up): a step's effect must be in the tasks alarm's data
/// before the next step — the instances alarm's datapoint and delay, a cold start, then
/// the tasks alarm's datapoint and delay (else stale datapoints add a task per cooldown
/// to a single job, as the alarms mode's first draft did).
pub fn cooldown_seconds(cold_start_seconds: u64, metric_delay_seconds: u64) -> u64 {
    cold_start_seconds + 2 * (60 + metric_delay_seconds)
}

/// One step policy's cooldown (Application Auto Scaling) or warm-up (EC2 Auto Scaling):
/// during it a new step adds only what exceeds the step in progress.
#[derive(Debug, Default)]
struct StepInProgress {
    started: Option<u64>,
    base: u32,
}

impl StepInProgress {
    fn apply(&mut self, t: u64, cooldown: u64, current: u32, step: u32) -> u32 {
        if self.started.is_some_and(|s| t < s + cooldown) {
            current.max(self.base + step)
        } else {
            self.started = Some(t);
            self.base = current;
            current + step
        }
    }
}

/// The backstop's two alarms and its two step policies.
#[derive(Debug)]
pub struct Backstop {
    tasks_alarm: AlarmRule,
    /// `IF(FILL(heartbeat, 0) == 0, FILL(visible, 0), 0)`, one datapoint per minute.
    tasks_metric: MinuteSeries,
    group_alarm: AlarmRule,
    /// `IF(FILL(heartbeat, 0) == 0, FILL(desired, 0) - FILL(group, 0), 0)`.
    group_metric: MinuteSeries,
    cooldown: u64,
    polls_this_minute: u32,
    tasks_step: StepInProgress,
    group_step: StepInProgress,
}

impl Backstop {
    pub fn new(params: &ScalingParams, env: &Environment) -> Self {
        let delay = env.metric_delay_seconds;
        Backstop {
            tasks_alarm: AlarmRule {
                comparison: Comparison::GreaterThan,
                threshold: 0.0,
                datapoints: SILENT_MINUTES,
                delay,
            },
            tasks_metric: MinuteSeries::default(),
            group_alarm: AlarmRule {
                comparison: Comparison::GreaterThan,
                threshold: 0.5,
                datapoints: 1,
                delay,
            },
            group_metric: MinuteSeries::default(),
            cooldown: cooldown_seconds(params.cold_start_seconds, delay),
            polls_this_minute: 0,
            tasks_step: StepInProgress::default(),
            group_step: StepInProgress::default(),
        }
    }

    /// The scaler polled and emitted its metrics: one heartbeat sample.
    pub fn heartbeat(&mut self) {
        self.polls_this_minute += 1;
    }

    /// At a minute boundary, with the datapoints of the minute that closed (`visible`,
    /// and the service's and the group's desired counts): records the backstop's
    /// datapoints and returns the two policies' scale-out while their alarms are in
    /// ALARM. `tasks` and `instances` are the desired counts now.
    #[allow(clippy::too_many_arguments)]
    pub fn minute(
        &mut self,
        t: u64,
        visible: Option<f64>,
        desired_datapoint: Option<f64>,
        group_datapoint: f64,
        tasks: u32,
        instances: u32,
        params: &ScalingParams,
    ) -> Option<Decision> {
        let silent = self.polls_this_minute == 0;
        self.polls_this_minute = 0;
        let fill = |v: Option<f64>| v.unwrap_or(0.0);
        self.tasks_metric
            .push(Some(if silent { fill(visible) } else { 0.0 }));
        self.group_metric.push(Some(if silent {
            fill(desired_datapoint) - group_datapoint
        } else {
            0.0
        }));
        let mut out = Decision {
            scale_out_only: true,
            ..Decision::default()
        };
        if self.tasks_alarm.evaluate(&self.tasks_metric, t) == AlarmState::Alarm {
            let v = self.tasks_metric.latest(t, self.tasks_alarm.delay);
            let step = wake_step(fill(v), params);
            let want = self.tasks_step.apply(t, self.cooldown, tasks, step);
            out.desired_tasks = Some(want.min(params.max_tasks).max(tasks));
        }
        if self.group_alarm.evaluate(&self.group_metric, t) == AlarmState::Alarm {
            let lacking = fill(self.group_metric.latest(t, self.group_alarm.delay));
            let step = lacking.round().max(1.0) as u32;
            let want = self.group_step.apply(t, self.cooldown, instances, step);
            // The group's max_size (2 × max_tasks, room for a deployment) caps it.
            out.desired_instances = Some(want.min(2 * params.max_tasks).max(instances));
        }
        (out.desired_tasks.is_some() || out.desired_instances.is_some()).then_some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> ScalingParams {
        ScalingParams::from_json_str(include_str!("../../../terraform/scaling.json")).unwrap()
    }

    fn env() -> Environment {
        Environment {
            metric_delay_seconds: 0,
            ..Environment::default()
        }
    }

    #[test]
    fn acts_only_after_silent_minutes_with_jobs_visible() {
        let p = params();
        let mut b = Backstop::new(&p, &env());
        // Two silent minutes with jobs visible: not yet.
        assert_eq!(b.minute(60, Some(5.0), Some(0.0), 0.0, 0, 0, &p), None);
        assert_eq!(b.minute(120, Some(5.0), Some(0.0), 0.0, 0, 0, &p), None);
        let d = b.minute(180, Some(5.0), Some(0.0), 0.0, 0, 0, &p).unwrap();
        assert_eq!(d.desired_tasks, Some(1));
        assert!(d.scale_out_only);
        // A heartbeat in the minute resets it.
        let mut b = Backstop::new(&p, &env());
        b.minute(60, Some(5.0), Some(0.0), 0.0, 0, 0, &p);
        b.heartbeat();
        b.minute(120, Some(5.0), Some(0.0), 0.0, 0, 0, &p);
        assert_eq!(b.minute(180, Some(5.0), Some(0.0), 0.0, 0, 0, &p), None);
        // Nothing visible: nothing to do, however long the silence.
        let mut b = Backstop::new(&p, &env());
        for m in 1..10 {
            assert_eq!(b.minute(60 * m, Some(0.0), Some(0.0), 0.0, 0, 0, &p), None);
        }
    }

    #[test]
    fn group_follows_the_service_and_never_lowers() {
        let p = params();
        let mut b = Backstop::new(&p, &env());
        // Service at 3, group at 1: +2 instances in one step.
        let d = b.minute(60, Some(0.0), Some(3.0), 1.0, 3, 1, &p).unwrap();
        assert_eq!((d.desired_tasks, d.desired_instances), (None, Some(3)));
        // During the warm-up the same lack adds nothing more.
        let d = b.minute(120, Some(0.0), Some(3.0), 1.0, 3, 3, &p).unwrap();
        assert_eq!(d.desired_instances, Some(3));
        // A group above the service is left alone.
        let mut b = Backstop::new(&p, &env());
        assert_eq!(b.minute(60, Some(0.0), Some(1.0), 4.0, 1, 4, &p), None);
    }
}
