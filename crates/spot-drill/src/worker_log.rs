//! The workers' JSON log lines (stderr, one object per line, `FACEREC_LOG_FORMAT=json`)
//! as timestamped events. The drill reads what the runtime says it did: these messages
//! are the runtime's own (crates/worker-runtime/src/runtime/, spot_notice.rs); if one
//! is renamed, the drill's checks fail loudly rather than pass on missing data.

use std::path::Path;
use std::time::SystemTime;

use aws_sdk_sqs::primitives::{DateTime, DateTimeFormat};

pub const READY: &str = "worker ready: receiving";
pub const JOB_STARTED: &str = "job started";
pub const JOB_SUCCEEDED: &str = "job succeeded";
pub const SPOT_NOTICE: &str = "Spot interruption notice: starting shutdown";
pub const STOP_REQUESTED: &str = "stop requested: receiving stopped, finishing running jobs";
pub const RELEASED: &str = "released unfinished messages";
pub const STOPPED: &str = "worker runtime stopped";

#[derive(Debug, Clone)]
pub struct LogEvent {
    pub at: SystemTime,
    pub message: String,
    pub fields: serde_json::Map<String, serde_json::Value>,
}

impl LogEvent {
    /// Parse one line; `None` for anything that is not a timestamped JSON event.
    pub fn parse(line: &str) -> Option<LogEvent> {
        let serde_json::Value::Object(fields) = serde_json::from_str(line).ok()? else {
            return None;
        };
        let at = parse_timestamp(fields.get("timestamp")?.as_str()?)?;
        let message = fields.get("message")?.as_str()?.to_string();
        Some(LogEvent {
            at,
            message,
            fields,
        })
    }

    pub fn str_field(&self, name: &str) -> Option<&str> {
        self.fields.get(name)?.as_str()
    }

    pub fn u64_field(&self, name: &str) -> Option<u64> {
        let v = self.fields.get(name)?;
        v.as_u64().or_else(|| v.as_str()?.parse().ok())
    }
}

/// RFC 3339 (`2026-11-27T21:10:00.123456Z`), as tracing-subscriber writes it.
pub fn parse_timestamp(s: &str) -> Option<SystemTime> {
    SystemTime::try_from(DateTime::from_str(s, DateTimeFormat::DateTime).ok()?).ok()
}

/// One worker's log.
#[derive(Debug, Clone, Default)]
pub struct WorkerLog {
    pub events: Vec<LogEvent>,
}

impl WorkerLog {
    pub fn parse(text: &str) -> WorkerLog {
        WorkerLog {
            events: text.lines().filter_map(LogEvent::parse).collect(),
        }
    }

    pub fn read(path: &Path) -> WorkerLog {
        Self::parse(&std::fs::read_to_string(path).unwrap_or_default())
    }

    pub fn with_message<'a>(&'a self, message: &'a str) -> impl Iterator<Item = &'a LogEvent> + 'a {
        self.events.iter().filter(move |e| e.message == message)
    }

    pub fn first(&self, message: &str) -> Option<&LogEvent> {
        self.events.iter().find(|e| e.message == message)
    }

    /// The run summary's `released` count (from the `Debug` of `RunSummary`).
    pub fn summary_field(&self, field: &str) -> Option<String> {
        let summary = self.first(STOPPED)?.str_field("summary")?;
        let rest = summary.split_once(&format!("{field}: "))?.1;
        Some(
            rest.split([',', ' ', '}'])
                .next()
                .unwrap_or_default()
                .to_string(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn parses_tracing_json_lines() {
        let text = concat!(
            r#"{"timestamp":"2026-11-27T21:10:00.250000Z","level":"INFO","message":"job started","job_id":"drill-0001","receive_count":2,"target":"x"}"#,
            "\n",
            "not json\n",
            r#"{"timestamp":"2026-11-27T21:10:05.5Z","level":"INFO","message":"worker runtime stopped","summary":"RunSummary { succeeded: 7, dead_lettered: 0, released: 2, deadline_hit: false }"}"#,
            "\n"
        );
        let log = WorkerLog::parse(text);
        assert_eq!(log.events.len(), 2);
        let started = log.first(JOB_STARTED).unwrap();
        assert_eq!(started.str_field("job_id"), Some("drill-0001"));
        assert_eq!(started.u64_field("receive_count"), Some(2));
        let secs = started.at.duration_since(UNIX_EPOCH).unwrap();
        assert_eq!(secs.as_secs() % 60, 0);
        assert_eq!(secs.subsec_millis(), 250);
        let stopped = log.first(STOPPED).unwrap();
        assert_eq!(
            stopped.at.duration_since(started.at).unwrap(),
            Duration::from_millis(5_250)
        );
        assert_eq!(log.summary_field("released").as_deref(), Some("2"));
        assert_eq!(log.summary_field("deadline_hit").as_deref(), Some("false"));
        assert_eq!(log.summary_field("missing"), None);
    }
}
