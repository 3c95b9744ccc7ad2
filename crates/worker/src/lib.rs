//! The recognition side of `facerec-worker`, as a library so that `facerec run` drives the
//! very same handler on its local worker pool (same runtime, same results) as the ECS
//! worker does on the fleet. The job itself (contract, data path) is `facerec-job`.
//!
//! * [`recognition`] — the [`recognition::RecognitionHandler`]: body in, result out.
//! * [`source`] — [`source::ImageSources`]: the image and gallery from S3 or a local file.
//!
//! The binary (`src/main.rs`) only wires settings, the runtime and this handler.

pub mod recognition;
pub mod source;
