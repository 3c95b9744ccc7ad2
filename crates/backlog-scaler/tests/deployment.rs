//! A deployment of a busy fleet, over the in-memory fleet in paused tokio time: the group
//! grows by one instance per old task (surge) so every new task has an instance, the new
//! instances are not taken for excess while they wait for their tasks, the old tasks are
//! released from scale-in protection once every new task runs, and the old instances go
//! once they are empty (facerec_backlog_policy::rollout).

mod support;

use facerec_backlog_scaler::{Deployment, QueueDepth, TokioClock};
use support::fake::{
    ci, count, in_service, scaler, terminated, up_to_ten, MemoryStore, World, T0_MS,
};

fn deployment(id: &str, primary: bool, desired: u32, running: u32) -> Deployment {
    Deployment {
        id: id.into(),
        primary,
        desired,
        running,
        pending: 0,
    }
}

fn task(n: usize) -> String {
    format!("arn:aws:ecs:us-east-1:123456789012:task/facerec-cluster/task-{n}")
}

/// Three busy tasks of the old deployment on instances 1-3, a standing backlog for which
/// the rule wants 3 tasks (ceil(60 × 6 / 135)), and a new deployment that wants 3 tasks
/// and has none running.
fn busy_fleet_mid_deployment() -> World {
    World {
        depth: QueueDepth {
            visible: 60,
            in_flight: 3,
        },
        service_desired: 3,
        deployments: vec![
            deployment("ecs-svc/new", true, 3, 0),
            deployment("ecs-svc/old", false, 0, 3),
        ],
        tasks: (1..=3)
            .map(|n| (task(n), "ecs-svc/old".to_string(), true))
            .collect(),
        group_desired: 3,
        group: in_service(&[1, 2, 3]),
        container_instances: vec![ci(1, 1), ci(2, 1), ci(3, 1)],
        ..up_to_ten()
    }
}

#[tokio::test(start_paused = true)]
async fn a_busy_fleets_deployment_gets_surge_instances_then_releases_the_old_tasks() {
    let s = scaler(busy_fleet_mid_deployment(), MemoryStore::default());

    // 1. The new tasks have nowhere to go: the group grows by the 3 old tasks.
    let report = s.invoke(&TokioClock::anchored_at(T0_MS)).await.unwrap();
    assert!(report.failed_polls.is_empty(), "{:?}", report.failed_polls);
    let first = &report.polls[0];
    // The old tasks' protection is not the primary deployment's load (counted, the rule
    // would want 3 + 3 tasks for it, besides the 3 old ones).
    assert_eq!(first.busy_tasks, 0);
    assert_eq!((first.desired_tasks, first.instances_needed), (3, 6));
    assert_eq!(first.group_desired, 6);
    assert_eq!(s.fleet().world().group_desired, 6);
    assert!(report.polls.iter().all(|p| p.released_tasks == 0));
    assert_eq!(count(&s.fleet().calls(), "UpdateTaskProtection"), 0);

    // 2. The surge instances registered, empty while ECS places the new tasks: they are
    //    not excess (capacity 6 = needed 6), so none is drained or terminated.
    {
        let mut w = s.fleet().world();
        w.group = in_service(&[1, 2, 3, 4, 5, 6]);
        w.container_instances.extend([ci(4, 0), ci(5, 0), ci(6, 0)]);
    }
    let report = s
        .invoke(&TokioClock::anchored_at(T0_MS + 60_000))
        .await
        .unwrap();
    assert!(terminated(&report).is_empty(), "{report:?}");
    assert_eq!(
        count(&s.fleet().calls(), "UpdateContainerInstancesState"),
        0
    );

    // 3. Every new task runs: the old deployment's tasks are released, once per poll
    //    while they still run (a worker that renews its protection is released again).
    {
        let mut w = s.fleet().world();
        w.deployments = vec![
            deployment("ecs-svc/new", true, 3, 3),
            deployment("ecs-svc/old", false, 0, 3),
        ];
        for n in 4..=6 {
            w.container_instances[n - 1].running_tasks = 1;
        }
    }
    let report = s
        .invoke(&TokioClock::anchored_at(T0_MS + 120_000))
        .await
        .unwrap();
    assert_eq!(report.polls[0].released_tasks, 3);
    assert!(report.polls.iter().all(|p| p.released_tasks == 3));
    assert!(s.fleet().world().tasks.iter().all(|(_, _, p)| !p));
    assert!(s
        .fleet()
        .calls()
        .contains(&"ListTasks ecs-svc/old".to_string()));
    assert!(terminated(&report).is_empty(), "{report:?}");

    // 4. ECS stopped the released tasks: the old deployment is gone, its instances are
    //    empty, and they are the excess the scaler removes.
    {
        let mut w = s.fleet().world();
        w.deployments = vec![deployment("ecs-svc/new", true, 3, 3)];
        w.tasks.clear();
        for n in 1..=3 {
            w.container_instances[n - 1].running_tasks = 0;
        }
    }
    let report = s
        .invoke(&TokioClock::anchored_at(T0_MS + 180_000))
        .await
        .unwrap();
    let mut gone = terminated(&report);
    gone.sort();
    assert_eq!(gone, ["i-1", "i-2", "i-3"]);
    assert_eq!(s.fleet().world().group_desired, 3);
    assert!(report.polls.iter().all(|p| p.instances_needed == 3));
}

/// The new deployment still starting a task: nothing is released yet (the old tasks keep
/// the backlog moving until every replacement runs).
#[tokio::test(start_paused = true)]
async fn old_tasks_keep_their_protection_until_every_new_task_runs() {
    let mut world = busy_fleet_mid_deployment();
    world.deployments[0] = Deployment {
        running: 2,
        pending: 1,
        ..world.deployments[0].clone()
    };
    let s = scaler(world, MemoryStore::default());
    let report = s.invoke(&TokioClock::anchored_at(T0_MS)).await.unwrap();
    assert!(report.polls.iter().all(|p| p.released_tasks == 0));
    assert!(s.fleet().world().tasks.iter().all(|(_, _, p)| *p));
    assert_eq!(count(&s.fleet().calls(), "UpdateTaskProtection"), 0);
}
