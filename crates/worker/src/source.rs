//! Where a job's bytes come from: S3 (the fleet) or a local file (jobs from the embedded
//! queue, `facerec run`). Fetch failures are classified for the runtime: a missing object
//! is permanent (the DLQ names it), S3 being down (unreachable, timing out, 5xx,
//! throttling) is `unavailable` — the runtime holds the job until S3 is back, without
//! counting it — and anything else that could succeed later is transient.

use std::path::Path;

use facerec_job::{parse_gallery_document, GalleryEntry, GallerySpec, ImageRef};
use facerec_worker_runtime::JobError;

use crate::recognition::from_job_error;

// Reading S3 needs the SDK (feature `aws`). Without it (the CLI's local path) the S3
// source has no values, so every `s3://` job is refused as invalid.
#[cfg(feature = "aws")]
mod s3;
#[cfg(not(feature = "aws"))]
mod s3 {
    use facerec_worker_runtime::JobError;

    #[derive(Clone)]
    pub enum S3Source {}

    impl S3Source {
        pub async fn fetch(&self, _: &str, _: &str, _: u64) -> Result<Vec<u8>, JobError> {
            match *self {}
        }
    }
}

/// The places a worker may read images and galleries from.
#[derive(Clone)]
pub struct ImageSources {
    /// `None` for `facerec run`: its jobs only name local files.
    s3: Option<s3::S3Source>,
    max_image_bytes: u64,
}

impl ImageSources {
    /// Local files only: an `s3://` job is refused as invalid.
    pub fn local_files(max_image_bytes: u64) -> Self {
        Self {
            s3: None,
            max_image_bytes,
        }
    }

    async fn fetch_s3(&self, bucket: &str, key: &str) -> Result<Vec<u8>, JobError> {
        let Some(s3) = &self.s3 else {
            return Err(JobError::permanent(
                "invalid_job",
                format!("s3://{bucket}/{key}: this worker reads local files only (no S3 client)"),
            ));
        };
        s3.fetch(bucket, key, self.max_image_bytes).await
    }

    async fn fetch_local(&self, path: &Path) -> Result<Vec<u8>, JobError> {
        let meta = tokio::fs::metadata(path).await.map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                JobError::permanent("missing_object", format!("{}: not found", path.display()))
            } else {
                JobError::transient("io_error", format!("{}: {e}", path.display()))
            }
        })?;
        if meta.len() > self.max_image_bytes {
            return Err(JobError::permanent(
                "oversized_image",
                format!(
                    "{} is {} bytes (limit {})",
                    path.display(),
                    meta.len(),
                    self.max_image_bytes
                ),
            ));
        }
        tokio::fs::read(path)
            .await
            .map_err(|e| JobError::transient("io_error", format!("{}: {e}", path.display())))
    }

    pub async fn image(&self, image: &ImageRef) -> Result<Vec<u8>, JobError> {
        match image {
            ImageRef::S3 { bucket, key } => self.fetch_s3(bucket, key).await,
            ImageRef::Local(p) => self.fetch_local(p).await,
        }
    }

    pub async fn gallery(&self, spec: &GallerySpec) -> Result<Vec<GalleryEntry>, JobError> {
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
        parse_gallery_document(&bytes).map_err(|e| from_job_error(e.context(uri)))
    }
}
