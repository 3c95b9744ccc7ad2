//! ECS task scale-in protection: protected while busy, unprotected when idle.
//!
//! When the service scales in, ECS picks tasks to stop; a protected task is skipped, so a
//! worker in the middle of a job is never chosen. We call the agent's
//! `PUT $ECS_AGENT_URI/task-protection/v1/state` with an expiry longer than the visibility
//! timeout (so a hung worker's protection lapses no earlier than its messages reappear)
//! and renew it at half-life while busy. Outside ECS (`ECS_AGENT_URI` unset) it is a no-op.
//! Failures are logged, never fatal: protection is an optimisation over the shutdown path.

use std::time::{Duration, Instant};

use crate::link_local_http::HttpEndpoint;

pub struct TaskProtection {
    agent: Option<HttpEndpoint>,
    expires_in_minutes: u64,
    /// How often a busy task renews its protection (half the expiry by default).
    renew_every: Duration,
    /// What the agent last accepted, and when a busy one is due for renewal.
    state: Option<(bool, Instant)>,
}

impl TaskProtection {
    /// `agent_uri` is `$ECS_AGENT_URI`; `None` makes every call a no-op.
    pub fn new(agent_uri: Option<&str>, visibility_timeout: Duration) -> Result<Self, String> {
        let agent = agent_uri
            .map(|u| HttpEndpoint::parse(u).map_err(|e| format!("ECS_AGENT_URI: {e}")))
            .transpose()?;
        // Whole minutes, strictly longer than the visibility timeout, at least 1.
        let expires_in_minutes = visibility_timeout.as_secs() / 60 + 1;
        Ok(Self {
            agent,
            expires_in_minutes,
            renew_every: Duration::from_secs(expires_in_minutes * 30),
            state: None,
        })
    }

    /// Renew a busy task's protection this often instead of at half-life (tests; it must
    /// stay below the expiry to mean anything).
    pub fn with_renewal_interval(mut self, every: Duration) -> Self {
        self.renew_every = every;
        self
    }

    pub fn is_active(&self) -> bool {
        self.agent.is_some()
    }

    pub fn expires_in_minutes(&self) -> u64 {
        self.expires_in_minutes
    }

    /// Bring the agent's state in line with `busy`: a call only when the state changes or
    /// a busy protection passed its half-life.
    pub async fn sync(&mut self, busy: bool) {
        let Some(agent) = &self.agent else { return };
        let now = Instant::now();
        let needed = match self.state {
            None => busy,
            Some((protected, renew_at)) => protected != busy || (busy && now >= renew_at),
        };
        if !needed {
            return;
        }
        let body = if busy {
            format!(
                r#"{{"ProtectionEnabled":true,"ExpiresInMinutes":{}}}"#,
                self.expires_in_minutes
            )
        } else {
            r#"{"ProtectionEnabled":false}"#.to_string()
        };
        match agent
            .request(
                "PUT",
                "/task-protection/v1/state",
                &[],
                Some(&body),
                Duration::from_secs(5),
            )
            .await
        {
            Ok(r) if (200..300).contains(&r.status) && !r.body.contains("\"failure\"") => {
                self.state = Some((busy, now + self.renew_every));
                tracing::info!(protected = busy, "ECS task scale-in protection updated");
            }
            Ok(r) => {
                tracing::warn!(status = r.status, body = %r.body, "ECS agent refused task protection update")
            }
            Err(e) => tracing::warn!(error = %e, "ECS task protection update failed"),
        }
    }
}
