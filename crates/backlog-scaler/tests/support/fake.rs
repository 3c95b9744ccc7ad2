//! An in-memory fleet and state store for the handler's tests, in paused tokio time.
//! Every call is logged in order (the store's saves too, when it shares the fleet's
//! journal); calls can fail, hang, or yield to let two invocations interleave.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use facerec_backlog_policy::{LoadEstimate, PolicyConfig};
use facerec_backlog_scaler::{
    AwsError, BacklogScaler, Clock, ContainerInstance, Deployment, FleetApi, GroupInstance,
    GroupState, InvocationReport, QueueDepth, RecordedMetrics, ScalerConfig, ServiceCounts,
    StateStore, TokioClock,
};

pub const T0_MS: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
pub const T0: u64 = (T0_MS / 1000) as u64;

pub fn config() -> ScalerConfig {
    ScalerConfig {
        queue_url: "https://sqs.example/123456789012/jobs".into(),
        cluster_name: "facerec-cluster".into(),
        service_name: "facerec-service".into(),
        autoscaling_group_name: "facerec-asg".into(),
        state_parameter: "/facerec/backlog-scaler/state".into(),
        poll_interval: Duration::from_secs(10),
        run_for: Duration::from_secs(50),
        policy: PolicyConfig {
            job_seconds: 6.0,
            acceptable_latency_seconds: 300.0,
            cold_start_seconds: 165,
            target_utilization: 1.0,
            min_tasks: 0,
            max_tasks: 5,
            load_window_seconds: 60,
            scale_down_window_seconds: 60,
            activity_window_seconds: 900,
            load_estimate: LoadEstimate::BusyMean,
        },
        metrics_namespace: "test/scaler".into(),
    }
}

/// A fleet in memory. `fail` makes the named operation fail, `fail_once` the first time.
#[derive(Default)]
pub struct World {
    pub depth: QueueDepth,
    pub service_desired: u32,
    /// Busy (scale-in protected) tasks of the service besides those listed in `tasks`.
    pub busy: u32,
    /// The service's deployments; empty reads as one PRIMARY deployment at the desired
    /// count.
    pub deployments: Vec<Deployment>,
    /// (task ARN, the deployment that started it, scale-in protected)
    pub tasks: Vec<(String, String, bool)>,
    pub group_desired: u32,
    pub max_size: u32,
    /// (instance id, lifecycle state)
    pub group: Vec<(String, String)>,
    pub container_instances: Vec<ContainerInstance>,
    /// A task appears on this container instance right after it is set DRAINING.
    pub task_lands_on: Option<String>,
    pub fail: Vec<&'static str>,
    pub fail_once: Vec<&'static str>,
    /// Setting a container instance ACTIVE again fails.
    pub fail_undo: bool,
    /// Operations that take this long (paused time) before answering.
    pub slow: Vec<(&'static str, Duration)>,
    pub calls: Vec<String>,
    /// After each termination: the group's instances with an ACTIVE container instance.
    pub active_after_terminations: Vec<usize>,
    /// Unix seconds of each GetQueueAttributes.
    pub polled_at: Vec<u64>,
}

/// The fleet's API over a shared [`World`]; clones share it (two invocations at once).
#[derive(Clone)]
pub struct FakeFleet {
    pub world: Arc<Mutex<World>>,
    clock: TokioClock,
    /// Yields to the runtime this many times before each call, so that two invocations
    /// joined in one task interleave call by call (with different phases).
    pub yields: usize,
}

impl FakeFleet {
    pub fn new(world: World) -> Self {
        FakeFleet {
            world: Arc::new(Mutex::new(world)),
            clock: TokioClock::anchored_at(T0_MS),
            yields: 0,
        }
    }

    pub fn with_yields(&self, yields: usize) -> Self {
        FakeFleet {
            yields,
            ..self.clone()
        }
    }

    pub fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap()
    }

    async fn call(
        &self,
        op: &'static str,
        detail: String,
    ) -> Result<MutexGuard<'_, World>, AwsError> {
        for _ in 0..self.yields {
            tokio::task::yield_now().await;
        }
        let slow = self
            .world()
            .slow
            .iter()
            .find(|(o, _)| *o == op)
            .map(|(_, d)| *d);
        if let Some(d) = slow {
            tokio::time::sleep(d).await;
        }
        let mut w = self.world();
        w.calls.push(if detail.is_empty() {
            op.to_string()
        } else {
            format!("{op} {detail}")
        });
        if w.fail.contains(&op) {
            return Err(AwsError::new(op, "injected failure"));
        }
        if let Some(i) = w.fail_once.iter().position(|o| *o == op) {
            w.fail_once.remove(i);
            return Err(AwsError::new(op, "injected failure"));
        }
        Ok(w)
    }

    pub fn calls(&self) -> Vec<String> {
        self.world().calls.clone()
    }
}

impl FleetApi for FakeFleet {
    async fn queue_depth(&self) -> Result<QueueDepth, AwsError> {
        let now = self.clock.unix_seconds();
        let mut w = self.call("GetQueueAttributes", String::new()).await?;
        w.polled_at.push(now);
        Ok(w.depth)
    }

    async fn service(&self) -> Result<ServiceCounts, AwsError> {
        let w = self.call("DescribeServices", String::new()).await?;
        Ok(ServiceCounts {
            desired: w.service_desired,
            running: w.service_desired,
            pending: 0,
            deployments: w.deployments.clone(),
        })
    }

    async fn deployment_tasks(&self, deployment_id: &str) -> Result<Vec<String>, AwsError> {
        let w = self.call("ListTasks", deployment_id.to_string()).await?;
        Ok(w.tasks
            .iter()
            .filter(|(_, started_by, _)| started_by == deployment_id)
            .map(|(arn, _, _)| arn.clone())
            .collect())
    }

    async fn release_tasks(&self, tasks: &[String]) -> Result<u32, AwsError> {
        let mut w = self.call("UpdateTaskProtection", tasks.join(" ")).await?;
        let mut released = 0;
        for (arn, _, protected) in w.tasks.iter_mut() {
            if tasks.contains(arn) {
                *protected = false;
                released += 1;
            }
        }
        Ok(released)
    }

    async fn busy_tasks(&self) -> Result<u32, AwsError> {
        let w = self.call("GetTaskProtection", String::new()).await?;
        Ok(w.busy
            + w.tasks
                .iter()
                .filter(|(_, _, protected)| *protected)
                .count() as u32)
    }

    async fn protected_tasks(&self, tasks: &[String]) -> Result<u32, AwsError> {
        let w = self.call("GetTaskProtection", tasks.join(" ")).await?;
        Ok(w.tasks
            .iter()
            .filter(|(arn, _, protected)| *protected && tasks.contains(arn))
            .count() as u32)
    }

    async fn set_desired_count(&self, count: u32) -> Result<(), AwsError> {
        self.call("UpdateService", count.to_string())
            .await?
            .service_desired = count;
        Ok(())
    }

    async fn group(&self) -> Result<GroupState, AwsError> {
        let w = self
            .call("DescribeAutoScalingGroups", String::new())
            .await?;
        Ok(GroupState {
            desired_capacity: w.group_desired,
            max_size: w.max_size,
            instances: w
                .group
                .iter()
                .map(|(id, state)| GroupInstance {
                    instance_id: id.clone(),
                    lifecycle_state: state.clone(),
                })
                .collect(),
        })
    }

    async fn set_desired_capacity(&self, capacity: u32) -> Result<(), AwsError> {
        self.call("SetDesiredCapacity", capacity.to_string())
            .await?
            .group_desired = capacity;
        Ok(())
    }

    async fn container_instances(&self) -> Result<Vec<ContainerInstance>, AwsError> {
        let w = self.call("ListContainerInstances", String::new()).await?;
        Ok(w.container_instances
            .iter()
            .filter(|ci| ci.status != "INACTIVE")
            .cloned()
            .collect())
    }

    async fn container_instance(&self, arn: &str) -> Result<Option<ContainerInstance>, AwsError> {
        let w = self
            .call("DescribeContainerInstances", arn.to_string())
            .await?;
        Ok(w.container_instances
            .iter()
            .find(|ci| ci.arn == arn)
            .cloned())
    }

    async fn set_container_instance_draining(
        &self,
        arn: &str,
        draining: bool,
    ) -> Result<(), AwsError> {
        const OP: &str = "UpdateContainerInstancesState";
        let status = if draining { "DRAINING" } else { "ACTIVE" };
        let mut w = self.call(OP, format!("{arn} {status}")).await?;
        if !draining && w.fail_undo {
            return Err(AwsError::new(OP, "injected failure"));
        }
        let lands = draining && w.task_lands_on.as_deref() == Some(arn);
        let Some(ci) = w.container_instances.iter_mut().find(|ci| ci.arn == arn) else {
            return Err(AwsError::new(OP, format!("{arn}: MISSING")));
        };
        ci.status = status.into();
        if lands {
            ci.pending_tasks = 1;
        }
        Ok(())
    }

    async fn terminate_instance(&self, instance_id: &str) -> Result<(), AwsError> {
        const OP: &str = "TerminateInstanceInAutoScalingGroup";
        let mut w = self.call(OP, instance_id.to_string()).await?;
        if !w.group.iter().any(|(id, _)| id == instance_id) {
            return Err(AwsError::new(
                OP,
                format!("{instance_id} is not in the group"),
            ));
        }
        w.group.retain(|(id, _)| id != instance_id);
        w.container_instances
            .retain(|ci| ci.ec2_instance_id != instance_id);
        w.group_desired -= 1;
        let active = w
            .container_instances
            .iter()
            .filter(|ci| ci.status == "ACTIVE")
            .filter(|ci| w.group.iter().any(|(id, _)| *id == ci.ec2_instance_id))
            .count();
        w.active_after_terminations.push(active);
        Ok(())
    }
}

#[derive(Default)]
pub struct MemoryStore {
    pub value: Mutex<Option<String>>,
    pub fail_load: bool,
    pub fail_save: bool,
    /// Each save takes this long (paused time).
    pub slow_save: Option<Duration>,
    pub saves: Mutex<VecDeque<String>>,
    /// A fleet's world whose call log records each save as `PutParameter`.
    pub journal: Option<Arc<Mutex<World>>>,
}

impl MemoryStore {
    /// A store whose saves appear in `fleet`'s call log.
    pub fn journaled(fleet: &FakeFleet) -> Self {
        MemoryStore {
            journal: Some(fleet.world.clone()),
            ..MemoryStore::default()
        }
    }

    pub fn holding(value: &str) -> Self {
        MemoryStore {
            value: Mutex::new(Some(value.to_string())),
            ..MemoryStore::default()
        }
    }
}

impl StateStore for MemoryStore {
    async fn load(&self) -> Result<Option<String>, AwsError> {
        if self.fail_load {
            return Err(AwsError::new("ssm:GetParameter", "AccessDenied"));
        }
        Ok(self.value.lock().unwrap().clone())
    }

    async fn save(&self, value: &str) -> Result<(), AwsError> {
        if let Some(d) = self.slow_save {
            tokio::time::sleep(d).await;
        }
        if let Some(world) = &self.journal {
            world.lock().unwrap().calls.push("PutParameter".into());
        }
        if self.fail_save {
            return Err(AwsError::new("ssm:PutParameter", "AccessDenied"));
        }
        *self.value.lock().unwrap() = Some(value.to_string());
        self.saves.lock().unwrap().push_back(value.to_string());
        Ok(())
    }
}

pub fn ci(n: usize, running: i32) -> ContainerInstance {
    ContainerInstance {
        arn: format!(
            "arn:aws:ecs:us-east-1:123456789012:container-instance/facerec-cluster/ci-{n}"
        ),
        ec2_instance_id: format!("i-{n}"),
        status: "ACTIVE".into(),
        running_tasks: running,
        pending_tasks: 0,
        registered_at: 1_767_220_000 + n as i64,
    }
}

pub fn draining(n: usize, running: i32) -> ContainerInstance {
    ContainerInstance {
        status: "DRAINING".into(),
        ..ci(n, running)
    }
}

pub fn in_service(ids: &[usize]) -> Vec<(String, String)> {
    ids.iter()
        .map(|n| (format!("i-{n}"), "InService".to_string()))
        .collect()
}

pub type Scaler = BacklogScaler<FakeFleet, MemoryStore, RecordedMetrics>;

/// An empty fleet whose group may grow to 10 instances: the base most tests set their
/// fields on.
pub fn up_to_ten() -> World {
    World {
        max_size: 10,
        ..World::default()
    }
}

/// [`up_to_ten`] with one instance in service, its container instance ACTIVE and idle.
pub fn one_idle_instance() -> World {
    World {
        group_desired: 1,
        group: in_service(&[1]),
        container_instances: vec![ci(1, 0)],
        ..up_to_ten()
    }
}

/// A scaler over `world` with an empty state store, as before a first invocation.
pub fn fresh(world: World) -> Scaler {
    scaler(world, MemoryStore::default())
}

pub fn scaler(world: World, store: MemoryStore) -> Scaler {
    on(FakeFleet::new(world), store)
}

pub fn on(fleet: FakeFleet, store: MemoryStore) -> Scaler {
    BacklogScaler::new(config(), fleet, store, RecordedMetrics::default())
}

/// The EC2 instance ids an invocation terminated, poll after poll.
pub fn terminated(report: &InvocationReport) -> Vec<String> {
    report
        .polls
        .iter()
        .flat_map(|p| p.terminated.iter().cloned())
        .collect()
}

pub fn count(calls: &[String], prefix: &str) -> usize {
    calls.iter().filter(|c| c.starts_with(prefix)).count()
}

/// The first container instance, drained for a removal that did not happen, was set
/// ACTIVE again: `calls` has the call, and the fleet shows it.
pub fn assert_first_instance_set_active_again(s: &Scaler, calls: &[String]) {
    assert!(calls.contains(&format!(
        "UpdateContainerInstancesState {} ACTIVE",
        ci(1, 0).arn
    )));
    assert_eq!(
        s.fleet().world.lock().unwrap().container_instances[0].status,
        "ACTIVE"
    );
}

/// The calls that change or re-read the fleet, in order.
pub fn writes(calls: &[String]) -> Vec<String> {
    calls
        .iter()
        .filter(|c| {
            [
                "UpdateService",
                "UpdateContainer",
                "DescribeContainer",
                "Terminate",
                "SetDesired",
                "PutParameter",
            ]
            .iter()
            .any(|p| c.starts_with(p))
        })
        .cloned()
        .collect()
}
