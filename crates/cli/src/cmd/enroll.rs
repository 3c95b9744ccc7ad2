//! `facerec enroll KNOWN_DIR -o GALLERY`: encode a folder of known people once into a
//! gallery file (see `gallery_file`) that `identify --gallery`, `run`, `submit` and the
//! worker load. Layout rules are in `known`.
//!
//! `facerec enroll -o GALLERY --add NAME PHOTO…` and `--remove NAME` change one person in
//! an existing gallery: only the new photos are encoded, every other entry is written back
//! as it was read (embeddings bit for bit).

use super::ImageOpts;
use crate::gallery_file::{self, Enrolled};
use crate::{exit, inputs, known};
use facerec_engine::load_image;
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Folder of known people (`name.jpg` files, or `name/` subfolders of photos); with
    /// --add, NAME's photos or folders of them.
    #[arg(value_name = "KNOWN_DIR|PHOTO")]
    pub paths: Vec<PathBuf>,
    /// Gallery file to write (with --add/--remove: to change in place).
    #[arg(short, long, visible_alias = "gallery", value_name = "GALLERY")]
    pub output: PathBuf,
    /// Add NAME's faces from the PHOTOs (one face per photo) to the gallery; the rest of
    /// it is kept as it is.
    #[arg(long, value_name = "NAME")]
    pub add: Option<String>,
    /// Remove every entry of NAME from the gallery (with --add NAME: replace them).
    #[arg(long, value_name = "NAME")]
    pub remove: Option<String>,
    #[command(flatten)]
    pub image: ImageOpts,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.add.is_some() || args.remove.is_some() {
        return change(&args);
    }
    let [known_dir] = args.paths.as_slice() else {
        anyhow::bail!("expected one KNOWN_DIR (or --add NAME PHOTO… / --remove NAME)");
    };
    let engine = args.image.engine()?;
    let scan = known::scan(&engine, known_dir, &args.image)?;
    if scan.photos == 0 {
        return Err(inputs::InputError::EmptyFolder(known_dir.clone()).into_anyhow());
    }
    if scan.entries.is_empty() {
        anyhow::bail!(
            "{}: no face found in any photo; gallery not written",
            known_dir.display()
        );
    }
    write(&args.output, &scan.entries)?;
    let mut per_person: BTreeMap<&str, usize> = BTreeMap::new();
    for e in &scan.entries {
        *per_person.entry(&e.label).or_default() += 1;
    }
    let people: Vec<String> = per_person
        .iter()
        .map(|(name, n)| format!("{name} ({n})"))
        .collect();
    eprintln!(
        "enrolled {} embeddings of {} people into {}: {}",
        scan.entries.len(),
        per_person.len(),
        args.output.display(),
        people.join(", ")
    );
    Ok(exit::finished(scan.failed > 0))
}

fn write(path: &Path, entries: &[Enrolled]) -> anyhow::Result<()> {
    gallery_file::write(path, entries)
        .map_err(|e| anyhow::anyhow!("{}: cannot write gallery: {e}", path.display()))
}

/// `--add` / `--remove`: nothing is written unless every part of the change can be made.
fn change(args: &Args) -> anyhow::Result<ExitCode> {
    let mut entries = gallery_file::read_enrolled(&args.output)?;
    let mut failed = false;
    let mut said = Vec::new();
    if let Some(name) = &args.remove {
        let before = entries.len();
        entries.retain(|e| &e.label != name);
        let removed = before - entries.len();
        if removed == 0 {
            anyhow::bail!(
                "{}: nobody named {name:?} in the gallery; gallery unchanged",
                args.output.display()
            );
        }
        said.push(format!("removed {removed} embeddings of {name}"));
    }
    if let Some(name) = &args.add {
        if name.trim().is_empty() {
            anyhow::bail!("--add needs a non-empty NAME");
        }
        if args.paths.is_empty() {
            anyhow::bail!("--add {name} needs at least one PHOTO of {name}");
        }
        let (added, add_failed) = encode_person(name, &args.paths, &args.image)?;
        failed = add_failed;
        if added.is_empty() {
            anyhow::bail!(
                "no usable face of {name} in the photos given; gallery unchanged ({})",
                args.output.display()
            );
        }
        said.push(format!("added {} embeddings of {name}", added.len()));
        entries.extend(added);
    } else if !args.paths.is_empty() {
        anyhow::bail!("photos given without --add NAME");
    }
    if entries.is_empty() {
        anyhow::bail!(
            "{}: the gallery would be empty; not written",
            args.output.display()
        );
    }
    write(&args.output, &entries)?;
    eprintln!(
        "{}: {}; {} embeddings in all",
        args.output.display(),
        said.join(", "),
        entries.len()
    );
    Ok(exit::finished(failed))
}

/// One embedding per photo of `name`: a photo with no face or several is skipped with a
/// warning (which face would be the person is ambiguous), an unreadable one reported.
fn encode_person(
    name: &str,
    paths: &[PathBuf],
    opts: &ImageOpts,
) -> anyhow::Result<(Vec<Enrolled>, bool)> {
    let expanded = inputs::expand(paths);
    let mut failed = expanded.report();
    let engine = opts.engine()?;
    let outcomes: Vec<Result<Option<Enrolled>, String>> = expanded
        .images
        .par_iter()
        .map(|path| {
            let shown = path.display();
            let img =
                load_image(path, &opts.load_options()).map_err(|e| format!("{shown}: {e}"))?;
            let faces = engine
                .encode_image(&img, opts.detector())
                .map_err(|e| format!("{shown}: {e}"))?;
            match faces.as_slice() {
                [face] => Ok(Some(Enrolled {
                    label: name.to_string(),
                    embedding: face.embedding,
                    source: path.clone(),
                })),
                [] => {
                    eprintln!("WARNING: No faces found in {shown}. Ignoring file.");
                    Ok(None)
                }
                many => {
                    eprintln!(
                        "WARNING: {} faces found in {shown}. Ignoring file (which one is {name}?).",
                        many.len()
                    );
                    Ok(None)
                }
            }
        })
        .collect();
    let mut added = Vec::new();
    for o in outcomes {
        match o {
            Ok(Some(e)) => added.push(e),
            Ok(None) => {}
            Err(line) => {
                exit::report(line);
                failed = true;
            }
        }
    }
    Ok((added, failed))
}
