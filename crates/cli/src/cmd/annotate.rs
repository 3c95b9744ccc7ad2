//! `facerec annotate`: copies of photos with each face boxed and named, in an output
//! folder. The originals are never written: an output that would be an input is refused.
//!
//! Names come from a `facerec run` results file (`--results`: its boxes and names, no
//! detection) or from a gallery (`--gallery G PATH…`: detected and matched as `identify`
//! does, nearest person within `--tolerance`); without either, boxes only.

use super::ImageOpts;
use crate::font::{draw_text, text_width, GLYPH_H};
use crate::photo_faces::{self, PhotoFace};
use crate::{exit, gallery_file, inputs};
use facerec_engine::{load_image, Embedding, Rect, RgbImage};
use image::Rgb;
use rayon::prelude::*;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const KNOWN: Rgb<u8> = Rgb([0, 200, 60]);
const UNKNOWN: Rgb<u8> = Rgb([230, 40, 40]);

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Photos or folders of photos (not with --results, which names its own).
    #[arg(value_name = "PATH", required_unless_present = "results")]
    pub paths: Vec<PathBuf>,
    /// A `facerec run` results file: draw its boxes and names.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["paths", "gallery"])]
    pub results: Option<PathBuf>,
    /// Gallery file from `facerec enroll`, to name the faces found in PATHs.
    #[arg(long, value_name = "GALLERY")]
    pub gallery: Option<PathBuf>,
    /// A face is named when its distance to the person is at most this.
    #[arg(long, default_value_t = 0.6)]
    pub tolerance: f64,
    /// Shrink copies larger than this many pixels on their longer side (0: keep the size).
    #[arg(long, default_value_t = 0, value_name = "PIXELS")]
    pub max_side: u32,
    /// Write every copy as PNG (lossless), JPEGs included.
    #[arg(long)]
    pub png: bool,
    /// Folder for the annotated copies (created).
    #[arg(short, long, value_name = "DIR")]
    pub out: PathBuf,
    /// Worker threads; -1 = all cores.
    #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
    pub cpus: i32,
    #[command(flatten)]
    pub image: ImageOpts,
}

/// A photo and what to draw on it: (box, name).
type Plan = (PathBuf, Vec<(Rect, Option<String>)>);

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    super::thread_pool(args.cpus)?.install(|| annotate(&args))
}

fn annotate(args: &Args) -> anyhow::Result<ExitCode> {
    let mut failed = false;
    let plans: Vec<Plan> = match &args.results {
        Some(r) => photo_faces::results_lines(r)?
            .into_iter()
            .map(|l| {
                (
                    l.image,
                    l.faces.into_iter().map(|f| (f.rect, f.name)).collect(),
                )
            })
            .collect(),
        None => {
            let known = match &args.gallery {
                Some(g) => gallery_file::to_known(&gallery_file::read(g)?),
                None => Vec::new(),
            };
            let expanded = inputs::expand(&args.paths);
            failed |= expanded.report();
            let engine = args.image.engine()?;
            let found = photo_faces::from_images(&expanded.images, &engine, &args.image, false);
            failed |= found.failed;
            found
                .photos
                .into_iter()
                .map(|p| {
                    let faces = p
                        .faces
                        .iter()
                        .map(|f| (rect_of(f), nearest(&known, &f.embedding, args.tolerance)))
                        .collect();
                    (p.path, faces)
                })
                .collect()
        }
    };
    std::fs::create_dir_all(&args.out)
        .map_err(|e| anyhow::anyhow!("{}: cannot create: {e}", args.out.display()))?;
    let mut taken = HashSet::new();
    let jobs: Vec<(Plan, PathBuf)> = plans
        .into_iter()
        .map(|plan| {
            let out = output_path(&args.out, &plan.0, args.png, &mut taken);
            (plan, out)
        })
        .collect();
    let written: Vec<Result<PathBuf, String>> = jobs
        .par_iter()
        .map(|((photo, faces), out)| draw_copy(photo, faces, out, args))
        .collect();
    let mut count = 0;
    for w in written {
        match w {
            Ok(_) => count += 1,
            Err(line) => {
                exit::report(line);
                failed = true;
            }
        }
    }
    eprintln!("{count} annotated copies in {}", args.out.display());
    Ok(exit::finished(failed))
}

fn rect_of(f: &PhotoFace) -> Rect {
    let [top, right, bottom, left] = f.css;
    Rect {
        left,
        top,
        right,
        bottom,
    }
}

/// The nearest known person within tolerance.
fn nearest(known: &[(String, Embedding)], probe: &Embedding, tolerance: f64) -> Option<String> {
    known
        .iter()
        .map(|(l, e)| (l, super::identify::numpy_distance(e, probe)))
        .filter(|(_, d)| *d <= tolerance)
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(l, _)| l.clone())
}

/// `OUT/name` (the photo's file name; PNG unless it is a JPEG or PNG already, or `png`),
/// made unique with `-2`, `-3`… when two photos share a name.
fn output_path(out: &Path, photo: &Path, png: bool, taken: &mut HashSet<PathBuf>) -> PathBuf {
    let stem = photo
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "photo".into());
    let ext = photo
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .filter(|e| !png && matches!(e.as_str(), "jpg" | "jpeg" | "png"))
        .unwrap_or_else(|| "png".into());
    let mut n = 1;
    loop {
        let name = if n == 1 {
            format!("{stem}.{ext}")
        } else {
            format!("{stem}-{n}.{ext}")
        };
        let p = out.join(name);
        if taken.insert(p.clone()) {
            return p;
        }
        n += 1;
    }
}

fn draw_copy(
    photo: &Path,
    faces: &[(Rect, Option<String>)],
    out: &Path,
    args: &Args,
) -> Result<PathBuf, String> {
    let shown = photo.display();
    if let (Ok(a), Ok(b)) = (photo.canonicalize(), out.canonicalize()) {
        if a == b {
            return Err(format!(
                "{shown}: the annotated copy would overwrite the original; choose another --out"
            ));
        }
    }
    let img = load_image(photo, &args.image.load_options()).map_err(|e| format!("{shown}: {e}"))?;
    let longest = img.width().max(img.height());
    let (mut img, f) = if args.max_side > 0 && longest > args.max_side {
        let f = args.max_side as f64 / longest as f64;
        let size = |v: u32| ((v as f64 * f).round() as u32).max(1);
        let small = image::imageops::resize(
            &img,
            size(img.width()),
            size(img.height()),
            image::imageops::FilterType::Triangle,
        );
        (small, f)
    } else {
        (img, 1.0)
    };
    let scaled = |v: i64| (v as f64 * f).round() as i64;
    for (r, name) in faces {
        let rect = Rect {
            left: scaled(r.left),
            top: scaled(r.top),
            right: scaled(r.right),
            bottom: scaled(r.bottom),
        };
        draw_face(&mut img, rect, name.as_deref());
    }
    let is_jpeg = out.extension().is_some_and(|e| e == "jpg" || e == "jpeg");
    let saved = if is_jpeg {
        std::fs::File::create(out)
            .map_err(image::ImageError::IoError)
            .and_then(|f| {
                let mut w = std::io::BufWriter::new(f);
                image::codecs::jpeg::JpegEncoder::new_with_quality(&mut w, 90).encode_image(&img)
            })
    } else {
        img.save_with_format(out, image::ImageFormat::Png)
    };
    saved.map_err(|e| format!("{}: cannot write: {e}", out.display()))?;
    Ok(out.to_path_buf())
}

/// A box around the face and its name on a filled band under it (above it at the
/// bottom edge), sized to the photo.
pub fn draw_face(img: &mut RgbImage, rect: Rect, name: Option<&str>) {
    let color = if name.is_some() { KNOWN } else { UNKNOWN };
    let label = name.unwrap_or("unknown");
    let longest = img.width().max(img.height());
    let thick = (longest / 400).max(2) as i64;
    let scale = (longest / 600).max(1);
    for k in 0..thick {
        outline(
            img,
            rect.left - k,
            rect.top - k,
            rect.right + k,
            rect.bottom + k,
            color,
        );
    }
    let pad = scale as i64 * 2;
    let band_h = (GLYPH_H * scale) as i64 + 2 * pad;
    let band_w = text_width(label, scale) as i64 + 2 * pad;
    let x = rect.left - thick + 1;
    let below = rect.bottom + thick;
    let y = if below + band_h <= img.height() as i64 {
        below
    } else {
        (rect.top - thick + 1 - band_h).max(0)
    };
    fill(img, x, y, x + band_w - 1, y + band_h - 1, color);
    draw_text(img, x + pad, y + pad, label, scale, Rgb([255, 255, 255]));
}

fn put(img: &mut RgbImage, x: i64, y: i64, c: Rgb<u8>) {
    if x >= 0 && y >= 0 && (x as u32) < img.width() && (y as u32) < img.height() {
        img.put_pixel(x as u32, y as u32, c);
    }
}

fn outline(img: &mut RgbImage, l: i64, t: i64, r: i64, b: i64, c: Rgb<u8>) {
    for x in l..=r {
        put(img, x, t, c);
        put(img, x, b, c);
    }
    for y in t..=b {
        put(img, l, y, c);
        put(img, r, y, c);
    }
}

fn fill(img: &mut RgbImage, l: i64, t: i64, r: i64, b: i64, c: Rgb<u8>) {
    let (l, r) = (l.max(0), r.min(img.width() as i64 - 1));
    let (t, b) = (t.max(0), b.min(img.height() as i64 - 1));
    for y in t..=b {
        for x in l..=r {
            img.put_pixel(x as u32, y as u32, c);
        }
    }
}
