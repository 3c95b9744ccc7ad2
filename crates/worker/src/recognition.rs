//! The recognition handler: a job body in, a result document out.
//!
//! Parse the body (`facerec_job::JobV1`), fetch the image and gallery ([`ImageSources`]),
//! then [`facerec_job::run`] on a blocking thread — decode, shrink, detect, encode, match —
//! and wrap what it found in the result document. The job crate's errors keep their kind:
//! bad input is permanent (straight to the DLQ with its code), the rest transient.

use std::sync::Arc;
use std::time::Instant;

use facerec_engine::Engine;
use facerec_job::{gallery_of, JobV1, Limits, ResultV1, CONTRACT_VERSION};
#[cfg(feature = "aws")]
use facerec_worker_runtime::launch::LaunchContext;
use facerec_worker_runtime::{JobError, JobHandler, JobOutput};

use crate::source::ImageSources;

pub struct RecognitionHandler {
    engine: Arc<Engine>,
    sources: ImageSources,
    /// True for the embedded queue: jobs may name local paths.
    allow_local: bool,
    limits: Limits,
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

/// A job crate error as the runtime classifies it (same code, same detail).
pub fn from_job_error(e: facerec_job::JobError) -> JobError {
    match e.kind {
        facerec_job::ErrorKind::Permanent => JobError::permanent(e.code, e.detail),
        facerec_job::ErrorKind::Transient => JobError::transient(e.code, e.detail),
    }
}

impl RecognitionHandler {
    /// Load the models (from `FACEREC_MODELS` / `--models`, else the engine's search path).
    #[cfg(feature = "aws")]
    pub async fn load(
        ctx: LaunchContext,
        limits: Limits,
    ) -> Result<Self, facerec_worker_runtime::BoxError> {
        let models = ctx.settings.models.clone();
        let t = Instant::now();
        let engine = tokio::task::spawn_blocking(move || {
            let paths = match models {
                Some(dir) => facerec_engine::ModelPaths::in_dir(dir),
                None => facerec_engine::ModelPaths::discover()?,
            };
            Engine::load(&paths)
        })
        .await??;
        tracing::info!(load_ms = ms(t), "recognition models loaded");
        let sources = ImageSources::with_s3(ctx.s3, limits.max_image_bytes);
        Ok(Self::new(Arc::new(engine), sources, ctx.embedded, limits))
    }

    pub fn new(
        engine: Arc<Engine>,
        sources: ImageSources,
        allow_local: bool,
        limits: Limits,
    ) -> Self {
        Self {
            engine,
            sources,
            allow_local,
            limits,
        }
    }
}

impl JobHandler for RecognitionHandler {
    type Job = JobV1;

    fn parse(&self, body: &str) -> Result<JobV1, JobError> {
        JobV1::parse(body, self.allow_local).map_err(from_job_error)
    }

    fn job_id(job: &JobV1) -> &str {
        &job.job_id
    }

    async fn handle(&self, job: JobV1) -> Result<JobOutput, JobError> {
        let total = Instant::now();
        let t = Instant::now();
        let bytes = self.sources.image(&job.image).await?;
        let gallery = gallery_of(&self.sources.gallery(&job.gallery).await?);
        let fetch_ms = ms(t);

        let engine = self.engine.clone();
        let limits = self.limits;
        let (job, found) = tokio::task::spawn_blocking(move || {
            let found = facerec_job::run(&engine, &bytes, &gallery, &job.options, &limits);
            (job, found)
        })
        .await
        .map_err(|e| {
            JobError::transient("worker_error", format!("recognition task failed: {e}"))
        })?;
        let found = found.map_err(from_job_error)?;
        let mut timings = found.timings;
        timings.fetch_ms = fetch_ms;
        timings.total_ms = ms(total);
        let faces_found = found.faces.len() as u64;
        let result = ResultV1 {
            version: CONTRACT_VERSION,
            job_id: job.job_id.clone(),
            image: String::from(job.image),
            width: found.width,
            height: found.height,
            faces: found.faces,
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
