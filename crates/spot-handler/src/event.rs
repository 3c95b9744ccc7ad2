//! Parsing an SQS message body (an EventBridge event) into a [`Notice`].
//!
//! EventBridge puts the whole event JSON into the SQS body. We accept the three detail
//! types we act on and classify everything else as [`ParsedEvent::Unrecognised`], so an
//! overly broad rule never fails a batch.
//!
//! The envelope is read with our own struct rather than `aws_lambda_events`'
//! `EventBridgeEvent`, whose typed `time` rejects the whole event when the timestamp does
//! not parse: a Spot warning must still drain with a bad timestamp (only its latency
//! metric is lost).

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

/// `detail-type` of the two-minute Spot interruption notice.
pub const SPOT_INTERRUPTION_WARNING: &str = "EC2 Spot Instance Interruption Warning";
/// `detail-type` of the (earlier, softer) rebalance recommendation.
pub const REBALANCE_RECOMMENDATION: &str = "EC2 Instance Rebalance Recommendation";
/// `detail-type` of an Auto Scaling termination lifecycle hook firing.
pub const TERMINATE_LIFECYCLE_ACTION: &str = "EC2 Instance-terminate Lifecycle Action";

/// The one transition a termination hook reports; anything else is not ours to complete.
const TERMINATING_TRANSITION: &str = "autoscaling:EC2_INSTANCE_TERMINATING";

/// What happened to which instance, as far as the handler cares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Interruption {
    /// EC2 reclaims the Spot instance in two minutes.
    SpotWarning {
        instance_id: String,
        /// `terminate`, `stop` or `hibernate`: all three take the tasks down.
        action: String,
    },
    /// EC2 says the instance is at elevated risk of interruption.
    RebalanceRecommendation { instance_id: String },
    /// Auto Scaling waits on our hook before terminating the instance.
    TerminateLifecycle(LifecycleAction),
}

/// The identifiers `RecordLifecycleActionHeartbeat` and `CompleteLifecycleAction` need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LifecycleAction {
    pub instance_id: String,
    pub group_name: String,
    pub hook_name: String,
    pub token: String,
}

impl Interruption {
    /// The EC2 instance the event is about.
    pub fn instance_id(&self) -> &str {
        match self {
            Interruption::SpotWarning { instance_id, .. }
            | Interruption::RebalanceRecommendation { instance_id } => instance_id,
            Interruption::TerminateLifecycle(action) => &action.instance_id,
        }
    }

    /// Short stable name, used as the `EventType` metric dimension and in logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Interruption::SpotWarning { .. } => "spot-interruption",
            Interruption::RebalanceRecommendation { .. } => "rebalance-recommendation",
            Interruption::TerminateLifecycle(_) => "terminate-lifecycle",
        }
    }
}

/// A recognised event with its envelope fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    /// EventBridge event id: the de-duplication key.
    pub id: String,
    /// When EC2 / Auto Scaling emitted the event; drain latency is measured from here.
    pub time: Option<DateTime<Utc>>,
    pub interruption: Interruption,
}

/// An SQS body that is a well-formed EventBridge event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParsedEvent {
    Notice(Notice),
    /// A well-formed event of a type (or lifecycle transition) we do not handle.
    Unrecognised {
        id: Option<String>,
        detail_type: String,
        source: String,
    },
}

/// Why an SQS body is not an event we can act on. Never retried: the same bytes would
/// fail the same way.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("SQS message has no body")]
    MissingBody,
    #[error("body is not an EventBridge event: {0}")]
    NotEventBridge(#[source] serde_json::Error),
    #[error("{detail_type} event has a malformed detail: {source}")]
    BadDetail {
        detail_type: String,
        #[source]
        source: serde_json::Error,
    },
}

/// The EventBridge envelope fields we read (the structure every EventBridge event has:
/// <https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-events-structure.html>).
#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Envelope {
    #[serde(default)]
    id: Option<String>,
    detail_type: String,
    source: String,
    /// Any JSON: a timestamp we cannot read must not make the event unreadable.
    #[serde(default)]
    time: Option<Value>,
    detail: Value,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Ec2InstanceDetail {
    instance_id: String,
    #[serde(default)]
    instance_action: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LifecycleDetail {
    #[serde(rename = "EC2InstanceId")]
    ec2_instance_id: String,
    auto_scaling_group_name: String,
    lifecycle_hook_name: String,
    lifecycle_action_token: String,
    lifecycle_transition: String,
}

/// Parses one SQS message body.
pub fn parse_body(body: Option<&str>) -> Result<ParsedEvent, EventError> {
    let body = body.ok_or(EventError::MissingBody)?;
    let event: Envelope = serde_json::from_str(body).map_err(EventError::NotEventBridge)?;
    let detail_error = |source| EventError::BadDetail {
        detail_type: event.detail_type.clone(),
        source,
    };
    let interruption = match event.detail_type.as_str() {
        SPOT_INTERRUPTION_WARNING => {
            let d: Ec2InstanceDetail =
                serde_json::from_value(event.detail.clone()).map_err(detail_error)?;
            Interruption::SpotWarning {
                instance_id: d.instance_id,
                action: d.instance_action.unwrap_or_else(|| "terminate".into()),
            }
        }
        REBALANCE_RECOMMENDATION => {
            let d: Ec2InstanceDetail =
                serde_json::from_value(event.detail.clone()).map_err(detail_error)?;
            Interruption::RebalanceRecommendation {
                instance_id: d.instance_id,
            }
        }
        TERMINATE_LIFECYCLE_ACTION => {
            let d: LifecycleDetail =
                serde_json::from_value(event.detail.clone()).map_err(detail_error)?;
            if d.lifecycle_transition != TERMINATING_TRANSITION {
                return Ok(unrecognised(event));
            }
            Interruption::TerminateLifecycle(LifecycleAction {
                instance_id: d.ec2_instance_id,
                group_name: d.auto_scaling_group_name,
                hook_name: d.lifecycle_hook_name,
                token: d.lifecycle_action_token,
            })
        }
        _ => return Ok(unrecognised(event)),
    };
    Ok(ParsedEvent::Notice(Notice {
        time: parse_time(event.time.as_ref(), event.id.as_deref()),
        // A missing id only happens with hand-made events; the caller falls back to the
        // SQS message id for de-duplication.
        id: event.id.unwrap_or_default(),
        interruption,
    }))
}

/// The event's RFC 3339 `time` (AWS writes `2021-02-18T16:19:15Z` or, with fractional
/// seconds, `2022-03-28T00:12:37.214Z`); `None`, logged, when absent or unreadable.
fn parse_time(time: Option<&Value>, id: Option<&str>) -> Option<DateTime<Utc>> {
    let time = time?;
    let parsed = time
        .as_str()
        .and_then(|text| DateTime::parse_from_rfc3339(text).ok());
    if parsed.is_none() {
        tracing::warn!(event_id = id.unwrap_or(""), %time, "event time unreadable; latency not measured");
    }
    parsed.map(|t| t.with_timezone(&Utc))
}

fn unrecognised(event: Envelope) -> ParsedEvent {
    ParsedEvent::Unrecognised {
        id: event.id,
        detail_type: event.detail_type,
        source: event.source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fixture(name: &str) -> String {
        let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn notice(name: &str) -> Notice {
        match parse_body(Some(&fixture(name))).unwrap() {
            ParsedEvent::Notice(n) => n,
            other => panic!("{name} parsed as {other:?}"),
        }
    }

    #[test]
    fn spot_interruption_warning_sample() {
        let n = notice("spot-interruption-warning.json");
        assert_eq!(n.id, "12345678-1234-1234-1234-123456789012");
        assert_eq!(
            n.interruption,
            Interruption::SpotWarning {
                instance_id: "i-1234567890abcdef0".into(),
                action: "terminate".into()
            }
        );
        assert_eq!(n.time.unwrap().to_rfc3339(), "2021-02-18T16:19:15+00:00");
        assert_eq!(n.interruption.kind(), "spot-interruption");
    }

    #[test]
    fn rebalance_recommendation_sample() {
        let n = notice("rebalance-recommendation.json");
        assert_eq!(
            n.interruption,
            Interruption::RebalanceRecommendation {
                instance_id: "i-1234567890abcdef0".into()
            }
        );
    }

    #[test]
    fn terminate_lifecycle_action_sample() {
        let n = notice("terminate-lifecycle-action.json");
        assert_eq!(
            n.interruption,
            Interruption::TerminateLifecycle(LifecycleAction {
                instance_id: "i-1234567890abcdef0".into(),
                group_name: "my-asg".into(),
                hook_name: "my-lifecycle-hook".into(),
                token: "87654321-4321-4321-4321-210987654321".into(),
            })
        );
        assert_eq!(n.interruption.instance_id(), "i-1234567890abcdef0");
    }

    #[test]
    fn warm_pool_terminate_sample_keeps_its_fractional_second_time() {
        let n = notice("terminate-lifecycle-action-warm-pool.json");
        assert_eq!(
            n.time
                .unwrap()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "2022-03-28T00:12:37.214Z"
        );
        assert_eq!(
            n.interruption,
            Interruption::TerminateLifecycle(LifecycleAction {
                instance_id: "i-1234567890abcdef0".into(),
                group_name: "my-asg".into(),
                hook_name: "my-termination-lifecycle-hook".into(),
                token: "42694b3d-4b70-6a62-8523-09a1eEXAMPLE".into(),
            })
        );
    }

    #[test]
    fn an_unreadable_time_loses_the_timestamp_not_the_event() {
        for time in [json!("yyyy-mm-ddThh:mm:ssZ"), json!(1613665155)] {
            let mut event: Value =
                serde_json::from_str(&fixture("spot-interruption-warning.json")).unwrap();
            event["time"] = time;
            let n = match parse_body(Some(&event.to_string())).unwrap() {
                ParsedEvent::Notice(n) => n,
                other => panic!("parsed as {other:?}"),
            };
            assert_eq!(n.time, None);
            assert_eq!(n.interruption.instance_id(), "i-1234567890abcdef0");
        }
    }

    #[test]
    fn other_detail_types_are_unrecognised_not_errors() {
        match parse_body(Some(&fixture("instance-state-change.json"))).unwrap() {
            ParsedEvent::Unrecognised {
                detail_type,
                source,
                ..
            } => {
                assert_eq!(detail_type, "EC2 Instance State-change Notification");
                assert_eq!(source, "aws.ec2");
            }
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn launch_transition_is_not_handled() {
        let body = fixture("terminate-lifecycle-action.json")
            .replace("EC2_INSTANCE_TERMINATING", "EC2_INSTANCE_LAUNCHING");
        assert!(matches!(
            parse_body(Some(&body)).unwrap(),
            ParsedEvent::Unrecognised { .. }
        ));
    }

    #[test]
    fn malformed_bodies_are_typed_errors() {
        assert!(matches!(parse_body(None), Err(EventError::MissingBody)));
        assert!(matches!(
            parse_body(Some("not json")),
            Err(EventError::NotEventBridge(_))
        ));
        assert!(matches!(
            parse_body(Some(r#"{"id":"x","detail":{}}"#)),
            Err(EventError::NotEventBridge(_))
        ));
        let missing_instance =
            fixture("spot-interruption-warning.json").replace("\"instance-id\"", "\"instance\"");
        let err = parse_body(Some(&missing_instance)).unwrap_err();
        assert!(matches!(err, EventError::BadDetail { .. }));
        assert!(err.to_string().contains(SPOT_INTERRUPTION_WARNING), "{err}");
    }
}
