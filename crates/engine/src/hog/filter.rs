//! One detector's filter over fhog features: dlib's `float_spatially_filter_image_separable`
//! for each rank-1 term of each plane, summed into one saliency image.
//!
//! Each term is a row pass (10 taps along the row) into a scratch image, then a column pass
//! (10 taps down the column) added into the output. Both passes keep 8 outputs in a
//! register while they run through the taps, so each output is loaded and stored once per
//! term instead of once per tap; on CPUs with FMA the multiply-adds are fused (scores then
//! differ from dlib's by ~1e-6, far below what moves a box). Work goes in bands of rows,
//! all detectors at once, so the features are read from cache, not memory.

use super::fhog::{Fhog, PLANES};
use super::FilterBank;
use rayon::prelude::*;

/// A saliency image over the positions where the whole filter fits: position (r, c) is the
/// filter centred on fhog cell (first_r + r, first_c + c).
pub(crate) struct Saliency {
    pub rows: usize,
    pub cols: usize,
    pub first_r: usize,
    pub first_c: usize,
    stride: usize,
    data: Vec<f32>,
}

impl Saliency {
    pub fn at(&self, r: usize, c: usize) -> f32 {
        self.data[r * self.stride + c]
    }
}

/// Output rows per band. A band's feature rows (one plane at a time), its scratch and the
/// five detectors' outputs stay in L2 while every term of every detector runs over them;
/// the whole feature image (up to ~20 MB for a large up-sampled photo) would not.
const BAND: usize = 32;

/// Every detector's saliency on one pyramid level, in parallel over bands of rows. Each
/// output is summed in the same order (planes, then terms) whatever the banding.
pub(crate) fn saliencies(f: &Fhog, banks: &[&FilterBank], fh: usize, fw: usize) -> Vec<Saliency> {
    let (nr, nc) = (f.nr, f.nc);
    if nr < fh || nc < fw {
        let empty = || Saliency {
            rows: 0,
            cols: 0,
            first_r: 0,
            first_c: 0,
            stride: 0,
            data: Vec::new(),
        };
        return banks.iter().map(|_| empty()).collect();
    }
    let (rows, cols) = (nr - fh + 1, nc - fw + 1);
    #[cfg(target_arch = "x86_64")]
    let avx2_fma = !std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("fma");
    #[cfg(not(target_arch = "x86_64"))]
    let avx2_fma = false;
    // Rows padded to whole vectors: 16 floats (the AVX-512 kernels' width), 8 with AVX2.
    let lanes = if avx2_fma { 8 } else { 16 };
    let stride = cols.div_ceil(lanes) * lanes;
    let bands: Vec<usize> = (0..rows).step_by(BAND).collect();
    let per_band: Vec<Vec<Vec<f32>>> = bands
        .par_iter()
        .map(|&r0| {
            let band_rows = BAND.min(rows - r0);
            let in_rows = band_rows + fh - 1;
            let mut outs = vec![vec![0f32; band_rows * stride]; banks.len()];
            let most_terms = (0..PLANES)
                .map(|p| banks.iter().map(|b| b.planes[p].len()).sum::<usize>())
                .max()
                .unwrap_or(0);
            // (The AVX2 kernel keeps its intermediate rows in `strip` instead.)
            let scratch_terms = if avx2_fma && fh == 10 && fw == 10 {
                0
            } else {
                most_terms.max(1)
            };
            let mut scratch = vec![vec![0f32; in_rows * stride]; scratch_terms];
            let mut strip = vec![0f32; if avx2_fma { 4 * (stride + 16) } else { 0 }];
            for p in 0..PLANES {
                let plane = &f.plane_padded(p)[r0 * nc..];
                let terms: Vec<(usize, &[f32], &[f32])> = banks
                    .iter()
                    .enumerate()
                    .flat_map(|(i, b)| b.planes[p].iter().map(move |(c, r)| (i, &c[..], &r[..])))
                    .collect();
                #[cfg(target_arch = "x86_64")]
                if fw == 10 && std::arch::is_x86_feature_detected!("avx512f") {
                    let taps: Vec<[f32; 10]> = terms
                        .iter()
                        .map(|t| t.2.try_into().expect("10 taps"))
                        .collect();
                    // SAFETY: AVX-512F is available; loads as in `filter_term`, each term's
                    // stores inside its own scratch of `in_rows × stride` floats.
                    unsafe {
                        row_pass_shared_avx512(plane, nc, in_rows, &taps, &mut scratch, stride);
                        for ((bank, col, _), scratch) in terms.iter().zip(&scratch) {
                            col_pass_avx512(scratch, stride, band_rows, col, &mut outs[*bank]);
                        }
                    }
                    continue;
                }
                #[cfg(target_arch = "x86_64")]
                if fh == 10 && fw == 10 && avx2_fma {
                    for (bank, col, row) in terms {
                        let (col, row) = (col.try_into().expect("10"), row.try_into().expect("10"));
                        // SAFETY: AVX2 and FMA are available; the loads stay inside the
                        // band's plane rows plus FHOG_PAD (see `term_columns_first_avx2`),
                        // the stores inside `strip` and `outs[bank]` (band_rows × stride).
                        unsafe {
                            term_columns_first_avx2(
                                plane,
                                nc,
                                band_rows,
                                (col, row),
                                &mut strip,
                                stride,
                                &mut outs[bank],
                            );
                        }
                    }
                    continue;
                }
                for (bank, col, row) in terms {
                    filter_term(
                        plane,
                        (nc, in_rows, cols),
                        (row, col),
                        &mut scratch[0],
                        stride,
                        &mut outs[bank],
                    );
                }
            }
            outs
        })
        .collect();
    (0..banks.len())
        .map(|i| {
            let mut data = Vec::with_capacity(rows * stride);
            for band in &per_band {
                data.extend_from_slice(&band[i]);
            }
            Saliency {
                rows,
                cols,
                first_r: fh / 2,
                first_c: fw / 2,
                stride,
                data,
            }
        })
        .collect()
}

/// One rank-1 term over a band: the row pass into `scratch`, the column pass added into
/// `out`, with the widest kernels the CPU has.
fn filter_term(
    plane: &[f32],
    (nc, in_rows, cols): (usize, usize, usize),
    (row, col): (&[f32], &[f32]),
    scratch: &mut [f32],
    stride: usize,
    out: &mut [f32],
) {
    let out_rows = in_rows + 1 - col.len();
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: AVX-512F is available. Loads read at most 15 floats past a plane row's
            // valid columns (inside FHOG_PAD at the end of the features); stores stay
            // inside rows of `stride` (a multiple of 16) floats.
            unsafe {
                row_pass_avx512(plane, nc, in_rows, row, scratch, stride);
                col_pass_avx512(scratch, stride, out_rows, col, out);
            }
            return;
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: as above, with 8-float vectors.
            unsafe {
                row_pass_avx2(plane, nc, in_rows, row, scratch, stride);
                col_pass_avx2(scratch, stride, out_rows, col, out);
            }
            return;
        }
    }
    row_pass(plane, nc, in_rows, cols, row, scratch, stride);
    col_pass(scratch, stride, out_rows, cols, col, out);
}

/// scratch[r][c] = Σₙ k[n] · plane[r][c + n].
fn row_pass(
    plane: &[f32],
    nc: usize,
    nr: usize,
    cols: usize,
    k: &[f32],
    scratch: &mut [f32],
    stride: usize,
) {
    for r in 0..nr {
        let irow = &plane[r * nc..(r + 1) * nc];
        let s = &mut scratch[r * stride..r * stride + cols];
        s.fill(0.0);
        for (n, k) in k.iter().enumerate() {
            for (o, x) in s.iter_mut().zip(&irow[n..n + cols]) {
                *o += k * x;
            }
        }
    }
}

/// out[r][c] += Σₘ k[m] · scratch[r + m][c].
fn col_pass(scratch: &[f32], stride: usize, rows: usize, cols: usize, k: &[f32], out: &mut [f32]) {
    for r in 0..rows {
        let orow = &mut out[r * stride..r * stride + cols];
        for (m, k) in k.iter().enumerate() {
            let srow = &scratch[(r + m) * stride..(r + m) * stride + cols];
            for (o, x) in orow.iter_mut().zip(srow) {
                *o += k * x;
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn row_pass_avx2(
    plane: &[f32],
    nc: usize,
    nr: usize,
    k: &[f32],
    scratch: &mut [f32],
    stride: usize,
) {
    use std::arch::x86_64::*;
    let kv: Vec<__m256> = k.iter().map(|&k| _mm256_set1_ps(k)).collect();
    let src = plane.as_ptr();
    let dst = scratch.as_mut_ptr();
    for r in 0..nr {
        let irow = src.add(r * nc);
        let orow = dst.add(r * stride);
        let mut c = 0;
        while c < stride {
            let mut acc = _mm256_setzero_ps();
            for (n, k) in kv.iter().enumerate() {
                acc = _mm256_fmadd_ps(*k, _mm256_loadu_ps(irow.add(c + n)), acc);
            }
            _mm256_storeu_ps(orow.add(c), acc);
            c += 8;
        }
    }
}

/// The column pass four output rows at a time, as [`col_pass_avx512`]: 13 loads feed 40
/// multiply-adds. Each output still adds its taps in order, so the sums are the
/// one-row-at-a-time ones, bit for bit.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn col_pass_avx2(scratch: &[f32], stride: usize, rows: usize, k: &[f32], out: &mut [f32]) {
    use std::arch::x86_64::*;
    let kv: Vec<__m256> = k.iter().map(|&k| _mm256_set1_ps(k)).collect();
    let taps = kv.len();
    let src = scratch.as_ptr();
    let dst = out.as_mut_ptr();
    let mut r = 0;
    if taps == 10 {
        let kv: [__m256; 10] = std::array::from_fn(|m| kv[m]);
        while r + 4 <= rows {
            let mut c = 0;
            while c < stride {
                let o = dst.add(r * stride + c);
                let mut acc = [
                    _mm256_loadu_ps(o),
                    _mm256_loadu_ps(o.add(stride)),
                    _mm256_loadu_ps(o.add(2 * stride)),
                    _mm256_loadu_ps(o.add(3 * stride)),
                ];
                for m in 0..13 {
                    let x = _mm256_loadu_ps(src.add((r + m) * stride + c));
                    // Output row r + j uses scratch row r + m with tap m - j.
                    for (j, a) in acc.iter_mut().enumerate() {
                        if m >= j && m - j < 10 {
                            *a = _mm256_fmadd_ps(kv[m - j], x, *a);
                        }
                    }
                }
                for (j, a) in acc.iter().enumerate() {
                    _mm256_storeu_ps(o.add(j * stride), *a);
                }
                c += 8;
            }
            r += 4;
        }
    }
    for r in r..rows {
        let mut c = 0;
        while c < stride {
            let o = dst.add(r * stride + c);
            let mut acc = _mm256_loadu_ps(o);
            for (m, k) in kv.iter().enumerate() {
                acc = _mm256_fmadd_ps(*k, _mm256_loadu_ps(src.add((r + m) * stride + c)), acc);
            }
            _mm256_storeu_ps(o, acc);
            c += 8;
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn row_pass_avx512(
    plane: &[f32],
    nc: usize,
    nr: usize,
    k: &[f32],
    scratch: &mut [f32],
    stride: usize,
) {
    use std::arch::x86_64::*;
    let kv: Vec<__m512> = k.iter().map(|&k| _mm512_set1_ps(k)).collect();
    let src = plane.as_ptr();
    let dst = scratch.as_mut_ptr();
    for r in 0..nr {
        let irow = src.add(r * nc);
        let orow = dst.add(r * stride);
        let mut c = 0;
        while c < stride {
            let mut acc = _mm512_setzero_ps();
            for (n, k) in kv.iter().enumerate() {
                acc = _mm512_fmadd_ps(*k, _mm512_loadu_ps(irow.add(c + n)), acc);
            }
            _mm512_storeu_ps(orow.add(c), acc);
            c += 16;
        }
    }
}

/// The column pass eight output rows at a time: their taps overlap, so 17 loads feed 80
/// multiply-adds instead of 10 loads feeding 10. The scratch rows come from L2, whose
/// bandwidth, not the multiply-adds, bounds a narrower block. Each output still adds its
/// taps in order, so any blocking gives the same sums.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn col_pass_avx512(scratch: &[f32], stride: usize, rows: usize, k: &[f32], out: &mut [f32]) {
    let mut r = 0;
    if k.len() == 10 {
        let taps: &[f32; 10] = k.try_into().expect("10 taps");
        while r + 8 <= rows {
            col_block_avx512::<8>(scratch, stride, r, taps, out);
            r += 8;
        }
        while r + 4 <= rows {
            col_block_avx512::<4>(scratch, stride, r, taps, out);
            r += 4;
        }
    }
    use std::arch::x86_64::*;
    let src = scratch.as_ptr();
    let dst = out.as_mut_ptr();
    for r in r..rows {
        let mut c = 0;
        while c < stride {
            let o = dst.add(r * stride + c);
            let mut acc = _mm512_loadu_ps(o);
            for (m, &k) in k.iter().enumerate() {
                let x = _mm512_loadu_ps(src.add((r + m) * stride + c));
                acc = _mm512_fmadd_ps(_mm512_set1_ps(k), x, acc);
            }
            _mm512_storeu_ps(o, acc);
            c += 16;
        }
    }
}

/// Output rows r..r + N of a 10-tap column pass, all columns.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn col_block_avx512<const N: usize>(
    scratch: &[f32],
    stride: usize,
    r: usize,
    k: &[f32; 10],
    out: &mut [f32],
) {
    use std::arch::x86_64::*;
    let kv: [__m512; 10] = std::array::from_fn(|m| _mm512_set1_ps(k[m]));
    let src = scratch.as_ptr();
    let dst = out.as_mut_ptr();
    let mut c = 0;
    while c < stride {
        let o = dst.add(r * stride + c);
        let mut acc: [__m512; N] = std::array::from_fn(|j| _mm512_loadu_ps(o.add(j * stride)));
        for m in 0..N + 9 {
            let x = _mm512_loadu_ps(src.add((r + m) * stride + c));
            // Output row r + j uses scratch row r + m with tap m - j.
            for j in 0..N {
                if m >= j && m - j < 10 {
                    acc[j] = _mm512_fmadd_ps(kv[m - j], x, acc[j]);
                }
            }
        }
        for (j, a) in acc.iter().enumerate() {
            _mm512_storeu_ps(o.add(j * stride), *a);
        }
        c += 16;
    }
}

/// The row pass of every term of one plane (all detectors') in one sweep: the 10 shifted
/// input vectors are loaded once and shared by all the terms' multiply-adds.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn row_pass_shared_avx512(
    plane: &[f32],
    nc: usize,
    nr: usize,
    taps: &[[f32; 10]],
    scratch: &mut [Vec<f32>],
    stride: usize,
) {
    use std::arch::x86_64::*;
    let src = plane.as_ptr();
    let dsts: Vec<*mut f32> = scratch.iter_mut().map(|s| s.as_mut_ptr()).collect();
    for r in 0..nr {
        let irow = src.add(r * nc);
        let mut c = 0;
        while c < stride {
            let x: [__m512; 10] = std::array::from_fn(|n| _mm512_loadu_ps(irow.add(c + n)));
            for (k, dst) in taps.iter().zip(&dsts) {
                let mut acc = _mm512_mul_ps(_mm512_set1_ps(k[0]), x[0]);
                for n in 1..10 {
                    acc = _mm512_fmadd_ps(_mm512_set1_ps(k[n]), x[n], acc);
                }
                _mm512_storeu_ps(dst.add(r * stride + c), acc);
            }
            c += 16;
        }
    }
}

/// One rank-1 term over a band with AVX2, columns first: four output rows at a time, the
/// column pass into `strip` (4 × (stride + 16) floats, in L1), then the row pass added into
/// `out`. Against the row-first order of dlib (and of the other kernels) this runs the
/// 10-tap row pass on the band's output rows only, not on the 9 extra input rows each band
/// needs, and keeps the intermediate rows in L1; the sums are the same products added in
/// another order (scores move by ~1e-7, the tests bound them against the reference).
///
/// Loads: plane rows `0..band_rows + 9` at columns `0..stride + 16`, i.e. at most
/// `stride + 15 ≤ nc + 13` floats into a row, inside the next row or FHOG_PAD.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn term_columns_first_avx2(
    plane: &[f32],
    nc: usize,
    band_rows: usize,
    (col, row): (&[f32; 10], &[f32; 10]),
    strip: &mut [f32],
    stride: usize,
    out: &mut [f32],
) {
    use std::arch::x86_64::*;
    let cw = stride + 16;
    debug_assert!(strip.len() >= 4 * cw && out.len() >= band_rows * stride);
    debug_assert!(plane.len() >= (band_rows + 9) * nc + cw - nc);
    let src = plane.as_ptr();
    let tmp = strip.as_mut_ptr();
    let dst = out.as_mut_ptr();
    let kc: [__m256; 10] = std::array::from_fn(|m| _mm256_set1_ps(col[m]));
    let mut r = 0;
    while r < band_rows {
        let n = 4.min(band_rows - r);
        // Column pass: strip[j][c] = Σₘ col[m] · plane[r + j + m][c].
        let mut c = 0;
        while c < cw {
            if n == 4 {
                let mut acc = [_mm256_setzero_ps(); 4];
                for i in 0..13 {
                    let x = _mm256_loadu_ps(src.add((r + i) * nc + c));
                    for (j, a) in acc.iter_mut().enumerate() {
                        if i >= j && i - j < 10 {
                            *a = _mm256_fmadd_ps(kc[i - j], x, *a);
                        }
                    }
                }
                for (j, a) in acc.iter().enumerate() {
                    _mm256_storeu_ps(tmp.add(j * cw + c), *a);
                }
            } else {
                for j in 0..n {
                    let mut a = _mm256_setzero_ps();
                    for (m, k) in kc.iter().enumerate() {
                        a = _mm256_fmadd_ps(*k, _mm256_loadu_ps(src.add((r + j + m) * nc + c)), a);
                    }
                    _mm256_storeu_ps(tmp.add(j * cw + c), a);
                }
            }
            c += 8;
        }
        // Row pass: out[r + j][c] += Σₙ row[n] · strip[j][c + n].
        let kr: [__m256; 10] = std::array::from_fn(|m| _mm256_set1_ps(row[m]));
        for j in 0..n {
            let s = tmp.add(j * cw);
            let o = dst.add((r + j) * stride);
            let mut c = 0;
            while c < stride {
                let mut a = _mm256_loadu_ps(o.add(c));
                for (m, k) in kr.iter().enumerate() {
                    a = _mm256_fmadd_ps(*k, _mm256_loadu_ps(s.add(c + m)), a);
                }
                _mm256_storeu_ps(o.add(c), a);
                c += 8;
            }
        }
        r += 4;
    }
}
