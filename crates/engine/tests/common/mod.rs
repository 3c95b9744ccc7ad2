//! Shared helpers: repo paths, the reference JSON written by scripts/python-baseline.
#![allow(dead_code)]

use facerec_engine::{Engine, ModelPaths};
use std::path::PathBuf;
use std::sync::OnceLock;

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn faces_dir() -> PathBuf {
    repo_root().join("testdata/faces")
}

pub fn model_dir() -> PathBuf {
    std::env::var_os("FACEREC_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("models"))
}

/// The engine, loaded once per test binary. Panics with the fix if models are missing.
pub fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        Engine::load(&ModelPaths::in_dir(model_dir())).unwrap_or_else(|e| {
            panic!(
                "cannot load models from {}: {e}\n=> run scripts/fetch-models.sh first",
                model_dir().display()
            )
        })
    })
}

pub fn reference(name: &str) -> serde_json::Value {
    let p = repo_root().join("testdata/references").join(name);
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).expect("reference JSON")
}

pub fn floats(v: &serde_json::Value) -> Vec<f32> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number") as f32)
        .collect()
}

pub fn l2(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f32>()
        .sqrt()
}
