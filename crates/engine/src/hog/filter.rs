//! One detector's filter over fhog features: dlib's `float_spatially_filter_image_separable`
//! for each rank-1 term of each plane, summed into one saliency image.
//!
//! Each term is a row pass (10 taps along the row) into a scratch image, then a column pass
//! (10 taps down the column) added into the output. Both passes keep 8 outputs in a
//! register while they run through the taps, so each output is loaded and stored once per
//! term instead of once per tap; on CPUs with FMA the multiply-adds are fused (scores then
//! differ from dlib's by ~1e-6, far below what moves a box).

use super::fhog::Fhog;
use super::FilterBank;

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

pub(crate) fn saliency(f: &Fhog, bank: &FilterBank, fh: usize, fw: usize) -> Saliency {
    let (nr, nc) = (f.nr, f.nc);
    if nr < fh || nc < fw {
        return Saliency {
            rows: 0,
            cols: 0,
            first_r: 0,
            first_c: 0,
            stride: 0,
            data: Vec::new(),
        };
    }
    let (rows, cols) = (nr - fh + 1, nc - fw + 1);
    let stride = cols.div_ceil(8) * 8;
    let mut s = Saliency {
        rows,
        cols,
        first_r: fh / 2,
        first_c: fw / 2,
        stride,
        data: vec![0f32; rows * stride],
    };
    let mut scratch = vec![0f32; nr * stride];
    for (p, terms) in bank.planes.iter().enumerate() {
        let plane = f.plane_padded(p);
        for (col, row) in terms {
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                // SAFETY: AVX2 and FMA are available. Loads read at most 7 floats past a
                // plane row's valid columns (inside FHOG_PAD at the end of the features);
                // stores stay inside rows of `stride` floats.
                unsafe {
                    row_pass_avx2(plane, nc, nr, row, &mut scratch, stride);
                    col_pass_avx2(&scratch, stride, rows, col, &mut s.data);
                }
                continue;
            }
            row_pass(plane, nc, nr, cols, row, &mut scratch, stride);
            col_pass(&scratch, stride, rows, cols, col, &mut s.data);
        }
    }
    s
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

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn col_pass_avx2(scratch: &[f32], stride: usize, rows: usize, k: &[f32], out: &mut [f32]) {
    use std::arch::x86_64::*;
    let kv: Vec<__m256> = k.iter().map(|&k| _mm256_set1_ps(k)).collect();
    let src = scratch.as_ptr();
    let dst = out.as_mut_ptr();
    for r in 0..rows {
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
