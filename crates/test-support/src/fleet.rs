//! The worker fleet's ECS and Auto Scaling pieces in moto, set up as the Lambdas' tests
//! (and the CLI's) need them: an Auto Scaling group, container instances registered for
//! its EC2 instances, the worker service. Feature `fleet`.

use aws_sdk_ecs::types::ContainerDefinition;

/// Creates the launch configuration `facerec-workers` and from it the Auto Scaling group
/// `group` in us-east-1a: `desired` instances, at most `max`, new instances protected from
/// scale-in when `protected`.
pub async fn create_group(
    autoscaling: &aws_sdk_autoscaling::Client,
    group: &str,
    max: i32,
    desired: i32,
    protected: bool,
) {
    autoscaling
        .create_launch_configuration()
        .launch_configuration_name("facerec-workers")
        .image_id("ami-12c6146b")
        .instance_type("c6i.large")
        .send()
        .await
        .unwrap();
    autoscaling
        .create_auto_scaling_group()
        .auto_scaling_group_name(group)
        .launch_configuration_name("facerec-workers")
        .min_size(0)
        .max_size(max)
        .desired_capacity(desired)
        .new_instances_protected_from_scale_in(protected)
        .availability_zones("us-east-1a")
        .send()
        .await
        .unwrap();
}

/// The EC2 instance ids of `group`'s members, as moto lists them.
pub async fn group_instance_ids(
    autoscaling: &aws_sdk_autoscaling::Client,
    group: &str,
) -> Vec<String> {
    let members = autoscaling
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(group)
        .send()
        .await
        .unwrap();
    members.auto_scaling_groups()[0]
        .instances()
        .iter()
        .map(|member| member.instance_id().unwrap().to_string())
        .collect()
}

/// Registers `instance_id` (which moto launched) as a container instance of `cluster`;
/// returns its ARN.
pub async fn register_container_instance(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    instance_id: &str,
) -> String {
    let document =
        serde_json::json!({ "instanceId": instance_id, "region": "us-east-1" }).to_string();
    ecs.register_container_instance()
        .cluster(cluster)
        .instance_identity_document(document)
        .send()
        .await
        .unwrap()
        .container_instance()
        .and_then(|ci| ci.container_instance_arn())
        .unwrap()
        .to_string()
}

/// The status (`ACTIVE`, `DRAINING`, …) of container instance `arn` of `cluster`.
pub async fn container_instance_status(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    arn: &str,
) -> String {
    ecs.describe_container_instances()
        .cluster(cluster)
        .container_instances(arn)
        .send()
        .await
        .unwrap()
        .container_instances()[0]
        .status()
        .unwrap()
        .to_string()
}

/// Registers the task definition `facerec-worker`: one 512-MiB container `worker`.
pub async fn register_worker_task_definition(ecs: &aws_sdk_ecs::Client) {
    ecs.register_task_definition()
        .family("facerec-worker")
        .container_definitions(
            ContainerDefinition::builder()
                .name("worker")
                .image("facerec-worker:test")
                .memory(512)
                .build(),
        )
        .send()
        .await
        .unwrap();
}

/// Registers the task definition `facerec-worker` and creates service `service` of it in
/// `cluster` with `desired` tasks.
pub async fn create_worker_service(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    service: &str,
    desired: i32,
) {
    register_worker_task_definition(ecs).await;
    ecs.create_service()
        .cluster(cluster)
        .service_name(service)
        .task_definition("facerec-worker")
        .desired_count(desired)
        .send()
        .await
        .unwrap();
}

/// Starts a `facerec-worker` task on container instance `container_instance_arn` of
/// `cluster`, in task group `group` if given (`service:NAME`, as the service scheduler
/// places them) and started by `started_by` if given (a service's deployment id, as the
/// scheduler sets it); returns its ARN.
pub async fn start_worker_task(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    container_instance_arn: &str,
    group: Option<String>,
    started_by: Option<&str>,
) -> String {
    ecs.start_task()
        .cluster(cluster)
        .task_definition("facerec-worker")
        .set_group(group)
        .set_started_by(started_by.map(str::to_string))
        .container_instances(container_instance_arn)
        .send()
        .await
        .unwrap()
        .tasks()[0]
        .task_arn()
        .unwrap()
        .to_string()
}
