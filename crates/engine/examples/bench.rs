//! Benchmark of the engine on a folder of photos (used by scripts/bench-engine.sh).
//! Prints one JSON object: model load time, detection and embedding speed, end-to-end
//! images/s on all threads of rayon's pool (RAYON_NUM_THREADS), peak RSS.
//!
//! Usage: bench [--upsample N | --retinaface] [--repeat N] [--e2e-only] PHOTO_DIR_OR_FILE...

mod common;

use facerec_engine::{load_image, Detector, Engine, LoadOptions, ModelPaths};
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::time::Instant;

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// CPU seconds (user + system) used by this process so far; robust to a busy machine.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (field(11) + field(12)) / 100.0 // clock ticks (USER_HZ = 100 on Linux)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut upsample, mut repeat, mut inputs, mut e2e_only) = (1u32, 1usize, Vec::new(), false);
    let mut retinaface = false;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--upsample" => upsample = args.next().unwrap().parse().unwrap(),
            "--repeat" => repeat = args.next().unwrap().parse().unwrap(),
            "--e2e-only" => e2e_only = true,
            "--retinaface" => retinaface = true,
            _ => common::collect_photos(Path::new(&a), &mut inputs),
        }
    }
    let t = Instant::now();
    let engine = Engine::load(&ModelPaths::discover().expect("models")).expect("load");
    let load_s = t.elapsed().as_secs_f64();
    let opts = LoadOptions {
        apply_exif_orientation: false,
        ..LoadOptions::default()
    };
    let det = if retinaface {
        Detector::RetinaFace
    } else {
        Detector::Hog { upsample }
    };
    let t = Instant::now();
    engine.prepare(det).expect("detector model");
    let detector_load_s = t.elapsed().as_secs_f64();
    let mut out = serde_json::json!({
        "images": inputs.len(),
        "threads": rayon::current_num_threads(),
        "detector": format!("{det:?}"),
        "model_load_s": load_s,
        "detector_load_s": detector_load_s,
    });
    if !e2e_only {
        let t = component_timings(&engine, &inputs, &opts, det);
        out["detect_images_per_cpu_s"] = t.detect_images_per_cpu_s.into();
        out["embed_cpu_ms_per_face"] = t.embed_cpu_ms_per_face.into();
        out["embed_cpu_ms_per_face_unbatched"] = t.embed_cpu_ms_per_face_unbatched.into();
        out["embed_faces_per_s_pool"] = t.embed_faces_per_s_pool.into();
    }
    // End to end from files: decode, detect, landmarks, chips, embeddings; images in parallel.
    let t = Instant::now();
    let cpu0 = cpu_seconds();
    let mut faces = 0usize;
    for _ in 0..repeat {
        faces = inputs
            .par_iter()
            .map(|p| {
                let img = load_image(p, &opts).unwrap();
                engine.encode_image(&img, det).expect("detector").len()
            })
            .sum();
    }
    let e2e_s = t.elapsed().as_secs_f64() / repeat as f64;
    out["end_to_end_cpu_s_per_image"] =
        ((cpu_seconds() - cpu0) / (repeat as f64 * inputs.len() as f64)).into();
    out["faces"] = faces.into();
    out["end_to_end_images_per_s"] = (inputs.len() as f64 / e2e_s).into();
    out["peak_rss_mib"] = peak_rss_mib().into();
    println!("{out}");
}

struct Timings {
    detect_images_per_cpu_s: f64,
    /// Through `encode_batch` (all CPU time, whatever the thread count).
    embed_cpu_ms_per_face: f64,
    /// One `encode_chip` call per chip.
    embed_cpu_ms_per_face_unbatched: f64,
    /// `encode_batch`'s wall-clock rate on the pool.
    embed_faces_per_s_pool: f64,
}

fn component_timings(
    engine: &Engine,
    inputs: &[PathBuf],
    opts: &LoadOptions,
    det: Detector,
) -> Timings {
    let images: Vec<_> = inputs
        .iter()
        .map(|p| load_image(p, opts).expect("image"))
        .collect();

    // Detection alone, one image at a time (internally parallel over pyramid levels).
    let cpu0 = cpu_seconds();
    let boxes: Vec<_> = images
        .iter()
        .map(|im| engine.detect(im, det).expect("detector"))
        .collect();
    let detect_s = cpu_seconds() - cpu0; // CPU time over all threads

    // Embedding alone: the aligned chips of every face, single thread then the whole pool.
    let chips: Vec<_> = images
        .iter()
        .zip(&boxes)
        .flat_map(|(im, bs)| {
            bs.iter()
                .map(|b| engine.face_chip(im, &engine.landmarks(im, *b)))
                .collect::<Vec<_>>()
        })
        .collect();
    // One chip at a time (a photo with one face), then the batch API (the chips go
    // through the network MAX_BATCH at a time): CPU time, robust to other load.
    let cpu0 = cpu_seconds();
    for c in &chips {
        std::hint::black_box(engine.encode_chip(c).unwrap());
    }
    let embed_single_s = cpu_seconds() - cpu0;
    let cpu0 = cpu_seconds();
    let t = Instant::now();
    std::hint::black_box(engine.encode_batch(&chips).unwrap());
    let embed_pool_s = t.elapsed().as_secs_f64();
    let embed_batch_s = cpu_seconds() - cpu0;
    let n = chips.len().max(1) as f64;
    Timings {
        detect_images_per_cpu_s: images.len() as f64 / detect_s,
        embed_cpu_ms_per_face: 1000.0 * embed_batch_s / n,
        embed_cpu_ms_per_face_unbatched: 1000.0 * embed_single_s / n,
        embed_faces_per_s_pool: n / embed_pool_s,
    }
}
