//! Reading a job's image or gallery from S3 (feature `aws`), with its failures classified:
//! a missing object is permanent, S3 being down is `unavailable`, the rest transient.

use std::time::Duration;

use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::operation::get_object::GetObjectError;
use facerec_aws_support::chain;
use facerec_worker_runtime::dependency::Dependency;
use facerec_worker_runtime::JobError;

use super::ImageSources;

/// An S3 client for job inputs.
#[derive(Clone)]
pub struct S3Source {
    client: aws_sdk_s3::Client,
}

impl ImageSources {
    /// S3 (and local files, when the job came from the embedded queue).
    pub fn with_s3(client: aws_sdk_s3::Client, max_image_bytes: u64) -> Self {
        Self {
            s3: Some(S3Source { client }),
            max_image_bytes,
        }
    }
}

impl S3Source {
    /// The object's bytes, at most `limit` of them (more is `oversized_image`).
    pub async fn fetch(&self, bucket: &str, key: &str, limit: u64) -> Result<Vec<u8>, JobError> {
        let uri = format!("s3://{bucket}/{key}");
        let out = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| s3_get_error(&uri, e))?;
        let oversized = |what: String| {
            JobError::permanent(
                "oversized_image",
                format!("{uri} is {what} (limit {limit})"),
            )
        };
        if let Some(len) = out.content_length() {
            if len.max(0) as u64 > limit {
                return Err(oversized(format!("{len} bytes")));
            }
        }
        // Read at most limit + 1 bytes whatever Content-Length said (it can be absent, or
        // wrong for a compressed transfer): the limit bounds memory, not the header.
        let expected = out.content_length().unwrap_or(0).clamp(0, 1 << 20) as usize;
        let mut body = out.body;
        let mut bytes = Vec::with_capacity(expected);
        let deadline = body_deadline(out.content_length.unwrap_or(0).clamp(0, limit as i64) as u64);
        let read = async {
            while let Some(chunk) = body.next().await.transpose().map_err(|e| {
                JobError::unavailable(Dependency::S3, "s3_unavailable", format!("{uri}: {e}"))
            })? {
                bytes.extend_from_slice(&chunk);
                if bytes.len() as u64 > limit {
                    return Err(oversized(format!("more than {limit} bytes")));
                }
            }
            Ok(())
        };
        tokio::time::timeout(deadline, read).await.map_err(|_| {
            JobError::unavailable(
                Dependency::S3,
                "s3_unavailable",
                format!("{uri}: body not read within {} s", deadline.as_secs()),
            )
        })??;
        Ok(bytes)
    }
}

fn s3_get_error(uri: &str, e: SdkError<GetObjectError>) -> JobError {
    if let Some(service) = e.as_service_error() {
        if service.is_no_such_key() {
            return JobError::permanent("missing_object", format!("{uri}: no such key"));
        }
        let code = service.meta().code().unwrap_or_default();
        if code == "NoSuchBucket" {
            return JobError::permanent("missing_object", format!("{uri}: {code}"));
        }
        if code == "AccessDenied" {
            // S3 also answers AccessDenied for a missing key when s3:ListBucket is not
            // granted, but it is just as often an IAM mistake, which would dead-letter every
            // job at once. So: retried like any transient error (and dead-lettered only
            // after max_receive_count), and logged loudly.
            tracing::error!(uri, "S3 AccessDenied reading a job's input: check the task role's s3:GetObject grant (and s3:ListBucket, without which a missing key is also AccessDenied)");
            return JobError::transient("s3_access_denied", format!("{uri}: {code}"));
        }
    }
    if s3_outage(&e) {
        return JobError::unavailable(
            Dependency::S3,
            "s3_unavailable",
            format!("{uri}: {}", chain(&e)),
        );
    }
    JobError::transient("s3_error", format!("{uri}: {}", chain(&e)))
}

/// S3 itself failing, not this job: no connection, no answer in time, a broken response,
/// a 5xx or throttling.
fn s3_outage<E: aws_sdk_s3::error::ProvideErrorMetadata>(e: &SdkError<E>) -> bool {
    match e {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(s) => {
            let status = s.raw().status().as_u16();
            status >= 500
                || status == 429
                || matches!(
                    s.err().code(),
                    Some("SlowDown" | "Throttling" | "RequestTimeout" | "InternalError")
                )
        }
        _ => false,
    }
}

/// The whole body of an object of `len` bytes must arrive within this: 10 s plus 1 s per
/// MiB (a stall is cut sooner by the client's stalled-stream protection).
fn body_deadline(len: u64) -> Duration {
    Duration::from_secs(10) + Duration::from_secs(len.div_ceil(1 << 20))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_s3::config::http::HttpResponse;
    use aws_sdk_s3::primitives::SdkBody;
    use aws_sdk_s3::types::error::NoSuchKey;
    use facerec_worker_runtime::ErrorKind;

    fn service(status: u16, code: &str) -> SdkError<GetObjectError> {
        let meta = aws_sdk_s3::error::ErrorMetadata::builder()
            .code(code)
            .build();
        SdkError::service_error(
            GetObjectError::generic(meta),
            HttpResponse::new(status.try_into().unwrap(), SdkBody::empty()),
        )
    }

    #[test]
    fn s3_down_is_unavailable_and_the_jobs_own_faults_are_not() {
        let unavailable = ErrorKind::Unavailable(Dependency::S3);
        let timeout = SdkError::<GetObjectError>::timeout_error("read timed out");
        assert_eq!(s3_get_error("s3://b/k", timeout).kind, unavailable);
        assert_eq!(
            s3_get_error("s3://b/k", service(503, "SlowDown")).kind,
            unavailable
        );
        assert_eq!(
            s3_get_error("s3://b/k", service(500, "InternalError")).kind,
            unavailable
        );
        let missing = SdkError::service_error(
            GetObjectError::NoSuchKey(NoSuchKey::builder().build()),
            HttpResponse::new(404.try_into().unwrap(), SdkBody::empty()),
        );
        assert_eq!(s3_get_error("s3://b/k", missing).kind, ErrorKind::Permanent);
        // An IAM mistake is not an outage: it counts, and the DLQ names it eventually.
        let denied = s3_get_error("s3://b/k", service(403, "AccessDenied"));
        assert_eq!(
            (denied.kind, denied.code.as_str()),
            (ErrorKind::Transient, "s3_access_denied")
        );
        assert_eq!(
            s3_get_error("s3://b/k", service(400, "InvalidRange")).kind,
            ErrorKind::Transient
        );
    }

    #[test]
    fn a_body_may_take_longer_the_larger_it_is() {
        assert_eq!(body_deadline(0), Duration::from_secs(10));
        assert_eq!(body_deadline(30 << 20), Duration::from_secs(40));
    }
}
