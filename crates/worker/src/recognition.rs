//! The recognition handler: job contract v1 in, result v1 out.
//!
//! Fetch the image (S3, or a local path from the embedded queue) and the gallery, then on
//! a blocking thread: decode → HOG detect → landmarks/chip/embedding → distances to every
//! gallery entry. Errors are classified for the runtime: bad input is permanent (straight
//! to the DLQ with its code), S3 being down (unreachable, timing out, 5xx, throttling) is
//! `unavailable` — the runtime holds the job until S3 is back, without counting it — and
//! anything else that could succeed later is transient.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::operation::get_object::GetObjectError;
use facerec_aws_support::chain;
use facerec_engine::{
    decode_image, face_distance, Detector, Embedding, Engine, ImageError, LoadOptions, ModelPaths,
};
use facerec_worker_runtime::contract::{
    parse_gallery_document, Detector as JobDetector, FaceBox, FaceMatch, FaceResult, GalleryEntry,
    GallerySpec, ImageRef, JobV1, ResultV1, Timings, CONTRACT_VERSION,
};
use facerec_worker_runtime::dependency::Dependency;
use facerec_worker_runtime::launch::{anyhow_like, LaunchContext};
use facerec_worker_runtime::{JobError, JobHandler, JobOutput};

/// Input limits; beyond them a job is rejected as permanent.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_image_bytes: u64,
    pub max_pixels: u64,
}

pub struct RecognitionHandler {
    engine: Arc<Engine>,
    s3: aws_sdk_s3::Client,
    allow_local: bool,
    limits: Limits,
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
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

impl RecognitionHandler {
    /// Load the models (from `FACEREC_MODELS` / `--models`, else the engine's search path).
    pub async fn load(ctx: LaunchContext, limits: Limits) -> anyhow_like::Result<Self> {
        let models = ctx.settings.models.clone();
        let t = Instant::now();
        let engine = tokio::task::spawn_blocking(move || {
            let paths = match models {
                Some(dir) => ModelPaths::in_dir(dir),
                None => ModelPaths::discover()?,
            };
            Engine::load(&paths)
        })
        .await??;
        tracing::info!(load_ms = ms(t), "recognition models loaded");
        Ok(Self::new(Arc::new(engine), ctx.s3, ctx.embedded, limits))
    }

    pub fn new(
        engine: Arc<Engine>,
        s3: aws_sdk_s3::Client,
        allow_local: bool,
        limits: Limits,
    ) -> Self {
        Self {
            engine,
            s3,
            allow_local,
            limits,
        }
    }

    async fn fetch_s3(&self, bucket: &str, key: &str) -> Result<Vec<u8>, JobError> {
        let uri = format!("s3://{bucket}/{key}");
        let out = self
            .s3
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| s3_get_error(&uri, e))?;
        let limit = self.limits.max_image_bytes;
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

    async fn fetch_local(&self, path: &Path) -> Result<Vec<u8>, JobError> {
        let meta = tokio::fs::metadata(path).await.map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                JobError::permanent("missing_object", format!("{}: not found", path.display()))
            } else {
                JobError::transient("io_error", format!("{}: {e}", path.display()))
            }
        })?;
        if meta.len() > self.limits.max_image_bytes {
            return Err(JobError::permanent(
                "oversized_image",
                format!(
                    "{} is {} bytes (limit {})",
                    path.display(),
                    meta.len(),
                    self.limits.max_image_bytes
                ),
            ));
        }
        tokio::fs::read(path)
            .await
            .map_err(|e| JobError::transient("io_error", format!("{}: {e}", path.display())))
    }

    async fn fetch_image(&self, image: &ImageRef) -> Result<Vec<u8>, JobError> {
        match image {
            ImageRef::S3 { bucket, key } => self.fetch_s3(bucket, key).await,
            ImageRef::Local(p) => self.fetch_local(p).await,
        }
    }

    async fn gallery(&self, spec: &GallerySpec) -> Result<Vec<GalleryEntry>, JobError> {
        let (uri, bytes) = match spec {
            GallerySpec::Inline(entries) => return Ok(entries.clone()),
            GallerySpec::Uri(uri) => {
                let bytes = match uri.strip_prefix("s3://").and_then(|r| r.split_once('/')) {
                    Some((bucket, key)) => self.fetch_s3(bucket, key).await?,
                    None => self.fetch_local(Path::new(uri)).await?,
                };
                (uri, bytes)
            }
        };
        // A `facerec enroll` gallery file or a bare array of entries.
        parse_gallery_document(&bytes).map_err(|e| JobError {
            detail: format!("{uri}: {}", e.detail),
            ..e
        })
    }
}

fn image_error(e: ImageError) -> JobError {
    match e {
        ImageError::TooLarge { .. } => JobError::permanent("decompression_bomb", e.to_string()),
        ImageError::UnsupportedFormat => JobError::permanent("unsupported_format", e.to_string()),
        ImageError::Io { .. } => JobError::transient("io_error", e.to_string()),
        other => JobError::permanent("corrupt_image", other.to_string()),
    }
}

/// The CPU part, on a blocking thread.
fn recognise(
    engine: &Engine,
    bytes: &[u8],
    gallery: &[GalleryEntry],
    job: &JobV1,
    max_pixels: u64,
    timings: &mut Timings,
) -> Result<(u32, u32, Vec<FaceResult>), JobError> {
    let t = Instant::now();
    // Decoders can panic on hostile input; a panic must become a DLQ reason, not a crash.
    let decoded = std::panic::catch_unwind(|| {
        decode_image(
            bytes,
            &LoadOptions {
                max_pixels,
                ..LoadOptions::default()
            },
        )
    })
    .map_err(|_| JobError::permanent("corrupt_image", "decoder panicked on this image"))?;
    let img = decoded.map_err(image_error)?;
    timings.decode_ms = ms(t);

    let t = Instant::now();
    let detector = match job.options.detector {
        JobDetector::Hog => Detector::Hog {
            upsample: job.options.upsample,
        },
        // RetinaFace has no up-sampling: its smallest anchors already see 16 px faces.
        JobDetector::Retinaface => Detector::RetinaFace,
    };
    // Only RetinaFace can fail here (its network is loaded on first use). A worker without
    // it is misdeployed, not the job malformed: transient, so another worker (or this one,
    // fixed) gets it, and the DLQ names the reason if none can.
    let mut boxes = engine
        .detect(&img, detector)
        .map_err(|e| JobError::transient("model_unavailable", e.to_string()))?;
    boxes.truncate(job.options.max_faces);
    timings.detect_ms = ms(t);

    let t = Instant::now();
    let faces = engine.encode_faces(&img, &boxes);
    timings.encode_ms = ms(t);

    let t = Instant::now();
    let known: Vec<(&str, Embedding)> = gallery
        .iter()
        .filter_map(|g| Some((g.label.as_str(), g.encoding.as_slice().try_into().ok()?)))
        .collect();
    let results = faces
        .iter()
        .map(|f| {
            let mut nearest: Vec<FaceMatch> = known
                .iter()
                .map(|(label, e)| FaceMatch {
                    label: label.to_string(),
                    distance: face_distance(&f.embedding, e),
                })
                .collect();
            nearest.sort_by(|a, b| a.distance.total_cmp(&b.distance));
            nearest.truncate(job.options.top_k);
            let best_match = nearest
                .first()
                .filter(|m| m.distance <= job.options.tolerance)
                .cloned();
            FaceResult {
                bbox: FaceBox {
                    top: f.rect.top,
                    right: f.rect.right,
                    bottom: f.rect.bottom,
                    left: f.rect.left,
                },
                best_match,
                nearest,
            }
        })
        .collect();
    timings.match_ms = ms(t);
    Ok((img.width(), img.height(), results))
}

impl JobHandler for RecognitionHandler {
    type Job = JobV1;

    fn parse(&self, body: &str) -> Result<JobV1, JobError> {
        JobV1::parse(body, self.allow_local)
    }

    fn job_id(job: &JobV1) -> &str {
        &job.job_id
    }

    async fn handle(&self, job: JobV1) -> Result<JobOutput, JobError> {
        let total = Instant::now();
        let mut timings = Timings::default();
        let t = Instant::now();
        let bytes = self.fetch_image(&job.image).await?;
        let gallery = self.gallery(&job.gallery).await?;
        timings.fetch_ms = ms(t);

        let engine = self.engine.clone();
        let max_pixels = self.limits.max_pixels;
        let (job, timings, outcome) = tokio::task::spawn_blocking(move || {
            let mut timings = timings;
            let r = recognise(&engine, &bytes, &gallery, &job, max_pixels, &mut timings);
            (job, timings, r)
        })
        .await
        .map_err(|e| {
            JobError::transient("worker_error", format!("recognition task failed: {e}"))
        })?;
        let (width, height, faces) = outcome?;
        let mut timings = timings;
        timings.total_ms = ms(total);
        let faces_found = faces.len() as u64;
        let result = ResultV1 {
            version: CONTRACT_VERSION,
            job_id: job.job_id.clone(),
            image: String::from(job.image.clone()),
            width,
            height,
            faces,
            timings,
            worker: format!("facerec-worker/{}", env!("CARGO_PKG_VERSION")),
        };
        let result = serde_json::to_value(&result)
            .map_err(|e| JobError::permanent("worker_error", e.to_string()))?;
        Ok(JobOutput {
            result,
            faces_found,
        })
    }
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
