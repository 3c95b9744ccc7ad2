//! dlib's Chinese whispers graph clustering (`dlib::chinese_whispers`), as
//! `dlib.chinese_whispers_clustering(descriptors, threshold)` runs it: faces are nodes, an
//! edge of weight 1 joins two faces closer than the threshold (and each face to itself),
//! then `100 × nodes` times a node drawn by dlib's default-seeded, primed Mersenne twister takes
//! the label with the largest edge weight among its neighbours (ties: the smallest label).
//! Labels are finally renumbered in order of first appearance.
//!
//! Reproduced step for step, RNG included, so the same embeddings give the very labels
//! dlib gives (testdata/references/clusters.json) — and every run the same ones.

use std::collections::BTreeMap;

/// dlib's `chinese_whispers` default.
pub const ITERATIONS: usize = 100;

/// MT19937 (dlib's `mersenne_twister` is Boost's `mt19937`). `dlib::rand` seeds it with
/// the default 5489 and then discards 10,000 draws ("prime the generator a bit").
struct Mt19937 {
    state: [u32; 624],
    index: usize,
}

impl Mt19937 {
    fn new(seed: u32) -> Self {
        let mut state = [0u32; 624];
        state[0] = seed;
        for i in 1..624 {
            let prev = state[i - 1];
            state[i] = 1_812_433_253u32
                .wrapping_mul(prev ^ (prev >> 30))
                .wrapping_add(i as u32);
        }
        Mt19937 { state, index: 624 }
    }

    fn next_u32(&mut self) -> u32 {
        if self.index >= 624 {
            for i in 0..624 {
                let y = (self.state[i] & 0x8000_0000) | (self.state[(i + 1) % 624] & 0x7fff_ffff);
                let mut v = self.state[(i + 397) % 624] ^ (y >> 1);
                if y & 1 != 0 {
                    v ^= 0x9908_b0df;
                }
                self.state[i] = v;
            }
            self.index = 0;
        }
        let mut y = self.state[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// `dlib::rand::get_random_64bit_number`: two draws, the first in the high half.
    fn next_u64(&mut self) -> u64 {
        let hi = self.next_u32() as u64;
        (hi << 32) | self.next_u32() as u64
    }
}

/// dlib's `length(a - b)` on the embeddings as doubles.
pub fn distance(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| {
            let d = x as f64 - y as f64;
            d * d
        })
        .sum::<f64>()
        .sqrt()
}

/// A cluster label per embedding, `0..n_clusters` in order of first appearance.
pub fn cluster(embeddings: &[&[f32]], threshold: f64) -> Vec<usize> {
    let n = embeddings.len();
    // Neighbour lists in index order (dlib sorts its ordered edges by index), self included.
    let mut neighbours: Vec<Vec<usize>> = vec![Vec::new(); n];
    for i in 0..n {
        for j in i..n {
            if distance(embeddings[i], embeddings[j]) < threshold {
                neighbours[i].push(j);
                if i != j {
                    neighbours[j].push(i);
                }
            }
        }
    }
    let mut labels: Vec<usize> = (0..n).collect();
    let mut rng = Mt19937::new(5489);
    for _ in 0..10_000 {
        rng.next_u32();
    }
    for _ in 0..n * ITERATIONS {
        let idx = (rng.next_u64() % n as u64) as usize;
        let mut counts: BTreeMap<usize, f64> = BTreeMap::new();
        for &j in &neighbours[idx] {
            *counts.entry(labels[j]).or_default() += 1.0;
        }
        let mut best = (f64::NEG_INFINITY, labels[idx]);
        for (&label, &count) in &counts {
            if count > best.0 {
                best = (count, label);
            }
        }
        labels[idx] = best.1;
    }
    let mut remap: BTreeMap<usize, usize> = BTreeMap::new();
    labels
        .iter()
        .map(|l| {
            let next = remap.len();
            *remap.entry(*l).or_insert(next)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn mersenne_twister_is_mt19937() {
        // The C++ standard fixes mt19937's 10000th output from the default seed.
        let mut rng = Mt19937::new(5489);
        let mut last = 0;
        for _ in 0..10_000 {
            last = rng.next_u32();
        }
        assert_eq!(last, 4_123_659_995);
    }

    /// The committed embeddings through this port give dlib's very labels, at thresholds
    /// where clusters chain and the random node order decides the outcome.
    #[test]
    fn labels_are_dlibs() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../testdata/references/clusters.json"
        );
        let doc: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let encodings: Vec<Vec<f32>> = doc["faces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| serde_json::from_value(f["encoding"].clone()).unwrap())
            .collect();
        let embeddings: Vec<&[f32]> = encodings.iter().map(Vec::as_slice).collect();
        let runs = doc["runs"].as_array().unwrap();
        assert!(runs.len() >= 3);
        for run in runs {
            let t = run["threshold"].as_f64().unwrap();
            let want: Vec<usize> = serde_json::from_value(run["labels"].clone()).unwrap();
            assert_eq!(cluster(&embeddings, t), want, "threshold {t}");
        }
    }

    #[test]
    fn nothing_in_nothing_out() {
        assert!(cluster(&[], 0.5).is_empty());
    }
}
