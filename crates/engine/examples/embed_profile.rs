//! Embeds the pre-aligned chips of testdata/faces/dlib/johns REPS times, for profiling the
//! network: `perf record target/release/examples/embed_profile [BATCH]` (BATCH 1: one chip
//! per call; default: `encode_batch` over all chips).
use facerec_engine::{load_image, LoadOptions, ModelPaths};

fn main() {
    let batch: Option<usize> = std::env::args().nth(1).and_then(|a| a.parse().ok());
    let engine = facerec_engine::Engine::load(&ModelPaths::discover().expect("models")).unwrap();
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/faces/dlib/johns");
    let mut chips = Vec::new();
    for person in std::fs::read_dir(&root).unwrap().flatten() {
        for f in std::fs::read_dir(person.path()).unwrap().flatten() {
            chips.push(load_image(&f.path(), &LoadOptions::default()).unwrap());
        }
    }
    let reps: usize = std::env::var("REPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let t = std::time::Instant::now();
    for _ in 0..reps {
        match batch {
            Some(b) => {
                for c in chips.chunks(b) {
                    std::hint::black_box(engine.encode_batch(c).unwrap());
                }
            }
            None => {
                std::hint::black_box(engine.encode_batch(&chips).unwrap());
            }
        }
    }
    eprintln!(
        "{} chips × {reps}: {:.2} ms a chip (wall)",
        chips.len(),
        t.elapsed().as_secs_f64() * 1e3 / (reps * chips.len()) as f64
    );
}
