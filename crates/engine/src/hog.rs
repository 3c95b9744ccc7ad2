//! dlib's HOG frontal face detector (`get_frontal_face_detector()`, face_recognition's
//! default): `object_detector<scan_fhog_pyramid<pyramid_down<6>>>` with five linear
//! filters over Felzenszwalb HOG ("fhog") features, scanned over an image pyramid, followed
//! by dlib's greedy non-maximum suppression.

// Bin and lane loops index several parallel arrays, mirroring dlib's code for auditability.
#![allow(clippy::needless_range_loop)]

use crate::dlib_format::DlibReader;
use crate::error::ModelError;
use crate::geometry::Rect;
use crate::pyramid::{pyramid_down6_rgb, pyramid_up2_rgb};
use image::RgbImage;
use rayon::prelude::*;

const PLANES: usize = 31;

/// The loaded detector.
pub struct HogDetector {
    cell_size: usize,
    filter_h: usize,
    filter_w: usize,
    max_levels: usize,
    min_level_w: i64,
    min_level_h: i64,
    iou_thresh: f64,
    covered_thresh: f64,
    /// Per detector: its separable filter bank and threshold (bias).
    filters: Vec<(FilterBank, f64)>,
}

/// dlib's `fhog_filterbank`: each plane's filter as a sum of rank-1 (column × row) terms
/// from its SVD, dropping singular values below max(1e-4, 0.1% of the largest). dlib
/// scans with this approximation whenever it is cheaper, as it is for the face detector,
/// so we do too (scores then agree to ~1e-5, not ~1e-2).
struct FilterBank {
    /// For each plane, its (column filter, row filter) pairs.
    planes: Vec<Vec<(Vec<f32>, Vec<f32>)>>,
}

impl FilterBank {
    fn new(w: &[f64], fh: usize, fw: usize) -> Self {
        let planes = (0..PLANES)
            .map(|p| {
                let f = &w[p * fh * fw..(p + 1) * fh * fw];
                let (u, sv, v) = svd(f, fh, fw);
                let max = sv.iter().cloned().fold(0.0, f64::max);
                let thresh = (max * 0.001).max(1e-4);
                let mut terms = Vec::new();
                for (j, s) in sv.iter().enumerate() {
                    if s.abs() >= thresh {
                        let k = s.sqrt();
                        let col = (0..fh)
                            .map(|i| (u[i * fw.min(fh) + j] * k) as f32)
                            .collect();
                        let row = (0..fw)
                            .map(|i| (v[i * fw.min(fh) + j] * k) as f32)
                            .collect();
                        terms.push((col, row));
                    }
                }
                terms
            })
            .collect();
        FilterBank { planes }
    }
}

/// Thin SVD of a row-major `m × n` matrix (m ≥ n) by one-sided Jacobi: returns
/// U (m × n), singular values (descending) and V (n × n), all row-major.
fn svd(a: &[f64], m: usize, n: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    assert!(m >= n);
    let mut u = a.to_vec();
    let mut v = vec![0.0; n * n];
    for i in 0..n {
        v[i * n + i] = 1.0;
    }
    for _sweep in 0..60 {
        let mut off = 0.0f64;
        for p in 0..n {
            for q in p + 1..n {
                let (mut alpha, mut beta, mut gamma) = (0.0, 0.0, 0.0);
                for i in 0..m {
                    let (x, y) = (u[i * n + p], u[i * n + q]);
                    alpha += x * x;
                    beta += y * y;
                    gamma += x * y;
                }
                if gamma == 0.0 {
                    continue;
                }
                off = off.max(gamma.abs() / (alpha * beta).sqrt().max(f64::MIN_POSITIVE));
                let zeta = (beta - alpha) / (2.0 * gamma);
                let t = zeta.signum() / (zeta.abs() + (1.0 + zeta * zeta).sqrt());
                let t = if zeta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (1.0 + t * t).sqrt();
                let s = c * t;
                for i in 0..m {
                    let (x, y) = (u[i * n + p], u[i * n + q]);
                    u[i * n + p] = c * x - s * y;
                    u[i * n + q] = s * x + c * y;
                }
                for i in 0..n {
                    let (x, y) = (v[i * n + p], v[i * n + q]);
                    v[i * n + p] = c * x - s * y;
                    v[i * n + q] = s * x + c * y;
                }
            }
        }
        if off < 1e-15 {
            break;
        }
    }
    let mut sv: Vec<f64> = (0..n)
        .map(|j| {
            (0..m)
                .map(|i| u[i * n + j] * u[i * n + j])
                .sum::<f64>()
                .sqrt()
        })
        .collect();
    for j in 0..n {
        if sv[j] > 0.0 {
            for i in 0..m {
                u[i * n + j] /= sv[j];
            }
        }
    }
    // Sort columns by singular value, descending.
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| sv[b].total_cmp(&sv[a]));
    let pick = |mat: &[f64], rows: usize| {
        let mut out = vec![0.0; rows * n];
        for i in 0..rows {
            for (jn, &jo) in order.iter().enumerate() {
                out[i * n + jn] = mat[i * n + jo];
            }
        }
        out
    };
    let (u2, v2) = (pick(&u, m), pick(&v, n));
    sv = order.iter().map(|&j| sv[j]).collect();
    (u2, sv, v2)
}

/// One raw detection, in the coordinates of the image given to [`HogDetector::detect`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detection {
    pub rect: Rect,
    pub score: f64,
    pub weight_index: usize,
}

fn div_trunc(a: i64, b: i64) -> i64 {
    a / b // Rust integer division truncates toward zero, like C++
}

impl HogDetector {
    pub fn from_bytes(data: &[u8]) -> Result<Self, ModelError> {
        let mut r = DlibReader::new(data, "hog_frontal_face_detector.svm");
        r.expect_int(2, "object_detector version")?;
        r.expect_int(1, "scan_fhog_pyramid version")?;
        // feats: an empty dlib::array (max_size, size)
        r.size()?;
        if r.size()? != 0 {
            return Err(r.error("saved scanner unexpectedly holds feature images"));
        }
        let cell_size = r.size()?;
        let padding = r.size()? as i64;
        let (ww, wh) = (r.size()? as i64, r.size()? as i64);
        let max_levels = r.size()?;
        let (min_level_w, min_level_h) = (r.size()? as i64, r.size()? as i64);
        r.float()?; // nuclear norm regularisation (training only)
        let dims = r.size()?;
        if cell_size == 0 || cell_size > 64 || ww <= 0 || wh <= 0 {
            return Err(r.error("bad scanner geometry"));
        }
        // compute_fhog_window_size: the window's extent in fhog cells, grown by padding.
        let cs = cell_size as i64;
        let to_fhog = |p: i64| div_trunc(p - 1, cs) - 1;
        let (l, t) = (-(ww / 2), -(wh / 2));
        let (rr, b) = (l + ww - 1, t + wh - 1);
        let filter_w = (to_fhog(rr) - to_fhog(l) + 1 + 2 * padding) as usize;
        let filter_h = (to_fhog(b) - to_fhog(t) + 1 + 2 * padding) as usize;
        if padding != 0 {
            return Err(r.error("only padding 0 scanners are supported"));
        }
        if dims != filter_w * filter_h * PLANES {
            return Err(r.error(format!(
                "{dims} dimensions, expected {}",
                filter_w * filter_h * PLANES
            )));
        }
        let iou_thresh = r.float()?;
        let covered_thresh = r.float()?;
        let n = r.size()?;
        if n == 0 || n > 64 {
            return Err(r.error(format!("{n} detectors")));
        }
        let mut filters = Vec::with_capacity(n);
        for _ in 0..n {
            let (nr, nc, w) = r.float_matrix_f64()?;
            if nr != dims + 1 || nc != 1 {
                return Err(r.error(format!("weight vector {nr}x{nc}, expected {}x1", dims + 1)));
            }
            let bias = w[dims];
            filters.push((FilterBank::new(&w[..dims], filter_h, filter_w), bias));
        }
        if !r.at_end() {
            return Err(r.error("trailing bytes after the detector"));
        }
        Ok(HogDetector {
            cell_size,
            filter_h,
            filter_w,
            max_levels,
            min_level_w,
            min_level_h,
            iou_thresh,
            covered_thresh,
            filters,
        })
    }

    /// face_recognition's `face_detector(img, upsample)`: upsample `upsample` times with
    /// `pyramid_up`, detect with threshold adjustment 0, map boxes back. Boxes are dlib
    /// rectangles (not yet trimmed to the image), strongest first.
    pub fn detect_upsampled(&self, img: &RgbImage, upsample: u32) -> Vec<Detection> {
        if upsample == 0 {
            return self.detect(img, 0.0);
        }
        let mut up = pyramid_up2_rgb(img);
        for _ in 1..upsample {
            up = pyramid_up2_rgb(&up);
        }
        let mut dets = self.detect(&up, 0.0);
        for d in &mut dets {
            // pyramid_down<2>::rect_down, `upsample` times, then round to a rectangle.
            let down = |mut x: f64, off: f64| {
                for _ in 0..upsample {
                    x = x / 2.0 - off;
                }
                (x + 0.5).floor() as i64
            };
            d.rect = Rect {
                left: down(d.rect.left as f64, 1.25),
                top: down(d.rect.top as f64, 0.75),
                right: down(d.rect.right as f64, 1.25),
                bottom: down(d.rect.bottom as f64, 0.75),
            };
        }
        dets
    }

    /// dlib's `object_detector::operator()(img, dets, adjust_threshold)`.
    pub fn detect(&self, img: &RgbImage, adjust_threshold: f64) -> Vec<Detection> {
        // The pyramid: level 0 is the image itself, each next one 5/6 the size, while the
        // (rounded) mapped rectangle stays at least min_level in both sides.
        let mut levels = 0usize;
        let (mut rw, mut rh) = (img.width() as f64 - 1.0, img.height() as f64 - 1.0);
        let (mut l, mut t) = (0.0f64, 0.0f64);
        loop {
            let down = |p: f64| (p - 0.3) * 5.0 / 6.0;
            l = down(l);
            t = down(t);
            rw = down(rw);
            rh = down(rh);
            levels += 1;
            let round = |v: f64| (v + 0.5).floor() as i64;
            let (w, h) = (round(rw) - round(l) + 1, round(rh) - round(t) + 1);
            // dlib assigns the rect back to an integer rectangle each step.
            l = round(l) as f64;
            t = round(t) as f64;
            rw = round(rw) as f64;
            rh = round(rh) as f64;
            if !(w >= self.min_level_w && h >= self.min_level_h && levels < self.max_levels) {
                break;
            }
        }
        // Level by level, keeping only the current image and its features (memory stays
        // near one image's worth); the five filters run in parallel on each level.
        let mut per_filter: Vec<Vec<(f64, Rect)>> = vec![Vec::new(); self.filters.len()];
        let mut current: Option<RgbImage> = None; // None: the original image
        for level in 0..levels {
            if level > 0 {
                current = Some(pyramid_down6_rgb(current.as_ref().unwrap_or(img)));
            }
            let im = current.as_ref().unwrap_or(img);
            let f = fhog(im, self.cell_size, self.filter_h, self.filter_w);
            let found: Vec<Vec<(f64, Rect)>> = self
                .filters
                .par_iter()
                .map(|(bank, bias)| {
                    let thresh = bias + adjust_threshold;
                    let (sal, top, left, bottom, right) = self.saliency(&f, bank);
                    let mut out = Vec::new();
                    for r in top..=bottom {
                        for c in left..=right {
                            let s = sal[r * f.nc + c] as f64;
                            if s >= thresh {
                                out.push((s, self.to_image_rect(r as i64, c as i64, level)));
                            }
                        }
                    }
                    out
                })
                .collect();
            for (acc, mut dets) in per_filter.iter_mut().zip(found) {
                acc.append(&mut dets);
            }
        }
        let mut all = Vec::new();
        for (wi, (mut dets, (_, bias))) in per_filter.into_iter().zip(&self.filters).enumerate() {
            dets.sort_by(|a, b| b.0.total_cmp(&a.0));
            all.extend(dets.into_iter().map(|(s, rect)| Detection {
                rect,
                score: s - bias,
                weight_index: wi,
            }));
        }
        all.sort_by(|a, b| b.score.total_cmp(&a.score));
        let mut kept: Vec<Detection> = Vec::new();
        for d in all {
            if !kept.iter().any(|k| self.overlaps(&k.rect, &d.rect)) {
                kept.push(d);
            }
        }
        kept
    }

    /// dlib's `test_box_overlap`: IoU against the bounding box of both, or either box
    /// mostly covered.
    fn overlaps(&self, a: &Rect, b: &Rect) -> bool {
        let inner = a.intersect(b).area() as f64;
        if inner == 0.0 {
            return false;
        }
        let outer = Rect {
            left: a.left.min(b.left),
            top: a.top.min(b.top),
            right: a.right.max(b.right),
            bottom: a.bottom.max(b.bottom),
        }
        .area() as f64;
        inner / outer > self.iou_thresh
            || inner / a.area() as f64 > self.covered_thresh
            || inner / b.area() as f64 > self.covered_thresh
    }

    /// Map a saliency position at a pyramid level to an image rectangle.
    fn to_image_rect(&self, r: i64, c: i64, level: usize) -> Rect {
        let (bw, bh) = (self.filter_w as i64, self.filter_h as i64);
        // centered_rect(point(c, r), w, h)
        let (l, t) = (c - bw / 2, r - bh / 2);
        let (rr, b) = (l + bw - 1, t + bh - 1);
        let cs = self.cell_size as i64;
        let (offx, offy) = ((bw - 1) / 2, (bh - 1) / 2);
        // fhog_to_image: the offset's signs follow the point's signs.
        let to_img = |x: i64, y: i64| {
            let px = (x + 1 - offx) * cs + 1;
            let py = (y + 1 - offy) * cs + 1;
            let ox = if px >= 0 { cs / 2 } else { -cs / 2 };
            let oy = if py >= 0 { cs / 2 } else { -cs / 2 };
            (px + ox, py + oy)
        };
        let (x0, y0) = to_img(l, t);
        let (x1, y1) = to_img(rr, b);
        // pyramid_down<6>::rect_up, `level` times: p · 6/5 + 0.3, then round.
        let up = |mut v: f64| {
            for _ in 0..level {
                v = v * 6.0 / 5.0 + 0.3;
            }
            (v + 0.5).floor() as i64
        };
        Rect {
            left: up(x0 as f64),
            top: up(y0 as f64),
            right: up(x1 as f64),
            bottom: up(y1 as f64),
        }
    }

    /// Apply one detector's separable filter bank to all planes and sum (dlib's
    /// `float_spatially_filter_image_separable`, accumulated). Returns the saliency image
    /// and its valid area (inclusive bounds).
    fn saliency(&self, f: &Fhog, bank: &FilterBank) -> (Vec<f32>, usize, usize, usize, usize) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            return unsafe { self.saliency_avx2(f, bank) };
        }
        self.saliency_body(f, bank)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn saliency_avx2(
        &self,
        f: &Fhog,
        bank: &FilterBank,
    ) -> (Vec<f32>, usize, usize, usize, usize) {
        self.saliency_body(f, bank)
    }

    // Compiled twice: generic, and with AVX2 so the row/column loops vectorise 8-wide.
    #[inline(always)]
    fn saliency_body(&self, f: &Fhog, bank: &FilterBank) -> (Vec<f32>, usize, usize, usize, usize) {
        let (fh, fw) = (self.filter_h, self.filter_w);
        let (nr, nc) = (f.nr, f.nc);
        let mut out = vec![0f32; nr * nc];
        if nr < fh || nc < fw {
            return (out, 1, 1, 0, 0);
        }
        let (first_r, first_c) = (fh / 2, fw / 2);
        let (last_r, last_c) = (nr - (fh - 1) / 2, nc - (fw - 1) / 2); // exclusive
        let width = last_c - first_c;
        let mut scratch = vec![0f32; nr * width];
        for (p, terms) in bank.planes.iter().enumerate() {
            let plane = &f.data[p * nr * nc..(p + 1) * nr * nc];
            for (col, row) in terms {
                // Rows first: scratch[r][c] = sum_n row[n] * in[r][c - first_c + n].
                for r in 0..nr {
                    let s = &mut scratch[r * width..(r + 1) * width];
                    s.fill(0.0);
                    let irow = &plane[r * nc..(r + 1) * nc];
                    for (n, k) in row.iter().enumerate() {
                        for (o, x) in s.iter_mut().zip(&irow[n..n + width]) {
                            *o += k * x;
                        }
                    }
                }
                // Then columns, adding into the output.
                for r in first_r..last_r {
                    let orow = &mut out[r * nc + first_c..r * nc + first_c + width];
                    for (m, k) in col.iter().enumerate() {
                        let srow =
                            &scratch[(r - first_r + m) * width..(r - first_r + m + 1) * width];
                        for (o, x) in orow.iter_mut().zip(srow) {
                            *o += k * x;
                        }
                    }
                }
            }
        }
        (out, first_r, first_c, last_r - 1, last_c - 1)
    }
}

/// fhog features of one image, planar: 31 planes of `nr × nc` (zero-padded borders).
struct Fhog {
    nr: usize,
    nc: usize,
    data: Vec<f32>,
}

// Unit vectors of the 9 unsigned orientation bins (dlib's table, as f32).
const DIRECTIONS: [(f32, f32); 9] = [
    (1.0000, 0.0000),
    (0.9397, 0.3420),
    (0.7660, 0.6428),
    (0.500, 0.8660),
    (0.1736, 0.9848),
    (-0.1736, 0.9848),
    (-0.5000, 0.8660),
    (-0.7660, 0.6428),
    (-0.9397, 0.3420),
];

/// Keep, per column in `lo..hi`, the channel gradient with the larger squared length
/// (`ties`: an equal length replaces, as in dlib's SIMD columns). Zipped slices, no bounds
/// checks, so it vectorises with blends; inlined into the AVX2 build of `fhog_body`.
#[inline(always)]
#[allow(clippy::type_complexity)]
fn select_channel(
    lo: usize,
    hi: usize,
    ties: bool,
    (gx, gy, len): (&mut [i32], &mut [i32], &mut [i32]),
    (above, row, below): (&[i32], &[i32], &[i32]),
) {
    if lo >= hi {
        return;
    }
    let it = gx[lo..hi]
        .iter_mut()
        .zip(&mut gy[lo..hi])
        .zip(&mut len[lo..hi])
        .zip(row[lo + 1..hi + 1].iter().zip(&row[lo - 1..hi - 1]))
        .zip(below[lo..hi].iter().zip(&above[lo..hi]));
    for ((((gx, gy), len), (r1, l1)), (b, a)) in it {
        let (cgx, cgy) = (r1 - l1, b - a);
        let l = cgx * cgx + cgy * cgy;
        let take = if ties { l >= *len } else { l > *len };
        *gx = if take { cgx } else { *gx };
        *gy = if take { cgy } else { *gy };
        *len = if take { l } else { *len };
    }
}

/// dlib's `extract_fhog_features` (cell size > 1) on an RGB image, with the filter padding
/// that `scan_fhog_pyramid` asks for.
fn fhog(img: &RgbImage, cell_size: usize, pad_rows: usize, pad_cols: usize) -> Fhog {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        return unsafe { fhog_avx2(img, cell_size, pad_rows, pad_cols) };
    }
    fhog_body(img, cell_size, pad_rows, pad_cols)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn fhog_avx2(img: &RgbImage, cell_size: usize, pad_rows: usize, pad_cols: usize) -> Fhog {
    fhog_body(img, cell_size, pad_rows, pad_cols)
}

#[inline(always)]
fn fhog_body(img: &RgbImage, cell_size: usize, pad_rows: usize, pad_cols: usize) -> Fhog {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let cs = cell_size as f32;
    let cells_nr = ((h as f32) / cs + 0.5) as usize;
    let cells_nc = ((w as f32) / cs + 0.5) as usize;
    let hog_nr = cells_nr.saturating_sub(2);
    let hog_nc = cells_nc.saturating_sub(2);
    if hog_nr == 0 || hog_nc == 0 {
        return Fhog {
            nr: 0,
            nc: 0,
            data: Vec::new(),
        };
    }
    let (nr, nc) = (hog_nr + pad_rows - 1, hog_nc + pad_cols - 1);
    let (ro, co) = ((pad_rows - 1) / 2, (pad_cols - 1) / 2);
    // Histograms with a one-cell border all round, 18 bins each.
    let (hr, hc) = (cells_nr + 2, cells_nc + 2);
    let mut hist = vec![0f32; hr * hc * 18];
    let src = img.as_raw();
    let visible_nr = (cells_nr * cell_size).min(h) as i64 - 1;
    let visible_nc = (cells_nc * cell_size).min(w) as i64 - 1;
    // dlib runs blocks of 8 columns through SIMD code and the rest through scalar
    // code; on equal gradient lengths the SIMD code keeps the later channel, the scalar
    // code the earlier one.
    let simd_end = {
        let mut x = 1i64;
        while x < visible_nc - 7 {
            x += 8;
        }
        x as usize
    };
    // Bilinear voting weights depend only on the column (and row): tabulate them.
    let xtab: Vec<(usize, f32)> = (0..w)
        .map(|x| {
            let xp = ((x as f32) + 0.5) / cs - 0.5;
            let ixp = xp.floor();
            ((ixp as i64 + 1) as usize, xp - ixp)
        })
        .collect();
    // Per-row scratch, planar, so every loop below runs over contiguous arrays and
    // vectorises (dlib does this part with explicit SIMD).
    let mut planes = vec![0i32; 9 * w]; // [above, row, below] × [r, g, b]
    let (mut gx, mut gy, mut len) = (vec![0i32; w], vec![0i32; w], vec![0i32; w]);
    let (mut best_dot, mut best_o) = (vec![0f32; w], vec![0u32; w]);
    let end = visible_nc.max(1) as usize;
    let simd_end = simd_end.min(end).max(1);
    for y in 1..visible_nr.max(1) as usize {
        let yp = ((y as f32) + 0.5) / cs - 0.5;
        let iyp = yp.floor() as i64;
        let vy0 = yp - iyp as f32;
        let vy1 = 1.0 - vy0;
        let hy = (iyp + 1) as usize;
        for (i, yy) in [y - 1, y, y + 1].into_iter().enumerate() {
            let srow = &src[yy * w * 3..(yy + 1) * w * 3];
            for ch in 0..3 {
                let dst = &mut planes[(i * 3 + ch) * w..(i * 3 + ch + 1) * w];
                for (d, px) in dst.iter_mut().zip(srow.chunks_exact(3)) {
                    *d = px[ch] as i32;
                }
            }
        }
        len[..end].fill(-1);
        for ch in 0..3 {
            let above = &planes[ch * w..(ch + 1) * w];
            let row = &planes[(3 + ch) * w..(4 + ch) * w];
            let below = &planes[(6 + ch) * w..(7 + ch) * w];
            // The channel with the strongest gradient wins; on equal lengths dlib's SIMD
            // columns keep the later channel, its scalar tail columns the earlier one.
            select_channel(
                1,
                simd_end,
                true,
                (&mut gx, &mut gy, &mut len),
                (above, row, below),
            );
            select_channel(
                simd_end,
                end,
                false,
                (&mut gx, &mut gy, &mut len),
                (above, row, below),
            );
        }
        best_dot[..end].fill(0.0);
        best_o[..end].fill(0);
        for (o, (dx, dy)) in DIRECTIONS.iter().enumerate() {
            let o = o as u32;
            let it = best_dot[1..end]
                .iter_mut()
                .zip(&mut best_o[1..end])
                .zip(gx[1..end].iter().zip(&gy[1..end]));
            for ((bd, bo), (gx, gy)) in it {
                let dot = dx * *gx as f32 + dy * *gy as f32;
                let up = dot > *bd;
                let (d1, o1) = (if up { dot } else { *bd }, if up { o } else { *bo });
                let up = -dot > d1;
                *bd = if up { -dot } else { d1 };
                *bo = if up { o + 9 } else { o1 };
            }
        }
        let hrow = hy * hc * 18;
        for x in 1..end {
            if len[x] <= 0 {
                continue; // no gradient: every vote would be zero
            }
            let v = (len[x] as f32).sqrt();
            let (hx, vx0) = xtab[x];
            let vx1 = 1.0 - vx0;
            let (vx1v, vx0v) = (vx1 * v, vx0 * v);
            let base = hrow + hx * 18 + best_o[x] as usize;
            hist[base] += vy1 * vx1v;
            hist[base + hc * 18] += vy0 * vx1v;
            hist[base + 18] += vy1 * vx0v;
            hist[base + hc * 18 + 18] += vy0 * vx0v;
        }
    }
    // Energy per cell, over contrast-insensitive orientations.
    let mut norm = vec![0f32; cells_nr * cells_nc];
    for r in 0..cells_nr {
        for c in 0..cells_nc {
            let hh = &hist[((r + 1) * hc + c + 1) * 18..][..18];
            let mut s = 0f32;
            for o in 0..9 {
                let v = hh[o] + hh[o + 9];
                s += v * v;
            }
            norm[r * cells_nc + c] = s;
        }
    }
    let mut data = vec![0f32; PLANES * nr * nc];
    let n_at = |r: usize, c: usize| norm[r * cells_nc + c];
    let eps = 0.0001f32;
    let sum4 = |v: [f32; 4]| (v[0] + v[2]) + (v[1] + v[3]);
    for y in 0..hog_nr {
        for x in 0..hog_nc {
            let z1 = [
                n_at(y + 1, x + 1),
                n_at(y, x + 1),
                n_at(y + 1, x),
                n_at(y, x),
            ];
            let z2 = [
                n_at(y + 1, x + 2),
                n_at(y, x + 2),
                n_at(y + 1, x + 1),
                n_at(y, x + 1),
            ];
            let z3 = [
                n_at(y + 2, x + 1),
                n_at(y + 1, x + 1),
                n_at(y + 2, x),
                n_at(y + 1, x),
            ];
            let z4 = [
                n_at(y + 2, x + 2),
                n_at(y + 1, x + 2),
                n_at(y + 2, x + 1),
                n_at(y + 1, x + 1),
            ];
            let mut nn = [0f32; 4];
            let mut n = [0f32; 4];
            for i in 0..4 {
                nn[i] = 0.2 * (z1[i] + z2[i] + z3[i] + z4[i] + eps).sqrt();
                n[i] = 0.1 / nn[i];
            }
            let hh = &hist[((y + 2) * hc + x + 2) * 18..][..18];
            let (yy, xx) = (y + ro, x + co);
            let mut set = |o: usize, v: f32| data[(o * nr + yy) * nc + xx] = v;
            let mut t = [0f32; 4];
            for o in 0..18 {
                let mut h = [0f32; 4];
                for i in 0..4 {
                    h[i] = hh[o].min(nn[i]) * n[i];
                    t[i] += h[i];
                }
                set(o, sum4(h));
            }
            for o in 0..9 {
                let v = hh[o] + hh[o + 9];
                let mut h = [0f32; 4];
                for i in 0..4 {
                    h[i] = v.min(nn[i]) * n[i];
                }
                set(18 + o, sum4(h));
            }
            for i in 0..4 {
                set(27 + i, t[i] * (2.0 * 0.2357));
            }
        }
    }
    Fhog { nr, nc, data }
}
