//! dlib's image pyramids, bit-exact: `pyramid_down<2>` (5-tap [1 4 6 4 1] filter, integer
//! arithmetic) used by chip extraction.

use image::RgbImage;

/// One level of dlib's `pyramid_down<2>` on an RGB image: output is `(n-3)/2` per side.
pub fn pyramid_down2_rgb(img: &RgbImage) -> RgbImage {
    let (w, h) = (img.width() as usize, img.height() as usize);
    if w <= 8 || h <= 8 {
        return RgbImage::new(0, 0);
    }
    let tw = (w - 3) / 2;
    let (ow, oh) = (tw, (h - 3) / 2);
    let src = img.as_raw();
    // Horizontal pass into u16 (max 16*255), keeping every row.
    let mut temp = vec![0u16; h * tw * 3];
    for r in 0..h {
        let row = &src[r * w * 3..(r + 1) * w * 3];
        for c in 0..tw {
            let oc = 2 * c;
            for ch in 0..3 {
                let p = |i: usize| row[(oc + i) * 3 + ch] as u16;
                temp[(r * tw + c) * 3 + ch] = p(0) + 4 * p(1) + 6 * p(2) + 4 * p(3) + p(4);
            }
        }
    }
    let mut out = RgbImage::new(ow as u32, oh as u32);
    let dst = out.as_mut();
    let mut dr = 0;
    let mut r = 2;
    while r + 2 < h && dr < oh {
        for c in 0..tw {
            for ch in 0..3 {
                let t = |rr: usize| temp[(rr * tw + c) * 3 + ch];
                // dlib accumulates in uint16; the sum peaks at 65280, so it cannot wrap.
                let s = t(r - 2) + 4 * t(r - 1) + 6 * t(r) + 4 * t(r + 1) + t(r + 2);
                dst[(dr * ow + c) * 3 + ch] = (s / 256) as u8;
            }
        }
        dr += 1;
        r += 2;
    }
    out
}

/// dlib's RGB bilinear `resize_image` (the SIMD path it always takes for RGB): rows are
/// computed in f64, columns four at a time in f32 lanes, the tail in f64; values truncate.
/// Column positions depend only on the column, so they are computed once per call,
/// replaying dlib's f32 lane accumulation exactly.
pub fn resize_bilinear_rgb(img: &RgbImage, out_w: usize, out_h: usize) -> RgbImage {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        return unsafe { resize_avx2(img, out_w, out_h) };
    }
    resize_body(img, out_w, out_h)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn resize_avx2(img: &RgbImage, out_w: usize, out_h: usize) -> RgbImage {
    resize_body(img, out_w, out_h)
}

#[inline(always)]
fn resize_body(img: &RgbImage, out_w: usize, out_h: usize) -> RgbImage {
    let (iw, ih) = (img.width() as usize, img.height() as usize);
    let mut out = RgbImage::new(out_w as u32, out_h as u32);
    if out_w == 0 || out_h == 0 || iw == 0 || ih == 0 {
        return out;
    }
    let src = img.as_raw();
    let dst = out.as_mut();
    let x_scale = (iw as f64 - 1.0) / ((out_w as i64 - 1).max(1) as f64);
    let y_scale = (ih as f64 - 1.0) / ((out_h as i64 - 1).max(1) as f64);

    // Column tables: SIMD-covered columns use f32 fractions, the tail f64 ones.
    let mut left = Vec::with_capacity(out_w);
    let mut lr32 = Vec::with_capacity(out_w);
    let x0 = -4.0 * x_scale;
    let step = (4.0 * x_scale) as f32;
    let mut lanes = [
        x0 as f32,
        (x0 + x_scale) as f32,
        (x0 + 2.0 * x_scale) as f32,
        (x0 + 3.0 * x_scale) as f32,
    ];
    let mut c = 0usize;
    loop {
        for l in &mut lanes {
            *l += step;
        }
        let lefts: [i64; 4] = lanes.map(|l| l as i64); // truncation, as cvttps
        if lefts[3] + 1 >= iw as i64 || c + 3 >= out_w {
            break;
        }
        for k in 0..4 {
            left.push(lefts[k] as usize);
            lr32.push(lanes[k] - lefts[k] as f32);
        }
        c += 4;
    }
    let simd_cols = c;
    let mut tail = Vec::with_capacity(out_w - simd_cols);
    let mut x = -x_scale + c as f64 * x_scale;
    while c < out_w {
        x += x_scale;
        let l = x.floor().max(0.0) as usize;
        tail.push((l, (l + 1).min(iw - 1), x - l as f64));
        c += 1;
    }

    let mut y = -y_scale;
    for r in 0..out_h {
        y += y_scale;
        let top = (y.floor() as i64).max(0) as usize;
        let bottom = (top + 1).min(ih - 1);
        let tb = y - top as f64;
        let (tbf, itbf) = (tb as f32, (1.0 - tb) as f32);
        let trow = &src[top * iw * 3..(top + 1) * iw * 3];
        let brow = &src[bottom * iw * 3..(bottom + 1) * iw * 3];
        let orow = &mut dst[r * out_w * 3..(r + 1) * out_w * 3];
        for ((&l, &lr), o) in left.iter().zip(&lr32).zip(orow.chunks_exact_mut(3)) {
            let ilr = 1.0 - lr;
            let (tlf, trf, blf, brf) = (itbf * ilr, itbf * lr, tbf * ilr, tbf * lr);
            let t: &[u8; 6] = trow[l * 3..l * 3 + 6].try_into().expect("6 bytes");
            let b: &[u8; 6] = brow[l * 3..l * 3 + 6].try_into().expect("6 bytes");
            for ch in 0..3 {
                let v = tlf * t[ch] as f32
                    + trf * t[ch + 3] as f32
                    + blf * b[ch] as f32
                    + brf * b[ch + 3] as f32;
                o[ch] = v as i32 as u8;
            }
        }
        for (k, &(l, rr, lr)) in tail.iter().enumerate() {
            let cc = simd_cols + k;
            for ch in 0..3 {
                let g = |row: &[u8], i: usize| row[i * 3 + ch] as f64;
                let v = (1.0 - tb) * ((1.0 - lr) * g(trow, l) + lr * g(trow, rr))
                    + tb * ((1.0 - lr) * g(brow, l) + lr * g(brow, rr));
                orow[cc * 3 + ch] = v.clamp(0.0, 255.0) as u8;
            }
        }
    }
    out
}

/// dlib's `pyramid_down<6>` on RGB: scale by 5/6 (integer sizes) with bilinear resize.
pub fn pyramid_down6_rgb(img: &RgbImage) -> RgbImage {
    let (w, h) = (img.width() as usize, img.height() as usize);
    resize_bilinear_rgb(img, (5 * w) / 6, (5 * h) / 6)
}

/// dlib's `pyramid_up(img)` with `pyramid_down<2>`: the output size comes from mapping the
/// image rectangle up ((p + (1.25, 0.75)) · 2, rounded), i.e. (2h+1) × (2w+2).
pub fn pyramid_up2_rgb(img: &RgbImage) -> RgbImage {
    let (w, h) = (img.width() as f64, img.height() as f64);
    if w == 0.0 || h == 0.0 {
        return RgbImage::new(0, 0);
    }
    let right = ((w - 1.0 + 1.25) * 2.0 + 0.5).floor() as usize;
    let bottom = ((h - 1.0 + 0.75) * 2.0 + 0.5).floor() as usize;
    resize_bilinear_rgb(img, right + 1, bottom + 1)
}

/// An RGB image as three planes (R, G, B), each `w × h` bytes, followed by [`PLANES_PAD`]
/// spare bytes so SIMD code may load 16 bytes starting at any pixel. The HOG scan works on
/// planes: its gradients are per channel, and a planar resize needs no de-interleaving.
#[derive(Clone, Debug)]
pub struct Planes {
    pub w: usize,
    pub h: usize,
    data: Vec<u8>,
}

/// Equal pixels (the spare bytes may hold anything).
impl PartialEq for Planes {
    fn eq(&self, other: &Self) -> bool {
        let n = 3 * self.w * self.h;
        (self.w, self.h) == (other.w, other.h) && self.data[..n] == other.data[..n]
    }
}

impl Eq for Planes {}

/// Bytes after the last plane that SIMD loads may touch.
pub const PLANES_PAD: usize = 32;

impl Planes {
    pub fn new(w: usize, h: usize) -> Self {
        Planes {
            w,
            h,
            data: vec![0; 3 * w * h + PLANES_PAD],
        }
    }

    pub fn from_rgb(img: &RgbImage) -> Self {
        let (w, h) = (img.width() as usize, img.height() as usize);
        let mut p = Planes::new(w, h);
        let n = w * h;
        let (r, rest) = p.data.split_at_mut(n);
        let (g, rest) = rest.split_at_mut(n);
        let b = &mut rest[..n];
        for (((px, r), g), b) in img.as_raw().chunks_exact(3).zip(r).zip(g).zip(b) {
            *r = px[0];
            *g = px[1];
            *b = px[2];
        }
        p
    }

    pub fn to_rgb(&self) -> RgbImage {
        let mut out = RgbImage::new(self.w as u32, self.h as u32);
        let n = self.w * self.h;
        for (i, px) in out.as_mut().chunks_exact_mut(3).enumerate() {
            px[0] = self.data[i];
            px[1] = self.data[n + i];
            px[2] = self.data[2 * n + i];
        }
        out
    }

    /// Makes this a `w × h` image whose pixels are about to be written: a shrinking buffer
    /// keeps its stale pixels (no clearing), a growing one is zero-filled where it grows.
    fn reshape(&mut self, w: usize, h: usize) {
        self.w = w;
        self.h = h;
        self.data.resize(3 * w * h + PLANES_PAD, 0);
    }

    /// Plane `ch` (0 = R, 1 = G, 2 = B).
    pub fn plane(&self, ch: usize) -> &[u8] {
        let n = self.w * self.h;
        &self.data[ch * n..(ch + 1) * n]
    }
}

/// Column tables of dlib's RGB bilinear resize: the SIMD-covered columns (a multiple of 4)
/// with their f32 fractions, and the tail with f64 ones. Shared by the interleaved and the
/// planar resize so both give the same pixels.
struct ResizeColumns {
    left: Vec<usize>,
    lr32: Vec<f32>,
    tail: Vec<(usize, usize, f64)>,
}

impl ResizeColumns {
    fn new(iw: usize, out_w: usize, x_scale: f64) -> Self {
        let mut left = Vec::with_capacity(out_w);
        let mut lr32 = Vec::with_capacity(out_w);
        let x0 = -4.0 * x_scale;
        let step = (4.0 * x_scale) as f32;
        let mut lanes = [
            x0 as f32,
            (x0 + x_scale) as f32,
            (x0 + 2.0 * x_scale) as f32,
            (x0 + 3.0 * x_scale) as f32,
        ];
        let mut c = 0usize;
        loop {
            for l in &mut lanes {
                *l += step;
            }
            let lefts: [i64; 4] = lanes.map(|l| l as i64); // truncation, as cvttps
            if lefts[3] + 1 >= iw as i64 || c + 3 >= out_w {
                break;
            }
            for k in 0..4 {
                left.push(lefts[k] as usize);
                lr32.push(lanes[k] - lefts[k] as f32);
            }
            c += 4;
        }
        let mut tail = Vec::with_capacity(out_w - c);
        let mut x = -x_scale + c as f64 * x_scale;
        while c < out_w {
            x += x_scale;
            let l = x.floor().max(0.0) as usize;
            tail.push((l, (l + 1).min(iw - 1), x - l as f64));
            c += 1;
        }
        ResizeColumns { left, lr32, tail }
    }
}

/// Per block of `width` output columns (8 or 16), where one load of `2 · width` source
/// bytes holds all their left and right pixels: the load's start and the byte indices
/// that pick column k's left pixel (k) and right pixel (width + k). None where the block's
/// pixels span more than one load.
fn byte_gather_blocks(left: &[usize], width: usize) -> Vec<Option<(usize, [u8; 32])>> {
    left.chunks_exact(width)
        .map(|block| {
            let base = block[0];
            (block[width - 1] + 1 - base < 2 * width).then(|| {
                let mut mask = [0u8; 32];
                for (k, &l) in block.iter().enumerate() {
                    mask[k] = (l - base) as u8;
                    mask[width + k] = (l + 1 - base) as u8;
                }
                (base, mask)
            })
        })
        .collect()
}

/// dlib's RGB bilinear resize (exactly [`resize_bilinear_rgb`]'s pixels) on planes.
pub fn resize_planes(img: &Planes, out_w: usize, out_h: usize) -> Planes {
    let mut out = Planes::new(0, 0);
    resize_planes_into(img, &mut out, out_w, out_h);
    out
}

/// [`resize_planes`] into `out`, reusing its buffer: every pixel is written, so a buffer
/// that shrinks is neither freed nor cleared (a pyramid's levels only shrink).
pub fn resize_planes_into(img: &Planes, out: &mut Planes, out_w: usize, out_h: usize) {
    out.reshape(out_w, out_h);
    let out = &mut *out;
    let (iw, ih) = (img.w, img.h);
    if out_w == 0 || out_h == 0 || iw == 0 || ih == 0 {
        out.data.fill(0);
        return;
    }
    let x_scale = (iw as f64 - 1.0) / ((out_w as i64 - 1).max(1) as f64);
    let y_scale = (ih as f64 - 1.0) / ((out_h as i64 - 1).max(1) as f64);
    let cols = ResizeColumns::new(iw, out_w, x_scale);
    let ilr32: Vec<f32> = cols.lr32.iter().map(|lr| 1.0 - lr).collect();
    let simd_cols = cols.left.len();
    // With AVX-512 VBMI: blocks of 16 columns from one 32-byte load and one byte permute;
    // with AVX2, blocks of 8 from one 16-byte load and one byte shuffle.
    #[cfg(target_arch = "x86_64")]
    let vbmi = std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512bw")
        && std::arch::is_x86_feature_detected!("avx512vl")
        && std::arch::is_x86_feature_detected!("avx512vbmi");
    #[cfg(not(target_arch = "x86_64"))]
    let vbmi = false;
    let blocks = byte_gather_blocks(&cols.left[..simd_cols], if vbmi { 16 } else { 8 });
    let (ow, n_in, n_out) = (out_w, iw * ih, out_w * out_h);
    let mut y = -y_scale;
    for r in 0..out_h {
        y += y_scale;
        let top = (y.floor() as i64).max(0) as usize;
        let bottom = (top + 1).min(ih - 1);
        let tb = y - top as f64;
        let (tbf, itbf) = (tb as f32, (1.0 - tb) as f32);
        let mut done = 0;
        #[cfg(target_arch = "x86_64")]
        if vbmi {
            // SAFETY: AVX-512 F/BW/VL/VBMI are available (checked above); the kernel's
            // 32-byte loads stay inside `img.data` thanks to PLANES_PAD, its stores inside
            // row `r` of each plane.
            unsafe {
                resize_row_avx512(
                    img,
                    out,
                    (top, bottom, r),
                    (tbf, itbf),
                    (&cols.lr32, &ilr32, &blocks),
                    &cols.left,
                );
            }
            done = 16 * blocks.len();
        } else if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: AVX2 is available (checked above); the kernel's loads stay inside
            // `img.data` thanks to PLANES_PAD, its stores inside row `r` of each plane.
            unsafe {
                resize_row_avx2(
                    img,
                    out,
                    (top, bottom, r),
                    (tbf, itbf),
                    (&cols.lr32, &ilr32, &blocks),
                    &cols.left,
                );
            }
            done = 8 * blocks.len();
        }
        for ch in 0..3 {
            let src = &img.data[ch * n_in..(ch + 1) * n_in];
            let trow = &src[top * iw..(top + 1) * iw];
            let brow = &src[bottom * iw..(bottom + 1) * iw];
            let orow = &mut out.data[ch * n_out + r * ow..ch * n_out + (r + 1) * ow];
            for c in done..simd_cols {
                let (l, lr, ilr) = (cols.left[c], cols.lr32[c], ilr32[c]);
                let (tlf, trf, blf, brf) = (itbf * ilr, itbf * lr, tbf * ilr, tbf * lr);
                let v = tlf * trow[l] as f32
                    + trf * trow[l + 1] as f32
                    + blf * brow[l] as f32
                    + brf * brow[l + 1] as f32;
                orow[c] = v as i32 as u8;
            }
            for (k, &(l, rr, lr)) in cols.tail.iter().enumerate() {
                let g = |row: &[u8], i: usize| row[i] as f64;
                let v = (1.0 - tb) * ((1.0 - lr) * g(trow, l) + lr * g(trow, rr))
                    + tb * ((1.0 - lr) * g(brow, l) + lr * g(brow, rr));
                orow[simd_cols + k] = v.clamp(0.0, 255.0) as u8;
            }
        }
    }
}

/// Byte indices 0, 4, 8, …, 60 (then zeros): the low byte of each of 16 dwords.
#[cfg(target_arch = "x86_64")]
const LOW_BYTES: [u8; 64] = {
    let mut t = [0u8; 64];
    let mut i = 0;
    while i < 16 {
        t[i] = 4 * i as u8;
        i += 1;
    }
    t
};

/// [`resize_row_avx2`] 16 columns at a time: one 32-byte load and one byte permute fetch a
/// block's left and right source pixels. Same f32 operations in the same order.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi")]
#[allow(clippy::type_complexity)]
unsafe fn resize_row_avx512(
    img: &Planes,
    out: &mut Planes,
    (top, bottom, r): (usize, usize, usize),
    (tbf, itbf): (f32, f32),
    (lr32, ilr32, blocks): (&[f32], &[f32], &[Option<(usize, [u8; 32])>]),
    left: &[usize],
) {
    use std::arch::x86_64::*;
    let (iw, n_in) = (img.w, img.w * img.h);
    let (ow, n_out) = (out.w, out.w * out.h);
    let (t_v, it_v) = (_mm512_set1_ps(tbf), _mm512_set1_ps(itbf));
    let src = img.data.as_ptr();
    let dst = out.data.as_mut_ptr();
    let f = |x: __m128i| _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(x));
    let low_bytes = _mm512_loadu_si512(LOW_BYTES.as_ptr() as *const __m512i);
    for (b, block) in blocks.iter().enumerate() {
        let c0 = 16 * b;
        let lr = _mm512_loadu_ps(lr32.as_ptr().add(c0));
        let ilr = _mm512_loadu_ps(ilr32.as_ptr().add(c0));
        let (tlf, trf) = (_mm512_mul_ps(it_v, ilr), _mm512_mul_ps(it_v, lr));
        let (blf, brf) = (_mm512_mul_ps(t_v, ilr), _mm512_mul_ps(t_v, lr));
        for ch in 0..3 {
            let plane = src.add(ch * n_in);
            let (tp, bp) = (plane.add(top * iw), plane.add(bottom * iw));
            let (tl, tr, bl, br) = match block {
                Some((base, mask)) => {
                    let m = _mm256_loadu_si256(mask.as_ptr() as *const __m256i);
                    let fetch = |p: *const u8| {
                        _mm256_permutexvar_epi8(
                            m,
                            _mm256_loadu_si256(p.add(*base) as *const __m256i),
                        )
                    };
                    let (t, bb) = (fetch(tp), fetch(bp));
                    (
                        f(_mm256_castsi256_si128(t)),
                        f(_mm256_extracti128_si256::<1>(t)),
                        f(_mm256_castsi256_si128(bb)),
                        f(_mm256_extracti128_si256::<1>(bb)),
                    )
                }
                None => {
                    let g = |p: *const u8, d: usize| {
                        let mut v = [0f32; 16];
                        for k in 0..16 {
                            v[k] = *p.add(left[c0 + k] + d) as f32;
                        }
                        _mm512_loadu_ps(v.as_ptr())
                    };
                    (g(tp, 0), g(tp, 1), g(bp, 0), g(bp, 1))
                }
            };
            let v = _mm512_add_ps(
                _mm512_add_ps(
                    _mm512_add_ps(_mm512_mul_ps(tlf, tl), _mm512_mul_ps(trf, tr)),
                    _mm512_mul_ps(blf, bl),
                ),
                _mm512_mul_ps(brf, br),
            );
            // Truncate to integers, then keep each one's low byte: the weights are
            // non-negative and sum to 1 (to rounding), so the values are in 0..=255 and
            // this is the AVX2 kernel's saturating narrowing. (One byte permute: the
            // narrowing instructions that store to memory are slow.)
            let i = _mm512_permutexvar_epi8(low_bytes, _mm512_cvttps_epi32(v));
            _mm_storeu_si128(
                dst.add(ch * n_out + r * ow + c0) as *mut __m128i,
                _mm512_castsi512_si128(i),
            );
        }
    }
}

/// One output row of [`resize_planes`], the blocks of 8 SIMD columns, all three planes:
/// the same f32 products and sums, in the same order, as the scalar code (no FMA), so the
/// pixels are identical. Blocks that one shuffle cannot gather use the scalar formula.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[allow(clippy::type_complexity)]
unsafe fn resize_row_avx2(
    img: &Planes,
    out: &mut Planes,
    (top, bottom, r): (usize, usize, usize),
    (tbf, itbf): (f32, f32),
    (lr32, ilr32, blocks): (&[f32], &[f32], &[Option<(usize, [u8; 32])>]),
    left: &[usize],
) {
    use std::arch::x86_64::*;
    let (iw, n_in) = (img.w, img.w * img.h);
    let (ow, n_out) = (out.w, out.w * out.h);
    let (t_v, it_v) = (_mm256_set1_ps(tbf), _mm256_set1_ps(itbf));
    let src = img.data.as_ptr();
    let dst = out.data.as_mut_ptr();
    for (b, block) in blocks.iter().enumerate() {
        let c0 = 8 * b;
        let lr = _mm256_loadu_ps(lr32.as_ptr().add(c0));
        let ilr = _mm256_loadu_ps(ilr32.as_ptr().add(c0));
        let (tlf, trf) = (_mm256_mul_ps(it_v, ilr), _mm256_mul_ps(it_v, lr));
        let (blf, brf) = (_mm256_mul_ps(t_v, ilr), _mm256_mul_ps(t_v, lr));
        for ch in 0..3 {
            let plane = src.add(ch * n_in);
            let (tp, bp) = (plane.add(top * iw), plane.add(bottom * iw));
            let (tl, tr, bl, br) = match block {
                Some((base, mask)) => {
                    let m = _mm_loadu_si128(mask.as_ptr() as *const __m128i);
                    let t = _mm_shuffle_epi8(_mm_loadu_si128(tp.add(*base) as *const __m128i), m);
                    let bb = _mm_shuffle_epi8(_mm_loadu_si128(bp.add(*base) as *const __m128i), m);
                    let f = |x: __m128i| _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(x));
                    (
                        f(t),
                        f(_mm_srli_si128::<8>(t)),
                        f(bb),
                        f(_mm_srli_si128::<8>(bb)),
                    )
                }
                None => {
                    let g = |p: *const u8, d: usize| {
                        let mut v = [0f32; 8];
                        for k in 0..8 {
                            v[k] = *p.add(left[c0 + k] + d) as f32;
                        }
                        _mm256_loadu_ps(v.as_ptr())
                    };
                    (g(tp, 0), g(tp, 1), g(bp, 0), g(bp, 1))
                }
            };
            let v = _mm256_add_ps(
                _mm256_add_ps(
                    _mm256_add_ps(_mm256_mul_ps(tlf, tl), _mm256_mul_ps(trf, tr)),
                    _mm256_mul_ps(blf, bl),
                ),
                _mm256_mul_ps(brf, br),
            );
            // Truncate to integers, then narrow 32 → 16 → 8 bits (values are in 0..=255).
            let i = _mm256_cvttps_epi32(v);
            let p16 = _mm256_packus_epi32(i, i);
            let p8 = _mm256_packus_epi16(p16, p16);
            let px = _mm_unpacklo_epi32(
                _mm256_castsi256_si128(p8),
                _mm256_extracti128_si256::<1>(p8),
            );
            _mm_storel_epi64(dst.add(ch * n_out + r * ow + c0) as *mut __m128i, px);
        }
    }
}

/// [`pyramid_down6_rgb`] on planes.
pub fn pyramid_down6_planes(img: &Planes) -> Planes {
    resize_planes(img, (5 * img.w) / 6, (5 * img.h) / 6)
}

/// [`pyramid_down6_planes`] into `out`, reusing its buffer.
pub fn pyramid_down6_planes_into(img: &Planes, out: &mut Planes) {
    resize_planes_into(img, out, (5 * img.w) / 6, (5 * img.h) / 6)
}

/// [`pyramid_up2_rgb`] on planes.
pub fn pyramid_up2_planes(img: &Planes) -> Planes {
    let (w, h) = (img.w as f64, img.h as f64);
    if w == 0.0 || h == 0.0 {
        return Planes::new(0, 0);
    }
    let right = ((w - 1.0 + 1.25) * 2.0 + 0.5).floor() as usize;
    let bottom = ((h - 1.0 + 0.75) * 2.0 + 0.5).floor() as usize;
    resize_planes(img, right + 1, bottom + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic noisy image with smooth parts, so both exact-integer and fractional
    /// interpolation results occur.
    fn test_image(w: u32, h: u32, seed: u32) -> RgbImage {
        let mut s = seed.wrapping_mul(2654435761).max(1);
        RgbImage::from_fn(w, h, |x, y| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            let smooth = ((x * 7 + y * 3) % 256) as u8;
            let noise = (s % 256) as u8;
            image::Rgb([
                smooth,
                noise,
                if (x + y) % 5 == 0 { 255 } else { noise / 2 },
            ])
        })
    }

    #[test]
    fn planar_resize_gives_the_interleaved_resize_pixels() {
        for (i, &(w, h)) in [
            (1, 1),
            (3, 2),
            (7, 9),
            (17, 5),
            (64, 48),
            (251, 173),
            (640, 3),
        ]
        .iter()
        .enumerate()
        {
            let img = test_image(w, h, i as u32 + 1);
            let planes = Planes::from_rgb(&img);
            assert_eq!(planes.to_rgb(), img);
            assert_eq!(
                pyramid_down6_planes(&planes).to_rgb(),
                pyramid_down6_rgb(&img),
                "down6 {w}x{h}"
            );
            assert_eq!(
                pyramid_up2_planes(&planes).to_rgb(),
                pyramid_up2_rgb(&img),
                "up2 {w}x{h}"
            );
            // A reused buffer, larger and full of other pixels, ends up the same.
            let mut reused = Planes::from_rgb(&test_image(w * 4 + 3, h * 4 + 1, 99));
            for &(ow, oh) in &[(w * 3 / 2, h), (w / 3 + 1, h / 2 + 1), (w * 4, h * 4)] {
                let want = resize_bilinear_rgb(&img, ow as usize, oh as usize);
                assert_eq!(
                    resize_planes(&planes, ow as usize, oh as usize).to_rgb(),
                    want,
                    "{w}x{h} -> {ow}x{oh}"
                );
                resize_planes_into(&planes, &mut reused, ow as usize, oh as usize);
                assert_eq!(reused.to_rgb(), want, "{w}x{h} -> {ow}x{oh}, reused buffer");
            }
        }
    }
}
