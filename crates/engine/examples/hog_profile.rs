//! Runs the HOG detector (upsample 1) over photos several times, for profiling:
//! `perf stat -e cycles:u,instructions:u target/release/examples/hog_profile PHOTO...`.
use facerec_engine::{load_image, LoadOptions, ModelPaths};

fn main() {
    let paths: Vec<String> = std::env::args().skip(1).collect();
    let engine = facerec_engine::Engine::load(&ModelPaths::discover().expect("models")).unwrap();
    let imgs: Vec<_> = paths
        .iter()
        .map(|p| load_image(p.as_ref(), &LoadOptions::default()).unwrap())
        .collect();
    let reps: usize = std::env::var("REPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let t = std::time::Instant::now();
    let mut n = 0;
    for _ in 0..reps {
        for img in &imgs {
            n += engine.hog().detect_upsampled(img, 1).len();
        }
    }
    eprintln!("{n} detections, {:.3} s", t.elapsed().as_secs_f64());
}
