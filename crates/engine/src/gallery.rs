//! Matching embeddings against known faces, as face_recognition's `face_distance` /
//! `compare_faces`: Euclidean distance, a match when distance ≤ tolerance (0.6 by default).

use crate::Embedding;
use serde::{Deserialize, Serialize};

/// face_recognition's default tolerance.
pub const DEFAULT_TOLERANCE: f32 = 0.6;

/// Euclidean distance between two embeddings.
pub fn face_distance(a: &Embedding, b: &Embedding) -> f32 {
    distance(a, b)
}

/// The one distance formula (summed in order, so every caller gets the same bits).
fn distance(a: &[f32], b: &[f32]) -> f32 {
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

    /// Every known face's distance to `probe`, in gallery order (entries of another
    /// length are skipped).
    fn distances<'a>(&'a self, probe: &'a [f32]) -> impl Iterator<Item = (&'a KnownFace, f32)> {
        self.faces
            .iter()
            .filter(move |k| k.embedding.len() == probe.len())
            .map(move |k| (k, distance(&k.embedding, probe)))
    }

    /// The nearest known face within `tolerance`, or `None` (an unknown person).
    pub fn best_match(&self, probe: &Embedding, tolerance: f32) -> Option<Match> {
        self.distances(probe)
            .filter(|(_, d)| *d <= tolerance)
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(k, d)| Match {
                name: k.name.clone(),
                distance: d,
            })
    }

    /// The `k` nearest known faces, nearest first, whatever their distance (equal
    /// distances keep gallery order). This is what a job reports as `nearest`.
    pub fn nearest(&self, probe: &Embedding, k: usize) -> Vec<Match> {
        if k == 0 {
            return Vec::new();
        }
        let mut all: Vec<(&KnownFace, f32)> = self.distances(probe).collect();
        // Stable, so ties stay in gallery order.
        all.sort_by(|a, b| a.1.total_cmp(&b.1));
        all.truncate(k);
        all.into_iter()
            .map(|(known, d)| Match {
                name: known.name.clone(),
                distance: d,
            })
            .collect()
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

    #[test]
    fn nearest_is_sorted_truncated_and_keeps_ties_in_order() {
        let mut g = Gallery::new();
        for (name, x) in [("far", 3.0), ("tie1", 1.0), ("near", 0.5), ("tie2", 1.0)] {
            let mut e = [0.0f32; 128];
            e[0] = x;
            g.add(name, &e);
        }
        let probe = [0.0f32; 128];
        let names =
            |k| -> Vec<String> { g.nearest(&probe, k).into_iter().map(|m| m.name).collect() };
        assert_eq!(names(3), ["near", "tie1", "tie2"]);
        assert_eq!(names(10), ["near", "tie1", "tie2", "far"]);
        assert!(names(0).is_empty());
        assert_eq!(g.nearest(&probe, 1)[0].distance, 0.5);
        // best_match agrees with the head of nearest when it is within tolerance.
        assert_eq!(g.best_match(&probe, 0.6).unwrap().name, "near");
        assert!(g.best_match(&probe, 0.4).is_none());
    }
}
