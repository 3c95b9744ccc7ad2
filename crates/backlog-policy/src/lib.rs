//! The backlog scaler's decision rule: how many worker tasks (one per instance) the fleet
//! should run, from what one poll can observe. Pure: no I/O, no clock, no AWS.
//!
//! Two programs use this crate, so the code the simulator judges is the code that is
//! deployed: the Lambda `crates/backlog-scaler` (every poll of its one-minute invocation)
//! and the fleet simulator `crates/fleet-sim` (its "ours (deployed)" row).
//!
//! # The rule
//!
//! At each poll, with L = `acceptable_latency_seconds`, c = `cold_start_seconds` (instance
//! boot + task start) and j = `job_seconds`:
//!
//! `want = ceil(load / target_utilization + visible × j / max(L − c, L / 4, j))`,
//! clamped to `[min_tasks, max_tasks]`, where `load` is the tasks the arrivals keep busy:
//! by default ([`LoadEstimate::BusyMean`]) the mean number of busy (scale-in protected)
//! tasks over the polls of the last `load_window_seconds`. The mean busy count is the
//! fleet's throughput × j, i.e. the offered load while the fleet keeps up; when it does
//! not, jobs stay visible and the backlog term adds the tasks that drain them within what
//! is left of the latency budget after a cold start.
//!
//! From `want` to the next desired count:
//! - **up at once**: `want ≥ current` → `want`;
//! - **down to k ≥ 1** only when every poll of the last `scale_down_window_seconds` (and
//!   the remembered polls reach back that far) wanted fewer than now; then to the largest
//!   of those;
//! - **down to zero** only when the system is empty (nothing visible, nothing in flight,
//!   no busy task) and has been for a grace period: one cold start if arrivals were
//!   frequent (≥ 1 expected within a cold start, judged over the last
//!   `activity_window_seconds`: keeping the instance that long costs at most what a
//!   needless relaunch would), otherwise none;
//! - **never below the busy tasks** (ECS would not stop a protected task anyway, and a
//!   desired count below them would make the next scale-out look smaller than it is).
//!
//! The state ([`PolicyState`]: the remembered polls and the start of the current empty
//! spell) is serialisable; the Lambda keeps it in an SSM parameter between invocations.
//!
//! # Capacity
//!
//! [`capacity`]: which instances count as capacity (ACTIVE container instances and
//! instances still booting, within a bound) and which DRAINING ones are zombies.
//!
//! # Deployments
//!
//! [`rollout`]: the instances a rolling update of a busy fleet needs (surge), and when the
//! old deployment's tasks are released from scale-in protection.

use std::collections::VecDeque;

pub mod capacity;
pub mod rollout;

use serde::{Deserialize, Serialize};

/// What the scaler takes as the load the arrivals put on the fleet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LoadEstimate {
    /// Mean number of busy (scale-in protected) tasks over the window's polls: the
    /// fleet's measured throughput × job_seconds, which equals the offered load while the
    /// fleet keeps up (when it does not, the backlog term grows). The deployed estimate.
    #[default]
    BusyMean,
    /// Arrival rate × job_seconds, arrivals estimated from successive polls as the growth
    /// of visible + in flight plus completions (mean busy × Δt / job_seconds). Kept for the
    /// simulator's comparison: it swings with the queue and does worse.
    ArrivalRate,
    /// The busy tasks at this poll only.
    BusyNow,
}

/// The rule's parameters. The Lambda reads them from its environment, the simulator from
/// `terraform/scaling.json` (same keys, see `docs/operations.md`).
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyConfig {
    /// Mean wall seconds one task spends per job.
    pub job_seconds: f64,
    /// The longest a job should wait in the queue.
    pub acceptable_latency_seconds: f64,
    /// Instance launch until its task polls SQS (boot + image pull + model load).
    pub cold_start_seconds: u64,
    /// Busy tasks per desired task the load term aims at (1 = no spare task).
    pub target_utilization: f64,
    pub min_tasks: u32,
    pub max_tasks: u32,
    /// Window of the load estimate.
    pub load_window_seconds: u64,
    /// How long every poll must want fewer tasks before the desired count goes down.
    pub scale_down_window_seconds: u64,
    /// Window over which "arrivals are frequent" is judged for the scale-to-zero grace.
    pub activity_window_seconds: u64,
    pub load_estimate: LoadEstimate,
}

/// A parameter out of range; `field` is the [`PolicyConfig`] field's name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} {reason}")]
pub struct PolicyConfigError {
    pub field: &'static str,
    pub reason: &'static str,
}

impl PolicyConfig {
    /// Checks what the rule needs to be meaningful (it would not panic otherwise, but a
    /// zero job time or an empty task range would silently mean "never scale").
    pub fn validate(&self) -> Result<(), PolicyConfigError> {
        let bad = |field, reason| Err(PolicyConfigError { field, reason });
        if !(self.job_seconds.is_finite() && self.job_seconds > 0.0) {
            return bad("job_seconds", "must be a number > 0");
        }
        if !(self.acceptable_latency_seconds.is_finite() && self.acceptable_latency_seconds > 0.0) {
            return bad("acceptable_latency_seconds", "must be a number > 0");
        }
        // Same range as terraform/variables.tf's validation of target_utilization.
        if !(self.target_utilization > 0.0 && self.target_utilization <= 2.0) {
            return bad("target_utilization", "must be in (0, 2]");
        }
        if self.max_tasks == 0 {
            return bad("max_tasks", "must be >= 1");
        }
        if self.min_tasks > self.max_tasks {
            return bad("min_tasks", "must be <= max_tasks");
        }
        Ok(())
    }

    /// The longest window the rule looks back over: how long samples are kept.
    pub fn memory_seconds(&self) -> u64 {
        self.load_window_seconds
            .max(self.scale_down_window_seconds)
            .max(self.activity_window_seconds)
    }
}

/// What one poll observed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observation {
    /// Seconds on a clock that persists with the state (the Lambda: Unix time).
    pub t: u64,
    /// SQS ApproximateNumberOfMessages.
    pub visible: u64,
    /// SQS ApproximateNumberOfMessagesNotVisible.
    pub in_flight: u64,
    /// Tasks with ECS task scale-in protection on (the worker holds it exactly while it
    /// holds messages).
    pub busy_tasks: u32,
    /// The service's desired count now.
    pub desired_tasks: u32,
}

/// The rule's answer for one poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Tasks the load and backlog call for, before the scale-down rules.
    pub want: u32,
    /// The service's next desired count, and the instances the fleet should have (one
    /// task per instance).
    pub desired_tasks: u32,
}

/// One remembered poll. Serialised as `[t, queued, busy, want]` so a full window of
/// samples stays well inside an SSM standard parameter (4 KB).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "(u64, u64, u32, u32)", into = "(u64, u64, u32, u32)")]
pub struct PollSample {
    pub t: u64,
    /// Visible + in flight.
    pub queued: u64,
    pub busy: u32,
    pub want: u32,
}

impl From<(u64, u64, u32, u32)> for PollSample {
    fn from((t, queued, busy, want): (u64, u64, u32, u32)) -> Self {
        PollSample {
            t,
            queued,
            busy,
            want,
        }
    }
}

impl From<PollSample> for (u64, u64, u32, u32) {
    fn from(s: PollSample) -> Self {
        (s.t, s.queued, s.busy, s.want)
    }
}

/// Everything the rule remembers between polls. `{}` is a valid, empty state (what the
/// Terraform creates the SSM parameter with).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyState {
    /// Polls of the last [`PolicyConfig::memory_seconds`], oldest first.
    #[serde(default)]
    pub samples: VecDeque<PollSample>,
    /// First poll of the current run of polls that saw an empty system.
    #[serde(default)]
    pub empty_since: Option<u64>,
}

impl PolicyState {
    /// Drops what cannot come before a poll at `now`: samples from the future (a clock
    /// that stepped back, a state written by another clock) and samples out of order.
    /// Returns how many samples were dropped.
    pub fn sanitize(&mut self, now: u64) -> usize {
        let before = self.samples.len();
        let mut last = 0;
        self.samples.retain(|s| {
            let keep = s.t <= now && s.t >= last;
            if keep {
                last = s.t;
            }
            keep
        });
        if self.empty_since.is_some_and(|s| s > now) {
            self.empty_since = None;
        }
        before - self.samples.len()
    }
}

/// The rule with its state.
#[derive(Debug, Clone)]
pub struct BacklogPolicy {
    config: PolicyConfig,
    state: PolicyState,
}

impl BacklogPolicy {
    pub fn new(config: PolicyConfig) -> Self {
        Self::with_state(config, PolicyState::default())
    }

    /// Resumes from a persisted state.
    pub fn with_state(config: PolicyConfig, state: PolicyState) -> Self {
        BacklogPolicy { config, state }
    }

    pub fn config(&self) -> &PolicyConfig {
        &self.config
    }

    pub fn state(&self) -> &PolicyState {
        &self.state
    }

    pub fn into_state(self) -> PolicyState {
        self.state
    }

    /// Jobs that arrived between the oldest remembered poll at or after `since` and a poll
    /// now with `queued` jobs visible or in flight and `busy` busy tasks, with the time
    /// span. Per pair of successive polls: the growth of visible + in flight plus the jobs
    /// completed meanwhile (mean busy × Δt / job_seconds), at least 0 — a pair cannot show
    /// fewer than no arrivals, and a job that came and went unseen by the busy count is
    /// still counted once, when it was visible.
    fn arrivals_since(&self, since: u64, now: u64, queued: f64, busy: f64) -> (f64, f64) {
        let samples = &self.state.samples;
        let Some(start) = samples.iter().position(|s| s.t >= since) else {
            return (0.0, 0.0);
        };
        let job = self.config.job_seconds;
        let mut arrived = 0.0;
        let (mut prev_t, mut prev_queued, mut prev_busy) = {
            let s = samples[start];
            (s.t, s.queued as f64, s.busy as f64)
        };
        let rest = samples
            .iter()
            .skip(start + 1)
            .map(|s| (s.t, s.queued as f64, s.busy as f64))
            .chain(std::iter::once((now, queued, busy)));
        for (t, q, b) in rest {
            let completed = (prev_busy + b) / 2.0 * t.saturating_sub(prev_t) as f64 / job;
            arrived += (q - prev_queued + completed).max(0.0);
            (prev_t, prev_queued, prev_busy) = (t, q, b);
        }
        (arrived, now.saturating_sub(samples[start].t) as f64)
    }

    /// One poll: the desired task count (and instance count) from what it observed.
    pub fn poll(&mut self, obs: &Observation) -> Decision {
        let t = obs.t;
        self.state.sanitize(t);
        let p = &self.config;
        let job = p.job_seconds;
        let visible = obs.visible as f64;
        let queued = visible + obs.in_flight as f64;
        let busy = obs.busy_tasks as f64;
        let current = obs.desired_tasks;
        let cold_start = p.cold_start_seconds as f64;

        let since = t.saturating_sub(p.load_window_seconds);
        let load = match p.load_estimate {
            LoadEstimate::BusyNow => busy,
            LoadEstimate::BusyMean => {
                let (sum, n) = self
                    .state
                    .samples
                    .iter()
                    .filter(|s| s.t >= since)
                    .fold((busy, 1.0), |(sum, n), s| (sum + s.busy as f64, n + 1.0));
                sum / n
            }
            LoadEstimate::ArrivalRate => {
                let (arrived, span) = self.arrivals_since(since, t, queued, busy);
                if span > 0.0 {
                    arrived / span * job
                } else {
                    busy
                }
            }
        };
        // What is left of the latency budget once a new instance is ready; never less than
        // a quarter of it or one job, so a cold start longer than the budget still scales.
        let budget = (p.acceptable_latency_seconds - cold_start)
            .max(p.acceptable_latency_seconds / 4.0)
            .max(job);
        let raw = load / p.target_utilization + visible * job / budget;
        // The epsilon keeps an exact integer (2.5 + 0.5) from rounding up on float noise.
        let want = ((raw - 1e-9).ceil().max(0.0) as u32).clamp(p.min_tasks, p.max_tasks);

        let empty = queued == 0.0 && busy == 0.0;
        if empty {
            self.state.empty_since.get_or_insert(t);
        } else {
            self.state.empty_since = None;
        }

        let mut next = current;
        if want >= current {
            next = want;
        } else {
            // Down to k >= 1: every poll of the window wanted fewer than now.
            let since = t.saturating_sub(p.scale_down_window_seconds);
            let samples = &self.state.samples;
            let covered = samples.front().is_some_and(|s| s.t <= since);
            let window_max = samples
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
                    t.saturating_sub(p.activity_window_seconds),
                    t,
                    queued,
                    busy,
                );
                let frequent = span > 0.0 && arrived / span * cold_start >= 1.0;
                let grace = if frequent { p.cold_start_seconds } else { 0 };
                if self
                    .state
                    .empty_since
                    .is_some_and(|s| t.saturating_sub(s) >= grace)
                {
                    next = 0;
                }
            }
        }
        let next = next.max(p.min_tasks);
        // Never below the busy tasks: ECS would not stop them anyway.
        let next = next.max(obs.busy_tasks.min(p.max_tasks));

        self.state.samples.push_back(PollSample {
            t,
            queued: obs.visible + obs.in_flight,
            busy: obs.busy_tasks,
            want,
        });
        let keep = p.memory_seconds();
        while self.state.samples.front().is_some_and(|s| s.t + keep < t) {
            self.state.samples.pop_front();
        }
        Decision {
            want,
            desired_tasks: next,
        }
    }
}

#[cfg(test)]
mod tests;
