//! The facerec job: what a producer sends, what a worker does with it, and what it
//! returns. Everything that knows about faces and the job contract is here; the worker
//! runtime only moves opaque messages, and the engine only knows images.
//!
//! Read in this order:
//!
//! * [`contract`] — job contract v1 (request, options, gallery, gallery file) and its
//!   validation; docs/jobs.md is the prose version.
//! * [`builder`] — [`JobBuilder`], the one way producers write a job body.
//! * [`run`] — [`run()`]: decode → shrink → detect → encode → match, the whole data path
//!   of one job once its bytes are in memory.
//! * [`result`] — the result document v1.
//! * [`shrink`] and [`pil_resize`] — fitting big photos as face_recognition's CLI does.
//! * [`error`] — [`JobError`], the crate's one error type (permanent or transient, with a
//!   stable code).
//!
//! Feature `run` (default) brings the engine; producers that only build jobs turn it off.

pub mod builder;
pub mod contract;
pub mod error;
#[cfg(feature = "run")]
pub mod pil_resize;
pub mod result;
#[cfg(feature = "run")]
pub mod run;
#[cfg(feature = "run")]
pub mod shrink;

pub use builder::JobBuilder;
pub use contract::{
    parse_gallery_document, validate_job_id, Detector, GalleryEntry, GalleryFile, GallerySpec,
    ImageRef, JobOptions, JobV1, CONTRACT_VERSION, DEFAULT_MAX_SIDE, EMBEDDING_LEN, GALLERY_FORMAT,
    GALLERY_VERSION,
};
pub use error::{ErrorKind, JobError};
pub use result::{FaceBox, FaceMatch, FaceResult, ResultV1, Timings};
#[cfg(feature = "run")]
pub use run::{gallery_of, run, JobResult, Limits};
