//! The scaler with the real SDK clients against moto: a real SQS queue with messages, an
//! ECS cluster with the worker service, container instances registered for the EC2
//! instances of a real Auto Scaling group, tasks with scale-in protection, and the SSM
//! parameter with the state. moto 5.2 lacks ECS task protection (UpdateTaskProtection,
//! GetTaskProtection) and ignores ListTasks' serviceName; `tools/moto/ecs_patches.py`
//! restores both as ECS documents them.
//!
//! The invocation's six polls run back to back (a clock that jumps instead of sleeping:
//! paused tokio time would also pause the SDK's timeouts against a real server).

mod support;

use std::sync::Mutex;
use std::time::Duration;

use facerec_backlog_scaler::Clock;
use facerec_test_support::fleet::register_container_instance;
use support::fleet;
use tokio::time::Instant;

/// Wall time that advances by exactly the time slept, without sleeping.
struct JumpingClock {
    origin: Instant,
    slept: Mutex<Duration>,
    unix_millis: i64,
}

impl JumpingClock {
    fn new() -> Self {
        Self::minutes_on(0)
    }

    /// The clock of an invocation `minutes` after [`JumpingClock::new`]'s.
    fn minutes_on(minutes: i64) -> Self {
        JumpingClock {
            origin: Instant::now(),
            slept: Mutex::new(Duration::ZERO),
            unix_millis: 1_767_225_600_000 + minutes * 60_000,
        }
    }
}

impl Clock for JumpingClock {
    fn now(&self) -> Instant {
        self.origin + *self.slept.lock().unwrap()
    }

    async fn sleep_until(&self, deadline: Instant) {
        let mut slept = self.slept.lock().unwrap();
        *slept = (*slept).max(deadline - self.origin);
    }

    fn unix_millis(&self) -> i64 {
        self.unix_millis + self.slept.lock().unwrap().as_millis() as i64
    }
}

/// 40 visible jobs and nothing running: one invocation sets the service to
/// ceil(40 × 6 / (300 − 165)) = 2 tasks and raises the group to 2 instances, and leaves
/// its six polls in the SSM parameter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_raises_the_service_and_the_group() {
    let f = fleet(40, 0, 0).await;
    let scaler = f.scaler();
    let report = scaler.invoke(&JumpingClock::new()).await.unwrap();
    assert!(report.failed_polls.is_empty(), "{:?}", report.failed_polls);
    assert_eq!(report.polls.len(), 6);
    assert_eq!(report.polls[0].visible, 40);
    assert_eq!(report.polls[0].want, 2);
    assert_eq!(f.service_desired().await, 2);
    let (desired, instances) = f.group().await;
    assert_eq!(desired, 2);
    assert_eq!(instances.len(), 2, "the group launched them");
    // Terraform's "{}" was a valid empty state; now it holds the invocation's polls.
    assert_eq!(report.fresh_state, None);
    let state = f.state().await;
    assert_eq!(state.samples.len(), 6);
    assert!(state.samples.iter().all(|s| s.queued == 40 && s.want == 2));
    assert_eq!(scaler.metrics().records_with("DesiredTasks").len(), 6);
}

/// An empty queue, no busy task, two instances: one runs an idle task of the service, the
/// other nothing. The service goes to 0; the empty instance is set DRAINING and then
/// terminated, decrementing the group; the one with a task is left alone (ECS stops its
/// idle task now that the service wants none, and a later poll removes it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_fleet_drains_and_terminates_its_empty_instance() {
    let f = fleet(0, 1, 2).await;
    let (with_task, with_task_arn) = f.instances[0].clone();
    let (empty, empty_arn) = f.instances[1].clone();
    f.start_task(&with_task_arn, false).await;
    let report = f.scaler().invoke(&JumpingClock::new()).await.unwrap();
    assert!(report.failed_polls.is_empty(), "{:?}", report.failed_polls);
    assert_eq!(report.polls[0].busy_tasks, 0);
    assert_eq!(report.polls[0].desired_tasks, 0);
    assert_eq!(report.polls[0].terminated, std::slice::from_ref(&empty));
    assert!(report.polls[1..].iter().all(|p| p.terminated.is_empty()));
    assert_eq!(f.service_desired().await, 0);
    let (desired, instances) = f.group().await;
    assert_eq!(desired, 1, "the termination decremented the group");
    assert_eq!(instances, std::slice::from_ref(&with_task));
    assert_eq!(
        f.status(&empty_arn).await,
        "DRAINING",
        "drained before terminating"
    );
    assert_eq!(f.status(&with_task_arn).await, "ACTIVE");
}

/// The same fleet with the task busy (scale-in protected): the service keeps 1 task — the
/// busy one — and only the empty instance goes. The busy count came from GetTaskProtection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_task_keeps_its_instance_and_the_service() {
    let f = fleet(0, 1, 2).await;
    let (with_task, with_task_arn) = f.instances[0].clone();
    let (empty, _) = f.instances[1].clone();
    f.start_task(&with_task_arn, true).await;
    let report = f.scaler().invoke(&JumpingClock::new()).await.unwrap();
    assert!(report.failed_polls.is_empty(), "{:?}", report.failed_polls);
    assert!(report.polls.iter().all(|p| p.busy_tasks == 1), "{report:?}");
    assert!(report.polls.iter().all(|p| p.desired_tasks == 1));
    assert_eq!(report.polls[0].terminated, [empty]);
    assert_eq!(f.service_desired().await, 1);
    let (desired, instances) = f.group().await;
    assert_eq!((desired, instances), (1, vec![with_task]));
}

/// A zombie through the real clients: an instance set DRAINING by someone else, idle and
/// in service, first seen so 200 s ago (the sighting in the SSM state). The listing
/// without a status filter returns it, it is not counted, and it is terminated
/// (decrementing the group) at the first poll; the instance with the busy task stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zombie_instance_is_terminated() {
    let f = fleet(0, 1, 2).await;
    let (busy, busy_arn) = f.instances[0].clone();
    let (zombie, zombie_arn) = f.instances[1].clone();
    f.start_task(&busy_arn, true).await;
    f.ecs
        .update_container_instances_state()
        .cluster(support::CLUSTER)
        .container_instances(&zombie_arn)
        .status(aws_sdk_ecs::types::ContainerInstanceStatus::Draining)
        .send()
        .await
        .unwrap();
    let seen = 1_767_225_600 - 200;
    f.ssm
        .put_parameter()
        .name(support::PARAMETER)
        .value(format!(r#"{{"draining":{{"{zombie}":{seen}}}}}"#))
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .overwrite(true)
        .send()
        .await
        .unwrap();
    let report = f.scaler().invoke(&JumpingClock::new()).await.unwrap();
    assert!(report.failed_polls.is_empty(), "{:?}", report.failed_polls);
    assert_eq!(report.polls[0].capacity, 1);
    assert_eq!(report.polls[0].terminated, std::slice::from_ref(&zombie));
    assert!(report.polls[1..].iter().all(|p| p.terminated.is_empty()));
    let (desired, instances) = f.group().await;
    assert_eq!((desired, instances), (1, vec![busy]));
    assert_eq!(f.status(&busy_arn).await, "ACTIVE");
}

/// A deployment of a busy fleet through the real clients (`tools/moto/ecs_patches.py`'s
/// `_ecs_rolling_deployments` lists the replaced deployment as ECS does): two busy tasks
/// of the old deployment on the group's two instances, and 40 jobs waiting, for which the
/// rule wants 2 tasks (the old tasks' protection is not counted as the new deployment's
/// load). The first invocation raises the
/// group to 4 — an instance for each new task — and releases nothing while no new task
/// runs; once both new tasks run on the new instances, the next invocation clears the old
/// tasks' scale-in protection (ListTasks by `startedBy`, UpdateTaskProtection).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_fleets_deployment_gets_instances_then_releases_the_old_tasks() {
    let f = fleet(40, 2, 2).await;
    let old = f.primary_deployment().await;
    let mut old_tasks = Vec::new();
    for (_, arn) in &f.instances {
        old_tasks.push(f.start_deployment_task(arn, Some(&old), true).await);
    }
    f.ecs
        .update_service()
        .cluster(support::CLUSTER)
        .service(support::SERVICE)
        .force_new_deployment(true)
        .send()
        .await
        .unwrap();
    let new = f.primary_deployment().await;
    assert_ne!(new, old);

    let report = f.scaler().invoke(&JumpingClock::new()).await.unwrap();
    assert!(report.failed_polls.is_empty(), "{:?}", report.failed_polls);
    let first = &report.polls[0];
    assert_eq!((first.busy_tasks, first.desired_tasks), (0, 2));
    assert_eq!((first.instances_needed, first.group_desired), (4, 4));
    assert!(report.polls.iter().all(|p| p.released_tasks == 0));
    assert_eq!(f.protected(&old_tasks).await, [true, true]);
    let (desired, launched) = f.group().await;
    assert_eq!(
        (desired, launched.len()),
        (4, 4),
        "the group launched two more"
    );

    let known: Vec<&String> = f.instances.iter().map(|(id, _)| id).collect();
    for id in launched.iter().filter(|id| !known.contains(id)) {
        let arn = register_container_instance(&f.ecs, support::CLUSTER, id).await;
        f.start_deployment_task(&arn, Some(&new), false).await;
    }
    let report = f
        .scaler()
        .invoke(&JumpingClock::minutes_on(1))
        .await
        .unwrap();
    assert!(report.failed_polls.is_empty(), "{:?}", report.failed_polls);
    assert_eq!(report.polls[0].instances_needed, 4);
    assert_eq!(report.polls[0].released_tasks, 2);
    assert_eq!(f.protected(&old_tasks).await, [false, false]);
    assert!(report.polls.iter().all(|p| p.terminated.is_empty()));
}
