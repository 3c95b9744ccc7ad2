//! [`FleetApi`] and [`StateStore`] over the official AWS SDK clients.
//!
//! IAM actions used (keep `docs/operations.md` and `terraform/modules/iam` in step):
//! `sqs:GetQueueAttributes`; `ecs:DescribeServices`, `ecs:UpdateService`, `ecs:ListTasks`,
//! `ecs:GetTaskProtection`, `ecs:UpdateTaskProtection`, `ecs:ListContainerInstances`,
//! `ecs:DescribeContainerInstances`, `ecs:UpdateContainerInstancesState`;
//! `autoscaling:DescribeAutoScalingGroups`, `autoscaling:SetDesiredCapacity`,
//! `autoscaling:TerminateInstanceInAutoScalingGroup`; `ssm:GetParameter`,
//! `ssm:PutParameter`.

use std::fmt::Display;

use aws_sdk_ecs::error::DisplayErrorContext;
use aws_sdk_ecs::types::{ContainerInstanceStatus, DesiredStatus};
use aws_sdk_sqs::types::QueueAttributeName;
use aws_sdk_ssm::types::ParameterType;
use facerec_aws_support::ecs::{self, InstanceQuery};

use crate::config::ScalerConfig;
use crate::fleet::{
    AwsError, ContainerInstance, Deployment, FleetApi, GroupInstance, GroupState, QueueDepth,
    ServiceCounts, StateStore,
};

/// The `app/<name>` the SDK puts in every request's user agent: CloudTrail shows which
/// component made a call, and the IAM proof (tools/iam/prove.py) attributes the calls
/// it records in the test suite by it.
pub const APP_NAME: &str = "facerec-backlog-scaler";

/// `sdk` with [`APP_NAME`] as its application name.
fn with_app_name(sdk: &aws_config::SdkConfig) -> aws_config::SdkConfig {
    facerec_aws_support::sdk::with_app_name(sdk, APP_NAME)
}

/// The scaler's AWS side: the jobs queue, the ECS service and cluster, the group.
#[derive(Clone, Debug)]
pub struct AwsFleet {
    sqs: aws_sdk_sqs::Client,
    ecs: aws_sdk_ecs::Client,
    autoscaling: aws_sdk_autoscaling::Client,
    queue_url: String,
    cluster: String,
    service: String,
    group: String,
}

impl AwsFleet {
    /// Clients built from one shared SDK configuration (region, credentials, endpoint).
    pub fn new(sdk: &aws_config::SdkConfig, config: &ScalerConfig) -> Self {
        let sdk = &with_app_name(sdk);
        AwsFleet {
            sqs: aws_sdk_sqs::Client::new(sdk),
            ecs: aws_sdk_ecs::Client::new(sdk),
            autoscaling: aws_sdk_autoscaling::Client::new(sdk),
            queue_url: config.queue_url.clone(),
            cluster: config.cluster_name.clone(),
            service: config.service_name.clone(),
            group: config.autoscaling_group_name.clone(),
        }
    }

    async fn describe(&self, arns: Vec<String>) -> Result<Vec<ContainerInstance>, AwsError> {
        const OP: &str = "ecs:DescribeContainerInstances";
        let found = ecs::describe_container_instances(&self.ecs, &self.cluster, &arns)
            .await
            .map_err(|e| sdk_error(OP, e))?;
        Ok(found
            .iter()
            .map(|ci| ContainerInstance {
                arn: ci.container_instance_arn().unwrap_or_default().to_string(),
                ec2_instance_id: ci.ec2_instance_id().unwrap_or_default().to_string(),
                status: ci.status().unwrap_or_default().to_string(),
                running_tasks: ci.running_tasks_count(),
                pending_tasks: ci.pending_tasks_count(),
                registered_at: ci.registered_at().map_or(0, |d| d.secs()),
            })
            .collect())
    }

    /// The ARNs of the service's RUNNING tasks (ecs:ListTasks, every page), or only those
    /// `started_by` a deployment (its id) when given. `startedBy` "must be the only
    /// filter that you use" (API_ListTasks); RUNNING is the default status filter.
    async fn running_tasks(&self, started_by: Option<&str>) -> Result<Vec<String>, AwsError> {
        let mut arns = Vec::new();
        let mut next_token = None;
        loop {
            let request = self
                .ecs
                .list_tasks()
                .cluster(&self.cluster)
                .set_next_token(next_token);
            let request = match started_by {
                Some(id) => request.started_by(id),
                None => request
                    .service_name(&self.service)
                    .desired_status(DesiredStatus::Running),
            };
            let out = request
                .send()
                .await
                .map_err(|e| sdk_error("ecs:ListTasks", e))?;
            arns.extend(out.task_arns().iter().cloned());
            next_token = out.next_token().map(str::to_string);
            if next_token.is_none() {
                return Ok(arns);
            }
        }
    }
}

fn sdk_error<E: std::error::Error + Send + Sync + 'static>(
    operation: &'static str,
    err: E,
) -> AwsError {
    AwsError::new(operation, DisplayErrorContext(&err).to_string())
}

fn to_count(
    operation: &'static str,
    what: &str,
    n: impl Display + TryInto<u32> + Copy,
) -> Result<u32, AwsError> {
    n.try_into()
        .map_err(|_| AwsError::new(operation, format!("{what} = {n} is not a count")))
}

impl FleetApi for AwsFleet {
    async fn queue_depth(&self) -> Result<QueueDepth, AwsError> {
        const OP: &str = "sqs:GetQueueAttributes";
        let out = self
            .sqs
            .get_queue_attributes()
            .queue_url(&self.queue_url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .map_err(|e| sdk_error(OP, e))?;
        let attributes = out.attributes();
        let read = |name: QueueAttributeName| -> Result<u64, AwsError> {
            let value = attributes
                .and_then(|a| a.get(&name))
                .ok_or_else(|| AwsError::new(OP, format!("no {} in the answer", name.as_str())))?;
            value.parse().map_err(|_| {
                AwsError::new(OP, format!("{} = {value:?} is not a count", name.as_str()))
            })
        };
        Ok(QueueDepth {
            visible: read(QueueAttributeName::ApproximateNumberOfMessages)?,
            in_flight: read(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)?,
        })
    }

    async fn service(&self) -> Result<ServiceCounts, AwsError> {
        const OP: &str = "ecs:DescribeServices";
        let out = self
            .ecs
            .describe_services()
            .cluster(&self.cluster)
            .services(&self.service)
            .send()
            .await
            .map_err(|e| sdk_error(OP, e))?;
        let Some(service) = out.services().first() else {
            let reason = out
                .failures()
                .first()
                .and_then(|f| f.reason())
                .unwrap_or("not found");
            return Err(AwsError::new(
                OP,
                format!(
                    "service {} of cluster {}: {reason}",
                    self.service, self.cluster
                ),
            ));
        };
        let mut deployments = Vec::new();
        // PRIMARY and ACTIVE; an INACTIVE deployment has no tasks left.
        for d in service.deployments() {
            if d.id().is_none_or(str::is_empty) {
                continue;
            }
            let primary = match d.status() {
                Some("PRIMARY") => true,
                Some("ACTIVE") => false,
                _ => continue,
            };
            deployments.push(Deployment {
                id: d.id().unwrap_or_default().to_string(),
                primary,
                desired: to_count(OP, "deployments[].desiredCount", d.desired_count())?,
                running: to_count(OP, "deployments[].runningCount", d.running_count())?,
                pending: to_count(OP, "deployments[].pendingCount", d.pending_count())?,
            });
        }
        Ok(ServiceCounts {
            desired: to_count(OP, "desiredCount", service.desired_count())?,
            running: to_count(OP, "runningCount", service.running_count())?,
            pending: to_count(OP, "pendingCount", service.pending_count())?,
            deployments,
        })
    }

    async fn deployment_tasks(&self, deployment_id: &str) -> Result<Vec<String>, AwsError> {
        self.running_tasks(Some(deployment_id)).await
    }

    async fn release_tasks(&self, tasks: &[String]) -> Result<u32, AwsError> {
        const OP: &str = "ecs:UpdateTaskProtection";
        let mut released = 0;
        // UpdateTaskProtection takes at most 10 tasks per call.
        for chunk in tasks.chunks(10) {
            let out = self
                .ecs
                .update_task_protection()
                .cluster(&self.cluster)
                .set_tasks(Some(chunk.to_vec()))
                .protection_enabled(false)
                .send()
                .await
                .map_err(|e| sdk_error(OP, e))?;
            // A task that stopped since ListTasks comes back as a failure: nothing to do.
            for f in out.failures() {
                tracing::info!(
                    task = f.arn().unwrap_or_default(),
                    reason = f.reason().unwrap_or_default(),
                    "not released"
                );
            }
            released += out.protected_tasks().len() as u32;
        }
        Ok(released)
    }

    async fn busy_tasks(&self) -> Result<u32, AwsError> {
        let arns = self.running_tasks(None).await?;
        self.protected_tasks(&arns).await
    }

    async fn protected_tasks(&self, arns: &[String]) -> Result<u32, AwsError> {
        let mut busy = 0;
        // GetTaskProtection takes at most 100 tasks per call.
        for chunk in arns.chunks(100) {
            let out = self
                .ecs
                .get_task_protection()
                .cluster(&self.cluster)
                .set_tasks(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| sdk_error("ecs:GetTaskProtection", e))?;
            // A task that stopped since ListTasks comes back as a failure: not busy.
            busy += out
                .protected_tasks()
                .iter()
                .filter(|t| t.protection_enabled())
                .count() as u32;
        }
        Ok(busy)
    }

    async fn set_desired_count(&self, count: u32) -> Result<(), AwsError> {
        const OP: &str = "ecs:UpdateService";
        self.ecs
            .update_service()
            .cluster(&self.cluster)
            .service(&self.service)
            .desired_count(count as i32)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error(OP, e))
    }

    async fn group(&self) -> Result<GroupState, AwsError> {
        const OP: &str = "autoscaling:DescribeAutoScalingGroups";
        let out = self
            .autoscaling
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(&self.group)
            .send()
            .await
            .map_err(|e| sdk_error(OP, e))?;
        let group = out
            .auto_scaling_groups()
            .first()
            .ok_or_else(|| AwsError::new(OP, format!("no Auto Scaling group {}", self.group)))?;
        Ok(GroupState {
            desired_capacity: to_count(
                OP,
                "DesiredCapacity",
                group.desired_capacity().unwrap_or(0),
            )?,
            max_size: to_count(OP, "MaxSize", group.max_size().unwrap_or(0))?,
            instances: group
                .instances()
                .iter()
                .map(|i| GroupInstance {
                    instance_id: i.instance_id().unwrap_or_default().to_string(),
                    lifecycle_state: i
                        .lifecycle_state()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default(),
                })
                .collect(),
        })
    }

    async fn set_desired_capacity(&self, capacity: u32) -> Result<(), AwsError> {
        const OP: &str = "autoscaling:SetDesiredCapacity";
        self.autoscaling
            .set_desired_capacity()
            .auto_scaling_group_name(&self.group)
            .desired_capacity(capacity as i32)
            .honor_cooldown(false)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error(OP, e))
    }

    async fn container_instances(&self) -> Result<Vec<ContainerInstance>, AwsError> {
        const OP: &str = "ecs:ListContainerInstances";
        // No status: every status but INACTIVE (API_ListContainerInstances), so DRAINING
        // instances are seen, counted out of the capacity and, once zombies, removed.
        let query = InstanceQuery::default();
        let arns = ecs::list_container_instance_arns(&self.ecs, &self.cluster, query)
            .await
            .map_err(|e| sdk_error(OP, e))?;
        if arns.is_empty() {
            return Ok(Vec::new());
        }
        self.describe(arns).await
    }

    async fn container_instance(&self, arn: &str) -> Result<Option<ContainerInstance>, AwsError> {
        Ok(self
            .describe(vec![arn.to_string()])
            .await?
            .into_iter()
            .next())
    }

    async fn set_container_instance_draining(
        &self,
        arn: &str,
        draining: bool,
    ) -> Result<(), AwsError> {
        const OP: &str = "ecs:UpdateContainerInstancesState";
        let status = if draining {
            ContainerInstanceStatus::Draining
        } else {
            ContainerInstanceStatus::Active
        };
        let out = self
            .ecs
            .update_container_instances_state()
            .cluster(&self.cluster)
            .container_instances(arn)
            .status(status)
            .send()
            .await
            .map_err(|e| sdk_error(OP, e))?;
        match out.failures().first() {
            None => Ok(()),
            Some(f) => Err(AwsError::new(
                OP,
                format!(
                    "{arn}: {} {}",
                    f.reason().unwrap_or("failure"),
                    f.detail().unwrap_or_default()
                ),
            )),
        }
    }

    async fn terminate_instance(&self, instance_id: &str) -> Result<(), AwsError> {
        const OP: &str = "autoscaling:TerminateInstanceInAutoScalingGroup";
        self.autoscaling
            .terminate_instance_in_auto_scaling_group()
            .instance_id(instance_id)
            .should_decrement_desired_capacity(true)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error(OP, e))
    }
}

/// The rule's state in an SSM String parameter (standard tier: 4 KB, no charge).
#[derive(Clone, Debug)]
pub struct SsmStateStore {
    ssm: aws_sdk_ssm::Client,
    name: String,
}

impl SsmStateStore {
    pub fn new(sdk: &aws_config::SdkConfig, name: impl Into<String>) -> Self {
        SsmStateStore {
            ssm: aws_sdk_ssm::Client::new(&with_app_name(sdk)),
            name: name.into(),
        }
    }
}

impl StateStore for SsmStateStore {
    async fn load(&self) -> Result<Option<String>, AwsError> {
        const OP: &str = "ssm:GetParameter";
        match self.ssm.get_parameter().name(&self.name).send().await {
            Ok(out) => Ok(out.parameter().and_then(|p| p.value()).map(str::to_string)),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_parameter_not_found()) =>
            {
                Ok(None)
            }
            Err(e) => Err(sdk_error(OP, e)),
        }
    }

    async fn save(&self, value: &str) -> Result<(), AwsError> {
        const OP: &str = "ssm:PutParameter";
        self.ssm
            .put_parameter()
            .name(&self.name)
            .value(value)
            .r#type(ParameterType::String)
            .overwrite(true)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error(OP, e))
    }
}
