//! Finding the model files: `$FACEREC_MODELS`, else `./models`, else beside the binary
//! (the binary's folder and its `models/` subfolder), else `<prefix>/share/facerec/models`
//! for a binary in `<prefix>/bin` (where `make install` puts them). Models are fetched by
//! `scripts/fetch-models.sh`, never at run time.

use crate::error::ModelError;
use std::path::{Path, PathBuf};

/// File name of dlib's face-embedding ResNet.
pub const RESNET_FILE: &str = "dlib_face_recognition_resnet_model_v1.dat";
/// File name of dlib's 5-point landmark model.
pub const SHAPE_PREDICTOR_FILE: &str = "shape_predictor_5_face_landmarks.dat";
/// File name of dlib's HOG frontal face detector (committed in the repo's `models/`).
pub const HOG_FILE: &str = "hog_frontal_face_detector.svm";

/// File name of the RetinaFace network (the accurate detector), optional.
pub const RETINAFACE_FILE: &str = crate::retinaface::RETINAFACE_FILE;

/// Where each model file is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelPaths {
    pub resnet: PathBuf,
    pub shape_predictor: PathBuf,
    pub hog: PathBuf,
    /// The accurate detector's network; needed only when it is used.
    pub retinaface: PathBuf,
}

impl ModelPaths {
    /// All models in one folder (existence is checked by [`crate::Engine::load`]).
    pub fn in_dir(dir: impl AsRef<Path>) -> Self {
        let d = dir.as_ref();
        ModelPaths {
            resnet: d.join(RESNET_FILE),
            shape_predictor: d.join(SHAPE_PREDICTOR_FILE),
            hog: d.join(HOG_FILE),
            retinaface: d.join(RETINAFACE_FILE),
        }
    }

    /// The folders searched, in order.
    pub fn search_dirs() -> Vec<PathBuf> {
        let mut dirs = Vec::new();
        if let Some(d) = std::env::var_os("FACEREC_MODELS") {
            dirs.push(PathBuf::from(d));
        }
        dirs.push(PathBuf::from("models"));
        if let Some(exe_dir) = std::env::current_exe()
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf))
        {
            dirs.push(exe_dir.join("models"));
            if let Some(prefix) = exe_dir.parent() {
                dirs.push(prefix.join("share/facerec/models"));
            }
            dirs.push(exe_dir);
        }
        dirs
    }

    /// Each model from the first searched folder that holds it.
    pub fn discover() -> Result<Self, ModelError> {
        let dirs = Self::search_dirs();
        let find = |file: &'static str| {
            dirs.iter()
                .map(|d| d.join(file))
                .find(|p| p.is_file())
                .ok_or_else(|| ModelError::Missing {
                    file,
                    searched: dirs
                        .iter()
                        .map(|d| d.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                })
        };
        let resnet = find(RESNET_FILE)?;
        Ok(ModelPaths {
            // Optional: where it is, else beside the embedding model (where
            // fetch-models.sh puts it), so the error on use names that folder.
            retinaface: find(RETINAFACE_FILE).unwrap_or_else(|_| {
                resnet
                    .parent()
                    .unwrap_or(Path::new("."))
                    .join(RETINAFACE_FILE)
            }),
            resnet,
            shape_predictor: find(SHAPE_PREDICTOR_FILE)?,
            hog: find(HOG_FILE)?,
        })
    }
}

pub(crate) fn read_model(path: &Path, file: &'static str) -> Result<Vec<u8>, ModelError> {
    std::fs::read(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            ModelError::Missing {
                file,
                searched: path
                    .parent()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
            }
        } else {
            ModelError::Io {
                path: path.to_path_buf(),
                source,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::ModelPaths;

    #[test]
    fn an_installed_binary_finds_the_models_make_install_put_under_its_prefix() {
        // `make install` puts the binary in <prefix>/bin and the models in
        // <prefix>/share/facerec/models.
        let exe = std::env::current_exe().unwrap();
        let prefix = exe.parent().unwrap().parent().unwrap();
        let dirs = ModelPaths::search_dirs();
        let share = dirs
            .iter()
            .position(|d| d == &prefix.join("share/facerec/models"))
            .expect("the install prefix's share folder is searched");
        let local = dirs.iter().position(|d| d.as_os_str() == "models").unwrap();
        assert!(local < share, "./models comes first: {dirs:?}");
    }
}
