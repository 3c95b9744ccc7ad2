//! The in-memory cluster the handler tests run against (`MemoryFleet`), the AWS sample
//! events and the shared helpers: `tests/handler.rs` (events, duplicates, errors) and
//! `tests/lifecycle.rs` (the lifecycle hook and every way its wait ends) use it.

#![allow(dead_code)] // each test binary uses a different subset

pub use std::collections::{BTreeMap, HashMap};
pub use std::sync::Mutex;
pub use std::time::Duration;

pub use aws_lambda_events::event::sqs::SqsEvent;
pub use facerec_spot_handler::{
    marks, BatchOutcome, ClusterControl, ContainerInstance, FleetError, HandlerConfig,
    LifecycleAction, LifecycleHooks, LifecycleWait, RecordOutcome, RecordedMetrics, SkipReason,
    SpotHandler, WaitEnd,
};
pub use serde_json::{json, Value};

pub const OURS: &str = "i-1234567890abcdef0";
pub const OUR_ARN: &str = "arn:aws:ecs:us-east-2:123456789012:container-instance/facerec/ours";
/// The hook of the lifecycle sample event, configured as ours.
pub const OUR_HOOK: &str = "my-lifecycle-hook";
pub const SAMPLE_TOKEN: &str = "87654321-4321-4321-4321-210987654321";

pub fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// An SQS event as Lambda delivers it, one record per (message id, body).
pub fn sqs_event(records: &[(&str, Option<&str>)]) -> SqsEvent {
    let template: Value = serde_json::from_str(&fixture("sqs-record-template.json")).unwrap();
    let records: Vec<Value> = records
        .iter()
        .map(|(id, body)| {
            let mut r = template.clone();
            r["messageId"] = json!(id);
            match body {
                Some(b) => r["body"] = json!(b),
                None => {
                    r.as_object_mut().unwrap().remove("body");
                }
            }
            r
        })
        .collect();
    serde_json::from_value(json!({ "Records": records })).unwrap()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    Find(String),
    Describe(String),
    Drain(String),
    Mark(String, String),
    Heartbeat(String),
    Complete(String),
}

/// A cluster in memory. Tasks stop after `stop_after_polls` describes of a draining
/// instance, like ECS replacing them elsewhere; the other knobs inject what AWS can do
/// mid-wait.
#[derive(Default)]
pub struct MemoryFleet {
    pub instances: Mutex<HashMap<String, ContainerInstance>>,
    pub calls: Mutex<Vec<Call>>,
    pub stop_after_polls: Option<usize>,
    /// The container instance deregisters on this describe.
    pub deregister_at_poll: Option<usize>,
    /// The first `n` describes fail with this error (`usize::MAX`: all of them).
    pub fail_describe: Option<(FleetError, usize)>,
    /// Heartbeats after the first `n` find the action gone.
    pub heartbeat_gone_after: Option<usize>,
    pub polls: Mutex<usize>,
    pub fail_drain: Option<FleetError>,
    pub fail_mark: Option<FleetError>,
    pub fail_complete: Option<FleetError>,
}

impl MemoryFleet {
    pub fn with_instance(ec2: &str, arn: &str, status: &str, running: i32) -> Self {
        let fleet = Self::default();
        fleet.add(ec2, arn, status, running);
        fleet
    }

    pub fn add(&self, ec2: &str, arn: &str, status: &str, running: i32) {
        self.instances.lock().unwrap().insert(
            ec2.into(),
            ContainerInstance {
                arn: arn.into(),
                ec2_instance_id: ec2.into(),
                status: status.into(),
                availability_zone: Some("us-east-2a".into()),
                running_tasks: running,
                pending_tasks: 0,
                marks: BTreeMap::new(),
            },
        );
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    pub fn count(&self, pred: impl Fn(&Call) -> bool) -> usize {
        self.calls().iter().filter(|c| pred(c)).count()
    }

    pub fn status(&self, ec2: &str) -> String {
        self.instances.lock().unwrap()[ec2].status.clone()
    }

    pub fn marks(&self, ec2: &str) -> BTreeMap<String, String> {
        self.instances.lock().unwrap()[ec2].marks.clone()
    }
}

impl ClusterControl for MemoryFleet {
    async fn find_by_ec2_instance(
        &self,
        id: &str,
    ) -> Result<Option<ContainerInstance>, FleetError> {
        self.calls.lock().unwrap().push(Call::Find(id.into()));
        Ok(self.instances.lock().unwrap().get(id).cloned())
    }

    async fn describe(&self, arn: &str) -> Result<Option<ContainerInstance>, FleetError> {
        self.calls.lock().unwrap().push(Call::Describe(arn.into()));
        let mut polls = self.polls.lock().unwrap();
        *polls += 1;
        if let Some((error, times)) = &self.fail_describe {
            if *polls <= *times {
                return Err(error.clone());
            }
        }
        let mut instances = self.instances.lock().unwrap();
        if self.deregister_at_poll == Some(*polls) {
            instances.retain(|_, ci| ci.arn != arn);
        }
        let found = instances.values_mut().find(|ci| ci.arn == arn);
        Ok(found.map(|ci| {
            if self.stop_after_polls.is_some_and(|n| *polls >= n) && ci.is_draining() {
                ci.running_tasks = 0;
            }
            ci.clone()
        }))
    }

    async fn set_draining(&self, arn: &str) -> Result<bool, FleetError> {
        self.calls.lock().unwrap().push(Call::Drain(arn.into()));
        if let Some(e) = &self.fail_drain {
            return Err(e.clone());
        }
        let mut instances = self.instances.lock().unwrap();
        match instances.values_mut().find(|ci| ci.arn == arn) {
            Some(ci) => {
                ci.status = "DRAINING".into();
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn mark(&self, arn: &str, name: &str, value: &str) -> Result<(), FleetError> {
        self.calls
            .lock()
            .unwrap()
            .push(Call::Mark(name.into(), value.into()));
        if let Some(e) = &self.fail_mark {
            return Err(e.clone());
        }
        if let Some(ci) = self
            .instances
            .lock()
            .unwrap()
            .values_mut()
            .find(|ci| ci.arn == arn)
        {
            ci.marks.insert(name.into(), value.into());
        }
        Ok(())
    }
}

impl LifecycleHooks for MemoryFleet {
    async fn record_heartbeat(&self, action: &LifecycleAction) -> Result<(), FleetError> {
        let mut calls = self.calls.lock().unwrap();
        let earlier = calls
            .iter()
            .filter(|c| matches!(c, Call::Heartbeat(_)))
            .count();
        calls.push(Call::Heartbeat(action.token.clone()));
        match self.heartbeat_gone_after {
            Some(n) if earlier >= n => Err(FleetError::LifecycleActionGone(format!(
                "No active Lifecycle Action found with token {}",
                action.token
            ))),
            _ => Ok(()),
        }
    }

    async fn complete_continue(&self, action: &LifecycleAction) -> Result<(), FleetError> {
        self.calls
            .lock()
            .unwrap()
            .push(Call::Complete(action.token.clone()));
        match &self.fail_complete {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }
}

pub fn config(capacity_rebalance: bool) -> HandlerConfig {
    HandlerConfig {
        cluster_name: "facerec".into(),
        capacity_rebalance,
        autoscaling_group: None,
        lifecycle_hook: Some(OUR_HOOK.into()),
        lifecycle: LifecycleWait {
            max_wait: Duration::from_secs(600),
            poll_interval: Duration::from_secs(5),
            heartbeat_interval: Duration::from_secs(60),
        },
        metrics_namespace: "test/spot".into(),
    }
}

pub fn handler(fleet: MemoryFleet, config: HandlerConfig) -> MemoryHandler {
    SpotHandler::new(config, fleet, RecordedMetrics::default())
}

pub type MemoryHandler = SpotHandler<MemoryFleet, RecordedMetrics>;

/// A handler over a cluster of our instance alone, `status` with `running` tasks.
pub fn handler_with_ours(status: &str, running: i32, config: HandlerConfig) -> MemoryHandler {
    handler(
        MemoryFleet::with_instance(OURS, OUR_ARN, status, running),
        config,
    )
}

/// The sample event `name`, delivered alone as message m1.
pub async fn deliver(h: &MemoryHandler, name: &str) -> BatchOutcome {
    let body = fixture(name);
    h.handle_batch(sqs_event(&[("m1", Some(&body))])).await
}

/// [`deliver`], and how long the handler took on tokio's clock (paused in the tests of
/// the lifecycle wait, so that is the time the wait slept).
pub async fn deliver_timed(h: &MemoryHandler, name: &str) -> (BatchOutcome, Duration) {
    let started = tokio::time::Instant::now();
    let out = deliver(h, name).await;
    (out, started.elapsed())
}

/// A cluster of our instance alone, ACTIVE with `running` tasks: the base the tests set
/// their knobs on.
pub fn ours_active(running: i32) -> MemoryFleet {
    MemoryFleet::with_instance(OURS, OUR_ARN, "ACTIVE", running)
}

/// The lifecycle sample event delivered to a handler over `fleet` with the default
/// configuration; the handler (for its calls and metrics) and the batch's outcome.
pub async fn lifecycle(fleet: MemoryFleet) -> (MemoryHandler, BatchOutcome) {
    let h = handler(fleet, config(false));
    let out = deliver(&h, "terminate-lifecycle-action.json").await;
    (h, out)
}

/// [`lifecycle`], and how long the handler took on tokio's clock (see [`deliver_timed`]).
pub async fn lifecycle_timed(fleet: MemoryFleet) -> (MemoryHandler, BatchOutcome, Duration) {
    let h = handler(fleet, config(false));
    let (out, waited) = deliver_timed(&h, "terminate-lifecycle-action.json").await;
    (h, out, waited)
}

/// The outcome of a lifecycle action of our instance whose wait ended with `wait`.
pub fn ours_lifecycle_done(wait: WaitEnd, continued: bool) -> RecordOutcome {
    RecordOutcome::LifecycleDone {
        container_instance_arn: Some(OUR_ARN.into()),
        wait,
        continued,
    }
}

pub fn transient() -> FleetError {
    FleetError::Transient {
        operation: "ecs:UpdateContainerInstancesState",
        message: "ThrottlingException".into(),
    }
}

pub fn permanent(operation: &'static str) -> FleetError {
    FleetError::Permanent {
        operation,
        message: "AccessDeniedException".into(),
    }
}

pub fn handler_errors(h: &MemoryHandler, transient: &str) -> usize {
    h.metrics()
        .records_with("HandlerErrors")
        .iter()
        .filter(|r| r["Transient"] == transient)
        .count()
}

/// The sample event with another id, as a second notice (not a redelivery) would have.
pub fn with_id(name: &str, id: &str) -> String {
    let mut event: Value = serde_json::from_str(&fixture(name)).unwrap();
    event["id"] = json!(id);
    event.to_string()
}
