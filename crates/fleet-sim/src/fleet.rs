//! The simulated world, advanced one second at a time: the SQS queue (visible / in
//! flight / dead-letter), the ECS service and its tasks, the Auto Scaling group's Spot
//! instances, ECS cluster auto scaling (the capacity provider) and Spot interruptions.
//!
//! Rules modelled, with their sources:
//! - SQS: a received message is invisible until deleted or its visibility timeout ends;
//!   after more than `maxReceiveCount` receives it moves to the dead-letter queue.
//!   <https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-visibility-timeout.html>
//!   <https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html>
//! - ECS service: keeps `desiredCount` tasks; a task that cannot be placed waits in
//!   PROVISIONING for capacity from the capacity provider; `distinctInstance` puts at
//!   most one task on an instance.
//!   <https://docs.aws.amazon.com/AmazonECS/latest/developerguide/cluster-auto-scaling.html>
//!   <https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-placement-constraints.html>
//! - Task scale-in protection: ECS does not stop a protected task when the desired
//!   count drops; the worker protects itself while it holds messages.
//!   <https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-scale-in-protection.html>
//! - Capacity provider managed scaling: metric CapacityProviderReservation = M / N × 100
//!   (M = instances the tasks need incl. PROVISIONING ones, N = instances in the group);
//!   when N = 0 and M > 0 it is 200, so the first scale-out from zero launches two
//!   instances; with M = 0 and N = 0 it is 100. Scale-out alarm: 1 datapoint above the
//!   target; scale-in alarm: 15 datapoints below it. Scale-out size is clamped to
//!   [minimumScalingStepSize, maximumScalingStepSize].
//!   <https://aws.amazon.com/blogs/containers/deep-dive-on-amazon-ecs-cluster-auto-scaling/>
//!   <https://docs.aws.amazon.com/AmazonECS/latest/developerguide/cluster-auto-scaling.html>
//!   <https://github.com/aws/containers-roadmap/issues/1716> (always 200 from zero → ≥ 2 instances)
//!   <https://github.com/aws/containers-roadmap/issues/900> (>100 for 1 min; <100 for 15 min)
//!   <https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ManagedScaling.html>
//! - Instance warm-up: the group does not scale in while an instance is warming up
//!   (instances in warm-up already count as capacity for scale-out, which the M/N
//!   metric reproduces because N includes launching instances).
//!   <https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-default-instance-warmup.html>
//! - Spot: a two-minute interruption notice; with ECS_ENABLE_SPOT_INSTANCE_DRAINING the
//!   instance goes DRAINING, its task gets SIGTERM and `stopTimeout` to finish, and the
//!   service starts a replacement task. The Auto Scaling group replaces the terminated
//!   instance to keep its desired capacity.
//!   <https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/spot-instance-termination-notices.html>
//!   <https://docs.aws.amazon.com/AmazonECS/latest/developerguide/spot-instance-draining.html>
//!   <https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-health-checks.html>
//!
//! Assumptions (same for every policy): ECS reacts to a desired-count change and places
//! tasks within the same second; when the group scales in it terminates empty instances
//! first (managed instance draining moves tasks off the others). The candidate designs
//! model instance scale-in protection exactly instead ([`InstanceScaleIn`]).

use std::collections::VecDeque;

use rand::rngs::StdRng;
use rand::Rng;
use serde::Serialize;

use crate::params::{Environment, ScalingParams};
use crate::policy::PolicyKind;

mod simulation;
pub use simulation::{simulate, simulate_with};

#[cfg(doc)]
use crate::policy::InstanceScaleIn;

/// What happened to one job.
#[derive(Debug, Clone, Serialize)]
pub struct Job {
    pub arrival: u64,
    /// When a worker started processing it (end of its queue wait).
    pub started: Option<u64>,
    pub done: Option<u64>,
    pub receives: u32,
    pub dead_lettered: bool,
    /// Arrived during a cold start: the system was idle (nothing queued, nothing in
    /// flight, no task running) or still waking up from it (no task running yet).
    pub cold: bool,
}

/// One sample per minute, for plots.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Sample {
    pub t: u64,
    pub visible: usize,
    pub in_flight: usize,
    pub desired_tasks: u32,
    pub running_tasks: u32,
    pub instances: u32,
}

/// Everything one run produced.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub policy: PolicyKind,
    pub trace: String,
    pub jobs: Vec<Job>,
    pub samples: Vec<Sample>,
    pub instance_seconds: u64,
    pub instances_launched: u32,
    pub interruptions: u32,
    pub horizon: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TaskState {
    Provisioning,
    Starting { ready_at: u64 },
    Running,
    Stopped,
}

#[derive(Debug)]
struct Task {
    state: TaskState,
    instance: Option<usize>,
    /// Received, not yet started.
    hand: VecDeque<usize>,
    current: Option<(usize, u64)>,
    /// SIGTERM received (Spot drain): finish what is in hand, receive nothing new.
    draining_until: Option<u64>,
}

impl Task {
    fn busy(&self) -> bool {
        self.current.is_some() || !self.hand.is_empty()
    }
    fn alive(&self) -> bool {
        self.state != TaskState::Stopped
    }
}

#[derive(Debug)]
struct Instance {
    launched: u64,
    registered_at: u64,
    /// When the service scheduler can first place a task on it (registration plus the
    /// scheduler's next attempt; equal to `registered_at` in the idealised world).
    placeable_at: u64,
    task: Option<usize>,
    terminate_at: Option<u64>,
    gone: bool,
}

struct World<'a> {
    p: &'a ScalingParams,
    env: &'a Environment,
    rng: StdRng,
    /// The realistic world's draws (boot, placement, task start, stale counts).
    world: StdRng,
    jobs: Vec<Job>,
    visible: VecDeque<usize>,
    returning: Vec<(u64, usize)>,
    in_flight: usize,
    tasks: Vec<Task>,
    instances: Vec<Instance>,
    desired_tasks: u32,
    asg_desired: u32,
    /// Open cold-start window: set when a job arrives at an idle system.
    cold_window: bool,
    interruptions: u32,
    /// The trace's own job times, if it has them.
    trace_job_seconds: Option<&'a [u64]>,
}

impl World<'_> {
    fn running_tasks(&self) -> u32 {
        self.tasks
            .iter()
            .filter(|t| t.state == TaskState::Running)
            .count() as u32
    }

    /// Job `m`'s processing seconds: the trace's, or drawn.
    fn job_seconds_of(&mut self, m: usize) -> u64 {
        match self.trace_job_seconds {
            Some(given) => given[m],
            None => self.job_duration(),
        }
    }

    fn job_duration(&mut self) -> u64 {
        let mean = self.p.job_seconds;
        let cv = self.env.job_time_cv;
        let d = if cv <= 0.0 {
            mean
        } else {
            // Log-normal with the given mean and coefficient of variation (Box–Muller).
            let s2 = (1.0 + cv * cv).ln();
            let mu = mean.ln() - s2 / 2.0;
            let u1: f64 = self.rng.gen_range(f64::MIN_POSITIVE..1.0);
            let u2: f64 = self.rng.gen();
            let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
            (mu + s2.sqrt() * z).exp()
        };
        (d.round() as u64).max(1)
    }

    /// Returns messages a dead task held to the queue after the visibility timeout.
    fn release_after_timeout(&mut self, t: u64, task: usize) {
        let mut held: Vec<usize> = self.tasks[task].hand.drain(..).collect();
        if let Some((m, _)) = self.tasks[task].current.take() {
            held.push(m);
        }
        for m in held {
            self.returning
                .push((t + self.p.visibility_timeout_seconds(), m));
        }
    }

    fn stop_task(&mut self, t: u64, task: usize) {
        self.release_after_timeout(t, task);
        self.tasks[task].state = TaskState::Stopped;
        if let Some(i) = self.tasks[task].instance.take() {
            self.instances[i].task = None;
        }
    }

    fn interrupt(&mut self, t: u64, i: usize) {
        if self.instances[i].terminate_at.is_some() || self.instances[i].gone {
            return;
        }
        self.interruptions += 1;
        self.instances[i].terminate_at = Some(t + self.env.spot_notice_seconds);
        if let Some(task) = self.instances[i].task {
            if self.tasks[task].state == TaskState::Running {
                let deadline = t + self
                    .p
                    .stop_timeout_seconds
                    .min(self.env.spot_notice_seconds);
                self.tasks[task].draining_until = Some(deadline);
            } else {
                self.stop_task(t, task); // not yet polling: nothing to finish
            }
        }
    }

    fn terminate(&mut self, t: u64, i: usize) {
        if let Some(task) = self.instances[i].task {
            self.stop_task(t, task);
        }
        self.instances[i].gone = true;
    }

    fn live_instances(&self) -> impl Iterator<Item = (usize, &Instance)> {
        self.instances.iter().enumerate().filter(|(_, i)| !i.gone)
    }

    /// Instances the group counts towards its desired capacity: with Capacity
    /// Rebalancing an interrupted one is already replaced (it leaves at its notice's end).
    fn counted_instances(&self) -> Vec<usize> {
        self.live_instances()
            .filter(|(_, i)| !(self.env.capacity_rebalance && i.terminate_at.is_some()))
            .map(|(k, _)| k)
            .collect()
    }

    /// N of CapacityProviderReservation: every live instance, or only those registered
    /// with the cluster (the two readings, see `candidates`).
    fn cpr_instances(&self, t: u64, counts_pending: bool) -> usize {
        self.live_instances()
            .filter(|(_, i)| counts_pending || i.registered_at <= t)
            .count()
    }
}

fn work_one_second(w: &mut World, t: u64, k: usize) {
    if w.tasks[k].draining_until.is_some_and(|d| d <= t) {
        // stopTimeout ran out: SIGKILL; whatever it still holds reappears after the timeout.
        w.stop_task(t, k);
        return;
    }
    loop {
        if let Some((m, end)) = w.tasks[k].current {
            if end > t {
                return;
            }
            w.jobs[m].done = Some(end);
            w.in_flight -= 1;
            w.tasks[k].current = None;
        }
        if let Some(m) = w.tasks[k].hand.pop_front() {
            let d = w.job_seconds_of(m);
            w.jobs[m].started = Some(t);
            w.tasks[k].current = Some((m, t + d));
            continue;
        }
        if w.tasks[k].draining_until.is_some() {
            // Drained: the task exits; its instance is terminated at the end of the notice.
            w.stop_task(t, k);
            return;
        }
        // Receive a batch (long polling returns as soon as something is visible).
        let mut got = 0;
        while got < w.p.batch_size {
            let Some(m) = w.visible.pop_front() else {
                break;
            };
            w.jobs[m].receives += 1;
            if w.jobs[m].receives > w.p.max_receive_count {
                w.jobs[m].dead_lettered = true; // redrive to the DLQ
                continue;
            }
            w.in_flight += 1;
            w.tasks[k].hand.push_back(m);
            got += 1;
        }
        if got == 0 {
            return;
        }
    }
}
