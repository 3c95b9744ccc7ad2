//! The handler proper: an SQS batch of EventBridge events in, batch item failures out.
//!
//! Per record: parse ([`crate::event`]), de-duplicate by event id within the batch, act
//! on the cluster ([`crate::fleet`]), then log and emit metrics for the outcome. Records
//! about different instances run concurrently, so a termination hook waiting on its tasks
//! never delays a Spot warning for another instance further down the batch; records
//! about the same instance run in batch order, so two of them never both count its
//! interruption. Only [`FleetError::Transient`] failures are reported back to SQS for
//! redelivery; everything else is logged and dropped, because a retry would see the same
//! input.

use std::collections::HashSet;
use std::time::Duration;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use futures_util::future::join_all;
use tokio::time::Instant;

use crate::config::HandlerConfig;
use crate::event::{parse_body, Interruption, LifecycleAction, Notice, ParsedEvent};
use crate::fleet::{marks, ClusterControl, ContainerInstance, FleetError, LifecycleHooks};
use crate::metrics::{EmfLine, MetricsSink, Unit};

/// Why a record was dropped without acting on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SkipReason {
    /// The body is not an EventBridge event we can read.
    Malformed(String),
    /// A well-formed event of another detail type.
    UnknownDetailType(String),
    /// The EC2 instance has no container instance in our cluster.
    NotInCluster,
    /// A lifecycle action of an Auto Scaling group other than `AUTOSCALING_GROUP_NAME`.
    OtherAutoScalingGroup(String),
    /// A lifecycle action of a hook other than `LIFECYCLE_HOOK_NAME` (ECS managed
    /// draining's `ecs-managed-draining-termination-hook`, say), or any hook when no
    /// hook is configured. Never completed: its owner answers it.
    OtherHook(String),
}

impl SkipReason {
    /// Stable name for the `Reason` metric dimension.
    pub fn label(&self) -> &'static str {
        match self {
            SkipReason::Malformed(_) => "malformed",
            SkipReason::UnknownDetailType(_) => "unknown-detail-type",
            SkipReason::NotInCluster => "not-in-cluster",
            SkipReason::OtherAutoScalingGroup(_) => "other-autoscaling-group",
            SkipReason::OtherHook(_) => "other-hook",
        }
    }
}

/// How the wait between draining and answering a termination hook ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WaitEnd {
    /// The container instance runs no task any more (running + pending = 0).
    TasksStopped,
    /// The container instance left the cluster while we waited: its tasks are gone.
    Deregistered,
    /// The EC2 instance is not (or no longer) in our cluster: nothing to wait for.
    NotInCluster,
    /// `LIFECYCLE_MAX_WAIT_SECONDS` ran out with tasks still running.
    BoundReached,
    /// A heartbeat found the lifecycle action over (completed by someone else, or timed
    /// out): there is nothing left to complete.
    ActionEnded,
    /// Draining failed with a permanent error. The hook is completed with CONTINUE
    /// anyway: retrying would fail the same way, and holding the hook would only delay
    /// the termination until its heartbeat timeout.
    DrainFailed(FleetError),
}

/// What the handler did with one SQS record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordOutcome {
    /// We set the container instance DRAINING.
    Drained {
        container_instance_arn: String,
    },
    /// It was DRAINING already (ECS managed draining, or an earlier delivery).
    AlreadyDraining {
        container_instance_arn: String,
    },
    /// A rebalance recommendation with capacity rebalancing off: counted, not acted on.
    Recorded {
        container_instance_arn: String,
    },
    /// Our termination hook is no longer pending.
    LifecycleDone {
        /// `None` when the instance was not in the cluster (or draining it failed).
        container_instance_arn: Option<String>,
        wait: WaitEnd,
        /// True when Auto Scaling accepted our `CompleteLifecycleAction` (CONTINUE);
        /// false when the action had already ended ("No active Lifecycle Action found").
        continued: bool,
    },
    /// The same event id appeared earlier in this batch.
    Duplicate,
    Skipped(SkipReason),
    /// An AWS call failed; transient failures are redelivered by SQS.
    Failed(FleetError),
}

impl RecordOutcome {
    fn label(&self) -> &'static str {
        match self {
            RecordOutcome::Drained { .. } => "drained",
            RecordOutcome::AlreadyDraining { .. } => "already-draining",
            RecordOutcome::Recorded { .. } => "recorded",
            RecordOutcome::LifecycleDone { .. } => "lifecycle-done",
            RecordOutcome::Duplicate => "duplicate",
            RecordOutcome::Skipped(_) => "skipped",
            RecordOutcome::Failed(_) => "failed",
        }
    }
}

/// One record's result, keyed by its SQS message id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordResult {
    pub message_id: String,
    /// The EventBridge event id (the SQS message id when the event has none).
    pub event_id: Option<String>,
    pub outcome: RecordOutcome,
}

/// Results of a whole batch, in record order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    pub records: Vec<RecordResult>,
}

impl BatchOutcome {
    /// The partial batch response: only transiently failed records are redelivered.
    pub fn response(&self) -> SqsBatchResponse {
        let mut response = SqsBatchResponse::default();
        response.batch_item_failures = self
            .records
            .iter()
            .filter(|r| matches!(&r.outcome, RecordOutcome::Failed(e) if e.is_transient()))
            .map(|r| {
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = r.message_id.clone();
                failure
            })
            .collect();
        response
    }
}

/// The Spot interruption handler: configuration, the AWS side, a metrics sink.
pub struct SpotHandler<F, M> {
    config: HandlerConfig,
    fleet: F,
    metrics: M,
}

/// A notice to act on, with its place in the batch.
struct Pending {
    index: usize,
    message_id: String,
    notice: Notice,
}

/// The result of draining an instance that is in our cluster.
struct Drain {
    instance: ContainerInstance,
    was_draining: bool,
}

impl<F, M> SpotHandler<F, M>
where
    F: ClusterControl + LifecycleHooks,
    M: MetricsSink,
{
    pub fn new(config: HandlerConfig, fleet: F, metrics: M) -> Self {
        Self {
            config,
            fleet,
            metrics,
        }
    }

    pub fn metrics(&self) -> &M {
        &self.metrics
    }

    pub fn fleet(&self) -> &F {
        &self.fleet
    }

    /// The Lambda entry point: what `lambda_runtime` calls for each invocation.
    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        self.handle_batch(event).await.response()
    }

    /// Handles every record of the batch and reports each one's outcome.
    pub async fn handle_batch(&self, event: SqsEvent) -> BatchOutcome {
        let mut seen = HashSet::new();
        let mut results: Vec<Option<RecordResult>> = Vec::with_capacity(event.records.len());
        // Notices to act on, one group per EC2 instance, in order of first appearance.
        let mut by_instance: Vec<(String, Vec<Pending>)> = Vec::new();
        for (index, message) in event.records.iter().enumerate() {
            let message_id = message.message_id.clone().unwrap_or_default();
            let decided = match parse_body(message.body.as_deref()) {
                Err(e) => Some((None, skip_malformed(message, e))),
                Ok(ParsedEvent::Unrecognised {
                    id, detail_type, ..
                }) => Some((
                    id,
                    RecordOutcome::Skipped(SkipReason::UnknownDetailType(detail_type)),
                )),
                Ok(ParsedEvent::Notice(mut notice)) => {
                    if notice.id.is_empty() {
                        notice.id = message_id.clone();
                    }
                    if !seen.insert(notice.id.clone()) {
                        Some((Some(notice.id), RecordOutcome::Duplicate))
                    } else {
                        let instance = notice.interruption.instance_id().to_string();
                        let pending = Pending {
                            index,
                            message_id: message_id.clone(),
                            notice,
                        };
                        match by_instance.iter_mut().find(|(id, _)| *id == instance) {
                            Some((_, group)) => group.push(pending),
                            None => by_instance.push((instance, vec![pending])),
                        }
                        None
                    }
                }
            };
            results.push(decided.map(|(event_id, outcome)| {
                let result = RecordResult {
                    message_id,
                    event_id,
                    outcome,
                };
                self.report(&result);
                result
            }));
        }
        let acted = join_all(by_instance.into_iter().map(|(_, group)| async move {
            let mut done = Vec::with_capacity(group.len());
            for pending in group {
                let outcome = self.act(&pending.notice).await;
                let result = RecordResult {
                    message_id: pending.message_id,
                    event_id: Some(pending.notice.id),
                    outcome,
                };
                self.report(&result);
                done.push((pending.index, result));
            }
            done
        }))
        .await;
        for (index, result) in acted.into_iter().flatten() {
            results[index] = Some(result);
        }
        BatchOutcome {
            records: results
                .into_iter()
                .map(|r| r.expect("every record is decided at parse time or acted on"))
                .collect(),
        }
    }

    async fn act(&self, notice: &Notice) -> RecordOutcome {
        match &notice.interruption {
            Interruption::SpotWarning { .. } => self.drain_outcome(notice).await,
            Interruption::RebalanceRecommendation { .. } if self.config.capacity_rebalance => {
                self.drain_outcome(notice).await
            }
            Interruption::RebalanceRecommendation { .. } => self.record_rebalance(notice).await,
            Interruption::TerminateLifecycle(action) => self.terminate(notice, action).await,
        }
    }

    async fn drain_outcome(&self, notice: &Notice) -> RecordOutcome {
        match self.drain(notice).await {
            Ok(Some(d)) if d.was_draining => RecordOutcome::AlreadyDraining {
                container_instance_arn: d.instance.arn,
            },
            Ok(Some(d)) => RecordOutcome::Drained {
                container_instance_arn: d.instance.arn,
            },
            Ok(None) => RecordOutcome::Skipped(SkipReason::NotInCluster),
            Err(e) => RecordOutcome::Failed(e),
        }
    }

    /// Capacity rebalancing off: count the recommendation once per instance, and not at
    /// all once the instance's interruption has been counted.
    async fn record_rebalance(&self, notice: &Notice) -> RecordOutcome {
        match self
            .fleet
            .find_by_ec2_instance(notice.interruption.instance_id())
            .await
        {
            Ok(Some(ci)) => {
                if !ci.has_mark(marks::INTERRUPTION_COUNTED)
                    && !ci.has_mark(marks::REBALANCE_RECORDED)
                {
                    self.put_mark(notice, &ci, marks::REBALANCE_RECORDED).await;
                    self.count_interruption(notice, &ci);
                }
                RecordOutcome::Recorded {
                    container_instance_arn: ci.arn,
                }
            }
            Ok(None) => RecordOutcome::Skipped(SkipReason::NotInCluster),
            Err(e) => RecordOutcome::Failed(e),
        }
    }

    /// Finds the instance in our cluster and sets it DRAINING unless it already is.
    /// `None` when it is not (or no longer) in the cluster. The first notice that drains
    /// an instance counts its interruption (and its drain latency); later ones, and
    /// redeliveries, find the mark and count nothing.
    async fn drain(&self, notice: &Notice) -> Result<Option<Drain>, FleetError> {
        let instance_id = notice.interruption.instance_id();
        let Some(instance) = self.fleet.find_by_ec2_instance(instance_id).await? else {
            return Ok(None);
        };
        let was_draining = instance.is_draining();
        if !was_draining && !self.fleet.set_draining(&instance.arn).await? {
            return Ok(None);
        }
        if !instance.has_mark(marks::INTERRUPTION_COUNTED) {
            self.put_mark(notice, &instance, marks::INTERRUPTION_COUNTED)
                .await;
            self.count_interruption(notice, &instance);
            if let Some(ms) = millis_since(notice) {
                EmfLine::new(&self.config.metrics_namespace)
                    .metric("DrainLatency", Unit::Milliseconds, ms)
                    .dimensions(&["EventType"])
                    .property("EventType", notice.interruption.kind())
                    .property("InstanceId", instance_id)
                    .property("EventId", notice.id.as_str())
                    // Already DRAINING before the handler first saw it: ECS managed draining
                    // (or the agent's own Spot draining) got there first.
                    .property("DrainedBy", if was_draining { "ecs" } else { "handler" })
                    .emit(&self.metrics);
            }
        }
        Ok(Some(Drain {
            instance,
            was_draining,
        }))
    }

    /// Remembers on the instance what has been counted. Only metric de-duplication
    /// depends on it, so a failure (e.g. `ecs:PutAttributes` not granted) is logged and
    /// the handler carries on: at worst a redelivery counts the instance again.
    async fn put_mark(&self, notice: &Notice, instance: &ContainerInstance, name: &str) {
        if let Err(error) = self
            .fleet
            .mark(&instance.arn, name, notice.interruption.kind())
            .await
        {
            tracing::warn!(
                event_id = %notice.id,
                instance_id = %instance.ec2_instance_id,
                mark = name,
                %error,
                "could not mark the container instance; a redelivery may count it again"
            );
        }
    }

    /// Our hook only: drains, waits (bounded, heartbeating) for the tasks to stop, then
    /// completes the hook with CONTINUE. An instance outside the cluster is completed at
    /// once (the hook is ours, and leaving it pending would stall the termination until
    /// the heartbeat timeout); so is one that cannot be drained for a permanent reason.
    /// Never ABANDON: for a termination hook it would also cut short any other hook.
    async fn terminate(&self, notice: &Notice, action: &LifecycleAction) -> RecordOutcome {
        if let Some(group) = &self.config.autoscaling_group {
            if *group != action.group_name {
                return RecordOutcome::Skipped(SkipReason::OtherAutoScalingGroup(
                    action.group_name.clone(),
                ));
            }
        }
        if self.config.lifecycle_hook.as_deref() != Some(action.hook_name.as_str()) {
            return RecordOutcome::Skipped(SkipReason::OtherHook(action.hook_name.clone()));
        }
        let (container_instance_arn, wait) = match self.drain(notice).await {
            Ok(Some(d)) => {
                let wait = self.wait_for_tasks(notice, action, &d.instance).await;
                (Some(d.instance.arn), wait)
            }
            Ok(None) => (None, WaitEnd::NotInCluster),
            // The hook is still pending; a redelivery may drain it.
            Err(e) if e.is_transient() => return RecordOutcome::Failed(e),
            Err(e) => {
                tracing::error!(
                    event_id = %notice.id,
                    instance_id = %action.instance_id,
                    error = %e,
                    "cannot drain; completing the hook with CONTINUE rather than holding the termination"
                );
                (None, WaitEnd::DrainFailed(e))
            }
        };
        let stop_latency = match wait {
            WaitEnd::TasksStopped | WaitEnd::Deregistered => millis_since(notice),
            _ => None,
        };
        if wait == WaitEnd::ActionEnded {
            return RecordOutcome::LifecycleDone {
                container_instance_arn,
                wait,
                continued: false,
            };
        }
        let continued = match self.fleet.complete_continue(action).await {
            Ok(()) => true,
            Err(FleetError::LifecycleActionGone(message)) => {
                tracing::info!(event_id = %notice.id, %message, "lifecycle action already completed or expired");
                false
            }
            Err(e) => return RecordOutcome::Failed(e),
        };
        // Only the delivery whose CONTINUE was accepted reports the stop latency, so a
        // redelivery of a finished action adds no second sample.
        if let (true, Some(ms)) = (continued, stop_latency) {
            EmfLine::new(&self.config.metrics_namespace)
                .metric("TaskStopLatency", Unit::Milliseconds, ms)
                .dimensions(&["EventType"])
                .property("EventType", notice.interruption.kind())
                .property("InstanceId", action.instance_id.as_str())
                .property("EventId", notice.id.as_str())
                .emit(&self.metrics);
        }
        RecordOutcome::LifecycleDone {
            container_instance_arn,
            wait,
            continued,
        }
    }

    /// Polls the instance until it runs no task, leaves the cluster, the bound runs out,
    /// or a heartbeat finds the action over.
    async fn wait_for_tasks(
        &self,
        notice: &Notice,
        action: &LifecycleAction,
        instance: &ContainerInstance,
    ) -> WaitEnd {
        let bounds = &self.config.lifecycle;
        let start = Instant::now();
        let mut last_heartbeat = start;
        loop {
            match self.fleet.describe(&instance.arn).await {
                Ok(None) => return WaitEnd::Deregistered,
                Ok(Some(ci)) if ci.active_tasks() == 0 => return WaitEnd::TasksStopped,
                Ok(Some(ci)) => tracing::debug!(
                    event_id = %notice.id,
                    running = ci.running_tasks,
                    pending = ci.pending_tasks,
                    "waiting for tasks to stop"
                ),
                // Keep polling, whatever the error: the instance is draining either way,
                // the tasks deserve their time, and the bound still ends the wait.
                Err(e) => {
                    tracing::warn!(event_id = %notice.id, error = %e, "describe failed while waiting")
                }
            }
            let waited = start.elapsed();
            if waited >= bounds.max_wait {
                tracing::warn!(
                    event_id = %notice.id,
                    instance_id = %action.instance_id,
                    waited_ms = waited.as_millis() as u64,
                    "tasks still running at the wait bound; completing the hook anyway"
                );
                return WaitEnd::BoundReached;
            }
            if last_heartbeat.elapsed() >= bounds.heartbeat_interval {
                last_heartbeat = Instant::now();
                match self.fleet.record_heartbeat(action).await {
                    Ok(()) => {}
                    Err(FleetError::LifecycleActionGone(message)) => {
                        tracing::warn!(event_id = %notice.id, %message, "lifecycle action ended while waiting");
                        return WaitEnd::ActionEnded;
                    }
                    Err(e) => tracing::warn!(event_id = %notice.id, error = %e, "heartbeat failed"),
                }
            }
            let remaining = bounds.max_wait.saturating_sub(start.elapsed());
            tokio::time::sleep(
                bounds
                    .poll_interval
                    .min(remaining)
                    .max(Duration::from_millis(1)),
            )
            .await;
        }
    }

    fn count_interruption(&self, notice: &Notice, instance: &ContainerInstance) {
        let az = instance.availability_zone.as_deref().unwrap_or("unknown");
        EmfLine::new(&self.config.metrics_namespace)
            .metric("Interruptions", Unit::Count, 1.0)
            .dimensions(&["EventType", "AvailabilityZone"])
            .dimensions(&["EventType"])
            .property("EventType", notice.interruption.kind())
            .property("AvailabilityZone", az)
            .property("InstanceId", instance.ec2_instance_id.as_str())
            .property("EventId", notice.id.as_str())
            .emit(&self.metrics);
    }

    /// `HandlerErrors`, by whether SQS redelivers the record. `Transient=false` means a
    /// permission or configuration error: the operations doc alarms on it.
    fn count_error(&self, error: &FleetError) {
        EmfLine::new(&self.config.metrics_namespace)
            .metric("HandlerErrors", Unit::Count, 1.0)
            .dimensions(&["Transient"])
            .property(
                "Transient",
                if error.is_transient() {
                    "true"
                } else {
                    "false"
                },
            )
            .emit(&self.metrics);
    }

    /// One JSON log line per record, plus skip and error counters.
    fn report(&self, result: &RecordResult) {
        let event_id = result.event_id.as_deref().unwrap_or("");
        match &result.outcome {
            RecordOutcome::Skipped(reason) => {
                tracing::info!(message_id = %result.message_id, event_id, reason = reason.label(), detail = ?reason, "event skipped");
                EmfLine::new(&self.config.metrics_namespace)
                    .metric("EventsSkipped", Unit::Count, 1.0)
                    .dimensions(&["Reason"])
                    .property("Reason", reason.label())
                    .emit(&self.metrics);
            }
            RecordOutcome::Failed(error) => {
                tracing::error!(
                    message_id = %result.message_id,
                    event_id,
                    error = %error,
                    retried = error.is_transient(),
                    "event failed"
                );
                self.count_error(error);
            }
            outcome @ RecordOutcome::LifecycleDone {
                wait: WaitEnd::DrainFailed(error),
                ..
            } => {
                tracing::error!(
                    message_id = %result.message_id,
                    event_id,
                    error = %error,
                    outcome = outcome.label(),
                    detail = ?outcome,
                    "hook completed without draining"
                );
                self.count_error(error);
            }
            outcome => {
                tracing::info!(message_id = %result.message_id, event_id, outcome = outcome.label(), detail = ?outcome, "event handled");
            }
        }
    }
}

fn skip_malformed(message: &SqsMessage, error: crate::event::EventError) -> RecordOutcome {
    tracing::warn!(message_id = ?message.message_id, %error, "malformed SQS body");
    RecordOutcome::Skipped(SkipReason::Malformed(error.to_string()))
}

/// Milliseconds from the event's own timestamp to now; `None` without a timestamp.
fn millis_since(notice: &Notice) -> Option<f64> {
    let time = notice.time?;
    Some((chrono::Utc::now() - time).num_milliseconds().max(0) as f64)
}
