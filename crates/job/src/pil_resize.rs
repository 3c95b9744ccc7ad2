//! Pillow's `Image.thumbnail(size, LANCZOS)` on 8-bit RGB images, reproduced to the bit, so
//! that big photos shrink exactly as face_recognition's CLI shrinks them. The `image`
//! crate's Lanczos uses a different kernel window, float arithmetic and pass order: its
//! pixels differ by a few levels, enough to move a distance by 0.01.
//!
//! * `thumbnail` first box-averages by whole factors when a side shrinks by 4× or more
//!   (`reducing_gap=2.0`): Pillow's `libImaging/Reduce.c` ([`reduce`]).
//! * Then `libImaging/Resample.c` ([`resize_lanczos_box`]): per output pixel, a Lanczos-3
//!   kernel stretched by the scale factor, normalised to sum 1, quantised to 22-bit fixed
//!   point; a horizontal and a vertical pass (in Pillow 13's order), each rounding and
//!   clamping to 8 bits.
//!
//! The references (testdata/references/cli.json) come from Pillow 13.0.0.

use facerec_engine::RgbImage;

/// Fixed-point bits of the 8-bit coefficients (Pillow's `PRECISION_BITS`).
const PRECISION_BITS: u32 = 32 - 8 - 2;
/// Lanczos-3 support.
const SUPPORT: f64 = 3.0;

fn sinc(x: f64) -> f64 {
    if x == 0.0 {
        1.0
    } else {
        let x = x * std::f64::consts::PI;
        x.sin() / x
    }
}

fn lanczos(x: f64) -> f64 {
    if (-3.0..3.0).contains(&x) {
        sinc(x) * sinc(x / 3.0)
    } else {
        0.0
    }
}

/// Per output pixel: the first input pixel, and fixed-point weights of the following ones.
struct Coeffs {
    ksize: usize,
    bounds: Vec<(usize, usize)>,
    weights: Vec<i32>,
}

/// `precompute_coeffs` + `normalize_coeffs_8bpc` for the source span `[in0, in1)` of an
/// axis `in_size` pixels long (Pillow keeps the box in C `float`).
fn coeffs(in_size: u32, in0: f32, in1: f32, out_size: u32) -> Coeffs {
    let scale = (in1 - in0) as f64 / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = SUPPORT * filterscale;
    let ksize = support.ceil() as usize * 2 + 1;
    let mut bounds = Vec::with_capacity(out_size as usize);
    let mut weights = vec![0i32; out_size as usize * ksize];
    let mut k = vec![0f64; ksize];
    for xx in 0..out_size as usize {
        let center = in0 as f64 + (xx as f64 + 0.5) * scale;
        let ss = 1.0 / filterscale;
        // C's `(int)` truncates toward zero.
        let xmin = ((center - support + 0.5) as i64).max(0);
        let xmax = ((center + support + 0.5) as i64).min(in_size as i64) - xmin;
        let xmax = xmax.max(0) as usize;
        let mut ww = 0.0;
        for (x, kx) in k.iter_mut().enumerate().take(xmax) {
            let w = lanczos((x as f64 + xmin as f64 - center + 0.5) * ss);
            *kx = w;
            ww += w;
        }
        for (x, kx) in k.iter().enumerate().take(xmax) {
            let w = if ww != 0.0 { kx / ww } else { *kx };
            let fixed = w * (1u32 << PRECISION_BITS) as f64;
            weights[xx * ksize + x] = if w < 0.0 {
                (fixed - 0.5) as i32
            } else {
                (fixed + 0.5) as i32
            };
        }
        bounds.push((xmin as usize, xmax));
    }
    Coeffs {
        ksize,
        bounds,
        weights,
    }
}

/// Round a fixed-point sum to 8 bits, clamping (Pillow's `clip8`).
fn clip8(v: i32) -> u8 {
    (v >> PRECISION_BITS).clamp(0, 255) as u8
}

/// `Image.thumbnail((max, max), Image.LANCZOS)` when it resizes to `out_w`×`out_h`
/// (`Image.resize(size, LANCZOS, reducing_gap=2.0)`).
pub fn thumbnail(img: &RgbImage, out_w: u32, out_h: u32) -> RgbImage {
    let (w, h) = img.dimensions();
    resize_reducing(img, w as f64, h as f64, out_w, out_h)
}

/// `Image.resize((out_w, out_h), LANCZOS, box=(0, 0, box_w, box_h), reducing_gap=2.0)`:
/// what `thumbnail` does after a JPEG `draft` (the box is then the photo's size over the
/// draft scale, which can end half a pixel short of the decoded image's edge).
pub fn resize_reducing(img: &RgbImage, box_w: f64, box_h: f64, out_w: u32, out_h: u32) -> RgbImage {
    const REDUCING_GAP: f64 = 2.0;
    let factor_x = ((box_w / out_w as f64 / REDUCING_GAP) as u32).max(1);
    let factor_y = ((box_h / out_h as f64 / REDUCING_GAP) as u32).max(1);
    if factor_x == 1 && factor_y == 1 {
        return resize_lanczos_box(img, [0.0, 0.0, box_w as f32, box_h as f32], out_w, out_h);
    }
    // The "safe box" around a box that starts at 0 and ends within a pixel of the image's
    // edge is the whole image: reduce all of it, then resample the part of the reduced
    // image that the box maps to.
    let small = reduce(img, factor_x, factor_y);
    let b = [
        0.0,
        0.0,
        (box_w / factor_x as f64) as f32,
        (box_h / factor_y as f64) as f32,
    ];
    resize_lanczos_box(&small, b, out_w, out_h)
}

/// `Image.reduce((fx, fy))`: each output pixel the rounded mean of an fx×fy block; the last
/// column and row average the partial blocks left over.
pub fn reduce(img: &RgbImage, fx: u32, fy: u32) -> RgbImage {
    let (w, h) = img.dimensions();
    let (out_w, out_h) = (w.div_ceil(fx), h.div_ceil(fy));
    let src = img.as_raw();
    let mut out = vec![0u8; out_w as usize * out_h as usize * 3];
    for oy in 0..out_h {
        let (y0, y1) = (oy * fy, ((oy + 1) * fy).min(h));
        for ox in 0..out_w {
            let (x0, x1) = (ox * fx, ((ox + 1) * fx).min(w));
            let n = (x1 - x0) * (y1 - y0);
            // Pillow's `division_UINT32(n, 8)`, computed in C `float`.
            let multiplier = (4_294_967_296.0f32 / (256 * n) as f32) as u32;
            let mut ss = [n / 2; 3];
            for y in y0..y1 {
                let row = &src[(y * w + x0) as usize * 3..][..(x1 - x0) as usize * 3];
                for p in row.chunks_exact(3) {
                    for (s, &v) in ss.iter_mut().zip(p) {
                        *s += v as u32;
                    }
                }
            }
            let o = (oy * out_w + ox) as usize * 3;
            for (d, s) in out[o..o + 3].iter_mut().zip(ss) {
                *d = (s.wrapping_mul(multiplier) >> 24) as u8;
            }
        }
    }
    RgbImage::from_raw(out_w, out_h, out).expect("sized above")
}

/// `Image.resize((out_w, out_h), Image.LANCZOS, box=b)` on an RGB image (`b` in pixels
/// of `img`: left, top, right, bottom), as Pillow 13 does it.
pub fn resize_lanczos_box(img: &RgbImage, b: [f32; 4], out_w: u32, out_h: u32) -> RgbImage {
    let (in_w, in_h) = img.dimensions();
    let horiz = coeffs(in_w, b[0], b[2], out_w);
    let vert = coeffs(in_h, b[1], b[3], out_h);
    let need_horizontal = out_w != in_w || b[0] != 0.0 || b[2] != out_w as f32;
    let need_vertical = out_h != in_h || b[1] != 0.0 || b[3] != out_h as f32;
    // Pillow 13 runs the vertical pass first when the height shrinks by more than twice
    // as many pixels as the width (older Pillows always went horizontal first). The
    // order changes the rounding between the passes, so it must be the same.
    let (dh, dw) = (in_h as i64 - out_h as i64, in_w as i64 - out_w as i64);
    let horizontal_first = !(dh > 0 && dh > dw * 2);
    let mut pixels = img.as_raw().clone();
    let mut width = in_w;
    if horizontal_first {
        // Only the rows the vertical pass reads.
        let first_row = vert.bounds[0].0;
        let last = vert.bounds[out_h as usize - 1];
        let rows = if need_horizontal {
            let rows = first_row..last.0 + last.1;
            pixels = horizontal_pass(&pixels, width, rows.clone(), &horiz);
            width = out_w;
            rows
        } else {
            0..in_h as usize
        };
        if need_vertical {
            pixels = vertical_pass(&pixels, width, rows.start, &vert);
        }
    } else {
        if need_vertical {
            pixels = vertical_pass(&pixels, width, 0, &vert);
        }
        if need_horizontal {
            let rows = pixels.len() / (width as usize * 3);
            pixels = horizontal_pass(&pixels, width, 0..rows, &horiz);
            width = out_w;
        }
    }
    let rows = (pixels.len() / (width as usize * 3)) as u32;
    RgbImage::from_raw(width, rows, pixels).expect("sized by the passes")
}

/// Resample `rows` of an RGB buffer `width` pixels wide to `c`'s output width.
fn horizontal_pass(src: &[u8], width: u32, rows: std::ops::Range<usize>, c: &Coeffs) -> Vec<u8> {
    let (in_stride, out_stride) = (width as usize * 3, c.bounds.len() * 3);
    let half = 1i32 << (PRECISION_BITS - 1);
    let mut out = vec![0u8; out_stride * rows.len()];
    for (y, dst_row) in rows.zip(out.chunks_exact_mut(out_stride)) {
        let src_row = &src[y * in_stride..][..in_stride];
        for (xx, &(xmin, n)) in c.bounds.iter().enumerate() {
            let k = &c.weights[xx * c.ksize..][..n];
            let mut ss = [half; 3];
            let pixels = src_row[xmin * 3..][..n * 3].chunks_exact(3);
            for (p, &w) in pixels.zip(k) {
                for (s, &v) in ss.iter_mut().zip(p) {
                    *s += v as i32 * w;
                }
            }
            for (d, s) in dst_row[xx * 3..][..3].iter_mut().zip(ss) {
                *d = clip8(s);
            }
        }
    }
    out
}

/// Resample an RGB buffer `width` pixels wide to `c`'s output height; `c`'s bounds are
/// rows of the original image, whose row `row0` is the buffer's first.
fn vertical_pass(src: &[u8], width: u32, row0: usize, c: &Coeffs) -> Vec<u8> {
    let stride = width as usize * 3;
    let half = 1i32 << (PRECISION_BITS - 1);
    let mut out = vec![0u8; stride * c.bounds.len()];
    let mut acc = vec![0i32; stride];
    for (yy, (&(ymin, n), dst_row)) in c
        .bounds
        .iter()
        .zip(out.chunks_exact_mut(stride))
        .enumerate()
    {
        // Row by row into one accumulator row (contiguous, so it vectorises): the same
        // integer sums as Pillow's per-pixel loop, in another order, so the same bits.
        acc.fill(half);
        let k = &c.weights[yy * c.ksize..][..n];
        for (y, &w) in k.iter().enumerate() {
            let src_row = &src[(ymin - row0 + y) * stride..][..stride];
            for (a, &v) in acc.iter_mut().zip(src_row) {
                *a += v as i32 * w;
            }
        }
        for (dst, &a) in dst_row.iter_mut().zip(&acc) {
            *dst = clip8(a);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_sum_to_one_in_fixed_point() {
        let c = coeffs(2204, 0.0, 2204.0, 1600);
        for (xx, &(_, n)) in c.bounds.iter().enumerate() {
            let sum: i32 = c.weights[xx * c.ksize..][..n].iter().sum();
            assert!(
                (sum - (1 << PRECISION_BITS)).abs() <= n as i32,
                "{xx}: {sum}"
            );
        }
    }

    #[test]
    fn reduce_averages_blocks_and_partial_edges() {
        let img = RgbImage::from_fn(5, 3, |x, y| [(x * 10 + y) as u8, 7, 255].into());
        let r = reduce(&img, 2, 2);
        assert_eq!(r.dimensions(), (3, 2));
        // Block (0..2, 0..2): 0, 10, 1, 11 → mean 5.5, rounded up by the +n/2 amend.
        assert_eq!(r.get_pixel(0, 0).0, [6, 7, 255]);
        // Last column, one pixel wide: 40, 41 → 40.5 → 41; corner: 42.
        assert_eq!(r.get_pixel(2, 0).0, [41, 7, 255]);
        assert_eq!(r.get_pixel(2, 1).0, [42, 7, 255]);
    }

    #[test]
    fn a_flat_image_stays_flat() {
        let img = RgbImage::from_pixel(97, 61, [200, 10, 0].into());
        let small = thumbnail(&img, 40, 25);
        assert_eq!(small.dimensions(), (40, 25));
        assert!(small.pixels().all(|p| p.0 == [200, 10, 0]));
    }
}
