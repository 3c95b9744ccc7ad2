//! dlib's `extract_fhog_features` (Felzenszwalb HOG, cell size > 1) on planar RGB images,
//! with the filter padding that `scan_fhog_pyramid` asks for.
//!
//! Per pixel: the gradient of the channel with the longest one, its orientation among 18
//! signed bins, and a bilinear vote of its length into the 4 nearest cells. Per cell: 18
//! signed + 9 unsigned orientation features normalised by the 4 surrounding 2×2 blocks
//! (clipped at 0.2), plus 4 texture features. The per-pixel part is the expensive one; its
//! integer and f32 steps are the scalar code's exactly (the AVX2 kernel only batches them),
//! so every pixel votes in the same bin as in dlib.

// Bin and lane loops index several parallel arrays, mirroring dlib's code for auditability.
#![allow(clippy::needless_range_loop)]

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

// Unit vectors of the 9 unsigned orientation bins (dlib's table, as f32).
pub(crate) const DIRECTIONS: [(f32, f32); 9] = [
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

/// Per pixel row: each column's bilinear votes, ready to add. `idx` is the bin's offset in
/// the histogram row of the pixel's cell (before the row offset); `own` holds, per column,
/// the weights for the pixel's cell in its cell row and the next one, `next` the same for
/// the next cell column (pairs, as [`PairRows`] holds the two rows). Zero weights: no
/// gradient.
struct RowVotes {
    idx: Vec<u32>,
    own: Vec<f32>,
    next: Vec<f32>,
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

/// Column tables for the votes: a column's cell offset (× 18 bins) and its two weights.
struct ColumnVotes {
    base: Vec<u32>,
    vx0: Vec<f32>,
    vx1: Vec<f32>,
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
        let mut x = 1;
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: AVX-512F is available; the kernel reads columns x-1..=x+16 < w
                // of each row and writes columns x..x+16 ≤ end of `votes`.
                x = unsafe { votes_avx512(&rows, simd_end, end, &cols, vy, &mut votes) };
            } else if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: as above, 8 columns at a time.
                x = unsafe { votes_avx2(&rows, simd_end, end, &cols, vy, &mut votes) };
            }
        }
        for x in x..end {
            votes_scalar(&rows, x, x < simd_end, &cols, vy, &mut votes);
        }
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

/// dlib's per-pixel steps at column `x`: the strongest channel's gradient, its orientation
/// bin and the bilinear votes of its length. `ties`: an equal length replaces the earlier
/// channel (dlib's SIMD columns) instead of keeping it (its scalar tail).
#[inline(always)]
fn votes_scalar(
    rows: &[[&[u8]; 3]; 3],
    x: usize,
    ties: bool,
    cols: &ColumnVotes,
    (vy0, vy1): (f32, f32),
    out: &mut RowVotes,
) {
    let (mut gx, mut gy, mut len) = (0i32, 0i32, -1i32);
    for ch in rows {
        let [above, row, below] = ch;
        let (cgx, cgy) = (
            row[x + 1] as i32 - row[x - 1] as i32,
            below[x] as i32 - above[x] as i32,
        );
        let l = cgx * cgx + cgy * cgy;
        if (ties && l >= len) || l > len {
            (gx, gy, len) = (cgx, cgy, l);
        }
    }
    let bo = orientation_bin(gx, gy);
    let v = (len as f32).sqrt();
    let (vx1v, vx0v) = (cols.vx1[x] * v, cols.vx0[x] * v);
    out.idx[x] = cols.base[x] + bo;
    out.own[2 * x] = vy1 * vx1v;
    out.own[2 * x + 1] = vy0 * vx1v;
    out.next[2 * x] = vy1 * vx0v;
    out.next[2 * x + 1] = vy0 * vx0v;
}

/// dlib's orientation bin of a gradient: the first of the 18 signed directions with the
/// largest positive dot product, in f32 as dlib computes it (0 for no gradient).
#[inline(always)]
fn orientation_bin(gx: i32, gy: i32) -> u32 {
    let (gxf, gyf) = (gx as f32, gy as f32);
    let (mut bd, mut bo) = (0f32, 0u32);
    for (o, (dx, dy)) in DIRECTIONS.iter().enumerate() {
        let dot = dx * gxf + dy * gyf;
        if dot > bd {
            (bd, bo) = (dot, o as u32);
        }
        if -dot > bd {
            (bd, bo) = (-dot, o as u32 + 9);
        }
    }
    bo
}

/// Gradient components run over -255..=255 (differences of bytes).
const GRADIENT_SPAN: usize = 511;

/// [`orientation_bin`] of every possible gradient, one byte each at
/// `(gy + 255) · 511 + gx + 255`, plus 3 spare bytes so a 4-byte load may start at the
/// last entry. 255 KiB: it stays in L2, and one gather of 16 entries replaces 18
/// dependent compare-and-select steps per block of 16 pixels. Built from
/// [`orientation_bin`] itself, so it is exact by construction.
fn orientation_table() -> &'static [u8] {
    static TABLE: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = Vec::with_capacity(GRADIENT_SPAN * GRADIENT_SPAN + 3);
        for gy in -255..=255 {
            for gx in -255..=255 {
                t.push(orientation_bin(gx, gy) as u8);
            }
        }
        t.extend([0; 3]);
        t
    })
}

/// [`votes_scalar`] for blocks of 16 columns from 1 while they fit before `end`; returns
/// the first column it did not do. Works in f32: the gradients' squared lengths are
/// integers below 2²⁴, so they and their comparisons are exact.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn votes_avx512(
    rows: &[[&[u8]; 3]; 3],
    simd_end: usize,
    end: usize,
    cols: &ColumnVotes,
    (vy0, vy1): (f32, f32),
    out: &mut RowVotes,
) -> usize {
    use std::arch::x86_64::*;
    let load = |p: *const u8| {
        _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(p as *const __m128i)))
    };
    let lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    let simd_end_v = _mm512_set1_epi32(simd_end as i32);
    let (vy0v, vy1v) = (_mm512_set1_ps(vy0), _mm512_set1_ps(vy1));
    let table = orientation_table();
    let (c255, c511) = (_mm512_set1_ps(255.0), _mm512_set1_ps(GRADIENT_SPAN as f32));
    let byte = _mm512_set1_epi32(0xff);
    // Lane j of a, then lane j of b (index 16 + j), for j = 0..8 and j = 8..16.
    let lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    let hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    let mut x = 1;
    while x + 16 <= end {
        // Lanes before simd_end break ties towards the later channel.
        let ties: __mmask16 = _mm512_cmplt_epi32_mask(
            _mm512_add_epi32(lane, _mm512_set1_epi32(x as i32)),
            simd_end_v,
        );
        let (mut gx, mut gy, mut len) = (
            _mm512_setzero_ps(),
            _mm512_setzero_ps(),
            _mm512_set1_ps(-1.0),
        );
        for ch in rows {
            let [above, row, below] = ch;
            let cgx = _mm512_sub_ps(load(row.as_ptr().add(x + 1)), load(row.as_ptr().add(x - 1)));
            let cgy = _mm512_sub_ps(load(below.as_ptr().add(x)), load(above.as_ptr().add(x)));
            let l = _mm512_add_ps(_mm512_mul_ps(cgx, cgx), _mm512_mul_ps(cgy, cgy));
            let gt = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(l, len);
            let ge = _mm512_cmp_ps_mask::<_CMP_GE_OQ>(l, len);
            let take = (ge & ties) | (gt & !ties);
            gx = _mm512_mask_mov_ps(gx, take, cgx);
            gy = _mm512_mask_mov_ps(gy, take, cgy);
            len = _mm512_mask_mov_ps(len, take, l);
        }
        // The bin from the table: (gy + 255) · 511 + gx + 255, exact in f32 (< 2²⁴).
        let at = _mm512_cvtps_epi32(_mm512_add_ps(
            _mm512_mul_ps(_mm512_add_ps(gy, c255), c511),
            _mm512_add_ps(gx, c255),
        ));
        let bo = _mm512_and_si512(
            _mm512_i32gather_epi32::<1>(at, table.as_ptr() as *const i32),
            byte,
        );
        let v = _mm512_sqrt_ps(len);
        let vx1v = _mm512_mul_ps(_mm512_loadu_ps(cols.vx1.as_ptr().add(x)), v);
        let vx0v = _mm512_mul_ps(_mm512_loadu_ps(cols.vx0.as_ptr().add(x)), v);
        let base = _mm512_loadu_si512(cols.base.as_ptr().add(x) as *const __m512i);
        _mm512_storeu_si512(
            out.idx.as_mut_ptr().add(x) as *mut __m512i,
            _mm512_add_epi32(base, bo),
        );
        // Interleaved: this row's weight, then the next row's, per column.
        let pairs = |dst: *mut f32, a: __m512, b: __m512| {
            _mm512_storeu_ps(dst.add(2 * x), _mm512_permutex2var_ps(a, lo, b));
            _mm512_storeu_ps(dst.add(2 * x + 16), _mm512_permutex2var_ps(a, hi, b));
        };
        pairs(
            out.own.as_mut_ptr(),
            _mm512_mul_ps(vy1v, vx1v),
            _mm512_mul_ps(vy0v, vx1v),
        );
        pairs(
            out.next.as_mut_ptr(),
            _mm512_mul_ps(vy1v, vx0v),
            _mm512_mul_ps(vy0v, vx0v),
        );
        x += 16;
    }
    x
}

/// [`votes_scalar`] 8 columns at a time with AVX2 (integer gradients, as the scalar code).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn votes_avx2(
    rows: &[[&[u8]; 3]; 3],
    simd_end: usize,
    end: usize,
    cols: &ColumnVotes,
    (vy0, vy1): (f32, f32),
    out: &mut RowVotes,
) -> usize {
    use std::arch::x86_64::*;
    let load = |p: *const u8| _mm256_cvtepu8_epi32(_mm_loadl_epi64(p as *const __m128i));
    let lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    let simd_end_v = _mm256_set1_epi32(simd_end as i32);
    let sign = _mm256_set1_ps(-0.0);
    let (vy0v, vy1v) = (_mm256_set1_ps(vy0), _mm256_set1_ps(vy1));
    let mut x = 1;
    while x + 8 <= end {
        let ties = _mm256_cmpgt_epi32(
            simd_end_v,
            _mm256_add_epi32(lane, _mm256_set1_epi32(x as i32)),
        );
        let (mut gx, mut gy, mut len) = (
            _mm256_setzero_si256(),
            _mm256_setzero_si256(),
            _mm256_set1_epi32(-1),
        );
        for ch in rows {
            let [above, row, below] = ch;
            let cgx =
                _mm256_sub_epi32(load(row.as_ptr().add(x + 1)), load(row.as_ptr().add(x - 1)));
            let cgy = _mm256_sub_epi32(load(below.as_ptr().add(x)), load(above.as_ptr().add(x)));
            let l = _mm256_add_epi32(_mm256_mullo_epi32(cgx, cgx), _mm256_mullo_epi32(cgy, cgy));
            let gt = _mm256_cmpgt_epi32(l, len);
            let ge = _mm256_or_si256(gt, _mm256_cmpeq_epi32(l, len));
            let take = _mm256_blendv_epi8(gt, ge, ties);
            gx = _mm256_blendv_epi8(gx, cgx, take);
            gy = _mm256_blendv_epi8(gy, cgy, take);
            len = _mm256_blendv_epi8(len, l, take);
        }
        let (gxf, gyf) = (_mm256_cvtepi32_ps(gx), _mm256_cvtepi32_ps(gy));
        // The scalar code tries dot, then -dot, against the best so far, strictly. Only one
        // of them can win, the one that is |dot|, so: compare |dot| once, remember the
        // winner's sign and pick bin o or o + 9 from it at the end. Same bins, fewer steps.
        let (mut bd, mut bo, mut bdot) = (
            _mm256_setzero_ps(),
            _mm256_setzero_si256(),
            _mm256_setzero_ps(),
        );
        for (o, &(dx, dy)) in DIRECTIONS.iter().enumerate() {
            let dot = _mm256_add_ps(
                _mm256_mul_ps(_mm256_set1_ps(dx), gxf),
                _mm256_mul_ps(_mm256_set1_ps(dy), gyf),
            );
            let abs = _mm256_andnot_ps(sign, dot);
            let up = _mm256_cmp_ps::<_CMP_GT_OQ>(abs, bd);
            bd = _mm256_blendv_ps(bd, abs, up);
            bdot = _mm256_blendv_ps(bdot, dot, up);
            bo = _mm256_blendv_epi8(bo, _mm256_set1_epi32(o as i32), _mm256_castps_si256(up));
        }
        // + 9 where the winning dot was negative (its sign bit, shifted down to 0 or -1).
        let negative = _mm256_srai_epi32::<31>(_mm256_castps_si256(bdot));
        bo = _mm256_add_epi32(bo, _mm256_and_si256(negative, _mm256_set1_epi32(9)));
        let v = _mm256_sqrt_ps(_mm256_cvtepi32_ps(len));
        let vx1v = _mm256_mul_ps(_mm256_loadu_ps(cols.vx1.as_ptr().add(x)), v);
        let vx0v = _mm256_mul_ps(_mm256_loadu_ps(cols.vx0.as_ptr().add(x)), v);
        let base = _mm256_loadu_si256(cols.base.as_ptr().add(x) as *const __m256i);
        _mm256_storeu_si256(
            out.idx.as_mut_ptr().add(x) as *mut __m256i,
            _mm256_add_epi32(base, bo),
        );
        // Interleaved: this row's weight, then the next row's, per column.
        let pairs = |dst: *mut f32, a: __m256, b: __m256| {
            let (l, h) = (_mm256_unpacklo_ps(a, b), _mm256_unpackhi_ps(a, b));
            _mm256_storeu_ps(dst.add(2 * x), _mm256_permute2f128_ps::<0x20>(l, h));
            _mm256_storeu_ps(dst.add(2 * x + 8), _mm256_permute2f128_ps::<0x31>(l, h));
        };
        pairs(
            out.own.as_mut_ptr(),
            _mm256_mul_ps(vy1v, vx1v),
            _mm256_mul_ps(vy0v, vx1v),
        );
        pairs(
            out.next.as_mut_ptr(),
            _mm256_mul_ps(vy1v, vx0v),
            _mm256_mul_ps(vy0v, vx0v),
        );
        x += 8;
    }
    x
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every votes kernel this CPU has gives the scalar code's votes, bit for bit, on rows
    /// with every kind of gradient (flat runs, ties between channels, the extremes). The
    /// whole-image tests only reach the widest kernel, so the AVX2 one is checked here.
    #[test]
    fn simd_votes_are_the_scalar_votes() {
        let (w, cell_size) = (203, 8);
        let mut s = 0x9e37_79b9u32;
        let mut next = || {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            s
        };
        let pixels: Vec<Vec<u8>> = (0..9)
            .map(|i| {
                (0..w)
                    .map(|x| match (x / 20 + i) % 4 {
                        0 => 128, // flat: no gradient
                        1 => {
                            if next() % 2 == 0 {
                                0
                            } else {
                                255
                            }
                        } // extremes
                        2 => (x * 3 + i * 7) as u8, // equal gradients per channel
                        _ => next() as u8,
                    })
                    .collect()
            })
            .collect();
        // rows[ch][i] is row i (above, centre, below) of channel ch.
        let rows: [[&[u8]; 3]; 3] =
            std::array::from_fn(|ch| std::array::from_fn(|i| &pixels[ch * 3 + i][..]));
        let grid = CellGrid::new(w, 40, cell_size).unwrap();
        let (end, simd_end) = (grid.end(), grid.simd_end.min(grid.end()));
        let cols = ColumnVotes {
            base: (0..w)
                .map(|x| (grid.vote_position(x).0 * 18) as u32)
                .collect(),
            vx0: (0..w).map(|x| grid.vote_position(x).1).collect(),
            vx1: (0..w).map(|x| 1.0 - grid.vote_position(x).1).collect(),
        };
        let vy = (0.3125, 0.6875);
        let fresh = || RowVotes {
            idx: vec![0; w],
            own: vec![0.0; 2 * w],
            next: vec![0.0; 2 * w],
        };
        let mut want = fresh();
        for x in 1..end {
            votes_scalar(&rows, x, x < simd_end, &cols, vy, &mut want);
        }
        type Kernel = unsafe fn(
            &[[&[u8]; 3]; 3],
            usize,
            usize,
            &ColumnVotes,
            (f32, f32),
            &mut RowVotes,
        ) -> usize;
        let mut kernels: Vec<(&str, Kernel)> = Vec::new();
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                kernels.push(("avx2", votes_avx2));
            }
            if std::arch::is_x86_feature_detected!("avx512f") {
                kernels.push(("avx512", votes_avx512));
            }
        }
        let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        for (name, kernel) in kernels {
            let mut got = fresh();
            // SAFETY: the kernel's CPU features were detected above; its loads stay inside
            // the 203-column rows.
            let x = unsafe { kernel(&rows, simd_end, end, &cols, vy, &mut got) };
            assert!(x > 150, "the {name} kernel did {x} columns");
            for x in x..end {
                votes_scalar(&rows, x, x < simd_end, &cols, vy, &mut got);
            }
            assert_eq!(got.idx, want.idx, "{name}: bins");
            assert_eq!(bits(&got.own), bits(&want.own), "{name}: own-cell weights");
            assert_eq!(
                bits(&got.next),
                bits(&want.next),
                "{name}: next-cell weights"
            );
        }
        // Not vacuous: both zero and non-zero gradients, and several bins, occurred.
        let bins: std::collections::BTreeSet<u32> =
            (1..end).map(|x| want.idx[x] - cols.base[x]).collect();
        assert!(bins.len() >= 10, "bins seen: {bins:?}");
        assert!(want.own.contains(&0.0) && want.own.iter().any(|&v| v > 0.0));
    }

    /// The orientation table is `orientation_bin` at every gradient (spot checks of its
    /// layout; it is built from the function).
    #[test]
    fn orientation_table_is_laid_out_by_gradient() {
        let t = orientation_table();
        assert_eq!(t.len(), GRADIENT_SPAN * GRADIENT_SPAN + 3);
        for (gx, gy) in [
            (0, 0),
            (255, 0),
            (-255, 0),
            (0, 255),
            (3, -7),
            (-255, 255),
            (100, 37),
        ] {
            let at = ((gy + 255) * GRADIENT_SPAN as i32 + gx + 255) as usize;
            assert_eq!(t[at] as u32, orientation_bin(gx, gy), "({gx}, {gy})");
        }
    }
}
