//! The per-pixel half of fhog: each pixel's gradient (the strongest of the three
//! channels'), its orientation bin among 18 signed ones, and the bilinear votes of its
//! length into the 4 nearest cells, for one pixel row at a time. The AVX-512 and AVX2
//! kernels batch the scalar code's integer and f32 steps without changing them, so every
//! pixel votes in the same bin and with the same weights as in dlib.

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

/// Per pixel row: each column's bilinear votes, ready to add. `idx` is the bin's offset in
/// the histogram row of the pixel's cell (before the row offset); `own` holds, per column,
/// the weights for the pixel's cell in its cell row and the next one, `next` the same for
/// the next cell column (pairs, as fhog's `PairRows` holds the two histogram rows). Zero
/// weights: no gradient.
pub(super) struct RowVotes {
    pub idx: Vec<u32>,
    pub own: Vec<f32>,
    pub next: Vec<f32>,
}

/// Column tables for the votes: a column's cell offset (× 18 bins) and its two weights.
pub(super) struct ColumnVotes {
    pub base: Vec<u32>,
    pub vx0: Vec<f32>,
    pub vx1: Vec<f32>,
}

/// Fills `out` for pixel columns `1..end` of one pixel row: the widest kernel this CPU
/// has while blocks of columns fit, the scalar code for the rest. `rows[ch]` holds
/// channel `ch`'s rows above, at and below the pixel row; columns before `simd_end` break
/// channel ties as dlib's SIMD code does.
pub(super) fn row_votes(
    rows: &[[&[u8]; 3]; 3],
    simd_end: usize,
    end: usize,
    cols: &ColumnVotes,
    vy: (f32, f32),
    out: &mut RowVotes,
) {
    let mut x = 1;
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: AVX-512F is available; the kernel reads columns x-1..=x+16 < w
            // of each row and writes columns x..x+16 ≤ end of `out`.
            x = unsafe { votes_avx512(rows, simd_end, end, cols, vy, out) };
        } else if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: as above, 8 columns at a time.
            x = unsafe { votes_avx2(rows, simd_end, end, cols, vy, out) };
        }
    }
    for x in x..end {
        votes_scalar(rows, x, x < simd_end, cols, vy, out);
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hog::fhog::CellGrid;

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
