//! The jobs a load test sends: contract v1 bodies (docs/jobs.md), one per arrival.
//!
//! Job ids are `<run-id>:<seq>`: the run id makes repeated runs against the same result
//! store never collide (results are keyed by job id, and a repeated id would silently
//! produce no second result). `/` is not in the contract's job-id alphabet, so `:`
//! separates the two. Every body is built by the job crate's [`JobV1::builder`], which
//! checks it with the worker's own parser.

use std::time::{SystemTime, UNIX_EPOCH};

use facerec_job::{validate_job_id, GallerySpec, ImageRef, JobV1};

use crate::error::LoadError;

/// Builds job `seq` of a run: image URIs round-robin, an optional gallery URI.
#[derive(Debug, Clone)]
pub struct JobFactory {
    run_id: String,
    images: Vec<String>,
    gallery: Option<String>,
    /// Digits of the sequence number, so ids sort in send order.
    width: usize,
}

fn s3_uri(flag: &'static str, value: &str) -> Result<(), LoadError> {
    match ImageRef::parse(value, false) {
        Ok(ImageRef::S3 { .. }) => Ok(()),
        Ok(ImageRef::Local(_)) | Err(_) => Err(LoadError::BadObjectUri {
            flag,
            value: value.to_string(),
            reason: "expected s3://bucket/key".into(),
        }),
    }
}

impl JobFactory {
    /// `jobs` is how many will be built; it sets the width of the sequence number and
    /// lets the longest id be checked up front.
    pub fn new(
        run_id: String,
        images: Vec<String>,
        gallery: Option<String>,
        jobs: usize,
    ) -> Result<Self, LoadError> {
        if images.is_empty() {
            return Err(LoadError::BadObjectUri {
                flag: "image",
                value: String::new(),
                reason: "at least one --image s3://bucket/key is required".into(),
            });
        }
        for image in &images {
            s3_uri("image", image)?;
        }
        if let Some(g) = &gallery {
            s3_uri("gallery", g)?;
        }
        let width = jobs.saturating_sub(1).to_string().len().max(6);
        let factory = JobFactory {
            run_id,
            images,
            gallery,
            width,
        };
        validate_job_id(&factory.job_id(jobs.saturating_sub(1))).map_err(|e| {
            LoadError::BadRunId {
                value: factory.run_id.clone(),
                reason: e.detail,
            }
        })?;
        Ok(factory)
    }

    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    pub fn job_id(&self, seq: usize) -> String {
        format!("{}:{seq:0width$}", self.run_id, width = self.width)
    }

    /// The message body of job `seq`, already accepted by the worker's parser.
    pub fn body(&self, seq: usize) -> Result<String, LoadError> {
        let mut job = JobV1::builder(self.job_id(seq), &self.images[seq % self.images.len()]);
        if let Some(g) = &self.gallery {
            job = job.gallery(GallerySpec::Uri(g.clone()));
        }
        let job = job.build().map_err(|e| LoadError::BadRunId {
            value: self.run_id.clone(),
            reason: format!("job {seq} is not a valid v1 job: {}", e.detail),
        })?;
        Ok(job.to_body())
    }
}

/// `load-YYYYMMDDTHHMMSSZ-xxxx`: sortable by start time, unique across runs started in
/// the same second by the low bits of the clock and the process id.
pub fn default_run_id() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs();
    let (y, mo, d) = civil_from_days((secs / 86_400) as i64);
    let s = secs % 86_400;
    let salt = (now.subsec_nanos() ^ std::process::id().rotate_left(16)) & 0xffff;
    format!(
        "load-{y:04}{mo:02}{d:02}T{:02}{:02}{:02}Z-{salt:04x}",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// Days since 1970-01-01 → (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`), to avoid a date crate for one timestamp.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn images() -> Vec<String> {
        vec!["s3://b/a.jpg".into(), "s3://b/dir/b.png".into()]
    }

    #[test]
    fn bodies_are_v1_jobs_round_robin() {
        let f = JobFactory::new(
            "run-1".into(),
            images(),
            Some("s3://g/gallery.json".into()),
            3,
        )
        .unwrap();
        let jobs: Vec<JobV1> = (0..3)
            .map(|i| JobV1::parse(&f.body(i).unwrap(), false).unwrap())
            .collect();
        assert_eq!(jobs[0].job_id, "run-1:000000");
        assert_eq!(jobs[2].job_id, "run-1:000002");
        let key = |j: &JobV1| match &j.image {
            ImageRef::S3 { key, .. } => key.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(key(&jobs[0]), "a.jpg");
        assert_eq!(key(&jobs[1]), "dir/b.png");
        assert_eq!(key(&jobs[2]), "a.jpg");
        assert_eq!(
            jobs[1].gallery,
            GallerySpec::Uri("s3://g/gallery.json".into())
        );
    }

    #[test]
    fn ids_widen_with_the_job_count() {
        let f = JobFactory::new("r".into(), images(), None, 12_345_678).unwrap();
        assert_eq!(f.job_id(7), "r:00000007");
    }

    #[test]
    fn rejects_bad_inputs() {
        let err = |run: &str, imgs: Vec<String>, gallery: Option<&str>| {
            JobFactory::new(run.into(), imgs, gallery.map(Into::into), 10)
                .unwrap_err()
                .to_string()
        };
        assert!(err("r", vec!["/tmp/x.jpg".into()], None).contains("--image"));
        assert!(err("r", vec!["s3://bucket-only".into()], None).contains("s3://bucket/key"));
        assert!(err("r", vec![], None).contains("at least one"));
        assert!(err("r", images(), Some("https://x/y")).contains("--gallery"));
        assert!(err("has/slash", images(), None).contains("--run-id"));
        assert!(err(&"x".repeat(125), images(), None).contains("--run-id"));
    }

    #[test]
    fn default_run_ids_are_valid_and_dated() {
        let id = default_run_id();
        assert!(id.starts_with("load-20"), "{id}");
        validate_job_id(&format!("{id}:000001")).unwrap();
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_784), (2026, 11, 27));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }
}
