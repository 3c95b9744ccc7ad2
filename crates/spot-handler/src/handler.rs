//! The handler proper: an SQS batch of EventBridge events in, batch item failures out.
//!
//! Per record: parse ([`crate::event`]), de-duplicate by event id within the batch, act
//! on the cluster ([`crate::fleet`]), then log and emit metrics for the outcome. Records
//! run concurrently, so a termination hook waiting on its tasks never delays a Spot
//! warning further down the batch. Only [`FleetError::Transient`] failures are reported
//! back to SQS for redelivery; everything else is logged and dropped, because a retry
//! would see the same input.

use std::collections::HashSet;
use std::time::Duration;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use futures_util::future::join_all;
use tokio::time::Instant;

use crate::config::HandlerConfig;
use crate::event::{parse_body, Interruption, LifecycleAction, Notice, ParsedEvent};
use crate::fleet::{ClusterControl, ContainerInstance, FleetError, LifecycleHooks};
use crate::metrics::{EmfRecord, MetricsSink, Unit};

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
}

impl SkipReason {
    /// Stable name for the `Reason` metric dimension.
    pub fn label(&self) -> &'static str {
        match self {
            SkipReason::Malformed(_) => "malformed",
            SkipReason::UnknownDetailType(_) => "unknown-detail-type",
            SkipReason::NotInCluster => "not-in-cluster",
            SkipReason::OtherAutoScalingGroup(_) => "other-autoscaling-group",
        }
    }
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
    /// The termination hook was completed with CONTINUE (or was already gone).
    LifecycleCompleted {
        /// `None` when the instance never joined the cluster.
        container_instance_arn: Option<String>,
        /// False when the wait bound ran out before the tasks stopped.
        tasks_stopped: bool,
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
            RecordOutcome::LifecycleCompleted { .. } => "lifecycle-completed",
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
        let mut pending = Vec::with_capacity(event.records.len());
        for message in &event.records {
            let message_id = message.message_id.clone().unwrap_or_default();
            match parse_body(message.body.as_deref()) {
                Err(e) => pending.push(Work::Done(message_id, None, skip_malformed(message, e))),
                Ok(ParsedEvent::Unrecognised {
                    id, detail_type, ..
                }) => pending.push(Work::Done(
                    message_id,
                    id,
                    RecordOutcome::Skipped(SkipReason::UnknownDetailType(detail_type)),
                )),
                Ok(ParsedEvent::Notice(mut notice)) => {
                    if notice.id.is_empty() {
                        notice.id = message_id.clone();
                    }
                    if seen.insert(notice.id.clone()) {
                        pending.push(Work::Act(message_id, notice));
                    } else {
                        let id = Some(notice.id);
                        pending.push(Work::Done(message_id, id, RecordOutcome::Duplicate));
                    }
                }
            }
        }
        let records = join_all(pending.into_iter().map(|work| async move {
            let result = match work {
                Work::Done(message_id, event_id, outcome) => RecordResult {
                    message_id,
                    event_id,
                    outcome,
                },
                Work::Act(message_id, notice) => {
                    let outcome = self.act(&notice).await;
                    RecordResult {
                        message_id,
                        event_id: Some(notice.id.clone()),
                        outcome,
                    }
                }
            };
            self.report(&result);
            result
        }))
        .await;
        BatchOutcome { records }
    }

    async fn act(&self, notice: &Notice) -> RecordOutcome {
        let instance_id = notice.interruption.instance_id();
        match &notice.interruption {
            Interruption::SpotWarning { .. } => self.drain_outcome(notice, instance_id).await,
            Interruption::RebalanceRecommendation { .. } if self.config.capacity_rebalance => {
                self.drain_outcome(notice, instance_id).await
            }
            Interruption::RebalanceRecommendation { .. } => {
                match self.fleet.find_by_ec2_instance(instance_id).await {
                    Ok(Some(ci)) => {
                        self.count_interruption(notice, &ci);
                        RecordOutcome::Recorded {
                            container_instance_arn: ci.arn,
                        }
                    }
                    Ok(None) => RecordOutcome::Skipped(SkipReason::NotInCluster),
                    Err(e) => RecordOutcome::Failed(e),
                }
            }
            Interruption::TerminateLifecycle(action) => self.terminate(notice, action).await,
        }
    }

    async fn drain_outcome(&self, notice: &Notice, instance_id: &str) -> RecordOutcome {
        match self.drain(notice, instance_id).await {
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

    /// Finds the instance in our cluster and sets it DRAINING unless it already is.
    /// `None` when it is not (or no longer) in the cluster.
    async fn drain(&self, notice: &Notice, instance_id: &str) -> Result<Option<Drain>, FleetError> {
        let Some(instance) = self.fleet.find_by_ec2_instance(instance_id).await? else {
            return Ok(None);
        };
        let was_draining = instance.is_draining();
        if !was_draining && !self.fleet.set_draining(&instance.arn).await? {
            return Ok(None);
        }
        self.count_interruption(notice, &instance);
        if let Some(ms) = millis_since(notice) {
            EmfRecord::new(
                &self.config.metrics_namespace,
                "DrainLatency",
                Unit::Milliseconds,
                ms,
            )
            .dimensions(&["EventType"])
            .field("EventType", notice.interruption.kind())
            .field("InstanceId", instance_id)
            .field("EventId", notice.id.as_str())
            .field("DrainedBy", if was_draining { "ecs" } else { "handler" })
            .emit(&self.metrics);
        }
        Ok(Some(Drain {
            instance,
            was_draining,
        }))
    }

    /// Drains, waits (bounded, heartbeating) for the tasks to stop, then completes the
    /// hook with CONTINUE. An instance outside the cluster is completed at once: the hook
    /// is ours (the rule filters on our group), and leaving it pending would stall the
    /// termination until the heartbeat timeout.
    async fn terminate(&self, notice: &Notice, action: &LifecycleAction) -> RecordOutcome {
        if let Some(group) = &self.config.autoscaling_group {
            if *group != action.group_name {
                return RecordOutcome::Skipped(SkipReason::OtherAutoScalingGroup(
                    action.group_name.clone(),
                ));
            }
        }
        let drain = match self.drain(notice, &action.instance_id).await {
            Ok(d) => d,
            Err(e) => return RecordOutcome::Failed(e),
        };
        let tasks_stopped = match &drain {
            Some(d) => self.wait_for_tasks(notice, action, &d.instance).await,
            None => true,
        };
        match self.fleet.complete_continue(action).await {
            Ok(()) => {}
            Err(FleetError::LifecycleActionGone(message)) => {
                tracing::info!(event_id = %notice.id, %message, "lifecycle action already completed or expired");
            }
            Err(e) => return RecordOutcome::Failed(e),
        }
        RecordOutcome::LifecycleCompleted {
            container_instance_arn: drain.map(|d| d.instance.arn),
            tasks_stopped,
        }
    }

    /// Polls the instance until it runs no task, the bound runs out, or the hook is gone.
    /// Returns whether the tasks stopped.
    async fn wait_for_tasks(
        &self,
        notice: &Notice,
        action: &LifecycleAction,
        instance: &ContainerInstance,
    ) -> bool {
        let bounds = &self.config.lifecycle;
        let start = Instant::now();
        let mut last_heartbeat = start;
        loop {
            match self.fleet.describe(&instance.arn).await {
                Ok(None) => break,
                Ok(Some(ci)) if ci.active_tasks() == 0 => break,
                Ok(Some(ci)) => tracing::debug!(
                    event_id = %notice.id,
                    running = ci.running_tasks,
                    pending = ci.pending_tasks,
                    "waiting for tasks to stop"
                ),
                // Keep polling: the bound still ends the wait, and the hook must be answered.
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
                return false;
            }
            if last_heartbeat.elapsed() >= bounds.heartbeat_interval {
                last_heartbeat = Instant::now();
                match self.fleet.record_heartbeat(action).await {
                    Ok(()) => {}
                    Err(FleetError::LifecycleActionGone(_)) => {
                        tracing::warn!(event_id = %notice.id, "lifecycle action ended while waiting");
                        return false;
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
        if let Some(ms) = millis_since(notice) {
            EmfRecord::new(
                &self.config.metrics_namespace,
                "TaskStopLatency",
                Unit::Milliseconds,
                ms,
            )
            .dimensions(&["EventType"])
            .field("EventType", notice.interruption.kind())
            .field("InstanceId", action.instance_id.as_str())
            .field("EventId", notice.id.as_str())
            .emit(&self.metrics);
        }
        true
    }

    fn count_interruption(&self, notice: &Notice, instance: &ContainerInstance) {
        let az = instance.availability_zone.as_deref().unwrap_or("unknown");
        EmfRecord::new(
            &self.config.metrics_namespace,
            "Interruptions",
            Unit::Count,
            1.0,
        )
        .dimensions(&["EventType", "AvailabilityZone"])
        .dimensions(&["EventType"])
        .field("EventType", notice.interruption.kind())
        .field("AvailabilityZone", az)
        .field("InstanceId", instance.ec2_instance_id.as_str())
        .field("EventId", notice.id.as_str())
        .emit(&self.metrics);
    }

    /// One JSON log line per record, plus skip and error counters.
    fn report(&self, result: &RecordResult) {
        let event_id = result.event_id.as_deref().unwrap_or("");
        match &result.outcome {
            RecordOutcome::Skipped(reason) => {
                tracing::info!(message_id = %result.message_id, event_id, reason = ?reason, "event skipped");
                EmfRecord::new(
                    &self.config.metrics_namespace,
                    "EventsSkipped",
                    Unit::Count,
                    1.0,
                )
                .dimensions(&["Reason"])
                .field("Reason", reason.label())
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
                EmfRecord::new(
                    &self.config.metrics_namespace,
                    "HandlerErrors",
                    Unit::Count,
                    1.0,
                )
                .dimensions(&["Transient"])
                .field(
                    "Transient",
                    if error.is_transient() {
                        "true"
                    } else {
                        "false"
                    },
                )
                .emit(&self.metrics);
            }
            outcome => {
                tracing::info!(message_id = %result.message_id, event_id, outcome = outcome.label(), detail = ?outcome, "event handled");
            }
        }
    }
}

/// A record either already decided at parse time, or a notice to act on.
enum Work {
    Done(String, Option<String>, RecordOutcome),
    Act(String, Notice),
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
