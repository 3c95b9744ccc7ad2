//! `facerec cluster`: group faces nobody in the gallery matched into people, then name a
//! group into the gallery with `facerec cluster name ID NAME --gallery G`.
//!
//! Faces come from a `facerec run` results file (its unknown faces) or from photos and
//! folders (every face, or with `--gallery` those it does not match). They are grouped by
//! dlib's Chinese whispers at threshold 0.5 (`chinese_whispers`: the very labels of
//! `dlib.chinese_whispers_clustering`, which face_recognition users call); why that and
//! not another method is in docs/cli.md. The output folder gets `clusters.json` (each
//! face's file, box and encoding, by cluster, largest first) and `cluster-ID.png`, a
//! contact sheet of each cluster's faces.

use super::ImageOpts;
use crate::gallery_file::{self, Enrolled};
use crate::photo_faces::{self, Photo, THUMB};
use crate::{chinese_whispers, exit, inputs};
use facerec_engine::{Embedding, RgbImage};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub const FORMAT: &str = "facerec-clusters";

#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct Args {
    #[command(subcommand)]
    pub action: Option<Action>,
    /// Photos or folders of photos (instead of --results).
    #[arg(value_name = "PATH", required_unless_present = "results")]
    pub paths: Vec<PathBuf>,
    /// A `facerec run` results file: cluster its unknown faces.
    #[arg(long, value_name = "FILE", conflicts_with = "paths")]
    pub results: Option<PathBuf>,
    /// With PATHs: leave out faces this gallery matches (within --tolerance).
    #[arg(long, value_name = "GALLERY")]
    pub gallery: Option<PathBuf>,
    /// Gallery match tolerance for --gallery.
    #[arg(long, default_value_t = 0.6)]
    pub tolerance: f64,
    /// Two faces are linked when their distance is below this (dlib's 0.5).
    #[arg(long, default_value_t = 0.5)]
    pub threshold: f64,
    /// Cluster every face of the run, named ones included.
    #[arg(long)]
    pub all_faces: bool,
    /// Folder for clusters.json and the contact sheets.
    #[arg(short, long, default_value = "clusters", value_name = "DIR")]
    pub out: PathBuf,
    /// Worker threads; -1 = all cores.
    #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
    pub cpus: i32,
    #[command(flatten)]
    pub image: ImageOpts,
}

#[derive(clap::Subcommand, Debug)]
pub enum Action {
    /// Add a cluster's faces to a gallery under NAME (creating the gallery if need be).
    Name(NameArgs),
}

#[derive(clap::Args, Debug)]
pub struct NameArgs {
    /// Cluster id, as clusters.json and the sheet's file name give it.
    pub id: usize,
    /// The person's name.
    pub name: String,
    /// Gallery file to add to.
    #[arg(long, value_name = "GALLERY")]
    pub gallery: PathBuf,
    /// clusters.json written by `facerec cluster`.
    #[arg(long, default_value = "clusters/clusters.json", value_name = "FILE")]
    pub clusters: PathBuf,
}

#[derive(Serialize, Deserialize)]
pub struct ClustersFile {
    pub format: String,
    pub version: u32,
    pub algorithm: String,
    pub threshold: f64,
    pub clusters: Vec<Cluster>,
}

#[derive(Serialize, Deserialize)]
pub struct Cluster {
    pub id: usize,
    pub size: usize,
    /// The contact sheet, relative to clusters.json.
    pub sheet: String,
    pub faces: Vec<ClusterFace>,
}

#[derive(Serialize, Deserialize)]
pub struct ClusterFace {
    pub file: String,
    #[serde(rename = "box")]
    pub css: [i64; 4],
    pub encoding: Vec<f32>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if let Some(Action::Name(a)) = args.action {
        return name(a);
    }
    super::require_positive("--threshold", args.threshold)?;
    super::thread_pool(args.cpus)?.install(|| cluster(&args))
}

fn cluster(args: &Args) -> anyhow::Result<ExitCode> {
    let engine = args.image.engine()?;
    let (faces, failed) = match &args.results {
        Some(r) => {
            let got = photo_faces::from_results(r, &engine, &args.image, true)?;
            let photos = got
                .photos
                .into_iter()
                .map(|mut p| {
                    p.faces.retain(|f| args.all_faces || f.name.is_none());
                    p
                })
                .collect();
            (photos, got.failed)
        }
        None => {
            let expanded = inputs::expand(&args.paths);
            let input_failed = expanded.report();
            let got = photo_faces::from_images(&expanded.images, &engine, &args.image, true);
            let mut photos = got.photos;
            if let Some(g) = &args.gallery {
                let known = gallery_file::to_known(&gallery_file::read(g)?);
                for p in &mut photos {
                    p.faces.retain(|f| {
                        !known.iter().any(|(_, k)| {
                            super::identify::numpy_distance(k, &f.embedding) <= args.tolerance
                        })
                    });
                }
            }
            (photos, got.failed || input_failed)
        }
    };
    let flat: Vec<(&Photo, usize)> = faces
        .iter()
        .flat_map(|p| (0..p.faces.len()).map(move |i| (p, i)))
        .collect();
    if flat.is_empty() {
        exit::report("no faces to cluster");
        return Ok(exit::finished(true));
    }
    let embeddings: Vec<&[f32]> = flat
        .iter()
        .map(|(p, i)| &p.faces[*i].embedding[..])
        .collect();
    let labels = chinese_whispers::cluster(&embeddings, args.threshold);
    let n = labels.iter().max().map_or(0, |m| m + 1);
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (face, &l) in labels.iter().enumerate() {
        members[l].push(face);
    }
    // Largest first (the people worth naming); equal sizes keep dlib's order.
    members.sort_by_key(|m| std::cmp::Reverse(m.len()));
    std::fs::create_dir_all(&args.out)
        .map_err(|e| anyhow::anyhow!("{}: cannot create: {e}", args.out.display()))?;
    let mut clusters = Vec::new();
    for (id, m) in members.iter().enumerate() {
        let sheet = format!("cluster-{id}.png");
        let thumbs: Vec<&RgbImage> = m
            .iter()
            .filter_map(|&k| flat[k].0.faces[flat[k].1].thumb.as_ref())
            .collect();
        let path = args.out.join(&sheet);
        contact_sheet(&thumbs)
            .save_with_format(&path, image::ImageFormat::Png)
            .map_err(|e| anyhow::anyhow!("{}: cannot write: {e}", path.display()))?;
        clusters.push(Cluster {
            id,
            size: m.len(),
            sheet,
            faces: m
                .iter()
                .map(|&k| {
                    let (p, i) = flat[k];
                    ClusterFace {
                        file: p.path.display().to_string(),
                        css: p.faces[i].css,
                        encoding: p.faces[i].embedding.to_vec(),
                    }
                })
                .collect(),
        });
    }
    let doc = ClustersFile {
        format: FORMAT.into(),
        version: 1,
        algorithm: "chinese_whispers (dlib)".into(),
        threshold: args.threshold,
        clusters,
    };
    let json_path = args.out.join("clusters.json");
    std::fs::write(&json_path, serde_json::to_string(&doc)? + "\n")
        .map_err(|e| anyhow::anyhow!("{}: cannot write: {e}", json_path.display()))?;
    let sizes: Vec<String> = doc.clusters.iter().map(|c| c.size.to_string()).collect();
    eprintln!(
        "{} faces in {} clusters (sizes {}) → {}",
        flat.len(),
        doc.clusters.len(),
        sizes.join(", "),
        json_path.display()
    );
    Ok(exit::finished(failed))
}

/// Thumbnails in a grid of up to 8 columns on a dark background.
fn contact_sheet(thumbs: &[&RgbImage]) -> RgbImage {
    const GAP: u32 = 4;
    let cols = thumbs.len().clamp(1, 8) as u32;
    let rows = (thumbs.len() as u32).div_ceil(cols).max(1);
    let cell = THUMB + GAP;
    let mut sheet = RgbImage::from_pixel(
        cols * cell + GAP,
        rows * cell + GAP,
        image::Rgb([40, 40, 40]),
    );
    for (k, t) in thumbs.iter().enumerate() {
        let (c, r) = (k as u32 % cols, k as u32 / cols);
        image::imageops::replace(
            &mut sheet,
            *t,
            (GAP + c * cell) as i64,
            (GAP + r * cell) as i64,
        );
    }
    sheet
}

fn name(a: NameArgs) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(&a.clusters)
        .map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", a.clusters.display()))?;
    let doc: ClustersFile = serde_json::from_slice(&bytes)
        .ok()
        .filter(|d: &ClustersFile| d.format == FORMAT)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "{}: not a clusters.json of `facerec cluster`",
                a.clusters.display()
            )
        })?;
    let Some(cluster) = doc.clusters.iter().find(|c| c.id == a.id) else {
        anyhow::bail!(
            "{}: no cluster {} (ids 0 to {})",
            a.clusters.display(),
            a.id,
            doc.clusters.len().saturating_sub(1)
        );
    };
    if a.name.trim().is_empty() {
        anyhow::bail!("NAME must not be empty");
    }
    let mut entries = gallery_file::read_enrolled(&a.gallery)?;
    for f in &cluster.faces {
        let embedding: Embedding = f.encoding.as_slice().try_into().map_err(|_| {
            anyhow::anyhow!(
                "{}: a face of cluster {} has no 128-d encoding",
                a.clusters.display(),
                a.id
            )
        })?;
        let [t, r, b, l] = f.css;
        entries.push(Enrolled {
            label: a.name.clone(),
            embedding,
            source: Path::new(&format!("{}#{t},{r},{b},{l}", f.file)).to_path_buf(),
        });
    }
    gallery_file::write(&a.gallery, &entries)
        .map_err(|e| anyhow::anyhow!("{}: cannot write gallery: {e}", a.gallery.display()))?;
    eprintln!(
        "added cluster {} ({} faces) as {} to {} ({} embeddings in all)",
        a.id,
        cluster.faces.len(),
        a.name,
        a.gallery.display(),
        entries.len()
    );
    Ok(ExitCode::SUCCESS)
}
