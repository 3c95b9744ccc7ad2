//! The recognition side of `facerec-worker`, as a library so that `facerec run` drives the
//! very same handler on its local worker pool (same runtime, same results) as the ECS
//! worker does on the fleet.
//!
//! * [`recognition`] — the [`recognition::RecognitionHandler`]: job contract v1 in,
//!   result v1 out.
//!
//! The binary (`src/main.rs`) only wires settings, the runtime and this handler.

pub mod recognition;
