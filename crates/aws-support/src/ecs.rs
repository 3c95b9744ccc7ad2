//! A cluster's container instances, page by page and in chunks, as both Lambdas read them
//! (`ecs:ListContainerInstances`, `ecs:DescribeContainerInstances`).
//!
//! Errors are the SDK's own, so each caller keeps its own reading of them (the Spot
//! handler sorts transient from permanent, the backlog scaler reports the chain).

use aws_sdk_ecs::error::SdkError;
use aws_sdk_ecs::operation::describe_container_instances::DescribeContainerInstancesError;
use aws_sdk_ecs::operation::list_container_instances::ListContainerInstancesError;
use aws_sdk_ecs::types::{ContainerInstance, ContainerInstanceStatus};

/// Which container instances to list: a cluster query `filter` (e.g.
/// `ec2InstanceId == i-…`) and a `status`, each optional.
#[derive(Clone, Debug, Default)]
pub struct InstanceQuery {
    pub filter: Option<String>,
    pub status: Option<ContainerInstanceStatus>,
}

/// Every container instance ARN of `cluster` that `query` selects, all pages.
pub async fn list_container_instance_arns(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    query: InstanceQuery,
) -> Result<Vec<String>, SdkError<ListContainerInstancesError>> {
    let mut arns = Vec::new();
    let mut next_token = None;
    loop {
        let out = ecs
            .list_container_instances()
            .cluster(cluster)
            .set_filter(query.filter.clone())
            .set_status(query.status.clone())
            .set_next_token(next_token)
            .send()
            .await?;
        arns.extend(out.container_instance_arns().iter().cloned());
        next_token = out.next_token().map(str::to_string);
        if next_token.is_none() {
            break;
        }
    }
    Ok(arns)
}

/// The container instances `arns` of `cluster`, described 100 at a time (the API's
/// limit). Instances ECS no longer knows are left out.
pub async fn describe_container_instances(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    arns: &[String],
) -> Result<Vec<ContainerInstance>, SdkError<DescribeContainerInstancesError>> {
    let mut found = Vec::with_capacity(arns.len());
    for chunk in arns.chunks(100) {
        let out = ecs
            .describe_container_instances()
            .cluster(cluster)
            .set_container_instances(Some(chunk.to_vec()))
            .send()
            .await?;
        found.extend(out.container_instances().iter().cloned());
    }
    Ok(found)
}
