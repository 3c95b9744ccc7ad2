//! [`ClusterControl`] and [`LifecycleHooks`] over the official AWS SDK clients.
//!
//! IAM actions used (keep `docs/spot.md` in step):
//! `ecs:ListContainerInstances`, `ecs:DescribeContainerInstances`,
//! `ecs:UpdateContainerInstancesState`, `ecs:PutAttributes`,
//! `autoscaling:RecordLifecycleActionHeartbeat`, `autoscaling:CompleteLifecycleAction`.

use aws_sdk_ecs::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_ecs::types::{Attribute, ContainerInstanceStatus};
use facerec_aws_support::ecs::{self, InstanceQuery};

use crate::event::LifecycleAction;
use crate::fleet::{marks, ClusterControl, ContainerInstance, FleetError, LifecycleHooks};

/// The `app/<name>` the SDK puts in every request's user agent: CloudTrail shows which
/// component made a call, and the IAM proof (tools/iam/prove.py) attributes the calls
/// it records in the test suite by it.
pub const APP_NAME: &str = "facerec-spot-handler";

/// The handler's AWS side: one ECS cluster and the Auto Scaling API.
#[derive(Clone, Debug)]
pub struct AwsFleet {
    ecs: aws_sdk_ecs::Client,
    autoscaling: aws_sdk_autoscaling::Client,
    cluster: String,
}

impl AwsFleet {
    /// Clients built from one shared SDK configuration (region, credentials, endpoint).
    pub fn new(sdk: &aws_config::SdkConfig, cluster: impl Into<String>) -> Self {
        let sdk = facerec_aws_support::sdk::with_app_name(sdk, APP_NAME);
        Self::from_clients(
            aws_sdk_ecs::Client::new(&sdk),
            aws_sdk_autoscaling::Client::new(&sdk),
            cluster,
        )
    }

    /// For callers that configure each client separately (e.g. different endpoints).
    pub fn from_clients(
        ecs: aws_sdk_ecs::Client,
        autoscaling: aws_sdk_autoscaling::Client,
        cluster: impl Into<String>,
    ) -> Self {
        Self {
            ecs,
            autoscaling,
            cluster: cluster.into(),
        }
    }

    async fn describe_many(&self, arns: Vec<String>) -> Result<Vec<ContainerInstance>, FleetError> {
        const OP: &str = "ecs:DescribeContainerInstances";
        let found = ecs::describe_container_instances(&self.ecs, &self.cluster, &arns)
            .await
            .map_err(|e| classify(OP, e))?;
        Ok(found.iter().map(to_container_instance).collect())
    }
}

fn to_container_instance(ci: &aws_sdk_ecs::types::ContainerInstance) -> ContainerInstance {
    ContainerInstance {
        arn: ci.container_instance_arn().unwrap_or_default().to_string(),
        ec2_instance_id: ci.ec2_instance_id().unwrap_or_default().to_string(),
        status: ci.status().unwrap_or_default().to_string(),
        availability_zone: ci
            .attributes()
            .iter()
            .find(|a| a.name() == "ecs.availability-zone")
            .and_then(|a| a.value())
            .map(str::to_string),
        running_tasks: ci.running_tasks_count(),
        pending_tasks: ci.pending_tasks_count(),
        marks: ci
            .attributes()
            .iter()
            .filter(|a| a.name().starts_with(marks::PREFIX))
            .map(|a| {
                (
                    a.name().to_string(),
                    a.value().unwrap_or_default().to_string(),
                )
            })
            .collect(),
    }
}

impl ClusterControl for AwsFleet {
    async fn find_by_ec2_instance(
        &self,
        ec2_instance_id: &str,
    ) -> Result<Option<ContainerInstance>, FleetError> {
        const OP: &str = "ecs:ListContainerInstances";
        // The filter narrows the list to one ARN on real ECS; emulators that ignore it
        // return the whole cluster, which the exact match below still handles.
        let query = InstanceQuery {
            filter: Some(format!("ec2InstanceId == {ec2_instance_id}")),
            status: None,
        };
        let arns = ecs::list_container_instance_arns(&self.ecs, &self.cluster, query)
            .await
            .map_err(|e| classify(OP, e))?;
        if arns.is_empty() {
            return Ok(None);
        }
        Ok(self
            .describe_many(arns)
            .await?
            .into_iter()
            .find(|ci| ci.ec2_instance_id == ec2_instance_id))
    }

    async fn describe(
        &self,
        container_instance_arn: &str,
    ) -> Result<Option<ContainerInstance>, FleetError> {
        Ok(self
            .describe_many(vec![container_instance_arn.to_string()])
            .await?
            .into_iter()
            .next())
    }

    async fn set_draining(&self, container_instance_arn: &str) -> Result<bool, FleetError> {
        const OP: &str = "ecs:UpdateContainerInstancesState";
        let out = self
            .ecs
            .update_container_instances_state()
            .cluster(&self.cluster)
            .container_instances(container_instance_arn)
            .status(ContainerInstanceStatus::Draining)
            .send()
            .await
            .map_err(|e| classify(OP, e))?;
        match out.failures().first() {
            None => Ok(true),
            // MISSING: the instance deregistered between our lookup and this call.
            Some(f) if f.reason() == Some("MISSING") => Ok(false),
            Some(f) => Err(FleetError::Permanent {
                operation: OP,
                message: format!(
                    "{}: {}",
                    f.reason().unwrap_or("failure"),
                    f.detail().unwrap_or_default()
                ),
            }),
        }
    }

    async fn mark(
        &self,
        container_instance_arn: &str,
        name: &str,
        value: &str,
    ) -> Result<(), FleetError> {
        const OP: &str = "ecs:PutAttributes";
        // With the full ARN as target id, ECS needs no target type.
        let attribute = Attribute::builder()
            .name(name)
            .value(value)
            .target_id(container_instance_arn)
            .build()
            .map_err(|e| FleetError::Permanent {
                operation: OP,
                message: e.to_string(),
            })?;
        self.ecs
            .put_attributes()
            .cluster(&self.cluster)
            .attributes(attribute)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify(OP, e))
    }
}

impl LifecycleHooks for AwsFleet {
    async fn record_heartbeat(&self, action: &LifecycleAction) -> Result<(), FleetError> {
        const OP: &str = "autoscaling:RecordLifecycleActionHeartbeat";
        self.autoscaling
            .record_lifecycle_action_heartbeat()
            .auto_scaling_group_name(&action.group_name)
            .lifecycle_hook_name(&action.hook_name)
            .lifecycle_action_token(&action.token)
            .instance_id(&action.instance_id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify_lifecycle(OP, e))
    }

    async fn complete_continue(&self, action: &LifecycleAction) -> Result<(), FleetError> {
        const OP: &str = "autoscaling:CompleteLifecycleAction";
        self.autoscaling
            .complete_lifecycle_action()
            .auto_scaling_group_name(&action.group_name)
            .lifecycle_hook_name(&action.hook_name)
            .lifecycle_action_token(&action.token)
            .instance_id(&action.instance_id)
            .lifecycle_action_result("CONTINUE")
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify_lifecycle(OP, e))
    }
}

/// Error codes AWS documents as retryable whatever their HTTP status.
const TRANSIENT_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "RequestThrottled",
    "RequestTimeout",
    "RequestTimeoutException",
    "ServerException",
    "ServiceUnavailable",
    "InternalFailure",
    "ResourceContention",
];

/// Sorts an SDK error into transient (retry the message) or permanent (log and drop).
fn classify<E>(operation: &'static str, err: SdkError<E>) -> FleetError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let transient = match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(service) => {
            let status = service.raw().status();
            status.is_server_error()
                || status.as_u16() == 429
                || err.code().is_some_and(|c| TRANSIENT_CODES.contains(&c))
        }
        // ConstructionFailure and future variants: a bug on our side, retrying won't help.
        _ => false,
    };
    let message = DisplayErrorContext(&err).to_string();
    if transient {
        FleetError::Transient { operation, message }
    } else {
        FleetError::Permanent { operation, message }
    }
}

/// Like [`classify`], recognising the `ValidationError` Auto Scaling returns once the
/// action has been completed or has timed out.
fn classify_lifecycle<E>(operation: &'static str, err: SdkError<E>) -> FleetError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    if err.code() == Some("ValidationError")
        && err
            .message()
            .is_some_and(|m| m.contains("No active Lifecycle Action found"))
    {
        return FleetError::LifecycleActionGone(err.message().unwrap_or_default().to_string());
    }
    classify(operation, err)
}
