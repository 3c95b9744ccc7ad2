//! face_recognition's and face_detection's own invocations: `facerec compat
//! face_recognition KNOWN UNKNOWN` (or `facerec` installed or linked under the name
//! `face_recognition`) is `facerec identify KNOWN UNKNOWN`, and `face_detection PATH` is
//! `facerec detect PATH` — their arguments (`--cpus`, `--tolerance`, `--show-distance
//! true`, `--model`) and their stdout, so a script switches by one word. Deliberate
//! differences (warnings on stderr, EXIF orientation honoured) are in docs/cli.md.

use std::ffi::{OsStr, OsString};
use std::path::Path;

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// `face_recognition KNOWN_PEOPLE_FOLDER IMAGE_TO_CHECK`: `facerec identify`.
    #[value(name = "face_recognition")]
    FaceRecognition,
    /// `face_detection IMAGE_TO_CHECK`: `facerec detect`.
    #[value(name = "face_detection")]
    FaceDetection,
}

impl Tool {
    /// The facerec subcommand that behaves as the tool.
    pub fn subcommand(self) -> &'static str {
        match self {
            Tool::FaceRecognition => "identify",
            Tool::FaceDetection => "detect",
        }
    }

    /// The tool a program name stands for (`/usr/local/bin/face_recognition`, `.exe` too).
    pub fn named(program: &OsStr) -> Option<Tool> {
        let stem = Path::new(program).file_stem()?.to_str()?;
        match stem {
            "face_recognition" => Some(Tool::FaceRecognition),
            "face_detection" => Some(Tool::FaceDetection),
            _ => None,
        }
    }
}

/// `face_recognition ARGS…` (the program's name) → `facerec identify ARGS…`, and
/// `facerec compat TOOL ARGS…` → `facerec SUBCOMMAND ARGS…`; any other command line as
/// it is.
pub fn rewrite(mut argv: Vec<OsString>) -> Vec<OsString> {
    let tool = match argv.first().and_then(|p| Tool::named(p)) {
        Some(t) => Some((t, 1)),
        None if argv.get(1).is_some_and(|a| a == "compat") => argv
            .get(2)
            .and_then(|a| Tool::named(a).filter(|_| !a.to_string_lossy().contains('/')))
            .map(|t| (t, 3)),
        None => None,
    };
    let Some((tool, consumed)) = tool else {
        return argv;
    };
    let rest = argv.split_off(consumed.min(argv.len()));
    let mut out = vec![OsString::from("facerec"), OsString::from(tool.subcommand())];
    out.extend(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(a: &[&str]) -> Vec<OsString> {
        a.iter().map(OsString::from).collect()
    }

    #[test]
    fn program_name_and_compat_become_the_subcommand() {
        assert_eq!(
            rewrite(v(&["/usr/bin/face_recognition", "--cpus", "2", "k", "u"])),
            v(&["facerec", "identify", "--cpus", "2", "k", "u"])
        );
        assert_eq!(
            rewrite(v(&["face_detection", "p"])),
            v(&["facerec", "detect", "p"])
        );
        assert_eq!(
            rewrite(v(&["facerec", "compat", "face_recognition", "k", "u"])),
            v(&["facerec", "identify", "k", "u"])
        );
        // Anything else is left to clap.
        assert_eq!(
            rewrite(v(&["facerec", "detect", "p"])),
            v(&["facerec", "detect", "p"])
        );
        assert_eq!(
            rewrite(v(&["facerec", "compat", "deepface"])),
            v(&["facerec", "compat", "deepface"])
        );
    }
}
