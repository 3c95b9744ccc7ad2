//! The two things the handler does to the world, as traits: drive ECS container
//! instances ([`ClusterControl`]) and answer Auto Scaling lifecycle hooks
//! ([`LifecycleHooks`]). [`crate::aws`] implements both with the AWS SDK; tests can use
//! any other implementation.

use std::collections::BTreeMap;
use std::future::Future;

use crate::event::LifecycleAction;

/// Custom ECS attributes the handler puts on a container instance, so that what it has
/// counted survives across invocations without a table of its own (the instance's
/// attributes go away with the instance). Names and values follow ECS's attribute rules.
pub mod marks {
    /// Set once an interruption of the instance has been counted; its value is the
    /// `EventType` it was counted under. Redeliveries, and a later notice for the same
    /// instance (a Spot warning, then the ASG's termination hook), are not counted again.
    pub const INTERRUPTION_COUNTED: &str = "facerec.interruption-counted";
    /// Set once a rebalance recommendation was recorded without draining (capacity
    /// rebalancing off). It does not stop a later interruption from being counted.
    pub const REBALANCE_RECORDED: &str = "facerec.rebalance-recorded";
    /// Only attributes under this prefix are read back into [`super::ContainerInstance::marks`].
    pub const PREFIX: &str = "facerec.";
}

/// The ECS view of one EC2 instance in our cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerInstance {
    pub arn: String,
    pub ec2_instance_id: String,
    /// `ACTIVE`, `DRAINING`, `REGISTERING`, …
    pub status: String,
    /// From the `ecs.availability-zone` attribute the agent registers.
    pub availability_zone: Option<String>,
    pub running_tasks: i32,
    pub pending_tasks: i32,
    /// The handler's own attributes on the instance (names under [`marks::PREFIX`]).
    pub marks: BTreeMap<String, String>,
}

impl ContainerInstance {
    pub fn is_draining(&self) -> bool {
        self.status == "DRAINING"
    }

    /// Tasks that still hold work: running, or about to.
    pub fn active_tasks(&self) -> i32 {
        self.running_tasks + self.pending_tasks
    }

    pub fn has_mark(&self, name: &str) -> bool {
        self.marks.contains_key(name)
    }
}

/// A failed AWS call, classified by whether retrying the message can help.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum FleetError {
    /// Throttling, 5xx, timeouts, connection failures: the SQS message is returned as a
    /// batch item failure and redelivered.
    #[error("transient error in {operation}: {message}")]
    Transient {
        operation: &'static str,
        message: String,
    },
    /// The request itself is wrong (permissions, unknown cluster…): retrying repeats it.
    #[error("permanent error in {operation}: {message}")]
    Permanent {
        operation: &'static str,
        message: String,
    },
    /// The lifecycle action is no longer pending (completed by someone else, or timed
    /// out). For completion this means the work is already done.
    #[error("lifecycle action no longer pending: {0}")]
    LifecycleActionGone(String),
}

impl FleetError {
    pub fn is_transient(&self) -> bool {
        matches!(self, FleetError::Transient { .. })
    }
}

/// ECS operations on our cluster.
pub trait ClusterControl: Send + Sync {
    /// The container instance running on `ec2_instance_id`, if it is in our cluster.
    fn find_by_ec2_instance(
        &self,
        ec2_instance_id: &str,
    ) -> impl Future<Output = Result<Option<ContainerInstance>, FleetError>> + Send;

    /// Re-reads one container instance; `None` once it has left the cluster.
    fn describe(
        &self,
        container_instance_arn: &str,
    ) -> impl Future<Output = Result<Option<ContainerInstance>, FleetError>> + Send;

    /// Sets the instance DRAINING: ECS stops placing tasks on it and replaces its service
    /// tasks elsewhere. Returns `false` if ECS no longer knows the instance.
    fn set_draining(
        &self,
        container_instance_arn: &str,
    ) -> impl Future<Output = Result<bool, FleetError>> + Send;

    /// Puts the custom attribute `name=value` on the container instance (see [`marks`]).
    fn mark(
        &self,
        container_instance_arn: &str,
        name: &str,
        value: &str,
    ) -> impl Future<Output = Result<(), FleetError>> + Send;
}

/// Auto Scaling lifecycle hook operations.
pub trait LifecycleHooks: Send + Sync {
    /// Extends the hook's heartbeat timeout while we wait for tasks to stop.
    fn record_heartbeat(
        &self,
        action: &LifecycleAction,
    ) -> impl Future<Output = Result<(), FleetError>> + Send;

    /// Lets Auto Scaling proceed with the termination (`CONTINUE`).
    fn complete_continue(
        &self,
        action: &LifecycleAction,
    ) -> impl Future<Output = Result<(), FleetError>> + Send;
}
