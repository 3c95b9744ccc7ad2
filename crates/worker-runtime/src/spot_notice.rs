//! Spot interruption notice watcher (IMDSv2 `spot/instance-action`).
//!
//! EC2 posts the notice two minutes before reclaiming a Spot instance; ECS's draining
//! SIGTERM comes later. Starting the shutdown path on the notice gives in-progress jobs
//! more of those two minutes and returns unstarted ones to the queue sooner.
//!
//! IMDSv2: `PUT /latest/api/token` (with a TTL header) then `GET` with the token. 404 means
//! "no notice". The endpoint is the SDK's `AWS_EC2_METADATA_SERVICE_ENDPOINT` (or the IPv6
//! default with `AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6`) or an explicit one; tests
//! point it at a loopback stand-in.
//!
//! How hard to try ([`Persistence`]): on EC2 (or with an explicit endpoint) IMDS failures
//! are retried for the task's whole life with a capped backoff — a metadata service slow
//! to answer at boot must not disable the watcher. Where we cannot tell, a few attempts
//! decide: no answer means "not on EC2" and the watcher stops.

use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::backoff::exponential;
use crate::link_local_http::HttpEndpoint;

pub const DEFAULT_IMDS_ENDPOINT: &str = "http://169.254.169.254";
pub const DEFAULT_IMDS_ENDPOINT_IPV6: &str = "http://[fd00:ec2::254]";
const TOKEN_TTL_SECS: u64 = 21_600;
/// Attempts before a [`Persistence::Probe`] watcher concludes it is not on EC2.
const PROBE_ATTEMPTS: u32 = 3;
/// Longest pause between checks while IMDS keeps failing.
const MAX_FAILURE_BACKOFF: Duration = Duration::from_secs(10);
/// Repeated failures are logged at most this often.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// What to do when IMDS does not answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Persistence {
    /// Known to be on EC2 (or told the endpoint explicitly): keep trying, with backoff.
    Always,
    /// Unknown: after [`PROBE_ATTEMPTS`] failures without ever reaching IMDS, stop.
    Probe,
}

pub struct SpotNoticeWatcher {
    imds: HttpEndpoint,
    interval: Duration,
    persistence: Persistence,
    token: Option<(String, Instant)>,
}

impl SpotNoticeWatcher {
    pub fn new(
        endpoint: &str,
        interval: Duration,
        persistence: Persistence,
    ) -> Result<Self, String> {
        Ok(Self {
            imds: HttpEndpoint::parse(endpoint).map_err(|e| format!("IMDS endpoint: {e}"))?,
            interval,
            persistence,
            token: None,
        })
    }

    async fn token(&mut self) -> Result<String, String> {
        if let Some((t, expires)) = &self.token {
            if Instant::now() < *expires {
                return Ok(t.clone());
            }
        }
        let ttl = TOKEN_TTL_SECS.to_string();
        let r = self
            .imds
            .request(
                "PUT",
                "/latest/api/token",
                &[("X-aws-ec2-metadata-token-ttl-seconds", &ttl)],
                None,
                Duration::from_secs(2),
            )
            .await
            .map_err(|e| e.to_string())?;
        if r.status != 200 {
            return Err(format!("IMDS token request returned {}", r.status));
        }
        let token = r.body.trim().to_string();
        // Refresh well before expiry.
        self.token = Some((
            token.clone(),
            Instant::now() + Duration::from_secs(TOKEN_TTL_SECS / 2),
        ));
        Ok(token)
    }

    /// One check: `Ok(Some(notice))` when an interruption is scheduled.
    pub async fn check(&mut self) -> Result<Option<String>, String> {
        let token = self.token().await?;
        let r = self
            .imds
            .request(
                "GET",
                "/latest/meta-data/spot/instance-action",
                &[("X-aws-ec2-metadata-token", &token)],
                None,
                Duration::from_secs(2),
            )
            .await
            .map_err(|e| e.to_string())?;
        match r.status {
            200 => Ok(Some(r.body)),
            404 => Ok(None),
            401 => {
                self.token = None;
                Err("IMDS token rejected (401); will fetch a new one".into())
            }
            s => Err(format!("IMDS spot/instance-action returned {s}")),
        }
    }

    /// Poll until a notice appears (then cancel `shutdown`) or `shutdown` is cancelled.
    pub async fn run(mut self, shutdown: CancellationToken) {
        let mut ever_reached = false;
        let mut failures = 0u32;
        let mut last_warn: Option<Instant> = None;
        loop {
            match self.check().await {
                Ok(Some(notice)) => {
                    shutdown.cancel();
                    tracing::warn!(notice = %notice, "Spot interruption notice: starting shutdown");
                    return;
                }
                Ok(None) => {
                    if failures > 0 || !ever_reached {
                        tracing::info!(endpoint = %self.imds.authority(), "watching for Spot interruption notices");
                    }
                    ever_reached = true;
                    failures = 0;
                }
                Err(e) => {
                    failures += 1;
                    if !ever_reached
                        && self.persistence == Persistence::Probe
                        && failures >= PROBE_ATTEMPTS
                    {
                        tracing::info!(error = %e, attempts = failures, "instance metadata unreachable: not on EC2, Spot watcher off");
                        return;
                    }
                    let warn_now = match last_warn {
                        None => true,
                        Some(t) => t.elapsed() >= WARN_EVERY,
                    };
                    if warn_now {
                        last_warn = Some(Instant::now());
                        tracing::warn!(error = %e, failures, "Spot notice check failed; retrying with backoff");
                    }
                }
            }
            let pause = if failures == 0 {
                self.interval
            } else {
                exponential(
                    self.interval,
                    MAX_FAILURE_BACKOFF.max(self.interval),
                    failures,
                )
            };
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }
}

/// Whether this process runs on EC2, as far as the environment tells: an ECS task on an
/// EC2 container instance (the ECS agent sets `ECS_CONTAINER_METADATA_URI[_V4]`; Fargate,
/// which has no IMDS, sets `AWS_EXECUTION_ENV=AWS_ECS_FARGATE`), or the machine's DMI
/// vendor / Xen hypervisor id says EC2.
pub fn on_ec2(env: impl Fn(&str) -> Option<String>, sys: impl Fn(&str) -> Option<String>) -> bool {
    if env("AWS_EXECUTION_ENV").is_some_and(|v| v == "AWS_ECS_FARGATE") {
        return false;
    }
    if env("ECS_CONTAINER_METADATA_URI_V4").is_some() || env("ECS_CONTAINER_METADATA_URI").is_some()
    {
        return true;
    }
    sys("/sys/class/dmi/id/sys_vendor").is_some_and(|v| v.trim() == "Amazon EC2")
        || sys("/sys/class/dmi/id/board_vendor").is_some_and(|v| v.trim() == "Amazon EC2")
        || sys("/sys/hypervisor/uuid")
            .is_some_and(|v| v.trim().to_ascii_lowercase().starts_with("ec2"))
}

/// Whether this is ECS on Fargate, which has no instance metadata service.
pub fn on_fargate(env: impl Fn(&str) -> Option<String>) -> bool {
    env("AWS_EXECUTION_ENV").is_some_and(|v| v == "AWS_ECS_FARGATE")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ec2_is_recognised_from_ecs_variables_or_dmi() {
        let none = |_: &str| None;
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert!(!on_ec2(none, none));
        assert!(on_ec2(
            env(&[("ECS_CONTAINER_METADATA_URI_V4", "http://169.254.170.2/v4/x")]),
            none
        ));
        assert!(!on_ec2(
            env(&[
                ("ECS_CONTAINER_METADATA_URI_V4", "http://169.254.170.2/v4/x"),
                ("AWS_EXECUTION_ENV", "AWS_ECS_FARGATE"),
            ]),
            none
        ));
        assert!(on_ec2(none, |p: &str| (p
            == "/sys/class/dmi/id/sys_vendor")
            .then(|| "Amazon EC2\n".to_string())));
        assert!(on_ec2(none, |p: &str| (p == "/sys/hypervisor/uuid")
            .then(|| "ec2e1916-9099-7caf-fd21-012345abcdef\n".to_string())));
        assert!(!on_ec2(none, |_: &str| Some("QEMU\n".to_string())));
    }
}
