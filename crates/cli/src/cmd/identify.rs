//! `facerec identify KNOWN_DIR|--gallery GALLERY UNKNOWN…`: face_recognition's command
//! line. One `path,name` line per face on stdout — every known person within tolerance,
//! else `unknown_person`; `path,no_persons_found` for a photo without faces; with
//! `--show-distance` a third column (`None` where face_recognition prints it).
//!
//! As face_recognition does, unknown photos larger than 1600 px are shrunk to fit 1600 px
//! (Lanczos) before detection. Differences: warnings go to stderr (face_recognition prints
//! them on stdout), lines come in input order whatever `--cpus`, and a bad photo is one
//! error line on stderr instead of a traceback.

use super::ImageOpts;
use crate::{exit, gallery_file, inputs, known};
use facerec_engine::{face_distance, load_image, Embedding, Engine, RgbImage};
use rayon::prelude::*;
use serde_json::json;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// face_recognition's CLI shrinks unknown photos to fit this many pixels.
const MAX_SIDE: u32 = 1600;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Gallery file from `facerec enroll` (instead of a KNOWN_DIR).
    #[arg(long, value_name = "GALLERY")]
    pub gallery: Option<PathBuf>,
    /// KNOWN_DIR (unless --gallery), then unknown photos or folders of them.
    #[arg(required = true, value_name = "KNOWN_DIR|UNKNOWN")]
    pub paths: Vec<PathBuf>,
    /// A face matches a known one when their distance is at most this.
    #[arg(long, default_value_t = 0.6)]
    pub tolerance: f32,
    /// Print the distance as a third column (`--show-distance` or `--show-distance true`).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true",
          default_value = "false", value_parser = clap::builder::BoolishValueParser::new())]
    pub show_distance: bool,
    /// Worker threads; -1 = all cores.
    #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
    pub cpus: i32,
    /// One JSON object per photo instead of CSV lines.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub image: ImageOpts,
}

/// face_recognition spells it `--show-distance true`; clap needs `=` to tell that value
/// from a following path, so join a boolean word to the flag before parsing.
pub fn join_show_distance_value(args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let mut out = Vec::with_capacity(args.len());
    let mut it = args.into_iter().peekable();
    while let Some(a) = it.next() {
        if a == "--show-distance" {
            let boolish = it.peek().and_then(|v| v.to_str()).is_some_and(|v| {
                matches!(
                    v.to_ascii_lowercase().as_str(),
                    "true" | "false" | "yes" | "no" | "1" | "0" | "on" | "off"
                )
            });
            if boolish {
                let v = it.next().expect("peeked");
                let mut joined = a;
                joined.push("=");
                joined.push(v);
                out.push(joined);
                continue;
            }
        }
        out.push(a);
    }
    out
}

/// One face's matches: every known person within tolerance, in gallery order.
struct FaceMatches {
    css: [i64; 4],
    matches: Vec<(String, f32)>,
    nearest: Option<(String, f32)>,
}

/// Per person, the smallest distance (a person may have several encodings).
fn match_face(known: &[(String, Embedding)], probe: &Embedding, tolerance: f32) -> FaceMatches {
    let mut per_person: Vec<(String, f32)> = Vec::new();
    for (label, e) in known {
        let d = face_distance(e, probe);
        match per_person.iter_mut().find(|(l, _)| l == label) {
            Some(entry) => entry.1 = entry.1.min(d),
            None => per_person.push((label.clone(), d)),
        }
    }
    let nearest = per_person
        .iter()
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .cloned();
    FaceMatches {
        css: [0; 4],
        matches: per_person
            .into_iter()
            .filter(|(_, d)| *d <= tolerance)
            .collect(),
        nearest,
    }
}

/// PIL's `thumbnail((1600, 1600))` size: fit inside, keep the aspect ratio as PIL rounds it.
pub fn thumbnail_size(width: u32, height: u32, max: u32) -> (u32, u32) {
    let (x, y) = (max as f64, max as f64);
    let aspect = width as f64 / height as f64;
    let pick = |n: f64, key: &dyn Fn(f64) -> f64| {
        let (lo, hi) = (n.floor(), n.ceil());
        let best = if key(lo) <= key(hi) { lo } else { hi };
        best.max(1.0) as u32
    };
    if x / y >= aspect {
        let w = pick(y * aspect, &|n| (aspect - n / y).abs());
        (w, max)
    } else {
        let h = pick(x / aspect, &|n| {
            if n == 0.0 {
                0.0
            } else {
                (aspect - x / n).abs()
            }
        });
        (max, h)
    }
}

fn shrink_if_giant(img: RgbImage) -> (RgbImage, f64) {
    if img.width().max(img.height()) <= MAX_SIDE {
        return (img, 1.0);
    }
    let (w, h) = thumbnail_size(img.width(), img.height(), MAX_SIDE);
    let scale = img.width() as f64 / w as f64;
    let small = image::imageops::resize(&img, w, h, image::imageops::FilterType::Lanczos3);
    (small, scale)
}

fn identify_one(
    engine: &Engine,
    known: &[(String, Embedding)],
    path: &Path,
    args: &Args,
) -> Result<Vec<FaceMatches>, String> {
    let img = load_image(path, &args.image.load_options())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let (img, scale) = shrink_if_giant(img);
    Ok(engine
        .encode_image(&img, args.image.detector())
        .iter()
        .map(|f| {
            let mut m = match_face(known, &f.embedding, args.tolerance);
            m.css = f.rect.css().map(|v| (v as f64 * scale).round() as i64);
            m
        })
        .collect())
}

fn print_csv(
    out: &mut impl Write,
    path: &str,
    faces: &[FaceMatches],
    show: bool,
) -> std::io::Result<()> {
    let line = |out: &mut dyn Write, name: &str, d: Option<f32>| {
        if show {
            match d {
                Some(d) => writeln!(out, "{path},{name},{d}"),
                None => writeln!(out, "{path},{name},None"),
            }
        } else {
            writeln!(out, "{path},{name}")
        }
    };
    if faces.is_empty() {
        return line(out, "no_persons_found", None);
    }
    for f in faces {
        if f.matches.is_empty() {
            line(out, "unknown_person", None)?;
        }
        for (name, d) in &f.matches {
            line(out, name, Some(*d))?;
        }
    }
    Ok(())
}

fn json_line(path: &str, faces: &[FaceMatches]) -> serde_json::Value {
    let faces: Vec<_> = faces
        .iter()
        .map(|f| {
            json!({
                "box": f.css,
                "name": f.matches.iter().min_by(|a, b| a.1.total_cmp(&b.1))
                    .map(|m| m.0.as_str()).unwrap_or("unknown_person"),
                "matches": f.matches.iter().map(|(n, d)| json!({"name": n, "distance": d})).collect::<Vec<_>>(),
                "nearest": f.nearest.as_ref().map(|(n, d)| json!({"name": n, "distance": d})),
            })
        })
        .collect();
    json!({"path": path, "faces": faces})
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if !(args.tolerance > 0.0 && args.tolerance.is_finite()) {
        anyhow::bail!(
            "--tolerance must be a positive number, got {}",
            args.tolerance
        );
    }
    let threads = if args.cpus <= 0 {
        0
    } else {
        args.cpus as usize
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()?;
    pool.install(|| run_in_pool(&args))
}

fn run_in_pool(args: &Args) -> anyhow::Result<ExitCode> {
    let engine = args.image.engine()?;
    let (known, unknown_inputs, mut failed) = match &args.gallery {
        Some(g) => {
            let entries = gallery_file::read(g)?;
            (gallery_file::to_known(&entries), &args.paths[..], false)
        }
        None => {
            if args.paths.len() < 2 {
                anyhow::bail!("expected KNOWN_DIR and at least one UNKNOWN photo or folder (or --gallery GALLERY UNKNOWN…)");
            }
            let scan = known::scan(&engine, &args.paths[0], &args.image)?;
            let known = scan
                .entries
                .iter()
                .map(|e| (e.label.clone(), e.embedding))
                .collect();
            (known, &args.paths[1..], scan.failed > 0)
        }
    };
    if known.is_empty() {
        eprintln!("WARNING: no known faces: every face will be unknown_person");
    }
    let (images, errors) = inputs::expand(unknown_inputs);
    for e in &errors {
        exit::report(e);
    }
    failed |= !errors.is_empty();
    let results: Vec<(String, Result<Vec<FaceMatches>, String>)> = images
        .par_iter()
        .map(|p| {
            (
                p.display().to_string(),
                identify_one(&engine, &known, p, args),
            )
        })
        .collect();
    let mut out = std::io::stdout().lock();
    for (path, r) in &results {
        match r {
            Ok(faces) if args.json => writeln!(out, "{}", json_line(path, faces))?,
            Ok(faces) => print_csv(&mut out, path, faces, args.show_distance)?,
            Err(line) => {
                if args.json {
                    writeln!(out, "{}", json!({"path": path, "error": line}))?;
                }
                out.flush()?;
                exit::report(line);
                failed = true;
            }
        }
    }
    Ok(exit::finished(failed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn show_distance_takes_face_recognitions_spelling() {
        let a = |v: &[&str]| v.iter().map(std::ffi::OsString::from).collect::<Vec<_>>();
        assert_eq!(
            join_show_distance_value(a(&["x", "--show-distance", "True", "k"])),
            a(&["x", "--show-distance=True", "k"])
        );
        assert_eq!(
            join_show_distance_value(a(&["--show-distance", "known/"])),
            a(&["--show-distance", "known/"])
        );
    }

    #[test]
    fn thumbnail_matches_pil() {
        // PIL: Image.new('RGB', (w, h)).thumbnail((1600, 1600)) sizes.
        assert_eq!(thumbnail_size(4000, 3000, 1600), (1600, 1200));
        assert_eq!(thumbnail_size(3000, 4000, 1600), (1200, 1600));
        assert_eq!(thumbnail_size(1999, 1001, 1600), (1600, 801));
        assert_eq!(thumbnail_size(3264, 2448, 1600), (1600, 1200));
    }

    #[test]
    fn a_person_with_several_encodings_is_printed_once_at_the_nearest() {
        let mut a = [0.0f32; 128];
        a[0] = 0.5;
        let mut a2 = [0.0f32; 128];
        a2[0] = 0.1;
        let b = [0.3f32; 128];
        let known = vec![
            ("a".to_string(), a),
            ("b".to_string(), b),
            ("a".to_string(), a2),
        ];
        let m = match_face(&known, &[0.0; 128], 0.6);
        assert_eq!(m.matches.len(), 1);
        assert_eq!(m.matches[0].0, "a");
        assert!((m.matches[0].1 - 0.1).abs() < 1e-6);
    }
}
