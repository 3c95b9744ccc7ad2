//! dlib's `shape_predictor` (an ensemble of regression trees, Kazemi & Sullivan 2014):
//! loading `shape_predictor_5_face_landmarks.dat` and predicting landmarks in a face box.

use crate::dlib_format::DlibReader;
use crate::error::ModelError;
use crate::geometry::{similarity_transform, Point, Rect};
use image::RgbImage;

struct Split {
    idx1: usize,
    idx2: usize,
    thresh: f32,
}

struct Tree {
    splits: Vec<Split>,
    leaves: Vec<Vec<f32>>,
}

/// The loaded landmark model.
pub struct ShapePredictor {
    initial_shape: Vec<f32>, // x0, y0, x1, y1, … in the unit box
    forests: Vec<Vec<Tree>>,
    anchor_idx: Vec<Vec<usize>>,
    deltas: Vec<Vec<[f32; 2]>>,
}

fn vec_len(r: &mut DlibReader, max: usize) -> Result<usize, ModelError> {
    let n = r.size()?;
    if n > max {
        return Err(r.error(format!("vector length {n} exceeds {max}")));
    }
    Ok(n)
}

impl ShapePredictor {
    pub fn from_bytes(data: &[u8]) -> Result<Self, ModelError> {
        let mut r = DlibReader::new(data, "shape_predictor_5_face_landmarks.dat");
        r.expect_int(1, "shape_predictor version")?;
        let (_, _, initial_shape) = r.float_matrix()?;
        if initial_shape.is_empty() || initial_shape.len() % 2 != 0 {
            return Err(r.error("initial shape must hold x,y pairs"));
        }
        let n_forests = vec_len(&mut r, 1000)?;
        let mut forests = Vec::with_capacity(n_forests);
        for _ in 0..n_forests {
            let n_trees = vec_len(&mut r, 100_000)?;
            let mut trees = Vec::with_capacity(n_trees);
            for _ in 0..n_trees {
                let n_splits = vec_len(&mut r, 1 << 16)?;
                let mut splits = Vec::with_capacity(n_splits);
                for _ in 0..n_splits {
                    splits.push(Split {
                        idx1: r.size()?,
                        idx2: r.size()?,
                        thresh: r.float()? as f32,
                    });
                }
                let n_leaves = vec_len(&mut r, 1 << 17)?;
                if n_leaves != n_splits + 1 {
                    return Err(r.error("a tree needs one more leaf than splits"));
                }
                let mut leaves = Vec::with_capacity(n_leaves);
                for _ in 0..n_leaves {
                    let (_, _, v) = r.float_matrix()?;
                    if v.len() != initial_shape.len() {
                        return Err(r.error("leaf size differs from the shape size"));
                    }
                    leaves.push(v);
                }
                trees.push(Tree { splits, leaves });
            }
            forests.push(trees);
        }
        let n = vec_len(&mut r, 1000)?;
        let mut anchor_idx = Vec::with_capacity(n);
        for _ in 0..n {
            let m = vec_len(&mut r, 1 << 20)?;
            let mut v = Vec::with_capacity(m);
            for _ in 0..m {
                let a = r.size()?;
                if a >= initial_shape.len() / 2 {
                    return Err(r.error("anchor index out of range"));
                }
                v.push(a);
            }
            anchor_idx.push(v);
        }
        let n = vec_len(&mut r, 1000)?;
        let mut deltas = Vec::with_capacity(n);
        for _ in 0..n {
            let m = vec_len(&mut r, 1 << 20)?;
            let mut v = Vec::with_capacity(m);
            for _ in 0..m {
                v.push([r.float()? as f32, r.float()? as f32]);
            }
            deltas.push(v);
        }
        if anchor_idx.len() != forests.len() || deltas.len() != forests.len() {
            return Err(r.error("forest, anchor and delta counts differ"));
        }
        for (f, (a, d)) in forests.iter().zip(anchor_idx.iter().zip(&deltas)) {
            if a.len() != d.len()
                || f.iter().any(|t| {
                    t.splits
                        .iter()
                        .any(|s| s.idx1 >= a.len() || s.idx2 >= a.len())
                })
            {
                return Err(r.error("split feature index out of range"));
            }
        }
        if !r.at_end() {
            return Err(r.error("trailing bytes after the shape predictor"));
        }
        Ok(ShapePredictor {
            initial_shape,
            forests,
            anchor_idx,
            deltas,
        })
    }

    pub fn num_parts(&self) -> usize {
        self.initial_shape.len() / 2
    }

    /// Landmarks of the face in `rect`, as integer pixel positions (dlib rounds them).
    pub fn predict(&self, img: &RgbImage, rect: Rect) -> Vec<Point> {
        let mut shape = self.initial_shape.clone();
        // unnormalizing_tform: (0,0) -> top-left, (1,1) -> bottom-right (inclusive corners).
        let (sx, sy) = (
            (rect.right - rect.left) as f64,
            (rect.bottom - rect.top) as f64,
        );
        let to_img = |x: f64, y: f64| (rect.left as f64 + sx * x, rect.top as f64 + sy * y);
        let (w, h) = (img.width() as i64, img.height() as i64);
        let raw = img.as_raw();
        let mut feats: Vec<f32> = Vec::new();
        for (iter, forest) in self.forests.iter().enumerate() {
            let m = similarity_transform(&self.initial_shape, &shape);
            let m = [m[0] as f32, m[1] as f32, m[2] as f32, m[3] as f32];
            feats.clear();
            for (anchor, d) in self.anchor_idx[iter].iter().zip(&self.deltas[iter]) {
                let px = m[0] * d[0] + m[1] * d[1] + shape[anchor * 2];
                let py = m[2] * d[0] + m[3] * d[1] + shape[anchor * 2 + 1];
                let (ix, iy) = to_img(px as f64, py as f64);
                let (ix, iy) = (round_half_up(ix), round_half_up(iy));
                feats.push(if ix >= 0 && iy >= 0 && ix < w && iy < h {
                    let o = ((iy * w + ix) * 3) as usize;
                    // dlib's rgb -> grey: integer mean of the channels.
                    ((raw[o] as u32 + raw[o + 1] as u32 + raw[o + 2] as u32) / 3) as f32
                } else {
                    0.0
                });
            }
            for tree in forest {
                let mut i = 0;
                while i < tree.splits.len() {
                    let s = &tree.splits[i];
                    i = if feats[s.idx1] - feats[s.idx2] > s.thresh {
                        2 * i + 1
                    } else {
                        2 * i + 2
                    };
                }
                for (v, d) in shape.iter_mut().zip(&tree.leaves[i - tree.splits.len()]) {
                    *v += d;
                }
            }
        }
        shape
            .chunks_exact(2)
            .map(|p| {
                let (x, y) = to_img(p[0] as f64, p[1] as f64);
                Point {
                    x: round_half_up(x),
                    y: round_half_up(y),
                }
            })
            .collect()
    }
}

/// dlib converts real coordinates to pixel ones with floor(v + 0.5).
pub(crate) fn round_half_up(v: f64) -> i64 {
    (v + 0.5).floor() as i64
}
