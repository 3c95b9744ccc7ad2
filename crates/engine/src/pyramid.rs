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
