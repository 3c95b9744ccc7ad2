//! The one face schema of every JSON the CLI writes about found faces — `identify --json`,
//! `detect --json`, `run`'s JSONL and `results` — which is the job result's own
//! (`facerec_job::FaceResult`, docs/jobs.md):
//!
//! ```json
//! {"box": {"top": 112, "right": 480, "bottom": 266, "left": 326},
//!  "best_match": {"label": "alice", "distance": 0.34} | null,
//!  "nearest": [{"label": "alice", "distance": 0.34}, …]}
//! ```
//! `detect` writes only `box`; `identify` adds `matches` (every person within tolerance,
//! face_recognition's CLI's lines); `run --embeddings` adds `embedding` (128 numbers).

use facerec_job::FaceBox;
use serde_json::{json, Value};

/// `[top, right, bottom, left]` (face_recognition's order) as the schema's box object.
pub fn face_box([top, right, bottom, left]: [i64; 4]) -> FaceBox {
    FaceBox {
        top,
        right,
        bottom,
        left,
    }
}

/// A face of `identify`: its box, the nearest person within tolerance, the nearest
/// people (one entry per person, nearest first, at most `top_k`), and every person
/// within tolerance in gallery order.
pub fn identified(
    css: [i64; 4],
    per_person: &[(String, f64)],
    tolerance: f64,
    top_k: usize,
) -> Value {
    let mut nearest: Vec<&(String, f64)> = per_person.iter().collect();
    nearest.sort_by(|a, b| a.1.total_cmp(&b.1));
    let best = nearest.first().filter(|m| m.1 <= tolerance);
    // Distances as f64 (numpy's digits, as `--show-distance` prints them), not the f32 of
    // the result document's `FaceMatch`.
    let m = |(label, d): &(String, f64)| json!({"label": label, "distance": d});
    json!({
        "box": face_box(css),
        "best_match": best.map(|b| m(b)),
        "nearest": nearest.iter().take(top_k).map(|n| m(n)).collect::<Vec<_>>(),
        "matches": per_person.iter().filter(|(_, d)| *d <= tolerance).map(m).collect::<Vec<_>>(),
    })
}

/// A face of `detect`: its box only.
pub fn detected(css: [i64; 4]) -> Value {
    json!({"box": face_box(css)})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identify_faces_follow_the_result_schema() {
        let people = [
            ("b".to_string(), 0.7),
            ("a".to_string(), 0.3),
            ("c".to_string(), 0.5),
        ];
        let f = identified([1, 4, 3, 2], &people, 0.6, 2);
        assert_eq!(
            f["box"],
            json!({"top": 1, "right": 4, "bottom": 3, "left": 2})
        );
        assert_eq!(f["best_match"], json!({"label": "a", "distance": 0.3}));
        assert_eq!(
            f["nearest"],
            json!([{"label": "a", "distance": 0.3}, {"label": "c", "distance": 0.5}])
        );
        assert_eq!(
            f["matches"],
            json!([{"label": "a", "distance": 0.3}, {"label": "c", "distance": 0.5}])
        );
        let unknown = identified([1, 4, 3, 2], &people, 0.2, 3);
        assert_eq!(unknown["best_match"], Value::Null);
        assert_eq!(unknown["nearest"].as_array().unwrap().len(), 3);
        assert_eq!(
            detected([1, 4, 3, 2]),
            json!({"box": {"top": 1, "right": 4, "bottom": 3, "left": 2}})
        );
    }
}
