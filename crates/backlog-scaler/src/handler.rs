//! One invocation: load the rule's state, poll every `POLL_SECONDS` for `RUN_SECONDS`,
//! act on each poll's decision, save the state. A plain async function over the
//! [`FleetApi`], [`StateStore`], [`MetricsSink`] and [`Clock`] it is given, so tests run it
//! without the Lambda runtime, against in-memory fakes or moto.
//!
//! Per poll:
//! 1. observe: queue depth, the service's desired count, the busy (scale-in protected)
//!    tasks;
//! 2. decide: [`BacklogPolicy::poll`];
//! 3. act: UpdateService when the desired count changes; raise the group's desired
//!    capacity to the decision when it is lower (never lowered with SetDesiredCapacity);
//!    when the group has more instances (launching or in service) than the decision,
//!    remove up to that many *empty* ones: registered, ACTIVE, no running or pending
//!    task — set DRAINING, re-read (still empty), TerminateInstanceInAutoScalingGroup
//!    decrementing the desired capacity. An instance that gained a task meanwhile is set
//!    ACTIVE again. Instances still booting (no container instance yet) are left alone.
//!
//! Errors: a failed call skips the rest of its poll (the next poll retries from fresh
//! observations); an invocation whose every poll failed, or whose state could not be
//! saved, returns an error, so the function's Errors metric and its alarm fire.

use std::collections::HashSet;

use facerec_backlog_policy::{BacklogPolicy, Observation, PolicyState};
use serde::Serialize;
use serde_json::{json, Map};

use crate::clock::Clock;
use crate::config::ScalerConfig;
use crate::fleet::{AwsError, FleetApi, StateStore};
use crate::metrics::{emf_line, MetricsSink};

/// An SSM Standard parameter's value holds at most 4096 characters.
pub const STATE_LIMIT_BYTES: usize = 4096;

/// The state as JSON of at most [`STATE_LIMIT_BYTES`], and how many of its oldest samples
/// were dropped to fit. Within the configuration's limits (MAX_TASKS ≤ 1000, at most
/// [`crate::config::MAX_REMEMBERED_POLLS`] polls) nothing is dropped below ~10⁸ queued
/// jobs; beyond that the oldest samples go rather than the save failing on size.
pub fn state_json(mut state: PolicyState) -> (String, usize) {
    let mut dropped = 0;
    loop {
        let json = serde_json::to_string(&state).expect("the state serialises");
        if json.len() <= STATE_LIMIT_BYTES || state.samples.is_empty() {
            return (json, dropped);
        }
        state.samples.pop_front();
        dropped += 1;
    }
}

/// What one poll saw and did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PollReport {
    /// Unix seconds of the poll.
    pub t: u64,
    pub visible: u64,
    pub in_flight: u64,
    pub busy_tasks: u32,
    /// The service's desired count before the poll.
    pub desired_before: u32,
    pub want: u32,
    /// The desired count after the poll (and the instances the fleet should have).
    pub desired_tasks: u32,
    /// The group's desired capacity after any raise.
    pub group_desired: u32,
    /// EC2 instance ids drained and terminated.
    pub terminated: Vec<String>,
}

/// The outcome of one invocation.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct InvocationReport {
    pub polls: Vec<PollReport>,
    /// Error messages of the polls that were skipped.
    pub failed_polls: Vec<String>,
    /// Why the state was started fresh, if it was.
    pub fresh_state: Option<String>,
}

/// Why an invocation failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ScalerError {
    #[error("every one of the {polls} polls failed; the last: {last}")]
    AllPollsFailed { polls: usize, last: AwsError },
    #[error(
        "could not save the scaler's state (the next invocation starts without its history): {0}"
    )]
    StateNotSaved(AwsError),
}

/// The scaler with its configuration and the parts it acts through.
pub struct BacklogScaler<F, S, M> {
    config: ScalerConfig,
    fleet: F,
    store: S,
    metrics: M,
}

impl<F: FleetApi, S: StateStore, M: MetricsSink> BacklogScaler<F, S, M> {
    pub fn new(config: ScalerConfig, fleet: F, store: S, metrics: M) -> Self {
        BacklogScaler {
            config,
            fleet,
            store,
            metrics,
        }
    }

    pub fn config(&self) -> &ScalerConfig {
        &self.config
    }

    pub fn fleet(&self) -> &F {
        &self.fleet
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn metrics(&self) -> &M {
        &self.metrics
    }

    /// The state to start from: the stored one, or a fresh one (with the reason) when it
    /// is missing, unreadable or garbled.
    async fn load_state(&self, now: u64) -> (PolicyState, Option<String>) {
        let text = match self.store.load().await {
            Ok(Some(text)) => text,
            Ok(None) => {
                let why = "state parameter does not exist".to_string();
                tracing::info!(parameter = %self.config.state_parameter, "{why}; starting fresh");
                return (PolicyState::default(), Some(why));
            }
            Err(e) => {
                let why = format!("state not read: {e}");
                tracing::warn!(parameter = %self.config.state_parameter, error = %e, "state not read; starting fresh");
                return (PolicyState::default(), Some(why));
            }
        };
        match serde_json::from_str::<PolicyState>(&text) {
            Ok(mut state) => {
                let dropped = state.sanitize(now);
                if dropped > 0 {
                    tracing::warn!(dropped, "state had samples from the future; dropped them");
                }
                (state, None)
            }
            Err(e) => {
                let why = format!("state is not valid JSON state: {e}");
                tracing::warn!(parameter = %self.config.state_parameter, error = %e, "garbled state; starting fresh");
                (PolicyState::default(), Some(why))
            }
        }
    }

    /// One invocation of the function (what the one-minute schedule triggers).
    pub async fn invoke(&self, clock: &impl Clock) -> Result<InvocationReport, ScalerError> {
        let start = clock.now();
        let (state, fresh_state) = self.load_state(clock.unix_seconds()).await;
        let mut policy = BacklogPolicy::with_state(self.config.policy.clone(), state);
        let mut report = InvocationReport {
            fresh_state,
            ..InvocationReport::default()
        };
        let mut last_error = None;
        let offsets = self.config.poll_offsets();
        for offset in &offsets {
            clock.sleep_until(start + *offset).await;
            match self.poll(&mut policy, clock).await {
                Ok(poll) => report.polls.push(poll),
                Err(e) => {
                    tracing::warn!(error = %e, "poll skipped");
                    report.failed_polls.push(e.to_string());
                    last_error = Some(e);
                }
            }
        }
        self.metrics.emit(emf_line(
            &self.config.metrics_namespace,
            &self.config.service_name,
            &[("PollErrors", report.failed_polls.len() as f64)],
            Map::new(),
            clock.unix_millis(),
        ));
        let (json, dropped) = state_json(policy.into_state());
        if dropped > 0 {
            tracing::warn!(
                dropped,
                "state too large for the SSM parameter; dropped its oldest samples"
            );
        }
        let saved = self.store.save(&json).await;
        if report.polls.is_empty() {
            if let Some(last) = last_error {
                return Err(ScalerError::AllPollsFailed {
                    polls: offsets.len(),
                    last,
                });
            }
        }
        saved.map_err(|e| {
            tracing::error!(error = %e, "state not saved");
            ScalerError::StateNotSaved(e)
        })?;
        Ok(report)
    }

    /// Sets an instance this poll drained ACTIVE again after a failed step, so it is not
    /// left DRAINING in the group (only ACTIVE instances are ever picked for removal).
    async fn undo_drain(&self, arn: &str, instance_id: &str) {
        if let Err(e) = self.fleet.set_container_instance_draining(arn, false).await {
            tracing::error!(instance = %instance_id, error = %e, "left DRAINING: could not set it ACTIVE again");
        }
    }

    /// Observe, decide, act.
    async fn poll(
        &self,
        policy: &mut BacklogPolicy,
        clock: &impl Clock,
    ) -> Result<PollReport, AwsError> {
        let t = clock.unix_seconds();
        let depth = self.fleet.queue_depth().await?;
        let service = self.fleet.service().await?;
        let busy = self.fleet.busy_tasks().await?;
        let decision = policy.poll(&Observation {
            t,
            visible: depth.visible,
            in_flight: depth.in_flight,
            busy_tasks: busy,
            desired_tasks: service.desired,
        });
        let next = decision.desired_tasks;
        if next != service.desired {
            self.fleet.set_desired_count(next).await?;
        }

        let group = self.fleet.group().await?;
        let mut group_desired = group.desired_capacity;
        if group_desired < next {
            let raise_to = next.min(group.max_size);
            if raise_to < next {
                tracing::warn!(
                    next,
                    max_size = group.max_size,
                    "the group's max_size caps the raise"
                );
            }
            if raise_to > group_desired {
                self.fleet.set_desired_capacity(raise_to).await?;
                group_desired = raise_to;
            }
        }

        let members: HashSet<&str> = group
            .instances
            .iter()
            .filter(|i| i.counts())
            .map(|i| i.instance_id.as_str())
            .collect();
        let excess = members.len().saturating_sub(next as usize);
        let mut terminated = Vec::new();
        if excess > 0 {
            let mut empty: Vec<_> = self
                .fleet
                .active_container_instances()
                .await?
                .into_iter()
                .filter(|ci| {
                    ci.status == "ACTIVE"
                        && ci.is_empty()
                        && members.contains(ci.ec2_instance_id.as_str())
                })
                .collect();
            // Newest first: the oldest have shown they stay up (and their image is warm).
            empty.sort_by_key(|ci| std::cmp::Reverse(ci.registered_at));
            for ci in empty.into_iter().take(excess) {
                self.fleet
                    .set_container_instance_draining(&ci.arn, true)
                    .await?;
                let reread = match self.fleet.container_instance(&ci.arn).await {
                    Ok(reread) => reread,
                    Err(e) => {
                        self.undo_drain(&ci.arn, &ci.ec2_instance_id).await;
                        return Err(e);
                    }
                };
                match reread {
                    Some(now) if now.is_empty() => {}
                    Some(_) => {
                        // A task was placed between the list and the drain: keep the instance.
                        tracing::info!(instance = %ci.ec2_instance_id, "gained a task while draining; set ACTIVE again");
                        self.fleet
                            .set_container_instance_draining(&ci.arn, false)
                            .await?;
                        continue;
                    }
                    None => {
                        // Deregistered meanwhile (the instance is going anyway).
                        continue;
                    }
                }
                if let Err(e) = self.fleet.terminate_instance(&ci.ec2_instance_id).await {
                    self.undo_drain(&ci.arn, &ci.ec2_instance_id).await;
                    return Err(e);
                }
                tracing::info!(instance = %ci.ec2_instance_id, "drained and terminated an empty instance");
                terminated.push(ci.ec2_instance_id);
            }
        }

        let report = PollReport {
            t,
            visible: depth.visible,
            in_flight: depth.in_flight,
            busy_tasks: busy,
            desired_before: service.desired,
            want: decision.want,
            desired_tasks: next,
            group_desired,
            terminated,
        };
        tracing::info!(
            t,
            visible = report.visible,
            in_flight = report.in_flight,
            busy = report.busy_tasks,
            want = report.want,
            desired_before = report.desired_before,
            desired = report.desired_tasks,
            group_desired = report.group_desired,
            instances = members.len(),
            terminated = report.terminated.len(),
            "poll"
        );
        let mut properties = Map::new();
        properties.insert("PollAt".into(), json!(t));
        self.metrics.emit(emf_line(
            &self.config.metrics_namespace,
            &self.config.service_name,
            &[
                ("Visible", report.visible as f64),
                ("InFlight", report.in_flight as f64),
                ("BusyTasks", report.busy_tasks as f64),
                ("WantTasks", report.want as f64),
                ("DesiredTasks", report.desired_tasks as f64),
                ("InstancesTerminated", report.terminated.len() as f64),
            ],
            properties,
            clock.unix_millis(),
        ));
        Ok(report)
    }
}
