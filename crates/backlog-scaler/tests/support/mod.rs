//! Test infrastructure: the fleet in moto (queue, cluster, service, Auto Scaling group,
//! registered container instances, state parameter), a loopback HTTP stub for the
//! Lambda Runtime API, and ([`fake`]) an in-memory fleet for the handler's tests.

#![allow(dead_code)] // each test binary uses a different subset

pub mod fake;

use aws_config::SdkConfig;
use facerec_backlog_policy::PolicyState;
use facerec_backlog_scaler::{
    AwsFleet, BacklogScaler, RecordedMetrics, ScalerConfig, SsmStateStore,
};
use facerec_test_support::fleet::{
    container_instance_status, create_group, create_worker_service, group_instance_ids,
    register_container_instance, start_worker_task,
};
use facerec_test_support::{create_queue, MotoServer};

pub const CLUSTER: &str = "facerec-cluster";
pub const SERVICE: &str = "facerec-service";
pub const GROUP: &str = "facerec-asg";
pub const PARAMETER: &str = "/facerec/backlog-scaler/state";

/// SDK configuration for a loopback endpoint, in the test environment; retries off.
pub async fn sdk_config(endpoint: &str) -> SdkConfig {
    facerec_test_support::set_test_env();
    facerec_test_support::loopback_loader(endpoint)
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .load()
        .await
}

/// The fleet in moto: queue, cluster, service, group of `instances` (each registered as a
/// container instance), the state parameter as Terraform creates it ("{}").
pub struct Fleet {
    pub moto: MotoServer,
    pub sdk: SdkConfig,
    pub ecs: aws_sdk_ecs::Client,
    pub autoscaling: aws_sdk_autoscaling::Client,
    pub ssm: aws_sdk_ssm::Client,
    pub queue_url: String,
    /// (EC2 instance id, container instance ARN)
    pub instances: Vec<(String, String)>,
}

pub async fn fleet(messages: usize, service_desired: i32, instances: i32) -> Fleet {
    let moto = MotoServer::start();
    let sdk = sdk_config(moto.endpoint()).await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    let autoscaling = aws_sdk_autoscaling::Client::new(&sdk);
    let ssm = aws_sdk_ssm::Client::new(&sdk);

    let queue_url = create_queue(&sqs, "facerec-jobs").await;
    for k in 0..messages {
        sqs.send_message()
            .queue_url(&queue_url)
            .message_body(format!("{{\"job\":{k}}}"))
            .send()
            .await
            .unwrap();
    }
    ecs.create_cluster()
        .cluster_name(CLUSTER)
        .send()
        .await
        .unwrap();
    create_worker_service(&ecs, CLUSTER, SERVICE, service_desired).await;
    create_group(&autoscaling, GROUP, 10, instances, true).await;
    let mut registered = Vec::new();
    for id in group_instance_ids(&autoscaling, GROUP).await {
        let arn = register_container_instance(&ecs, CLUSTER, &id).await;
        registered.push((id, arn));
    }
    assert_eq!(registered.len(), instances as usize);
    ssm.put_parameter()
        .name(PARAMETER)
        .value("{}")
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .send()
        .await
        .unwrap();
    Fleet {
        moto,
        sdk,
        ecs,
        autoscaling,
        ssm,
        queue_url,
        instances: registered,
    }
}

impl Fleet {
    /// The handler tests' configuration ([`fake::config`], the same names), on this queue.
    pub fn config(&self) -> ScalerConfig {
        ScalerConfig {
            queue_url: self.queue_url.clone(),
            ..fake::config()
        }
    }

    pub fn scaler(&self) -> BacklogScaler<AwsFleet, SsmStateStore, RecordedMetrics> {
        let config = self.config();
        BacklogScaler::new(
            config.clone(),
            AwsFleet::new(&self.sdk, &config),
            SsmStateStore::new(&self.sdk, PARAMETER),
            RecordedMetrics::default(),
        )
    }

    /// Starts a task of the service on the container instance (as the service scheduler
    /// would: group `service:NAME`), with scale-in protection if `busy`.
    pub async fn start_task(&self, container_instance_arn: &str, busy: bool) -> String {
        self.start_deployment_task(container_instance_arn, None, busy)
            .await
    }

    /// [`Fleet::start_task`] for the service's deployment `deployment` (its `startedBy`).
    pub async fn start_deployment_task(
        &self,
        container_instance_arn: &str,
        deployment: Option<&str>,
        busy: bool,
    ) -> String {
        let group = Some(format!("service:{SERVICE}"));
        let task = start_worker_task(
            &self.ecs,
            CLUSTER,
            container_instance_arn,
            group,
            deployment,
        )
        .await;
        if busy {
            // What the worker does through the ECS agent's endpoint while it holds messages.
            let out = self
                .ecs
                .update_task_protection()
                .cluster(CLUSTER)
                .tasks(&task)
                .protection_enabled(true)
                .expires_in_minutes(60)
                .send()
                .await
                .unwrap();
            assert!(out.protected_tasks()[0].protection_enabled());
        }
        task
    }

    /// The id of the service's PRIMARY deployment.
    pub async fn primary_deployment(&self) -> String {
        let out = self
            .ecs
            .describe_services()
            .cluster(CLUSTER)
            .services(SERVICE)
            .send()
            .await
            .unwrap();
        let primary = out.services()[0]
            .deployments()
            .iter()
            .find(|d| d.status() == Some("PRIMARY"))
            .unwrap();
        primary.id().unwrap().to_string()
    }

    /// Whether each of `tasks` is scale-in protected (ecs:GetTaskProtection).
    pub async fn protected(&self, tasks: &[String]) -> Vec<bool> {
        let out = self
            .ecs
            .get_task_protection()
            .cluster(CLUSTER)
            .set_tasks(Some(tasks.to_vec()))
            .send()
            .await
            .unwrap();
        tasks
            .iter()
            .map(|t| {
                out.protected_tasks()
                    .iter()
                    .any(|p| p.task_arn() == Some(t.as_str()) && p.protection_enabled())
            })
            .collect()
    }

    pub async fn service_desired(&self) -> i32 {
        self.ecs
            .describe_services()
            .cluster(CLUSTER)
            .services(SERVICE)
            .send()
            .await
            .unwrap()
            .services()[0]
            .desired_count()
    }

    /// (desired capacity, instance ids)
    pub async fn group(&self) -> (i32, Vec<String>) {
        let out = self
            .autoscaling
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(GROUP)
            .send()
            .await
            .unwrap();
        let g = &out.auto_scaling_groups()[0];
        let mut ids: Vec<String> = g
            .instances()
            .iter()
            .map(|i| i.instance_id().unwrap().to_string())
            .collect();
        ids.sort();
        (g.desired_capacity().unwrap(), ids)
    }

    pub async fn status(&self, arn: &str) -> String {
        container_instance_status(&self.ecs, CLUSTER, arn).await
    }

    pub async fn state(&self) -> PolicyState {
        let text = self
            .ssm
            .get_parameter()
            .name(PARAMETER)
            .send()
            .await
            .unwrap()
            .parameter()
            .unwrap()
            .value()
            .unwrap()
            .to_string();
        serde_json::from_str(&text).unwrap()
    }
}

// The loopback stub (Lambda Runtime API stand-in), shared with the Spot handler's tests.
#[allow(unused_imports)] // not every test binary uses the stub
pub use facerec_test_support::{
    failed_cold_start, invoke_once, packaged_bootstrap, Recorded, Reply, Stub,
};
