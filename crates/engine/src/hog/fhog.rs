//! dlib's `extract_fhog_features` (Felzenszwalb HOG, cell size > 1) on planar RGB images,
//! with the filter padding that `scan_fhog_pyramid` asks for.
//!
//! Per pixel: the gradient of the channel with the longest one, its orientation among 18
//! signed bins, and a bilinear vote of its length into the 4 nearest cells. Per cell: 18
//! signed + 9 unsigned orientation features normalised by the 4 surrounding 2×2 blocks
//! (clipped at 0.2), plus 4 texture features. The per-pixel part, the expensive one, is in
//! [`super::votes`]; this file adds its votes up into the histogram, in dlib's order, and
//! turns the histogram into features.

use super::votes::{self, ColumnVotes, RowVotes};
use crate::pyramid::Planes;

pub(crate) const PLANES: usize = 31;

/// Spare floats after the last feature plane, so the filters' SIMD loads may run past a
/// plane's last cell.
pub(crate) const FHOG_PAD: usize = 32;

/// fhog features of one image, planar: 31 planes of `nr × nc` (zero-padded borders),
/// followed by [`FHOG_PAD`] zeros.
pub(crate) struct Fhog {
    pub nr: usize,
    pub nc: usize,
    pub data: Vec<f32>,
}

impl Fhog {
    fn empty() -> Self {
        Fhog {
            nr: 0,
            nc: 0,
            data: vec![0.0; FHOG_PAD],
        }
    }

    /// Plane `p` and everything after it (for loads that may pass the plane's end).
    pub fn plane_padded(&self, p: usize) -> &[f32] {
        &self.data[p * self.nr * self.nc..]
    }
}

/// The image's geometry in cells, and the histogram it votes into.
pub(crate) struct CellGrid {
    pub cell_size: usize,
    pub cells_nr: usize,
    pub cells_nc: usize,
    /// Histogram rows and columns: the cells plus a one-cell border all round.
    pub hr: usize,
    pub hc: usize,
    /// Last pixel row/column (inclusive) whose gradient is computed.
    pub visible_nr: i64,
    pub visible_nc: i64,
    /// First column of dlib's scalar tail (blocks of 8 columns before it go through its
    /// SIMD code, which breaks channel ties the other way).
    pub simd_end: usize,
}

impl CellGrid {
    pub fn new(w: usize, h: usize, cell_size: usize) -> Option<Self> {
        let cs = cell_size as f32;
        let cells_nr = ((h as f32) / cs + 0.5) as usize;
        let cells_nc = ((w as f32) / cs + 0.5) as usize;
        if cells_nr <= 2 || cells_nc <= 2 {
            return None;
        }
        let visible_nr = (cells_nr * cell_size).min(h) as i64 - 1;
        let visible_nc = (cells_nc * cell_size).min(w) as i64 - 1;
        let mut x = 1i64;
        while x < visible_nc - 7 {
            x += 8;
        }
        Some(CellGrid {
            cell_size,
            cells_nr,
            cells_nc,
            hr: cells_nr + 2,
            hc: cells_nc + 2,
            visible_nr,
            visible_nc,
            simd_end: x as usize,
        })
    }

    /// Columns 1..end have gradients.
    pub fn end(&self) -> usize {
        self.visible_nc.max(1) as usize
    }

    /// Bilinear voting position of a pixel column (or row): the cell it votes into (with
    /// the border offset) and its fractional weight towards the next cell.
    pub fn vote_position(&self, x: usize) -> (usize, f32) {
        let xp = ((x as f32) + 0.5) / self.cell_size as f32 - 0.5;
        let ixp = xp.floor();
        ((ixp as i64 + 1) as usize, xp - ixp)
    }
}

/// Two histogram rows, interleaved: bin k of row `row` at 2k, of row `row + 1` at 2k + 1.
/// A pixel row votes into exactly two histogram rows, so each of its votes for one cell is
/// one two-float addition instead of two scalar ones. Pixel rows reach the histogram rows
/// in order, so a row is final once the pixels move past it: it is appended to the
/// histogram then, which is thus built without first being cleared. The additions are the
/// same, in the same order, so the histogram is too.
struct PairRows {
    row: usize,
    data: Vec<f32>,
}

impl PairRows {
    /// Starts at histogram row `row`; the rows before it get no votes.
    fn new(row: usize, hc18: usize, hist: &mut Vec<f32>) -> Self {
        hist.clear();
        hist.resize(row * hc18, 0.0);
        PairRows {
            row,
            data: vec![0.0; 2 * hc18],
        }
    }

    /// Moves on to rows `row` and `row + 1`, appending the rows left behind to `hist`.
    fn move_to(&mut self, row: usize, hist: &mut Vec<f32>) {
        while self.row < row {
            // The first row out, the second row into its place, zeros into the second's.
            hist.extend(self.data.chunks_exact_mut(2).map(|d| {
                let first = d[0];
                (d[0], d[1]) = (d[1], 0.0);
                first
            }));
            self.row += 1;
        }
    }

    /// Appends both rows, then the rows after them (no votes), up to `rows` rows.
    fn finish(self, hist: &mut Vec<f32>, rows: usize, hc18: usize) {
        hist.extend(self.data.chunks_exact(2).map(|d| d[0]));
        hist.extend(self.data.chunks_exact(2).map(|d| d[1]));
        assert!(hist.len() <= rows * hc18, "votes below the histogram");
        hist.resize(rows * hc18, 0.0);
    }
}

/// Buffers that one detection reuses from pyramid level to level: the levels only
/// shrink, so after the first one nothing is allocated or cleared.
#[derive(Default)]
pub(crate) struct FhogBuffers {
    hist: Vec<f32>,
    features: Vec<f32>,
}

impl FhogBuffers {
    /// Takes back a level's features buffer for the next level.
    pub fn recycle(&mut self, f: Fhog) {
        self.features = f.data;
    }
}

/// `dst[0..2] += w[0..2]`, lane by lane.
///
/// # Safety
/// Both pointers are valid for two floats.
#[inline(always)]
unsafe fn add_pair(dst: *mut f32, w: *const f32) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::*;
        // 8-byte loads and store; the upper lanes add zeros and are dropped.
        let sum = _mm_add_ps(
            _mm_castpd_ps(_mm_load_sd(dst as *const f64)),
            _mm_castpd_ps(_mm_load_sd(w as *const f64)),
        );
        _mm_store_sd(dst as *mut f64, _mm_castps_pd(sum));
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        *dst += *w;
        *dst.add(1) += *w.add(1);
    }
}

/// fhog features of a planar RGB image, computed in `bufs` (the returned features own
/// `bufs`' features buffer until [`FhogBuffers::recycle`] gives it back).
pub(crate) fn fhog_planes_with(
    img: &Planes,
    cell_size: usize,
    (pad_rows, pad_cols): (usize, usize),
    bufs: &mut FhogBuffers,
) -> Fhog {
    let (w, h) = (img.w, img.h);
    let Some(grid) = CellGrid::new(w, h, cell_size) else {
        return Fhog::empty();
    };
    let hist = &mut bufs.hist;
    let end = grid.end();
    let simd_end = grid.simd_end.min(end).max(1);
    let mut cols = ColumnVotes {
        base: vec![0; w],
        vx0: vec![0.0; w],
        vx1: vec![0.0; w],
    };
    for x in 0..w {
        let (hx, vx0) = grid.vote_position(x);
        cols.base[x] = (hx * 18) as u32;
        cols.vx0[x] = vx0;
        cols.vx1[x] = 1.0 - vx0;
    }
    let mut votes = RowVotes {
        idx: vec![0; w],
        own: vec![0.0; 2 * w],
        next: vec![0.0; 2 * w],
    };
    let mut pair = PairRows::new(grid.vote_position(1).0, grid.hc * 18, hist);
    let planes = [img.plane(0), img.plane(1), img.plane(2)];
    let hc18 = grid.hc * 18;
    for y in 1..grid.visible_nr.max(1) as usize {
        let rows: [[&[u8]; 3]; 3] = std::array::from_fn(|ch| {
            std::array::from_fn(|i| &planes[ch][(y - 1 + i) * w..(y + i) * w])
        });
        let (hy, vy0) = grid.vote_position(y);
        let vy = (vy0, 1.0 - vy0);
        votes::row_votes(&rows, simd_end, end, &cols, vy, &mut votes);
        pair.move_to(hy, hist);
        // Every vote lands inside the pair rows: bins are < 18 and the last column's cell
        // is at most the second-to-last histogram column. Checked once here, so the loop
        // needs no checks.
        assert!(2 * (cols.base[end - 1] as usize + 17 + 18) + 1 < pair.data.len());
        let (idx, own, next) = (
            &votes.idx[..end],
            &votes.own[..2 * end],
            &votes.next[..2 * end],
        );
        let dst = pair.data.as_mut_ptr();
        // No branch on "no gradient": its weights are +0, and adding +0 changes nothing.
        for x in 1..end {
            let i = 2 * idx[x] as usize;
            // SAFETY: i + 37 ≤ 2 · (base[end - 1] + 17 + 18) + 1 (bases grow with x),
            // asserted above; 2x + 1 < 2 · end.
            unsafe {
                add_pair(dst.add(i), own.as_ptr().add(2 * x));
                add_pair(dst.add(i + 36), next.as_ptr().add(2 * x));
            }
        }
    }
    pair.finish(hist, grid.hr, hc18);
    features(
        &grid,
        hist,
        (pad_rows, pad_cols),
        std::mem::take(&mut bufs.features),
    )
}

/// Cell histograms → the 31 feature planes (dlib's normalisation), laid out with the
/// filter padding: `pad_rows - 1` extra rows and `pad_cols - 1` extra columns of zeros,
/// split around the features as dlib does.
pub(crate) fn features(
    grid: &CellGrid,
    hist: &[f32],
    (pad_rows, pad_cols): (usize, usize),
    mut data: Vec<f32>,
) -> Fhog {
    let (cells_nr, cells_nc, hc) = (grid.cells_nr, grid.cells_nc, grid.hc);
    let (hog_nr, hog_nc) = (cells_nr - 2, cells_nc - 2);
    let (nr, nc) = (hog_nr + pad_rows - 1, hog_nc + pad_cols - 1);
    let (ro, co) = ((pad_rows - 1) / 2, (pad_cols - 1) / 2);
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
    // `data` may hold an earlier level's features: every cell inside is written below,
    // the padding around them is cleared here.
    data.resize(PLANES * nr * nc + FHOG_PAD, 0.0);
    for plane in data.chunks_exact_mut(nr * nc).take(PLANES) {
        plane[..ro * nc].fill(0.0);
        plane[(ro + hog_nr) * nc..].fill(0.0);
        for row in plane[ro * nc..(ro + hog_nr) * nc].chunks_exact_mut(nc) {
            row[..co].fill(0.0);
            row[co + hog_nc..].fill(0.0);
        }
    }
    data[PLANES * nr * nc..].fill(0.0);
    let n_at = |r: usize, c: usize| norm[r * cells_nc + c];
    let eps = 0.0001f32;
    let sum4 = |v: [f32; 4]| (v[0] + v[2]) + (v[1] + v[3]);
    #[cfg(target_arch = "x86_64")]
    let avx2 = std::arch::is_x86_feature_detected!("avx2");
    #[cfg(not(target_arch = "x86_64"))]
    let avx2 = false;
    let mut hist_t = vec![0f32; if avx2 { 18 * hog_nc } else { 0 }];
    for y in 0..hog_nr {
        let mut x_done = 0;
        #[cfg(target_arch = "x86_64")]
        if avx2 && hog_nc >= 8 {
            // Bin-major copy of the row's histograms, so 8 cells' bin o are one load.
            for x in 0..hog_nc {
                let hh = &hist[((y + 2) * hc + x + 2) * 18..][..18];
                for o in 0..18 {
                    hist_t[o * hog_nc + x] = hh[o];
                }
            }
            let norm_rows: [&[f32]; 3] =
                std::array::from_fn(|i| &norm[(y + i) * cells_nc..(y + i + 1) * cells_nc]);
            // SAFETY: AVX2 is available; the kernel reads cells x..x+10 ≤ cells_nc of each
            // norm row and x..x+8 ≤ hog_nc of each hist_t row, and writes feature row
            // y + ro, columns co + x..co + x + 8 ≤ nc, of each plane.
            x_done = unsafe {
                feature_row_avx2(
                    norm_rows,
                    &hist_t,
                    hog_nc,
                    &mut data,
                    (nr, nc),
                    (y + ro, co),
                )
            };
        }
        for x in x_done..hog_nc {
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

/// [`features`] for one row of cells, 8 cells at a time while they fit; returns the first
/// cell it did not do. The same f32 operations in the same order as the scalar code (no
/// FMA; min, sqrt and division are exactly rounded in both), so the same features.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn feature_row_avx2(
    norm_rows: [&[f32]; 3],
    hist_t: &[f32],
    hog_nc: usize,
    data: &mut [f32],
    (nr, nc): (usize, usize),
    (yy, co): (usize, usize),
) -> usize {
    use std::arch::x86_64::*;
    let eps = _mm256_set1_ps(0.0001);
    let (c02, c01) = (_mm256_set1_ps(0.2), _mm256_set1_ps(0.1));
    let texture = _mm256_set1_ps(2.0 * 0.2357);
    let out = data.as_mut_ptr();
    let mut x = 0;
    while x + 8 <= hog_nc {
        // n(a, b): the norms of cells (y + a, x + b) for the 8 cells.
        let n = |a: usize, b: usize| _mm256_loadu_ps(norm_rows[a].as_ptr().add(x + b));
        let z = |p: [(usize, usize); 4]| {
            let s = _mm256_add_ps(n(p[0].0, p[0].1), n(p[1].0, p[1].1));
            let s = _mm256_add_ps(_mm256_add_ps(s, n(p[2].0, p[2].1)), n(p[3].0, p[3].1));
            _mm256_mul_ps(c02, _mm256_sqrt_ps(_mm256_add_ps(s, eps)))
        };
        // The scalar code's z1[i] + z2[i] + z3[i] + z4[i] for i = 0..4.
        let nn = [
            z([(1, 1), (1, 2), (2, 1), (2, 2)]),
            z([(0, 1), (0, 2), (1, 1), (1, 2)]),
            z([(1, 0), (1, 1), (2, 0), (2, 1)]),
            z([(0, 0), (0, 1), (1, 0), (1, 1)]),
        ];
        let inv = nn.map(|v| _mm256_div_ps(c01, v));
        let store = |o: usize, v: __m256| _mm256_storeu_ps(out.add((o * nr + yy) * nc + co + x), v);
        let h4 = |v: __m256| {
            let h: [__m256; 4] =
                std::array::from_fn(|i| _mm256_mul_ps(_mm256_min_ps(v, nn[i]), inv[i]));
            (
                h,
                _mm256_add_ps(_mm256_add_ps(h[0], h[2]), _mm256_add_ps(h[1], h[3])),
            )
        };
        let mut t = [_mm256_setzero_ps(); 4];
        for o in 0..18 {
            let (h, sum) = h4(_mm256_loadu_ps(hist_t.as_ptr().add(o * hog_nc + x)));
            for i in 0..4 {
                t[i] = _mm256_add_ps(t[i], h[i]);
            }
            store(o, sum);
        }
        for o in 0..9 {
            let v = _mm256_add_ps(
                _mm256_loadu_ps(hist_t.as_ptr().add(o * hog_nc + x)),
                _mm256_loadu_ps(hist_t.as_ptr().add((o + 9) * hog_nc + x)),
            );
            store(18 + o, h4(v).1);
        }
        for i in 0..4 {
            store(27 + i, _mm256_mul_ps(t[i], texture));
        }
        x += 8;
    }
    x
}
