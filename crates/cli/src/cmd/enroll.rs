//! `facerec enroll KNOWN_DIR -o GALLERY`: encode a folder of known people once into a
//! gallery file (see `gallery_file`) that `identify --gallery`, `run`, `submit` and the
//! worker load. Layout rules are in `known`.

use super::ImageOpts;
use crate::{exit, gallery_file, known};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Folder of known people: `name.jpg` files, or `name/` subfolders of photos.
    #[arg(value_name = "KNOWN_DIR")]
    pub known_dir: PathBuf,
    /// Gallery file to write.
    #[arg(short, long, value_name = "GALLERY")]
    pub output: PathBuf,
    #[command(flatten)]
    pub image: ImageOpts,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let engine = args.image.engine()?;
    let scan = known::scan(&engine, &args.known_dir, &args.image)?;
    if scan.photos == 0 {
        return Err(crate::inputs::InputError::EmptyFolder(args.known_dir.clone()).into_anyhow());
    }
    if scan.entries.is_empty() {
        anyhow::bail!(
            "{}: no face found in any photo; gallery not written",
            args.known_dir.display()
        );
    }
    gallery_file::write(&args.output, &scan.entries)
        .map_err(|e| anyhow::anyhow!("{}: cannot write gallery: {e}", args.output.display()))?;
    let mut per_person: BTreeMap<&str, usize> = BTreeMap::new();
    for e in &scan.entries {
        *per_person.entry(&e.label).or_default() += 1;
    }
    let people: Vec<String> = per_person
        .iter()
        .map(|(name, n)| format!("{name} ({n})"))
        .collect();
    eprintln!(
        "enrolled {} encodings of {} people into {}: {}",
        scan.entries.len(),
        per_person.len(),
        args.output.display(),
        people.join(", ")
    );
    Ok(exit::finished(scan.failed > 0))
}
