//! Job contract v1: the request a producer sends (docs/jobs.md is the prose version).
//!
//! Parsing is validation: a body either becomes a [`JobV1`] or a permanent
//! [`JobError`] whose code names the problem (`malformed_json`, `unknown_version`,
//! `invalid_job`), which the runtime puts on the dead-lettered message. Producers build
//! bodies with [`crate::JobBuilder`], which validates the same way.

use serde::{Deserialize, Serialize};

use crate::error::JobError;

pub const CONTRACT_VERSION: u32 = 1;
pub const EMBEDDING_LEN: usize = 128;
pub const MAX_JOB_ID_LEN: usize = 128;
pub const MAX_GALLERY_ENTRIES: usize = 10_000;
/// face_recognition's CLI shrinks unknown photos to fit 1600 px; so do jobs by default.
pub const DEFAULT_MAX_SIDE: u32 = 1600;
/// The smallest `max_side` accepted besides 0: below it HOG's 80 px window finds nothing.
pub const MIN_MAX_SIDE: u32 = 160;

/// Where the image is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub enum ImageRef {
    S3 {
        bucket: String,
        key: String,
    },
    /// Only accepted when the worker consumes the embedded queue (one-machine runs).
    Local(std::path::PathBuf),
}

impl From<ImageRef> for String {
    fn from(r: ImageRef) -> String {
        match r {
            ImageRef::S3 { bucket, key } => format!("s3://{bucket}/{key}"),
            ImageRef::Local(p) => p.display().to_string(),
        }
    }
}

impl ImageRef {
    pub fn parse(s: &str, allow_local: bool) -> Result<Self, JobError> {
        if let Some(rest) = s.strip_prefix("s3://") {
            let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() || key.is_empty() {
                return Err(invalid(format!("image {s:?}: expected s3://bucket/key")));
            }
            return Ok(ImageRef::S3 {
                bucket: bucket.into(),
                key: key.into(),
            });
        }
        let path = s.strip_prefix("file://").unwrap_or(s);
        if path.starts_with('/') {
            if !allow_local {
                return Err(invalid(format!(
                    "image {s:?}: local paths are only accepted from the embedded queue; use s3://"
                )));
            }
            return Ok(ImageRef::Local(path.into()));
        }
        Err(invalid(format!(
            "image {s:?}: expected s3://bucket/key or an absolute local path"
        )))
    }
}

/// One known face. `source` (the enrolled photo, written by `facerec enroll`) is for
/// people; any other field is rejected, as everywhere in the contract.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GalleryEntry {
    pub label: String,
    pub encoding: Vec<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// The gallery: inline, or an `s3://` JSON document holding the same array.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum GallerySpec {
    Inline(Vec<GalleryEntry>),
    Uri(String),
}

// By hand rather than `untagged`: serde's untagged error ("did not match any variant")
// would hide which entry field was wrong.
impl<'de> Deserialize<'de> for GallerySpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::String(uri) => Ok(GallerySpec::Uri(uri)),
            entries @ serde_json::Value::Array(_) => serde_json::from_value(entries)
                .map(GallerySpec::Inline)
                .map_err(|e| D::Error::custom(format!("gallery: {e}"))),
            other => Err(D::Error::custom(format!(
                "gallery must be an array of entries or a URI, not {}",
                match other {
                    serde_json::Value::Object(_) => "an object",
                    serde_json::Value::Bool(_) => "a boolean",
                    _ => "a number",
                }
            ))),
        }
    }
}

/// `"format"` of a gallery file written by `facerec enroll`.
pub const GALLERY_FORMAT: &str = "facerec-gallery";
/// The gallery file version this build reads and writes.
pub const GALLERY_VERSION: u32 = 1;

/// A gallery file (`facerec enroll`): a versioned wrapper around the entries, so a future
/// embedding model cannot be silently compared with this one's embeddings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GalleryFile {
    pub format: String,
    pub version: u32,
    pub entries: Vec<GalleryEntry>,
}

/// Parse a gallery document: a gallery file (`{"format": "facerec-gallery", "version": 1,
/// "entries": [...]}`) or a bare array of entries. Errors are permanent `invalid_gallery`.
pub fn parse_gallery_document(bytes: &[u8]) -> Result<Vec<GalleryEntry>, JobError> {
    let bad = |d: String| JobError::permanent("invalid_gallery", d);
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| bad(format!("not JSON: {e}")))?;
    let entries = if value.is_array() {
        value
    } else {
        let format = value.get("format").and_then(|f| f.as_str());
        if format != Some(GALLERY_FORMAT) {
            return Err(bad(format!(
                "not a gallery: expected an array of entries or \"format\": \"{GALLERY_FORMAT}\""
            )));
        }
        match value.get("version") {
            Some(v) if v.as_u64() == Some(GALLERY_VERSION as u64) => {}
            Some(v) => {
                return Err(bad(format!(
                "gallery version {v} is not supported (this build reads version {GALLERY_VERSION})"
            )))
            }
            None => return Err(bad("gallery has no \"version\"".into())),
        }
        value.get("entries").cloned().unwrap_or_default()
    };
    let entries: Vec<GalleryEntry> =
        serde_json::from_value(entries).map_err(|e| bad(format!("bad entries: {e}")))?;
    validate_gallery(&entries).map_err(|e| bad(e.detail))?;
    Ok(entries)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Detector {
    /// dlib's HOG detector, face_recognition's default.
    Hog,
    /// RetinaFace-mnet0.25: turned, small and partly hidden faces, about 3x the CPU of
    /// `hog`. `cnn` (face_recognition's name for its accurate detector) is accepted.
    #[serde(alias = "cnn")]
    Retinaface,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JobOptions {
    pub detector: Detector,
    /// Times to upsample before detecting (finds smaller faces, costs time).
    pub upsample: u32,
    /// Match when the embedding distance is at most this.
    pub tolerance: f32,
    /// Gallery entries reported per face in `nearest`, nearest first (0: none). The
    /// `best_match` does not depend on it.
    pub top_k: usize,
    /// Keep at most this many faces: the detector's strongest (highest score) first.
    pub max_faces: usize,
    /// Shrink an image whose longer side exceeds this to fit it before detecting, as
    /// face_recognition's CLI does (Pillow's Lanczos, reproduced); 0 never shrinks. Boxes
    /// are reported in the original image's pixels either way.
    pub max_side: u32,
    /// Put each face's 128-d embedding in the result (`faces[].embedding`), for
    /// clustering or search downstream. Off by default: it is 1–2 KiB of JSON per face.
    pub embeddings: bool,
}

impl Default for JobOptions {
    fn default() -> Self {
        Self {
            detector: Detector::Hog,
            upsample: 1,
            tolerance: 0.6,
            top_k: 3,
            max_faces: 100,
            max_side: DEFAULT_MAX_SIDE,
            embeddings: false,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawJob {
    version: serde_json::Value,
    job_id: String,
    image: String,
    /// Absent or `null`: no gallery (every face unmatched).
    #[serde(default)]
    gallery: Option<GallerySpec>,
    #[serde(default)]
    options: JobOptions,
}

/// A validated v1 job.
#[derive(Debug, Clone, PartialEq)]
pub struct JobV1 {
    pub job_id: String,
    pub image: ImageRef,
    pub gallery: GallerySpec,
    pub options: JobOptions,
}

fn invalid(detail: impl Into<String>) -> JobError {
    JobError::permanent("invalid_job", detail)
}

/// Job ids become S3 keys and FIFO deduplication ids: keep them to a safe alphabet.
pub fn validate_job_id(id: &str) -> Result<(), JobError> {
    if id.is_empty() || id.len() > MAX_JOB_ID_LEN {
        return Err(invalid(format!(
            "job_id must be 1..={MAX_JOB_ID_LEN} characters"
        )));
    }
    if !id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
    {
        return Err(invalid(format!(
            "job_id {id:?} may only contain A-Z a-z 0-9 - _ . :"
        )));
    }
    Ok(())
}

pub fn validate_gallery(entries: &[GalleryEntry]) -> Result<(), JobError> {
    if entries.len() > MAX_GALLERY_ENTRIES {
        return Err(invalid(format!(
            "gallery has {} entries (max {MAX_GALLERY_ENTRIES})",
            entries.len()
        )));
    }
    for (i, e) in entries.iter().enumerate() {
        if e.encoding.len() != EMBEDDING_LEN {
            return Err(invalid(format!(
                "gallery[{i}] ({:?}): encoding has {} values, expected {EMBEDDING_LEN}",
                e.label,
                e.encoding.len()
            )));
        }
        if e.encoding.iter().any(|v| !v.is_finite()) {
            return Err(invalid(format!(
                "gallery[{i}] ({:?}): encoding has a non-finite value",
                e.label
            )));
        }
    }
    Ok(())
}

impl JobV1 {
    /// Parse and validate a message body. `allow_local_images` is true only for the
    /// embedded queue.
    pub fn parse(body: &str, allow_local_images: bool) -> Result<Self, JobError> {
        let value: serde_json::Value = serde_json::from_str(body)
            .map_err(|e| JobError::permanent("malformed_json", e.to_string()))?;
        match value.get("version") {
            Some(v) if v.as_u64() == Some(CONTRACT_VERSION as u64) => {}
            Some(v) => {
                return Err(JobError::permanent(
                    "unknown_version",
                    format!("job contract version {v} is not supported (this worker speaks {CONTRACT_VERSION})"),
                ))
            }
            None => return Err(invalid("missing field `version`")),
        }
        let raw: RawJob = serde_json::from_value(value).map_err(|e| invalid(e.to_string()))?;
        let _ = raw.version;
        validate_job_id(&raw.job_id)?;
        let image = ImageRef::parse(&raw.image, allow_local_images)?;
        let gallery = raw.gallery.unwrap_or(GallerySpec::Inline(Vec::new()));
        match &gallery {
            GallerySpec::Inline(entries) => validate_gallery(entries)?,
            GallerySpec::Uri(u) => {
                let local_ok = allow_local_images && u.starts_with('/');
                if !(u.starts_with("s3://") || local_ok) {
                    return Err(invalid(format!("gallery URI {u:?} must be s3://")));
                }
            }
        }
        let o = &raw.options;
        if !(o.tolerance > 0.0 && o.tolerance <= 2.0) {
            return Err(invalid(format!(
                "options.tolerance {} not in (0, 2]",
                o.tolerance
            )));
        }
        if o.upsample > 4 {
            return Err(invalid(format!(
                "options.upsample {} exceeds 4",
                o.upsample
            )));
        }
        if o.max_faces == 0 {
            return Err(invalid("options.max_faces must be >= 1"));
        }
        if o.max_side != 0 && o.max_side < MIN_MAX_SIDE {
            return Err(invalid(format!(
                "options.max_side {} must be 0 (never shrink) or >= {MIN_MAX_SIDE}",
                o.max_side
            )));
        }
        Ok(JobV1 {
            job_id: raw.job_id,
            image,
            gallery,
            options: raw.options,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn enc() -> String {
        format!("[{}]", vec!["0.01"; 128].join(","))
    }

    #[test]
    fn parses_a_full_job() {
        let body = format!(
            r#"{{"version":1,"job_id":"j-1","image":"s3://b/k.jpg",
                "gallery":[{{"label":"alice","encoding":{}}}],"options":{{"tolerance":0.5}}}}"#,
            enc()
        );
        let j = JobV1::parse(&body, false).unwrap();
        assert_eq!(j.job_id, "j-1");
        assert_eq!(
            j.image,
            ImageRef::S3 {
                bucket: "b".into(),
                key: "k.jpg".into()
            }
        );
        assert_eq!(j.options.tolerance, 0.5);
        assert_eq!(j.options.upsample, 1);
    }

    #[test]
    fn rejects_with_specific_codes() {
        let code = |b: &str, local| JobV1::parse(b, local).unwrap_err().code;
        assert_eq!(code("{not json", false), "malformed_json");
        assert_eq!(
            code(r#"{"version":2,"job_id":"a","image":"s3://b/k"}"#, false),
            "unknown_version"
        );
        assert_eq!(
            code(r#"{"version":1,"job_id":"a b","image":"s3://b/k"}"#, false),
            "invalid_job"
        );
        assert_eq!(
            code(r#"{"version":1,"job_id":"a","image":"/tmp/x.jpg"}"#, false),
            "invalid_job"
        );
        assert_eq!(
            code(
                r#"{"version":1,"job_id":"a","image":"s3://b/k","extra":1}"#,
                false
            ),
            "invalid_job"
        );
        assert_eq!(
            code(
                r#"{"version":1,"job_id":"a","image":"s3://b/k","gallery":[{"label":"x","encoding":[1,2]}]}"#,
                false
            ),
            "invalid_job"
        );
        assert_eq!(
            code(
                r#"{"version":1,"job_id":"a","image":"s3://b/k","options":{"detector":"mmod"}}"#,
                false
            ),
            "invalid_job"
        );
        let e = JobV1::parse("[]", false).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Permanent);
    }

    #[test]
    fn detectors_by_name() {
        let detector = |name: &str| {
            let body = format!(
                r#"{{"version":1,"job_id":"a","image":"s3://b/k","options":{{"detector":"{name}"}}}}"#
            );
            JobV1::parse(&body, false).unwrap().options.detector
        };
        assert_eq!(detector("hog"), Detector::Hog);
        assert_eq!(detector("retinaface"), Detector::Retinaface);
        assert_eq!(detector("cnn"), Detector::Retinaface);
        let default = JobV1::parse(r#"{"version":1,"job_id":"a","image":"s3://b/k"}"#, false);
        assert_eq!(default.unwrap().options.detector, Detector::Hog);
    }

    #[test]
    fn gallery_documents_versioned_or_bare() {
        let entry = format!(r#"{{"label":"a","encoding":{},"source":"a.jpg"}}"#, enc());
        let file = format!(r#"{{"format":"facerec-gallery","version":1,"entries":[{entry}]}}"#);
        assert_eq!(
            parse_gallery_document(file.as_bytes()).unwrap()[0].label,
            "a"
        );
        let bare = format!("[{entry}]");
        assert_eq!(parse_gallery_document(bare.as_bytes()).unwrap().len(), 1);
        let v2 = file.replace(r#""version":1"#, r#""version":2"#);
        let e = parse_gallery_document(v2.as_bytes()).unwrap_err();
        assert_eq!(e.code, "invalid_gallery");
        assert!(e.detail.contains("version 2"), "{}", e.detail);
        assert!(parse_gallery_document(b"{\"entries\":[]}").is_err());
        assert!(parse_gallery_document(b"[{\"label\":\"x\",\"encoding\":[1]}]").is_err());
    }

    #[test]
    fn local_paths_only_when_allowed() {
        let j = JobV1::parse(r#"{"version":1,"job_id":"a","image":"/data/x.jpg"}"#, true).unwrap();
        assert_eq!(j.image, ImageRef::Local("/data/x.jpg".into()));
        assert_eq!(j.gallery, GallerySpec::Inline(vec![]));
    }

    #[test]
    fn gallery_entries_reject_unknown_fields_but_keep_their_source() {
        let with = |extra: &str| {
            format!(
                r#"{{"version":1,"job_id":"a","image":"s3://b/k","gallery":[{{"label":"x","encoding":{}{extra}}}]}}"#,
                enc()
            )
        };
        let job = JobV1::parse(&with(r#","source":"known/x.jpg""#), false).unwrap();
        let GallerySpec::Inline(entries) = job.gallery else {
            panic!("inline gallery expected")
        };
        assert_eq!(entries[0].source.as_deref(), Some("known/x.jpg"));
        let e = JobV1::parse(&with(r#","lable":"typo""#), false).unwrap_err();
        assert_eq!(e.code, "invalid_job");
        assert!(e.detail.contains("lable"), "{}", e.detail);
    }

    #[test]
    fn a_null_gallery_is_no_gallery() {
        let j = JobV1::parse(
            r#"{"version":1,"job_id":"a","image":"s3://b/k","gallery":null}"#,
            false,
        )
        .unwrap();
        assert_eq!(j.gallery, GallerySpec::Inline(vec![]));
    }

    #[test]
    fn max_side_is_zero_or_big_enough_to_detect() {
        let with = |n: u32| {
            JobV1::parse(
                &format!(
                    r#"{{"version":1,"job_id":"a","image":"s3://b/k","options":{{"max_side":{n}}}}}"#
                ),
                false,
            )
        };
        assert_eq!(with(0).unwrap().options.max_side, 0);
        assert_eq!(with(2048).unwrap().options.max_side, 2048);
        assert_eq!(with(100).unwrap_err().code, "invalid_job");
        let default = JobV1::parse(r#"{"version":1,"job_id":"a","image":"s3://b/k"}"#, false);
        assert_eq!(default.unwrap().options.max_side, DEFAULT_MAX_SIDE);
    }
}
