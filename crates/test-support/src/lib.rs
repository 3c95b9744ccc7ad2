//! Test support shared by every crate whose tests talk to an AWS API or stand in for one;
//! a dev-dependency only. Everything listens on 127.0.0.1 and is started per test.
//!
//! Modules, in reading order:
//! - [`moto`]: [`Moto`], a moto server per test (through `facerec-moto-server`), and raw
//!   calls to it;
//! - [`sdk`]: the test environment and SDK configuration for a loopback endpoint;
//! - [`http_stub`]: a recording HTTP stub — the Lambda Runtime API, and answers moto
//!   cannot give (throttling, canned errors);
//! - [`fault_proxy`]: [`FaultProxy`], a fault-injecting TCP proxy (refuse, black-hole,
//!   slow, reset mid-response) between a worker and moto, switchable at run time;
//! - [`stand_ins`]: the ECS agent's and IMDSv2's stand-ins, an endpoint that goes away;
//! - [`process`]: worker processes with their logs;
//! - [`fleet`] (feature `fleet`): the worker fleet's ECS and Auto Scaling pieces in moto;
//! - [`worker_runtime`] (feature `worker-runtime`): the worker runtime's test bed.

pub mod fault_proxy;
#[cfg(feature = "fleet")]
pub mod fleet;
pub mod http_stub;
pub mod moto;
pub mod process;
pub mod sdk;
pub mod stand_ins;
#[cfg(feature = "worker-runtime")]
pub mod worker_runtime;

pub use facerec_moto_server::{repo_root, MotoServer};
pub use fault_proxy::{Fault, FaultProxy};
pub use http_stub::{
    answer_to_first_invocation, failed_cold_start, invoke_once, lambda_bootstrap,
    packaged_bootstrap, runtime_api_with_one_event, Invocation, Recorded, Reply, Stub,
};
pub use moto::Moto;
pub use process::WorkerProcess;
pub use sdk::{aws_env, create_queue, loopback_loader, sdk_config, set_test_env};
pub use stand_ins::{AgentStandIn, ImdsStandIn, OutageProxy};
