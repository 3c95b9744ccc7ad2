//! Deployments of a busy fleet: how many instances a rolling update needs, and when the
//! old deployment's tasks may be released from their scale-in protection.
//!
//! The service deploys with `minimumHealthyPercent = 100`, `maximumPercent = 200` and one
//! task per instance (`distinctInstance`). ECS starts the new deployment's tasks before it
//! stops old ones, "provided that the cluster resources required to do this are
//! available" ([rolling update]), so each new task needs a free instance; and it does not
//! stop an old task while the task is scale-in protected ([task scale-in protection]),
//! which a worker is for as long as it holds jobs. Sized for the desired count alone, a
//! busy fleet's deployment waits until load falls.
//!
//! So, while the service has deployments besides the primary one (status ACTIVE, in
//! DescribeServices' `deployments`):
//! - **surge**: the fleet needs the decision's tasks for the primary deployment plus one
//!   instance for every task the older deployments still run or start;
//! - **release**: once the primary deployment runs every task it wants, the older
//!   deployments' tasks are released (their protection cleared: ecs:UpdateTaskProtection),
//!   so ECS stops them. A stopping worker finishes its running jobs within the stop
//!   timeout and returns the rest to the queue (docs/jobs.md), so nothing is lost; the new
//!   tasks, all running by then, take them over.
//!
//! [rolling update]: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-type-ecs.html
//! [task scale-in protection]: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-scale-in-protection.html

/// One deployment of the service (DescribeServices `deployments[]`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Deployment {
    /// `ecs-svc/…`: the `startedBy` of its tasks.
    pub id: String,
    /// Status PRIMARY (the newest); the others are ACTIVE (older, being replaced).
    pub primary: bool,
    pub desired: u32,
    pub running: u32,
    pub pending: u32,
}

/// What a poll does about the deployments it saw.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rollout {
    /// The instances the fleet needs: the decision's tasks plus the older deployments'.
    pub instances: u32,
    /// Older deployments whose tasks to release from scale-in protection now.
    pub release: Vec<String>,
}

/// The instances and releases for `desired_tasks` (this poll's decision) given the
/// service's `deployments`. Without an older deployment: the decision's tasks, nothing
/// released.
pub fn rollout(desired_tasks: u32, deployments: &[Deployment]) -> Rollout {
    let older: Vec<&Deployment> = deployments.iter().filter(|d| !d.primary).collect();
    let surge: u32 = older.iter().map(|d| d.running + d.pending).sum();
    // Every task the primary deployment wants runs (as ECS counted them when this poll
    // read the service): the older tasks have a replacement each.
    let placed = deployments
        .iter()
        .find(|d| d.primary)
        .is_some_and(|p| p.running >= p.desired);
    let release = if placed {
        older
            .iter()
            .filter(|d| d.running + d.pending > 0)
            .map(|d| d.id.clone())
            .collect()
    } else {
        Vec::new()
    };
    Rollout {
        instances: desired_tasks + surge,
        release,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(id: &str, primary: bool, desired: u32, running: u32, pending: u32) -> Deployment {
        Deployment {
            id: id.into(),
            primary,
            desired,
            running,
            pending,
        }
    }

    #[test]
    fn a_steady_service_needs_its_decision_and_releases_nothing() {
        let steady = [deployment("ecs-svc/1", true, 3, 3, 0)];
        assert_eq!(
            rollout(4, &steady),
            Rollout {
                instances: 4,
                release: vec![]
            }
        );
        assert_eq!(rollout(2, &[]).instances, 2, "no deployments listed");
    }

    #[test]
    fn a_deployment_under_way_needs_an_instance_per_old_task_too() {
        // 3 new tasks wanted, 1 placed; the old deployment still runs 3 busy tasks.
        let rolling = [
            deployment("ecs-svc/new", true, 3, 1, 0),
            deployment("ecs-svc/old", false, 0, 3, 0),
        ];
        let r = rollout(3, &rolling);
        assert_eq!(r.instances, 6, "3 for the new tasks, 3 for the old");
        assert!(r.release.is_empty(), "new tasks not all running yet");
    }

    #[test]
    fn once_the_new_tasks_run_the_old_ones_are_released() {
        let placed = [
            deployment("ecs-svc/new", true, 3, 3, 0),
            deployment("ecs-svc/old", false, 0, 2, 0),
            deployment("ecs-svc/gone", false, 0, 0, 0),
        ];
        let r = rollout(3, &placed);
        assert_eq!(r.instances, 5);
        assert_eq!(r.release, ["ecs-svc/old"], "only deployments with tasks");
    }

    #[test]
    fn a_primary_still_starting_tasks_holds_the_release() {
        let starting = [
            deployment("ecs-svc/new", true, 2, 1, 1),
            deployment("ecs-svc/old", false, 0, 1, 0),
        ];
        assert!(rollout(2, &starting).release.is_empty());
    }
}
