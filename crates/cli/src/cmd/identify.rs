//! `facerec identify KNOWN_DIR|--gallery GALLERY UNKNOWN…`: face_recognition's command
//! line. One `path,name` line per face on stdout — every known person within tolerance,
//! else `unknown_person`; `path,no_persons_found` for a photo without faces; with
//! `--show-distance` a third column (`None` where face_recognition prints it).
//!
//! As face_recognition does, unknown photos larger than 1600 px are shrunk to fit 1600 px
//! before detection (Pillow's Lanczos, reproduced: `facerec_job::pil_resize`), and distances are
//! numpy's float64 ones, printed with Python's digits. Differences (docs/cli.md lists them
//! all): warnings go to stderr (face_recognition prints them on stdout), EXIF orientation
//! is honoured unless `--no-exif`, lines come in input order whatever `--cpus`, and a bad
//! photo is one error line on stderr instead of a traceback.

use super::ImageOpts;
use crate::{exit, gallery_file, inputs, known};
use facerec_engine::{load_image, Embedding, Engine};
use rayon::prelude::*;
use serde_json::json;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// face_recognition's CLI shrinks unknown photos to fit this many pixels.
const MAX_SIDE: u32 = facerec_job::DEFAULT_MAX_SIDE;

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
    pub tolerance: f64,
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
    matches: Vec<(String, f64)>,
    /// Every person's smallest distance, in gallery order.
    per_person: Vec<(String, f64)>,
}

/// face_recognition's `face_distance`: `np.linalg.norm(known - probe, axis=1)` on float64
/// copies of the (float32) embeddings. numpy sums a 128-long row with 8 interleaved
/// partial sums (its pairwise summation), so this does the same, to print the very digits
/// `--show-distance` prints there.
pub fn numpy_distance(a: &Embedding, b: &Embedding) -> f64 {
    let mut r = [0f64; 8];
    for (ca, cb) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        for ((rj, &x), &y) in r.iter_mut().zip(ca).zip(cb) {
            let d = x as f64 - y as f64;
            *rj += d * d;
        }
    }
    (((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))).sqrt()
}

/// A float as Python's `str(float)` writes it: shortest round-trip digits, `.0` on whole
/// numbers, exponent form below 1e-4 or from 1e16 (`1e-05`).
pub fn python_float(x: f64) -> String {
    if x != 0.0 && x.is_finite() && !(1e-4..1e16).contains(&x.abs()) {
        let s = format!("{x:e}");
        let (mantissa, exp) = s.split_once('e').expect("{:e} has an exponent");
        let (sign, digits) = match exp.strip_prefix('-') {
            Some(d) => ('-', d),
            None => ('+', exp),
        };
        return format!("{mantissa}e{sign}{digits:0>2}");
    }
    let s = format!("{x}");
    if s.contains(['.', 'e', 'N', 'i']) {
        s
    } else {
        s + ".0"
    }
}

/// Per person, the smallest distance (a person may have several embeddings).
fn match_face(known: &[(String, Embedding)], probe: &Embedding, tolerance: f64) -> FaceMatches {
    let mut per_person: Vec<(String, f64)> = Vec::new();
    for (label, e) in known {
        let d = numpy_distance(e, probe);
        match per_person.iter_mut().find(|(l, _)| l == label) {
            Some(entry) => entry.1 = entry.1.min(d),
            None => per_person.push((label.clone(), d)),
        }
    }
    FaceMatches {
        css: [0; 4],
        matches: per_person
            .iter()
            .filter(|(_, d)| *d <= tolerance)
            .cloned()
            .collect(),
        per_person,
    }
}

fn identify_one(
    engine: &Engine,
    known: &[(String, Embedding)],
    path: &Path,
    args: &Args,
) -> Result<Vec<FaceMatches>, String> {
    let img = load_image(path, &args.image.load_options())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let (img, scale) = facerec_job::shrink::fit(img, MAX_SIDE);
    Ok(engine
        .encode_image(&img, args.image.detector())
        .map_err(|e| format!("{}: {e}", path.display()))?
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
    let path = crate::csv::field(path);
    let line = |out: &mut dyn Write, name: &str, d: Option<f64>| {
        let name = crate::csv::field(name);
        if show {
            match d {
                Some(d) => writeln!(out, "{path},{name},{}", python_float(d)),
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

/// People listed in a face's `nearest` (the job contract's default `top_k`).
const NEAREST_PEOPLE: usize = 3;

/// One photo in the shared face schema (`face_json`).
fn json_line(path: &str, faces: &[FaceMatches], tolerance: f64) -> serde_json::Value {
    let faces: Vec<_> = faces
        .iter()
        .map(|f| crate::face_json::identified(f.css, &f.per_person, tolerance, NEAREST_PEOPLE))
        .collect();
    json!({"path": path, "faces": faces})
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    super::require_positive("--tolerance", args.tolerance)?;
    super::thread_pool(args.cpus)?.install(|| run_in_pool(&args))
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
            if scan.photos == 0 {
                // face_recognition carries on (every face unknown_person); so do we, but
                // an empty folder of known people is a mistake worth exit code 1.
                exit::report(inputs::InputError::EmptyFolder(args.paths[0].clone()));
            }
            let known = scan
                .entries
                .iter()
                .map(|e| (e.label.clone(), e.embedding))
                .collect();
            (known, &args.paths[1..], scan.failed > 0 || scan.photos == 0)
        }
    };
    if known.is_empty() {
        eprintln!("WARNING: no known faces: every face will be unknown_person");
    }
    let expanded = inputs::expand(unknown_inputs);
    failed |= expanded.report();
    let images = expanded.images;
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
            Ok(faces) if args.json => writeln!(out, "{}", json_line(path, faces, args.tolerance))?,
            Ok(faces) => print_csv(&mut out, path, faces, args.show_distance)?,
            Err(line) => {
                exit::report_input(&mut out, args.json, path, line)?;
                failed = true;
            }
        }
    }
    Ok(exit::finished(failed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use facerec_engine::RgbImage;
    use sha2::{Digest, Sha256};

    #[test]
    fn distances_have_numpys_digits() {
        // numpy: a = float32(((i*37+1) % 101)/97 - 0.5) * 0.1 (float32), b likewise with
        // (i*53+3) % 89 and 83; np.linalg.norm([a] - b, axis=1) prints ...734, where a plain
        // left-to-right sum gives ...732.
        let v = |i: usize, mul: usize, add: usize, m: usize, q: f64| {
            (((i * mul + add) % m) as f64 / q - 0.5) as f32 * 0.1f32
        };
        let a: Embedding = std::array::from_fn(|i| v(i, 37, 1, 101, 97.0));
        let b: Embedding = std::array::from_fn(|i| v(i, 53, 3, 89, 83.0));
        assert_eq!(python_float(numpy_distance(&a, &b)), "0.4745963028015734");
    }

    #[test]
    fn floats_print_as_python_prints_them() {
        for (x, s) in [
            (0.0, "0.0"),
            (1.0, "1.0"),
            (0.5, "0.5"),
            (0.06522971885994498, "0.06522971885994498"),
            (1e-5, "1e-05"),
            (2.5e-7, "2.5e-07"),
            (0.0001, "0.0001"),
            (1e16, "1e+16"),
        ] {
            assert_eq!(python_float(x), s, "{x}");
        }
    }

    /// testdata/references/cli.json records the pixels Pillow's `thumbnail` hands on for
    /// giant photos (some made larger by pixel repetition, to reach its pre-reduction).
    #[test]
    fn giant_photos_shrink_to_pillows_very_pixels() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let refs: serde_json::Value = serde_json::from_slice(
            &std::fs::read(root.join("testdata/references/cli.json")).unwrap(),
        )
        .unwrap();
        let thumbs = refs["thumbnails"].as_array().unwrap();
        assert!(thumbs.len() >= 3);
        for want in thumbs {
            let path = want["source"].as_str().unwrap();
            let opts = facerec_engine::LoadOptions {
                apply_exif_orientation: false,
                ..Default::default()
            };
            let img = load_image(&root.join(path), &opts).unwrap();
            let n = want["repeat"].as_u64().unwrap() as u32;
            let (w, h) = match want["crop"].as_array() {
                Some(c) => (c[0].as_u64().unwrap() as u32, c[1].as_u64().unwrap() as u32),
                None => (img.width() * n, img.height() * n),
            };
            let img = RgbImage::from_fn(w, h, |x, y| *img.get_pixel(x / n, y / n));
            assert!(img.width().max(img.height()) > MAX_SIDE, "{want}");
            let (small, _) = facerec_job::shrink::fit(img, MAX_SIDE);
            assert_eq!(
                serde_json::json!([small.width(), small.height()]),
                want["size"],
                "{want}"
            );
            let hash: String = Sha256::digest(small.as_raw())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            assert_eq!(hash, want["rgb_sha256"].as_str().unwrap(), "{want}");
        }
    }

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
