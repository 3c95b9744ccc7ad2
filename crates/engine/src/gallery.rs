//! Matching embeddings against known faces, as face_recognition's `face_distance` /
//! `compare_faces`: Euclidean distance, a match when distance ≤ tolerance (0.6 by default).

use crate::Embedding;
use serde::{Deserialize, Serialize};

/// face_recognition's default tolerance.
pub const DEFAULT_TOLERANCE: f32 = 0.6;

/// Euclidean distance between two embeddings.
pub fn face_distance(a: &Embedding, b: &Embedding) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f32>()
        .sqrt()
}

/// A known face: a name and one embedding (a person may have several entries).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KnownFace {
    pub name: String,
    pub embedding: Vec<f32>,
}

/// The best gallery entry for a probe face.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Match {
    pub name: String,
    pub distance: f32,
}

/// A set of known faces.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Gallery {
    pub faces: Vec<KnownFace>,
}

impl Gallery {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, name: impl Into<String>, embedding: &Embedding) {
        self.faces.push(KnownFace {
            name: name.into(),
            embedding: embedding.to_vec(),
        });
    }

    pub fn len(&self) -> usize {
        self.faces.len()
    }

    pub fn is_empty(&self) -> bool {
        self.faces.is_empty()
    }

    /// The nearest known face within `tolerance`, or `None` (an unknown person).
    pub fn best_match(&self, probe: &Embedding, tolerance: f32) -> Option<Match> {
        self.faces
            .iter()
            .filter(|k| k.embedding.len() == probe.len())
            .map(|k| {
                let d = k
                    .embedding
                    .iter()
                    .zip(probe)
                    .map(|(x, y)| (x - y) * (x - y))
                    .sum::<f32>()
                    .sqrt();
                (k, d)
            })
            .filter(|(_, d)| *d <= tolerance)
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(k, d)| Match {
                name: k.name.clone(),
                distance: d,
            })
    }
}

/// For each probe, the best match (or `None`) at `tolerance`.
pub fn match_faces(gallery: &Gallery, probes: &[Embedding], tolerance: f32) -> Vec<Option<Match>> {
    probes
        .iter()
        .map(|p| gallery.best_match(p, tolerance))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_within_tolerance_wins() {
        let mut g = Gallery::new();
        let mut a = [0.0f32; 128];
        let mut b = [0.0f32; 128];
        a[0] = 1.0;
        b[0] = 0.5;
        g.add("a", &a);
        g.add("b", &b);
        let mut p = [0.0f32; 128];
        p[0] = 0.9;
        assert_eq!(g.best_match(&p, 0.6).unwrap().name, "a");
        p[0] = -0.2;
        assert!(g.best_match(&p, 0.6).is_none());
        assert!((face_distance(&a, &b) - 0.5).abs() < 1e-6);
    }
}
