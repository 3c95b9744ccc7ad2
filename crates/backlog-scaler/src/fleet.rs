//! What the scaler observes and does, as traits: the fleet ([`FleetApi`]: the queue, the
//! ECS service and its container instances, the Auto Scaling group) and the state store
//! ([`StateStore`]: the SSM parameter). [`crate::aws`] implements both with the AWS SDK;
//! tests use in-memory ones.

use std::future::Future;

pub use facerec_backlog_policy::rollout::Deployment;

/// The jobs queue's depth (SQS GetQueueAttributes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueDepth {
    /// ApproximateNumberOfMessages.
    pub visible: u64,
    /// ApproximateNumberOfMessagesNotVisible.
    pub in_flight: u64,
}

/// The ECS service's task counts and deployments (DescribeServices).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServiceCounts {
    pub desired: u32,
    pub running: u32,
    pub pending: u32,
    /// The PRIMARY deployment and any older (ACTIVE) ones still being replaced.
    pub deployments: Vec<Deployment>,
}

/// One instance of the Auto Scaling group (DescribeAutoScalingGroups).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupInstance {
    pub instance_id: String,
    /// `Pending`, `InService`, `Terminating:Wait`, …
    pub lifecycle_state: String,
}

/// The Auto Scaling group's capacity and members.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupState {
    pub desired_capacity: u32,
    pub max_size: u32,
    pub instances: Vec<GroupInstance>,
}

/// One ECS container instance of the cluster (DescribeContainerInstances).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerInstance {
    pub arn: String,
    pub ec2_instance_id: String,
    /// `ACTIVE`, `DRAINING`, `REGISTERING`, …
    pub status: String,
    pub running_tasks: i32,
    pub pending_tasks: i32,
    /// When it registered, in Unix seconds (newest are removed first).
    pub registered_at: i64,
}

impl ContainerInstance {
    /// Runs no task, and none is about to start on it.
    pub fn is_empty(&self) -> bool {
        self.running_tasks + self.pending_tasks == 0
    }
}

/// A failed AWS call. The poll it happened in is skipped; the next poll retries.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
#[error("{operation}: {message}")]
pub struct AwsError {
    pub operation: &'static str,
    pub message: String,
}

impl AwsError {
    pub fn new(operation: &'static str, message: impl Into<String>) -> Self {
        AwsError {
            operation,
            message: message.into(),
        }
    }
}

/// The calls one poll makes (IAM: `docs/operations.md` lists them).
pub trait FleetApi: Send + Sync {
    /// sqs:GetQueueAttributes on the jobs queue.
    fn queue_depth(&self) -> impl Future<Output = Result<QueueDepth, AwsError>> + Send;

    /// ecs:DescribeServices on the worker service.
    fn service(&self) -> impl Future<Output = Result<ServiceCounts, AwsError>> + Send;

    /// Tasks of the service whose task scale-in protection is on: ecs:ListTasks (the
    /// service's RUNNING tasks), then ecs:GetTaskProtection.
    fn busy_tasks(&self) -> impl Future<Output = Result<u32, AwsError>> + Send;

    /// The RUNNING tasks a deployment started (ecs:ListTasks with `startedBy` = its id:
    /// ECS sets a service task's `startedBy` to the deployment's id, API_Task).
    fn deployment_tasks(
        &self,
        deployment_id: &str,
    ) -> impl Future<Output = Result<Vec<String>, AwsError>> + Send;

    /// How many of `tasks` are scale-in protected (ecs:GetTaskProtection).
    fn protected_tasks(
        &self,
        tasks: &[String],
    ) -> impl Future<Output = Result<u32, AwsError>> + Send;

    /// Clears the scale-in protection of `tasks` (ecs:UpdateTaskProtection, at most 10
    /// tasks a call); returns how many ECS reported cleared.
    fn release_tasks(&self, tasks: &[String])
        -> impl Future<Output = Result<u32, AwsError>> + Send;

    /// ecs:UpdateService with a new desired count.
    fn set_desired_count(&self, count: u32) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// autoscaling:DescribeAutoScalingGroups for the worker group.
    fn group(&self) -> impl Future<Output = Result<GroupState, AwsError>> + Send;

    /// autoscaling:SetDesiredCapacity, honouring no cooldown. Only ever called to raise.
    fn set_desired_capacity(
        &self,
        capacity: u32,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// The cluster's container instances in every status but INACTIVE (ACTIVE, DRAINING,
    /// REGISTERING …): ecs:ListContainerInstances without a status filter, then
    /// ecs:DescribeContainerInstances.
    fn container_instances(
        &self,
    ) -> impl Future<Output = Result<Vec<ContainerInstance>, AwsError>> + Send;

    /// Re-reads one container instance (ecs:DescribeContainerInstances); `None` once it
    /// has left the cluster.
    fn container_instance(
        &self,
        arn: &str,
    ) -> impl Future<Output = Result<Option<ContainerInstance>, AwsError>> + Send;

    /// ecs:UpdateContainerInstancesState to DRAINING (`draining`) or back to ACTIVE.
    fn set_container_instance_draining(
        &self,
        arn: &str,
        draining: bool,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// autoscaling:TerminateInstanceInAutoScalingGroup with
    /// ShouldDecrementDesiredCapacity = true.
    fn terminate_instance(
        &self,
        instance_id: &str,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// Where the rule's state lives between invocations (ssm:GetParameter, ssm:PutParameter).
pub trait StateStore: Send + Sync {
    /// The stored text; `None` if the parameter does not exist.
    fn load(&self) -> impl Future<Output = Result<Option<String>, AwsError>> + Send;

    fn save(&self, value: &str) -> impl Future<Output = Result<(), AwsError>> + Send;
}
