//! Spot interruption notice watcher (IMDSv2 `spot/instance-action`).
//!
//! EC2 posts the notice two minutes before reclaiming a Spot instance; ECS's draining
//! SIGTERM comes later. Starting the shutdown path on the notice gives in-progress jobs
//! more of those two minutes and returns unstarted ones to the queue sooner.
//!
//! IMDSv2: `PUT /latest/api/token` (with a TTL header) then `GET` with the token. 404 means
//! "no notice". The endpoint is the SDK's `AWS_EC2_METADATA_SERVICE_ENDPOINT` or an
//! explicit one; tests point it at a loopback stand-in.

use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::link_local_http::HttpEndpoint;

pub const DEFAULT_IMDS_ENDPOINT: &str = "http://169.254.169.254";
const TOKEN_TTL_SECS: u64 = 21_600;

pub struct SpotNoticeWatcher {
    imds: HttpEndpoint,
    interval: Duration,
    /// Keep trying when IMDS cannot be reached (explicit endpoint); otherwise one failed
    /// token request means "not on EC2" and the watcher stops quietly.
    persistent: bool,
    token: Option<(String, Instant)>,
}

impl SpotNoticeWatcher {
    pub fn new(endpoint: &str, interval: Duration, persistent: bool) -> Result<Self, String> {
        Ok(Self {
            imds: HttpEndpoint::parse(endpoint).map_err(|e| format!("IMDS endpoint: {e}"))?,
            interval,
            persistent,
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
        loop {
            match self.check().await {
                Ok(Some(notice)) => {
                    shutdown.cancel();
                    tracing::warn!(notice = %notice, "Spot interruption notice: starting shutdown");
                    return;
                }
                Ok(None) => ever_reached = true,
                Err(e) if !ever_reached && !self.persistent => {
                    tracing::info!(error = %e, "instance metadata unreachable: not on EC2, Spot watcher off");
                    return;
                }
                Err(e) => tracing::warn!(error = %e, "Spot notice check failed"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(self.interval) => {}
            }
        }
    }
}
