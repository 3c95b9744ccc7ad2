//! A queue's depth: the three approximate counts SQS reports for it, read with one
//! `GetQueueAttributes`. The CLI's `status`, the load generator's recording and the Spot
//! drill read it the same way.
//!
//! The counts are eventually consistent ("approximate" is SQS's own word: Amazon SQS API
//! Reference, GetQueueAttributes).

use aws_sdk_sqs::error::SdkError;
use aws_sdk_sqs::operation::get_queue_attributes::GetQueueAttributesError;
use aws_sdk_sqs::types::QueueAttributeName;
use std::collections::HashMap;

/// The three approximate counts SQS reports for a queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueDepth {
    /// `ApproximateNumberOfMessages`: waiting to be received.
    pub visible: u64,
    /// `ApproximateNumberOfMessagesNotVisible`: received, not yet deleted.
    pub in_flight: u64,
    /// `ApproximateNumberOfMessagesDelayed`: sent with a delay that has not passed.
    pub delayed: u64,
}

impl QueueDepth {
    /// Every message the queue holds, in any state.
    pub fn total(&self) -> u64 {
        self.visible + self.in_flight + self.delayed
    }
}

/// Why a queue's depth could not be read.
#[derive(Debug)]
pub enum QueueDepthError {
    /// The call failed (the SDK's error is the source; callers format it their way).
    Request(Box<SdkError<GetQueueAttributesError>>),
    /// SQS answered with a count that is not a whole number.
    NotACount { attribute: String, value: String },
}

/// Reads the queue's depth. A count SQS leaves out is 0; one that is not a number is an
/// error rather than a guess.
pub async fn queue_depth(
    client: &aws_sdk_sqs::Client,
    queue_url: &str,
) -> Result<QueueDepth, QueueDepthError> {
    use QueueAttributeName as Attr;
    let out = client
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(Attr::ApproximateNumberOfMessages)
        .attribute_names(Attr::ApproximateNumberOfMessagesNotVisible)
        .attribute_names(Attr::ApproximateNumberOfMessagesDelayed)
        .send()
        .await
        .map_err(|e| QueueDepthError::Request(Box::new(e)))?;
    depth_from(&out.attributes.unwrap_or_default())
}

/// The depth in a `GetQueueAttributes` answer's attributes.
fn depth_from(
    attributes: &HashMap<QueueAttributeName, String>,
) -> Result<QueueDepth, QueueDepthError> {
    use QueueAttributeName as Attr;
    let count = |name: Attr| match attributes.get(&name) {
        None => Ok(0),
        Some(v) => v.parse().map_err(|_| QueueDepthError::NotACount {
            attribute: name.as_str().to_string(),
            value: v.clone(),
        }),
    };
    Ok(QueueDepth {
        visible: count(Attr::ApproximateNumberOfMessages)?,
        in_flight: count(Attr::ApproximateNumberOfMessagesNotVisible)?,
        delayed: count(Attr::ApproximateNumberOfMessagesDelayed)?,
    })
}

impl QueueDepthError {
    /// What went wrong, on one line, without the operation's name (callers put it, and the
    /// queue, in front): the SDK error and its sources, or the count that was not one.
    pub fn detail(&self) -> String {
        match self {
            QueueDepthError::Request(e) => crate::chain(e.as_ref()),
            other => other.to_string(),
        }
    }
}

impl std::fmt::Display for QueueDepthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QueueDepthError::Request(_) => f.write_str("GetQueueAttributes failed"),
            QueueDepthError::NotACount { attribute, value } => {
                write!(f, "{attribute} is {value:?}, not a count")
            }
        }
    }
}

impl std::error::Error for QueueDepthError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            QueueDepthError::Request(e) => Some(e.as_ref()),
            QueueDepthError::NotACount { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use QueueAttributeName as Attr;

    #[test]
    fn counts_parse_and_a_missing_one_is_zero() {
        let attributes = HashMap::from([
            (Attr::ApproximateNumberOfMessages, "7".to_string()),
            (Attr::ApproximateNumberOfMessagesNotVisible, "2".to_string()),
        ]);
        let depth = depth_from(&attributes).unwrap();
        assert_eq!(
            depth,
            QueueDepth {
                visible: 7,
                in_flight: 2,
                delayed: 0
            }
        );
        assert_eq!(depth.total(), 9);
    }

    #[test]
    fn a_count_that_is_not_a_number_is_an_error_naming_it() {
        let attributes = HashMap::from([
            (Attr::ApproximateNumberOfMessages, "7".to_string()),
            (Attr::ApproximateNumberOfMessagesDelayed, "lots".to_string()),
        ]);
        let detail = depth_from(&attributes).unwrap_err().detail();
        assert_eq!(
            detail,
            r#"ApproximateNumberOfMessagesDelayed is "lots", not a count"#
        );
    }
}
