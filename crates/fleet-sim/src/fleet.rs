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
use rand::{Rng, SeedableRng};
use serde::Serialize;

use crate::candidates::CandidateSettings;
use crate::cloudwatch::{AlarmRule, AlarmState, Comparison, MinuteSeries};
use crate::params::{Environment, ScalingParams};
use crate::policy::{
    oracle_schedule, InstanceScaleIn, Observation, PolicyKind, RawMetrics, Scaler,
};
use crate::trace::Trace;

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
    task: Option<usize>,
    terminate_at: Option<u64>,
    gone: bool,
}

struct World<'a> {
    p: &'a ScalingParams,
    env: &'a Environment,
    rng: StdRng,
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
}

impl World<'_> {
    fn running_tasks(&self) -> u32 {
        self.tasks
            .iter()
            .filter(|t| t.state == TaskState::Running)
            .count() as u32
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

/// Runs one policy on one trace.
pub fn simulate(
    params: &ScalingParams,
    env: &Environment,
    trace: &Trace,
    kind: PolicyKind,
) -> Outcome {
    simulate_with(params, env, trace, kind, &CandidateSettings::default())
}

/// [`simulate`] with the candidate designs' own settings.
pub fn simulate_with(
    params: &ScalingParams,
    env: &Environment,
    trace: &Trace,
    kind: PolicyKind,
    settings: &CandidateSettings,
) -> Outcome {
    let horizon = trace.duration + env.tail_seconds;
    let schedule = if kind == PolicyKind::Oracle {
        oracle_schedule(&trace.arrivals, horizon, params, env)
    } else {
        Vec::new()
    };
    let mut scaler = Scaler::with_settings(kind, params, env, schedule, settings);
    let counts_pending = kind.cpr_counts_pending_instances();
    let scale_in = kind.instance_scale_in();
    let mut w = World {
        p: params,
        env,
        rng: StdRng::seed_from_u64(env.seed),
        jobs: Vec::with_capacity(trace.arrivals.len()),
        visible: VecDeque::new(),
        returning: Vec::new(),
        in_flight: 0,
        tasks: Vec::new(),
        instances: Vec::new(),
        desired_tasks: params.min_tasks,
        asg_desired: 0,
        cold_window: false,
        interruptions: 0,
    };
    let mut metrics = RawMetrics::default();
    let mut cpr = MinuteSeries::default();
    let cp_delay = env.capacity_metric_delay_seconds;
    let target = params.capacity_target_percent;
    let cp_high = AlarmRule {
        comparison: Comparison::GreaterThan,
        threshold: target,
        datapoints: 1,
        delay: cp_delay,
    };
    let cp_low = AlarmRule {
        comparison: Comparison::LessThan,
        threshold: target,
        datapoints: 15,
        delay: cp_delay,
    };
    let mut samples = Vec::new();
    let mut instance_seconds = 0u64;
    let mut next_arrival = 0usize;
    let mut sent_this_minute = 0u64;
    let spot_rate = env.spot_interruptions_per_instance_hour + trace.spot_rate_per_instance_hour;

    for t in 0..=horizon {
        // 1. Arrivals.
        while next_arrival < trace.arrivals.len() && trace.arrivals[next_arrival] <= t {
            let idle = w.visible.is_empty() && w.in_flight == 0 && w.running_tasks() == 0;
            if idle {
                w.cold_window = true;
            }
            let id = w.jobs.len();
            w.jobs.push(Job {
                arrival: trace.arrivals[next_arrival],
                started: None,
                done: None,
                receives: 0,
                dead_lettered: false,
                cold: w.cold_window,
            });
            w.visible.push_back(id);
            next_arrival += 1;
            sent_this_minute += 1;
        }
        // 2. Messages whose visibility timeout ran out.
        let mut k = 0;
        while k < w.returning.len() {
            if w.returning[k].0 <= t {
                let (_, m) = w.returning.swap_remove(k);
                w.in_flight -= 1;
                w.visible.push_back(m);
            } else {
                k += 1;
            }
        }
        // 3. Spot: storms, background interruptions, terminations at the end of notice.
        for storm in trace.storms.iter().filter(|s| s.at == t) {
            let live: Vec<usize> = w
                .live_instances()
                .filter(|(_, i)| i.terminate_at.is_none())
                .map(|(k, _)| k)
                .collect();
            let n = (storm.fraction * live.len() as f64).ceil() as usize;
            for &i in live.iter().take(n) {
                w.interrupt(t, i);
            }
        }
        if spot_rate > 0.0 {
            let p = spot_rate / 3600.0;
            for i in 0..w.instances.len() {
                if !w.instances[i].gone && w.rng.gen::<f64>() < p {
                    w.interrupt(t, i);
                }
            }
        }
        for i in 0..w.instances.len() {
            if !w.instances[i].gone && w.instances[i].terminate_at.is_some_and(|at| at <= t) {
                w.terminate(t, i);
            }
        }

        // 4. Minute boundary: publish datapoints of the minute that just closed.
        let minute_boundary = t > 0 && t % 60 == 0;
        if minute_boundary {
            metrics.visible.push(Some(w.visible.len() as f64));
            metrics.not_visible.push(Some(w.in_flight as f64));
            metrics.running.push(Some(w.running_tasks() as f64));
            metrics.desired.push(Some(w.desired_tasks as f64));
            metrics.sent.push(Some(sent_this_minute as f64));
            sent_this_minute = 0;
            let m = w.tasks.iter().filter(|t| t.alive()).count() as f64;
            let n = w.cpr_instances(t, counts_pending) as f64;
            cpr.push(Some(if n == 0.0 {
                if m > 0.0 {
                    200.0
                } else {
                    100.0
                }
            } else {
                m / n * 100.0
            }));
        }
        let busy = w.tasks.iter().filter(|t| t.alive() && t.busy()).count() as u32;
        let decision = scaler.decide(&Observation {
            t,
            visible_now: w.visible.len(),
            in_flight_now: w.in_flight,
            desired_tasks: w.desired_tasks,
            busy_tasks: busy,
            metrics: &metrics,
            cpr: &cpr,
            minute_boundary,
        });
        if let Some(d) = decision.desired_tasks {
            w.desired_tasks = d;
        }
        let before_managed = w.asg_desired;
        if minute_boundary && kind.uses_managed_scaling() {
            // 5. ECS cluster auto scaling on CapacityProviderReservation.
            let m = w.tasks.iter().filter(|t| t.alive()).count() as u32;
            let n = w.cpr_instances(t, counts_pending) as u32;
            let cap = params.max_tasks;
            if cp_high.evaluate(&cpr, t) == AlarmState::Alarm {
                let wanted = if n == 0 {
                    2 // CapacityProviderReservation = 200 % of nothing: two instances
                } else {
                    (m as f64 * 100.0 / target).ceil() as u32
                };
                if wanted > n {
                    let step = (wanted - n).clamp(
                        params.minimum_scaling_step_size,
                        params.maximum_scaling_step_size,
                    );
                    w.asg_desired = w.asg_desired.max((n + step).min(cap));
                }
            } else if cp_low.evaluate(&cpr, t) == AlarmState::Alarm {
                let warming = w
                    .live_instances()
                    .any(|(_, i)| t < i.launched + params.instance_warmup_seconds);
                if !warming {
                    let wanted = (m as f64 * 100.0 / target).ceil() as u32;
                    if wanted < w.asg_desired {
                        w.asg_desired = wanted;
                    }
                }
            }
        }
        // The policy's own setting of the group comes after managed scaling's in the same
        // second. A raise by managed scaling that the policy undoes at once still launched
        // its instances (the group acts on it within seconds): `launch_to`.
        let launch_to = if w.asg_desired > before_managed {
            w.asg_desired
        } else {
            0
        };
        let scaler_acted = decision.desired_instances.is_some();
        if let Some(n) = decision.desired_instances {
            if scale_in == InstanceScaleIn::ScalerTerminatesIdle {
                // SetDesiredCapacity only raises; lowering is done instance by instance
                // below (TerminateInstanceInAutoScalingGroup, decrementing).
                w.asg_desired = w.asg_desired.max(n);
            } else {
                w.asg_desired = n;
            }
        }

        // 6. ECS service: reconcile task count with the desired count.
        let active: Vec<usize> = (0..w.tasks.len())
            .filter(|&k| w.tasks[k].alive() && w.tasks[k].draining_until.is_none())
            .collect();
        let desired = w.desired_tasks as usize;
        if active.len() < desired {
            for _ in active.len()..desired {
                w.tasks.push(Task {
                    state: TaskState::Provisioning,
                    instance: None,
                    hand: VecDeque::new(),
                    current: None,
                    draining_until: None,
                });
            }
        } else if active.len() > desired {
            let mut excess = active.len() - desired;
            // Stop the least useful first: not yet placed, then starting, then idle, then busy.
            let rank = |task: &Task| match task.state {
                TaskState::Provisioning => 0,
                TaskState::Starting { .. } => 1,
                _ if !task.busy() => 2,
                _ => 3,
            };
            let mut order = active.clone();
            order.sort_by_key(|&k| std::cmp::Reverse(k));
            order.sort_by_key(|&k| rank(&w.tasks[k]));
            for k in order {
                if excess == 0 {
                    break;
                }
                if w.tasks[k].busy() && kind.protects_busy_tasks() {
                    continue; // scale-in protection: ECS leaves it running
                }
                w.stop_task(t, k);
                excess -= 1;
            }
        }

        // 7a. The backlog scaler removes instances itself, at its polls.
        if scale_in == InstanceScaleIn::ScalerTerminatesIdle && scaler_acted {
            let live = w.counted_instances();
            // As the Lambda does (crates/backlog-scaler): it terminates registered
            // container instances without a task, newest first, never one under a Spot
            // notice (the handler has set it DRAINING, and EC2 takes it anyway), each call
            // decrementing the group. Instances still booting have no container instance
            // yet and are left alone; they count towards the group's size.
            let mut idle: Vec<usize> = live
                .iter()
                .copied()
                .filter(|&i| {
                    let inst = &w.instances[i];
                    inst.task.is_none() && inst.terminate_at.is_none() && inst.registered_at <= t
                })
                .collect();
            idle.sort_by_key(|&i| std::cmp::Reverse(w.instances[i].registered_at));
            let wanted = decision.desired_instances.unwrap_or(w.asg_desired) as usize;
            let excess = live.len().saturating_sub(wanted);
            for &i in idle.iter().take(excess) {
                w.terminate(t, i);
                w.asg_desired = w.asg_desired.saturating_sub(1);
            }
        }

        // 7. Auto Scaling group: launch or terminate to match the desired capacity.
        let live = w.counted_instances();
        let cap = params.max_tasks as usize;
        let target_n = (w.asg_desired as usize).min(cap);
        let launch_n = match scale_in {
            InstanceScaleIn::ManagedProtection => target_n.max((launch_to as usize).min(cap)),
            _ => target_n,
        };
        if live.len() < launch_n {
            for _ in live.len()..launch_n {
                w.instances.push(Instance {
                    launched: t,
                    registered_at: t + env.instance_boot_seconds,
                    task: None,
                    terminate_at: None,
                    gone: false,
                });
            }
        } else if live.len() > target_n {
            match scale_in {
                InstanceScaleIn::EmptyFirst => {
                    let mut order = live.clone();
                    let rank = |w: &World, i: usize| match w.instances[i].task {
                        None => 0,
                        Some(task) if !w.tasks[task].busy() => 1,
                        Some(_) => 2,
                    };
                    order.sort_by_key(|&i| rank(&w, i));
                    for &i in order.iter().take(live.len() - target_n) {
                        w.terminate(t, i);
                    }
                }
                InstanceScaleIn::ManagedProtection => {
                    // Protected: runs a task, or still booting (protected from InService
                    // on, and ECS has not yet seen it empty), or about to receive a task
                    // waiting in PROVISIONING (ECS places it before it would lift
                    // protection). The group keeps trying every second, so an instance
                    // goes as soon as its protection is lifted.
                    let waiting = w
                        .tasks
                        .iter()
                        .filter(|k| k.state == TaskState::Provisioning)
                        .count();
                    let mut unprotected: Vec<usize> = live
                        .iter()
                        .copied()
                        .filter(|&i| {
                            let inst = &w.instances[i];
                            inst.task.is_none() && inst.registered_at <= t
                        })
                        .collect();
                    // Instances under a Spot notice go first; the last `waiting` free
                    // ones (oldest) keep their protection for the tasks waiting.
                    unprotected.sort_by_key(|&i| {
                        (
                            w.instances[i].terminate_at.is_none(),
                            std::cmp::Reverse(w.instances[i].launched),
                        )
                    });
                    let keep_free = unprotected
                        .iter()
                        .filter(|&&i| w.instances[i].terminate_at.is_none())
                        .count()
                        .min(waiting);
                    unprotected.truncate(unprotected.len() - keep_free);
                    for &i in unprotected.iter().take(live.len() - target_n) {
                        w.terminate(t, i);
                    }
                }
                // Only the scaler removes instances (7a); the group never scales in.
                InstanceScaleIn::ScalerTerminatesIdle => {}
            }
        }

        // 8. Placement (distinctInstance: one task per registered instance) and start-up.
        for k in 0..w.tasks.len() {
            match w.tasks[k].state {
                TaskState::Provisioning => {
                    let free = (0..w.instances.len()).find(|&i| {
                        let inst = &w.instances[i];
                        !inst.gone
                            && inst.task.is_none()
                            && inst.terminate_at.is_none()
                            && inst.registered_at <= t
                    });
                    if let Some(i) = free {
                        w.instances[i].task = Some(k);
                        w.tasks[k].instance = Some(i);
                        w.tasks[k].state = TaskState::Starting {
                            ready_at: t + env.task_start_seconds,
                        };
                    }
                }
                TaskState::Starting { ready_at } if ready_at <= t => {
                    w.tasks[k].state = TaskState::Running;
                }
                _ => {}
            }
        }
        // A task becoming Running (or an idle system staying idle) closes the cold window.
        if w.cold_window && w.running_tasks() > 0 {
            w.cold_window = false;
        }

        // 9. Workers: finish, start, receive.
        for k in 0..w.tasks.len() {
            if w.tasks[k].state == TaskState::Running {
                work_one_second(&mut w, t, k);
            }
        }

        // 10. Book-keeping.
        instance_seconds += w.live_instances().count() as u64;
        if t % 60 == 0 {
            samples.push(Sample {
                t,
                visible: w.visible.len(),
                in_flight: w.in_flight,
                desired_tasks: w.desired_tasks,
                running_tasks: w.running_tasks(),
                instances: w.live_instances().count() as u32,
            });
        }
    }

    Outcome {
        policy: kind,
        trace: trace.name.clone(),
        instances_launched: w.instances.len() as u32,
        interruptions: w.interruptions,
        jobs: w.jobs,
        samples,
        instance_seconds,
        horizon,
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
            let d = w.job_duration();
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
