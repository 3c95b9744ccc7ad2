//! Building a job body: every producer (`facerec run` and `submit`, the load generator,
//! the Spot drill) goes through [`JobBuilder`], so none writes the contract's JSON by hand
//! and none can send a body the worker would reject.

use serde::Serialize;

use crate::contract::{GallerySpec, JobOptions, JobV1, CONTRACT_VERSION};
use crate::error::JobError;

/// A job under construction: `JobV1::builder(id, image)`, then `.gallery(…)`,
/// `.options(…)`, `.build()`.
#[derive(Debug, Clone)]
pub struct JobBuilder {
    job_id: String,
    image: String,
    gallery: Option<GallerySpec>,
    options: JobOptions,
}

/// The body as it goes on the wire (field order as docs/jobs.md shows it).
#[derive(Serialize)]
struct Body<'a> {
    version: u32,
    job_id: &'a str,
    image: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    gallery: Option<&'a GallerySpec>,
    /// Only the options that differ from the defaults (see [`options_beyond_defaults`]).
    #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
    options: serde_json::Map<String, serde_json::Value>,
}

/// The options a body must carry: those that differ from the defaults. A worker fills in
/// the rest with the same defaults, and a worker older than an option (it rejects unknown
/// fields) still reads every job that does not use it — producers and workers can be
/// upgraded in either order.
fn options_beyond_defaults(options: &JobOptions) -> serde_json::Map<String, serde_json::Value> {
    let as_map = |o: &JobOptions| match serde_json::to_value(o) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => unreachable!("JobOptions serialises to an object"),
    };
    let defaults = as_map(&JobOptions::default());
    as_map(options)
        .into_iter()
        .filter(|(k, v)| defaults.get(k) != Some(v))
        .collect()
}

impl JobV1 {
    /// Start a job for `image` (`s3://bucket/key`, or an absolute path for the embedded
    /// queue).
    pub fn builder(job_id: impl Into<String>, image: impl Into<String>) -> JobBuilder {
        JobBuilder {
            job_id: job_id.into(),
            image: image.into(),
            gallery: None,
            options: JobOptions::default(),
        }
    }

    /// The message body: what [`JobV1::parse`] reads back into this same job.
    pub fn to_body(&self) -> String {
        body(
            &self.job_id,
            String::from(self.image.clone()),
            &self.gallery,
            &self.options,
        )
    }
}

fn body(job_id: &str, image: String, gallery: &GallerySpec, options: &JobOptions) -> String {
    let gallery = match gallery {
        GallerySpec::Inline(entries) if entries.is_empty() => None,
        other => Some(other),
    };
    let body = Body {
        version: CONTRACT_VERSION,
        job_id,
        image,
        gallery,
        options: options_beyond_defaults(options),
    };
    serde_json::to_string(&body).expect("a job always serialises")
}

impl JobBuilder {
    /// The gallery: inline entries or a URI (`s3://…`, or a local path for the embedded
    /// queue). Without one, every face is unmatched.
    pub fn gallery(mut self, gallery: GallerySpec) -> Self {
        self.gallery = Some(gallery);
        self
    }

    pub fn options(mut self, options: JobOptions) -> Self {
        self.options = options;
        self
    }

    /// The job, validated exactly as a worker reading the embedded queue would (an SQS
    /// worker also refuses local paths).
    pub fn build(self) -> Result<JobV1, JobError> {
        let gallery = self.gallery.unwrap_or(GallerySpec::Inline(Vec::new()));
        // Serialise, then parse: one validation, the worker's own.
        JobV1::parse(
            &body(&self.job_id, self.image, &gallery, &self.options),
            true,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{Detector, GalleryEntry, ImageRef};

    #[test]
    fn a_built_job_round_trips_through_the_workers_parser() {
        let options = JobOptions {
            detector: Detector::Retinaface,
            tolerance: 0.5,
            ..JobOptions::default()
        };
        let entry = GalleryEntry {
            label: "alice".into(),
            encoding: vec![0.01; 128],
            source: None,
        };
        let job = JobV1::builder("j-1", "s3://b/k.jpg")
            .gallery(GallerySpec::Inline(vec![entry]))
            .options(options.clone())
            .build()
            .unwrap();
        assert_eq!(
            job.image,
            ImageRef::S3 {
                bucket: "b".into(),
                key: "k.jpg".into()
            }
        );
        let back = JobV1::parse(&job.to_body(), false).unwrap();
        assert_eq!(back, job);
        assert_eq!(back.options, options);
    }

    #[test]
    fn the_builder_refuses_what_a_worker_would() {
        let err = JobV1::builder("has space", "s3://b/k").build().unwrap_err();
        assert_eq!(err.code, "invalid_job");
        let err = JobV1::builder("a", "relative/x.jpg").build().unwrap_err();
        assert_eq!(err.code, "invalid_job");
        let bad = JobOptions {
            tolerance: 0.0,
            ..JobOptions::default()
        };
        assert!(JobV1::builder("a", "s3://b/k")
            .options(bad)
            .build()
            .is_err());
        // A local path builds (for the embedded queue) but an SQS worker refuses it.
        let local = JobV1::builder("a", "/data/x.jpg").build().unwrap();
        assert_eq!(
            JobV1::parse(&local.to_body(), false).unwrap_err().code,
            "invalid_job"
        );
    }

    #[test]
    fn a_body_carries_only_the_options_that_differ_from_the_defaults() {
        let body = |options: JobOptions| -> serde_json::Value {
            let job = JobV1::builder("a", "s3://b/k")
                .options(options)
                .build()
                .unwrap();
            serde_json::from_str(&job.to_body()).unwrap()
        };
        // Readable by a worker that predates max_side and embeddings.
        assert!(body(JobOptions::default()).get("options").is_none());
        let changed = body(JobOptions {
            max_side: 0,
            tolerance: 0.5,
            ..JobOptions::default()
        });
        assert_eq!(
            changed["options"],
            serde_json::json!({"max_side": 0, "tolerance": 0.5})
        );
    }

    #[test]
    fn an_empty_gallery_is_left_out_of_the_body() {
        let body = JobV1::builder("a", "s3://b/k").build().unwrap().to_body();
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert!(v.get("gallery").is_none(), "{body}");
        assert_eq!(v["version"], 1);
    }
}
