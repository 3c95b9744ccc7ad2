//! One policy on one trace: `Simulation::step` advances the world by one second, in the
//! order AWS acts within it — jobs arrive, visibility timeouts run out, Spot strikes,
//! CloudWatch publishes the minute that closed, the policy decides, managed scaling and
//! the policy set the group, the service reconciles its tasks, the group launches or
//! terminates instances, ECS places tasks, and the workers run.

use std::collections::VecDeque;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::{work_one_second, Instance, Job, Outcome, Sample, Task, TaskState, World};
use crate::candidates::CandidateSettings;
use crate::cloudwatch::{AlarmRule, AlarmState, Comparison, MinuteSeries};
use crate::oracle::oracle_schedule;
use crate::params::{Environment, ScalingParams};
use crate::policy::{Decision, InstanceScaleIn, Observation, PolicyKind, RawMetrics, Scaler};
use crate::trace::Trace;

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
    // This run's drawn events (missed invocations, the no-capacity window), made explicit.
    let env = &crate::world::resolve(env, trace.duration, horizon);
    let mut sim = Simulation::new(params, env, trace, kind, settings, horizon);
    for t in 0..=horizon {
        sim.step(t);
    }
    sim.finish(horizon)
}

/// The world and the scaling machinery around it.
struct Simulation<'a> {
    w: World<'a>,
    trace: &'a Trace,
    kind: PolicyKind,
    scaler: Scaler,
    /// Whether CapacityProviderReservation's N counts instances still booting.
    counts_pending: bool,
    scale_in: InstanceScaleIn,
    metrics: RawMetrics,
    cpr: MinuteSeries,
    /// Managed scaling's scale-out and scale-in alarms on CapacityProviderReservation.
    cp_high: AlarmRule,
    cp_low: AlarmRule,
    samples: Vec<Sample>,
    instance_seconds: u64,
    next_arrival: usize,
    sent_this_minute: u64,
    /// Spot interruptions per instance-hour: the environment's plus the trace's.
    spot_rate: f64,
    /// (visible, in flight) at each second so far, for pollers that read stale counts.
    counts: Vec<(u32, u32)>,
}

impl<'a> Simulation<'a> {
    fn new(
        params: &'a ScalingParams,
        env: &'a Environment,
        trace: &'a Trace,
        kind: PolicyKind,
        settings: &CandidateSettings,
        horizon: u64,
    ) -> Self {
        let schedule = if kind == PolicyKind::Oracle {
            oracle_schedule(&trace.arrivals, horizon, params, env)
        } else {
            Vec::new()
        };
        let cp_delay = env.capacity_metric_delay_seconds;
        let target = params.capacity_target_percent;
        Simulation {
            w: World {
                p: params,
                env,
                rng: StdRng::seed_from_u64(env.seed),
                world: crate::world::stream(env.seed),
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
                trace_job_seconds: trace.job_seconds.as_deref(),
            },
            trace,
            kind,
            scaler: Scaler::with_settings(kind, params, env, schedule, settings),
            counts_pending: kind.cpr_counts_pending_instances(),
            scale_in: kind.instance_scale_in(),
            metrics: RawMetrics::default(),
            cpr: MinuteSeries::default(),
            cp_high: AlarmRule {
                comparison: Comparison::GreaterThan,
                threshold: target,
                datapoints: 1,
                delay: cp_delay,
            },
            cp_low: AlarmRule {
                comparison: Comparison::LessThan,
                threshold: target,
                datapoints: 15,
                delay: cp_delay,
            },
            samples: Vec::new(),
            instance_seconds: 0,
            next_arrival: 0,
            sent_this_minute: 0,
            spot_rate: env.spot_interruptions_per_instance_hour + trace.spot_rate_per_instance_hour,
            counts: Vec::with_capacity(horizon as usize + 1),
        }
    }

    /// Second `t` of the run.
    fn step(&mut self, t: u64) {
        self.arrive(t);
        self.return_expired_messages(t);
        self.spot(t);
        let minute_boundary = t > 0 && t.is_multiple_of(60);
        if minute_boundary {
            self.publish_minute(t);
        }
        let decision = self.decide(t, minute_boundary);
        if let Some(d) = decision.desired_tasks {
            self.w.desired_tasks = d;
        }
        let before_managed = self.w.asg_desired;
        if minute_boundary && self.kind.uses_managed_scaling() {
            self.managed_scaling(t);
        }
        // The policy's own setting of the group comes after managed scaling's in the same
        // second. A raise by managed scaling that the policy undoes at once still launched
        // its instances (the group acts on it within seconds): `launch_to`.
        let launch_to = if self.w.asg_desired > before_managed {
            self.w.asg_desired
        } else {
            0
        };
        self.set_group_capacity(&decision);
        self.reconcile_service(t);
        if let Some(wanted) = decision.desired_instances {
            if self.scale_in == InstanceScaleIn::ScalerTerminatesIdle && !decision.scale_out_only {
                self.scaler_terminates_idle(t, wanted);
            }
        }
        self.reconcile_group(t, launch_to);
        self.place_and_start_tasks(t);
        self.run_workers(t);
        self.record(t);
    }

    /// Step 1: Arrivals: the trace's jobs of this second become visible messages.
    fn arrive(&mut self, t: u64) {
        let arrivals = &self.trace.arrivals;
        let w = &mut self.w;
        while self.next_arrival < arrivals.len() && arrivals[self.next_arrival] <= t {
            let idle = w.visible.is_empty() && w.in_flight == 0 && w.running_tasks() == 0;
            if idle {
                w.cold_window = true;
            }
            let id = w.jobs.len();
            w.jobs.push(Job {
                arrival: arrivals[self.next_arrival],
                started: None,
                done: None,
                receives: 0,
                dead_lettered: false,
                cold: w.cold_window,
            });
            w.visible.push_back(id);
            self.next_arrival += 1;
            self.sent_this_minute += 1;
        }
    }

    /// Step 2: Messages whose visibility timeout ran out are visible again.
    fn return_expired_messages(&mut self, t: u64) {
        let w = &mut self.w;
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
    }

    /// Step 3: Spot: storms, background interruptions, terminations at the end of notice.
    fn spot(&mut self, t: u64) {
        let w = &mut self.w;
        for storm in self.trace.storms.iter().filter(|s| s.at == t) {
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
        if self.spot_rate > 0.0 {
            let p = self.spot_rate / 3600.0;
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
    }

    /// Step 4: Minute boundary: CloudWatch gets the datapoints of the minute that just closed.
    fn publish_minute(&mut self, t: u64) {
        let w = &self.w;
        let metrics = &mut self.metrics;
        metrics.visible.push(Some(w.visible.len() as f64));
        metrics.not_visible.push(Some(w.in_flight as f64));
        metrics.running.push(Some(w.running_tasks() as f64));
        metrics.desired.push(Some(w.desired_tasks as f64));
        metrics.sent.push(Some(self.sent_this_minute as f64));
        self.sent_this_minute = 0;
        let m = w.tasks.iter().filter(|t| t.alive()).count() as f64;
        let n = w.cpr_instances(t, self.counts_pending) as f64;
        self.cpr.push(Some(if n == 0.0 {
            if m > 0.0 {
                200.0
            } else {
                100.0
            }
        } else {
            m / n * 100.0
        }));
    }

    /// The policy's decision this second: the desired task count and group capacity.
    fn decide(&mut self, t: u64, minute_boundary: bool) -> Decision {
        let w = &self.w;
        let busy = w.tasks.iter().filter(|t| t.alive() && t.busy()).count() as u32;
        self.counts
            .push((w.visible.len() as u32, w.in_flight as u32));
        // The counts a poller reads: exact, or as they were `count_staleness_seconds` ago.
        let env = w.env;
        let stale = env.count_staleness_seconds
            + crate::world::draw(&mut self.w.world, env.count_staleness_spread_seconds);
        let w = &self.w;
        let seen = t.saturating_sub(stale) as usize;
        let (visible, in_flight) = self.counts[seen.min(self.counts.len() - 1)];
        self.scaler.decide(&Observation {
            t,
            visible_now: visible as usize,
            in_flight_now: in_flight as usize,
            desired_tasks: w.desired_tasks,
            busy_tasks: busy,
            group_desired: w.asg_desired,
            metrics: &self.metrics,
            cpr: &self.cpr,
            minute_boundary,
        })
    }

    /// Step 5: ECS cluster auto scaling on CapacityProviderReservation.
    fn managed_scaling(&mut self, t: u64) {
        let params = self.w.p;
        let target = params.capacity_target_percent;
        let w = &mut self.w;
        let m = w.tasks.iter().filter(|t| t.alive()).count() as u32;
        let n = w.cpr_instances(t, self.counts_pending) as u32;
        let cap = params.max_tasks;
        if self.cp_high.evaluate(&self.cpr, t) == AlarmState::Alarm {
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
        } else if self.cp_low.evaluate(&self.cpr, t) == AlarmState::Alarm {
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

    /// The policy's own setting of the group's desired capacity.
    fn set_group_capacity(&mut self, decision: &Decision) {
        if let Some(n) = decision.desired_instances {
            if self.scale_in == InstanceScaleIn::ScalerTerminatesIdle {
                // SetDesiredCapacity only raises; lowering is done instance by instance
                // (TerminateInstanceInAutoScalingGroup, decrementing): scaler_terminates_idle.
                self.w.asg_desired = self.w.asg_desired.max(n);
            } else {
                self.w.asg_desired = n;
            }
        }
    }

    /// Step 6: ECS service: reconcile the task count with the desired count.
    fn reconcile_service(&mut self, t: u64) {
        let protects_busy = self.kind.protects_busy_tasks();
        let w = &mut self.w;
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
                if w.tasks[k].busy() && protects_busy {
                    continue; // scale-in protection: ECS leaves it running
                }
                w.stop_task(t, k);
                excess -= 1;
            }
        }
    }

    /// Step 7a: The backlog scaler removes instances itself, at its polls, down to `wanted`.
    fn scaler_terminates_idle(&mut self, t: u64, wanted: u32) {
        let w = &mut self.w;
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
        let excess = live.len().saturating_sub(wanted as usize);
        for &i in idle.iter().take(excess) {
            w.terminate(t, i);
            w.asg_desired = w.asg_desired.saturating_sub(1);
        }
    }

    /// Step 7: Auto Scaling group: launch or terminate to match the desired capacity;
    /// `launch_to`: what managed scaling raised it to this second, launched regardless.
    fn reconcile_group(&mut self, t: u64, launch_to: u32) {
        let scale_in = self.scale_in;
        let env = self.w.env;
        let w = &mut self.w;
        let live = w.counted_instances();
        let cap = w.p.max_tasks as usize;
        let target_n = (w.asg_desired as usize).min(cap);
        let launch_n = match scale_in {
            InstanceScaleIn::ManagedProtection => target_n.max((launch_to as usize).min(cap)),
            _ => target_n,
        };
        // No Spot capacity: every launch fails; the group retries, here every second. The
        // oracle is exempt: it is the reference cost of the work, not of the outage.
        let no_capacity =
            self.kind != PolicyKind::Oracle && env.no_capacity.iter().any(|o| o.covers(t));
        if live.len() < launch_n && !no_capacity {
            for _ in live.len()..launch_n {
                let registered_at = t
                    + env.instance_boot_seconds
                    + crate::world::draw(&mut w.world, env.boot_spread_seconds);
                w.instances.push(Instance {
                    launched: t,
                    registered_at,
                    placeable_at: registered_at
                        + crate::world::draw(&mut w.world, env.placement_max_seconds),
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
                    order.sort_by_key(|&i| rank(w, i));
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
    }

    /// Step 8: Placement (distinctInstance: one task per registered instance) and start-up.
    fn place_and_start_tasks(&mut self, t: u64) {
        let env = self.w.env;
        let w = &mut self.w;
        for k in 0..w.tasks.len() {
            match w.tasks[k].state {
                TaskState::Provisioning => {
                    let free = (0..w.instances.len()).find(|&i| {
                        let inst = &w.instances[i];
                        !inst.gone
                            && inst.task.is_none()
                            && inst.terminate_at.is_none()
                            && inst.placeable_at <= t
                    });
                    if let Some(i) = free {
                        w.instances[i].task = Some(k);
                        w.tasks[k].instance = Some(i);
                        let start = env.task_start_seconds
                            + crate::world::draw(&mut w.world, env.task_start_spread_seconds);
                        w.tasks[k].state = TaskState::Starting {
                            ready_at: t + start,
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
    }

    /// Step 9: Workers: finish, start, receive.
    fn run_workers(&mut self, t: u64) {
        for k in 0..self.w.tasks.len() {
            if self.w.tasks[k].state == TaskState::Running {
                work_one_second(&mut self.w, t, k);
            }
        }
    }

    /// Step 10: Book-keeping: instance-seconds, and a sample each minute.
    fn record(&mut self, t: u64) {
        let w = &self.w;
        self.instance_seconds += w.live_instances().count() as u64;
        if t.is_multiple_of(60) {
            self.samples.push(Sample {
                t,
                visible: w.visible.len(),
                in_flight: w.in_flight,
                desired_tasks: w.desired_tasks,
                running_tasks: w.running_tasks(),
                instances: w.live_instances().count() as u32,
            });
        }
    }

    fn finish(self, horizon: u64) -> Outcome {
        Outcome {
            policy: self.kind,
            trace: self.trace.name.clone(),
            instances_launched: self.w.instances.len() as u32,
            interruptions: self.w.interruptions,
            jobs: self.w.jobs,
            samples: self.samples,
            instance_seconds: self.instance_seconds,
            horizon,
        }
    }
}
