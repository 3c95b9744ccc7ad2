//! One invocation: load the state, poll every `POLL_SECONDS` for `RUN_SECONDS`, act on
//! each poll's decision, save the state. A plain async function over the [`FleetApi`],
//! [`StateStore`], [`MetricsSink`] and [`Clock`] it is given, so tests run it without the
//! Lambda runtime, against in-memory fakes or moto.
//!
//! Per poll:
//! 1. observe: queue depth, the service's desired count and deployments, the busy
//!    (scale-in protected) tasks — during a deployment, those of the primary only;
//! 2. decide: [`BacklogPolicy::poll`], and [`rollout`] for a deployment under way;
//! 3. act: UpdateService when the desired count changes; raise the group's desired
//!    capacity to the instances needed — the decision, plus during a deployment one per
//!    task of the older deployments (surge) — when it is lower (never lowered with
//!    SetDesiredCapacity); once the primary deployment runs all its tasks, clear the
//!    older deployments' tasks' scale-in protection so ECS can stop them;
//! 4. count the capacity ([`facerec_backlog_policy::capacity`]: ACTIVE container
//!    instances and instances still booting, within a bound, in the group) and, after
//!    saving the state, terminate (TerminateInstanceInAutoScalingGroup, decrementing):
//!    - *zombies*: idle DRAINING instances in service, seen so for 120 s;
//!    - instances booting past the bound (in service, never registered);
//!    - beyond the instances needed, up to the excess of *empty* ACTIVE ones, newest
//!      first, each claimed and checked: set DRAINING, re-read the group and the
//!      container instances, and terminate only if it is still DRAINING and empty and the
//!      capacity without it still covers the instances needed; otherwise set it ACTIVE again (or leave it to whoever
//!      else is removing it). A DRAINING instance never counts, so of two invocations at
//!      once the later check sees the other's claim and backs off: never more than the
//!      excess goes.
//!
//! Time: each poll ends by the next one's start, the last [`SAVE_RESERVE`] before the
//! invocation's end, which is [`END_MARGIN`] before the function's deadline (the Lambda's,
//! or `RUN_SECONDS + POLL_SECONDS` ≤ 60 s from the start); a poll past its deadline is
//! cut, and no removal starts with less than [`REMOVAL_BUDGET`] left. What a cut leaves
//! DRAINING the zombie rule removes.
//!
//! Errors: a failed call skips the rest of its poll (the next poll retries from fresh
//! observations); an invocation whose every poll failed, or whose state could not be
//! saved, returns an error, so the function's Errors metric and its alarm fire.

use std::time::Duration;

use facerec_backlog_policy::capacity::{InstanceBounds, InstanceClass, Membership};
use facerec_backlog_policy::rollout::rollout;
use facerec_backlog_policy::{BacklogPolicy, Observation};
use serde::Serialize;
use serde_json::{json, Map};
use tokio::time::Instant;

use crate::clock::Clock;
use crate::config::ScalerConfig;
use crate::fleet::{AwsError, ContainerInstance, FleetApi, StateStore};
use crate::instances::{capacity_of, members, observe};
use crate::metrics::{emf_line, MetricsSink};
pub use crate::state::{state_json, ScalerState, Sightings, STATE_LIMIT_BYTES};

/// Kept at the end of an invocation for the state save (PutParameter takes ~0.1 s; this
/// leaves room for a retry).
pub const SAVE_RESERVE: Duration = Duration::from_secs(4);
/// The invocation returns this long before the function's deadline.
pub const END_MARGIN: Duration = Duration::from_secs(1);
/// No removal (drain, re-read, terminate: ~0.5 s) starts with less than this left in its
/// poll.
pub const REMOVAL_BUDGET: Duration = Duration::from_secs(3);
/// The function's timeout in `terraform/modules/backlog_scaler` (one schedule period):
/// the latest an invocation may run when the Lambda gives no deadline.
pub const FUNCTION_TIMEOUT: Duration = Duration::from_secs(60);

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
    /// The desired count after the poll.
    pub desired_tasks: u32,
    /// The instances the fleet should have: `desired_tasks`, plus during a deployment one
    /// per task of the older deployments.
    pub instances_needed: u32,
    /// Older deployments' tasks whose scale-in protection this poll cleared.
    pub released_tasks: u32,
    /// The group's desired capacity after any raise.
    pub group_desired: u32,
    /// Instances counted as capacity (ACTIVE, or booting within the bound).
    pub capacity: u32,
    /// EC2 instance ids terminated: zombies, stuck booting ones, then the excess.
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
    /// is missing, unreadable, garbled or not read by `deadline`.
    async fn load_state(&self, now: u64, deadline: Instant) -> (ScalerState, Option<String>) {
        let text = match tokio::time::timeout_at(deadline, self.store.load()).await {
            Ok(Ok(Some(text))) => text,
            Ok(Ok(None)) => {
                let why = "state parameter does not exist".to_string();
                tracing::info!(parameter = %self.config.state_parameter, "{why}; starting fresh");
                return (ScalerState::default(), Some(why));
            }
            Ok(Err(e)) => {
                let why = format!("state not read: {e}");
                tracing::warn!(parameter = %self.config.state_parameter, error = %e, "state not read; starting fresh");
                return (ScalerState::default(), Some(why));
            }
            Err(_) => {
                let why = "state not read: timed out".to_string();
                tracing::warn!(parameter = %self.config.state_parameter, "state not read in time; starting fresh");
                return (ScalerState::default(), Some(why));
            }
        };
        match serde_json::from_str::<ScalerState>(&text) {
            Ok(mut state) => {
                let dropped = state.policy.sanitize(now) + state.sightings.sanitize(now);
                if dropped > 0 {
                    tracing::warn!(dropped, "state had entries from the future; dropped them");
                }
                (state, None)
            }
            Err(e) => {
                let why = format!("state is not valid JSON state: {e}");
                tracing::warn!(parameter = %self.config.state_parameter, error = %e, "garbled state; starting fresh");
                (ScalerState::default(), Some(why))
            }
        }
    }

    /// The end of an invocation started at `start`: [`END_MARGIN`] before the earlier of
    /// the Lambda's `deadline` and the function timeout the configuration implies
    /// (`RUN_SECONDS + POLL_SECONDS`, as Terraform sets them, at most [`FUNCTION_TIMEOUT`]).
    pub fn invocation_end(&self, start: Instant, deadline: Option<Instant>) -> Instant {
        let timeout = (self.config.run_for + self.config.poll_interval).min(FUNCTION_TIMEOUT);
        let end = deadline.map_or(start + timeout, |d| d.min(start + timeout));
        end.checked_sub(END_MARGIN).unwrap_or(start).max(start)
    }

    /// One invocation of the function (what the one-minute schedule triggers), ending
    /// before the function timeout the configuration implies.
    pub async fn invoke(&self, clock: &impl Clock) -> Result<InvocationReport, ScalerError> {
        self.invoke_until(clock, None).await
    }

    /// One invocation that also ends before `deadline` (the Lambda context's).
    pub async fn invoke_until(
        &self,
        clock: &impl Clock,
        deadline: Option<Instant>,
    ) -> Result<InvocationReport, ScalerError> {
        let start = clock.now();
        let end = self.invocation_end(start, deadline);
        let polls_end = end.checked_sub(SAVE_RESERVE).unwrap_or(start).max(start);
        // The state is read within the first poll's time.
        let load_by = (start + self.config.poll_interval).min(polls_end);
        let (state, fresh_state) = self.load_state(clock.unix_seconds(), load_by).await;
        let mut policy = BacklogPolicy::with_state(self.config.policy.clone(), state.policy);
        let mut sightings = state.sightings;
        let mut report = InvocationReport {
            fresh_state,
            ..InvocationReport::default()
        };
        let mut last_error = None;
        let offsets = self.config.poll_offsets();
        for (k, offset) in offsets.iter().enumerate() {
            let at = start + *offset;
            let poll_end = offsets
                .get(k + 1)
                .map_or(polls_end, |next| (start + *next).min(polls_end));
            if at.max(clock.now()) >= poll_end {
                let e = AwsError::new(
                    "deadline",
                    format!(
                        "poll at +{} s skipped: the invocation ends too soon",
                        offset.as_secs()
                    ),
                );
                tracing::warn!(error = %e, "poll skipped");
                report.failed_polls.push(e.to_string());
                last_error = Some(e);
                continue;
            }
            clock.sleep_until(at).await;
            let poll = self.poll(&mut policy, &mut sightings, clock, poll_end);
            let outcome = tokio::time::timeout_at(poll_end, poll)
                .await
                .unwrap_or_else(|_| {
                    Err(AwsError::new(
                        "deadline",
                        format!("poll at +{} s cut at its deadline", offset.as_secs()),
                    ))
                });
            match outcome {
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
        let saved = tokio::time::timeout_at(end, self.save_state(&policy, &sightings))
            .await
            .unwrap_or_else(|_| Err(AwsError::new("ssm:PutParameter", "timed out")));
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

    /// Writes the rule's state and the sightings to the store.
    async fn save_state(
        &self,
        policy: &BacklogPolicy,
        sightings: &Sightings,
    ) -> Result<(), AwsError> {
        let (json, dropped) = state_json(ScalerState {
            policy: policy.state().clone(),
            sightings: sightings.clone(),
        });
        if dropped > 0 {
            tracing::warn!(
                dropped,
                "state too large for the SSM parameter; dropped its oldest samples"
            );
        }
        self.store.save(&json).await
    }

    /// Sets an instance this poll drained ACTIVE again after a failed step, so it is not
    /// left DRAINING in the group (where the zombie rule would remove it).
    async fn undo_drain(&self, arn: &str, instance_id: &str) {
        if let Err(e) = self.fleet.set_container_instance_draining(arn, false).await {
            tracing::error!(instance = %instance_id, error = %e, "left DRAINING: could not set it ACTIVE again");
        }
    }

    /// Observe, decide, act; removals only while [`REMOVAL_BUDGET`] is left before
    /// `deadline`.
    async fn poll(
        &self,
        policy: &mut BacklogPolicy,
        sightings: &mut Sightings,
        clock: &impl Clock,
        deadline: Instant,
    ) -> Result<PollReport, AwsError> {
        let t = clock.unix_seconds();
        let depth = self.fleet.queue_depth().await?;
        let service = self.fleet.service().await?;
        // The older deployments' tasks are not the primary's to count: the decision sizes
        // the primary deployment, and the surge gives the older tasks their instances.
        let mut busy = self.fleet.busy_tasks().await?;
        let mut older_tasks = Vec::new();
        for d in service.deployments.iter().filter(|d| !d.primary) {
            if d.running + d.pending == 0 {
                continue;
            }
            let tasks = self.fleet.deployment_tasks(&d.id).await?;
            busy = busy.saturating_sub(self.fleet.protected_tasks(&tasks).await?);
            older_tasks.push((d.id.as_str(), tasks));
        }
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

        let rollout = rollout(next, &service.deployments);
        let need = rollout.instances;
        let group = self.fleet.group().await?;
        let mut group_desired = group.desired_capacity;
        if group_desired < need {
            let raise_to = need.min(group.max_size);
            if raise_to < need {
                tracing::warn!(
                    need,
                    max_size = group.max_size,
                    "the group's max_size caps the raise"
                );
            }
            if raise_to > group_desired {
                self.fleet.set_desired_capacity(raise_to).await?;
                group_desired = raise_to;
            }
        }
        let mut released_tasks = 0;
        for (deployment, tasks) in &older_tasks {
            if rollout.release.iter().any(|r| r == deployment) {
                released_tasks += self.fleet.release_tasks(tasks).await?;
                tracing::info!(deployment = %deployment, tasks = tasks.len(), "released an older deployment's tasks from scale-in protection");
            }
        }

        let containers = self.fleet.container_instances().await?;
        let bounds = InstanceBounds::for_cold_start(self.config.policy.cold_start_seconds);
        let members = members(&group, &containers);
        observe(sightings, t, &members);
        let capacity = capacity_of(&members, t, sightings, &bounds);
        let mut zombies = Vec::new();
        let mut stuck = Vec::new();
        let mut empty = Vec::new();
        for m in &members {
            match (m.class(t, sightings, &bounds), m.container) {
                (InstanceClass::Zombie, Some(ci)) => zombies.push(ci.clone()),
                (InstanceClass::Stuck, ci)
                    if m.membership == Membership::InService
                        && ci.is_none_or(ContainerInstance::is_empty) =>
                {
                    stuck.push(m.id.to_string());
                }
                (InstanceClass::Serving, Some(ci)) if ci.is_empty() => empty.push(ci.clone()),
                _ => {}
            }
        }
        // Newest first: the oldest have shown they stay up (and their image is warm).
        empty.sort_by_key(|ci| std::cmp::Reverse(ci.registered_at));
        let excess = capacity.saturating_sub(need) as usize;
        empty.truncate(excess);

        let mut terminated = Vec::new();
        if !(zombies.is_empty() && stuck.is_empty() && empty.is_empty()) {
            // Before any termination: a killed invocation keeps the history it acted on.
            self.save_state(policy, sightings).await?;
        }
        let time_left = || clock.now() + REMOVAL_BUDGET <= deadline;
        for ci in zombies {
            if !time_left() {
                break;
            }
            // Still DRAINING and idle (not set ACTIVE, no task placed) just before.
            match self.fleet.container_instance(&ci.arn).await? {
                Some(now) if now.status == "DRAINING" && now.is_empty() => {}
                _ => continue,
            }
            self.fleet.terminate_instance(&ci.ec2_instance_id).await?;
            tracing::warn!(instance = %ci.ec2_instance_id, "terminated an instance left DRAINING (zombie)");
            terminated.push(ci.ec2_instance_id);
        }
        for id in stuck {
            if !time_left() {
                break;
            }
            self.fleet.terminate_instance(&id).await?;
            tracing::warn!(instance = %id, bound_s = bounds.registration_seconds, "terminated an instance that never registered");
            terminated.push(id);
        }
        for ci in empty {
            if !time_left() {
                break;
            }
            match self.remove_excess(&ci, need, t, sightings, &bounds).await? {
                Removal::Terminated => terminated.push(ci.ec2_instance_id),
                Removal::Kept => {}
                Removal::Enough => break,
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
            instances_needed: need,
            released_tasks,
            group_desired,
            capacity,
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
            instances_needed = report.instances_needed,
            released = report.released_tasks,
            group_desired = report.group_desired,
            instances = members.len(),
            capacity = report.capacity,
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

    /// Removes one empty ACTIVE instance beyond the instances needed, `need`: claim it (DRAINING),
    /// re-read the group and the container instances, and terminate it only if it is still
    /// ours to remove (DRAINING, empty, in the group) and the capacity without it — every
    /// claimed instance left out, another invocation's too — still covers `need`.
    async fn remove_excess(
        &self,
        ci: &ContainerInstance,
        need: u32,
        t: u64,
        sightings: &Sightings,
        bounds: &InstanceBounds,
    ) -> Result<Removal, AwsError> {
        let id = ci.ec2_instance_id.as_str();
        self.fleet
            .set_container_instance_draining(&ci.arn, true)
            .await?;
        let reread = async {
            let group = self.fleet.group().await?;
            let containers = self.fleet.container_instances().await?;
            Ok::<_, AwsError>((group, containers))
        };
        let (group, containers) = match reread.await {
            Ok(read) => read,
            Err(e) => {
                self.undo_drain(&ci.arn, id).await;
                return Err(e);
            }
        };
        let members = members(&group, &containers);
        let Some(me) = members.iter().find(|m| m.id == id) else {
            // Left the group meanwhile: someone else is removing it.
            return Ok(Removal::Kept);
        };
        match me.container {
            // Deregistered, or being terminated by someone else: it is going anyway.
            None => return Ok(Removal::Kept),
            _ if me.membership == Membership::Leaving => return Ok(Removal::Kept),
            // Set ACTIVE again by another invocation that backed off: not ours to remove.
            Some(now) if now.status != "DRAINING" => return Ok(Removal::Kept),
            Some(now) if !now.is_empty() => {
                // A task was placed between the list and the drain: keep the instance.
                tracing::info!(instance = %id, "gained a task while draining; set ACTIVE again");
                self.fleet
                    .set_container_instance_draining(&ci.arn, false)
                    .await?;
                return Ok(Removal::Kept);
            }
            Some(_) => {}
        }
        let capacity = capacity_of(&members, t, sightings, bounds);
        if capacity < need {
            // Another removal (another invocation's) got there first.
            tracing::info!(instance = %id, capacity, need, "capacity without it is short; set ACTIVE again");
            self.fleet
                .set_container_instance_draining(&ci.arn, false)
                .await?;
            return Ok(Removal::Enough);
        }
        if let Err(e) = self.fleet.terminate_instance(id).await {
            self.undo_drain(&ci.arn, id).await;
            return Err(e);
        }
        tracing::info!(instance = %id, "drained and terminated an empty instance");
        Ok(Removal::Terminated)
    }
}

/// What became of one instance picked for removal.
enum Removal {
    Terminated,
    /// Not terminated by this poll (it gained a task, or someone else has it).
    Kept,
    /// Not terminated, and the capacity has no more to spare.
    Enough,
}
