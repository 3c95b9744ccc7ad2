//! The detector's first, straightforward implementation (interleaved RGB rows, one pass
//! per filter tap), kept as the oracle the fast code in `fhog`, `votes` and `filter` is tested
//! against: same features bit for bit, same scores to rounding.

#![allow(clippy::needless_range_loop)]

use super::fhog::{features, CellGrid, Fhog};
use super::votes::DIRECTIONS;
use super::FilterBank;
use image::RgbImage;

/// Keep, per column in `lo..hi`, the channel gradient with the larger squared length
/// (`ties`: an equal length replaces, as in dlib's SIMD columns). Zipped slices, no bounds
/// checks, so it vectorises with blends.
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

pub(super) fn fhog_rgb(img: &RgbImage, cell_size: usize, pad_rows: usize, pad_cols: usize) -> Fhog {
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
            data: vec![0.0; super::fhog::FHOG_PAD],
        };
    }
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
    let grid = CellGrid::new(w, h, cell_size).expect("checked above");
    features(&grid, &hist, (pad_rows, pad_cols), Vec::new())
}

pub(super) fn saliency_reference(
    f: &Fhog,
    bank: &FilterBank,
    fh: usize,
    fw: usize,
) -> (Vec<f32>, usize, usize, usize, usize) {
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
                    let srow = &scratch[(r - first_r + m) * width..(r - first_r + m + 1) * width];
                    for (o, x) in orow.iter_mut().zip(srow) {
                        *o += k * x;
                    }
                }
            }
        }
    }
    (out, first_r, first_c, last_r - 1, last_c - 1)
}

#[cfg(test)]
mod tests {
    use super::super::fhog::{fhog_planes_with, FhogBuffers};
    use super::super::{filter, HogDetector};
    use super::*;
    use crate::imageio::{load_image, LoadOptions};
    use crate::pyramid::{pyramid_down6_planes, pyramid_up2_planes, Planes};
    use std::path::PathBuf;

    fn repo() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    fn detector() -> HogDetector {
        let bytes = std::fs::read(repo().join("models/hog_frontal_face_detector.svm")).unwrap();
        HogDetector::from_bytes(&bytes).unwrap()
    }

    /// Photos of several sizes, up-sampled once as face_recognition does, and a few pyramid
    /// levels of each: the fast fhog gives the reference's features bit for bit, and the
    /// fast filters its scores to rounding. The fast fhog reuses one set of buffers for
    /// everything, as a detection does, so stale values from larger and smaller images
    /// would show.
    #[test]
    fn fast_fhog_and_filters_match_the_reference() {
        let det = detector();
        let (fh, fw) = (det.filter_h, det.filter_w);
        let photos = [
            "fr/examples/obama_small.jpg",
            "fr/examples/two_people.jpg",
            "fr/tests/test_images/obama_partial_face.jpg",
            "dlib/faces/Tom_Cruise_avp_2014_4.jpg",
        ];
        let mut levels_checked = 0;
        let mut bufs = FhogBuffers::default();
        for rel in photos {
            let img = load_image(
                &repo().join("testdata/faces").join(rel),
                &LoadOptions::default(),
            )
            .unwrap_or_else(|e| panic!("{rel}: {e}"));
            let mut planes = pyramid_up2_planes(&Planes::from_rgb(&img));
            for level in 0..4 {
                if level > 0 {
                    planes = pyramid_down6_planes(&planes);
                }
                let rgb = planes.to_rgb();
                let want = fhog_rgb(&rgb, det.cell_size, fh, fw);
                let got = fhog_planes_with(&planes, det.cell_size, (fh, fw), &mut bufs);
                assert_eq!((got.nr, got.nc), (want.nr, want.nc), "{rel} level {level}");
                assert!(
                    got.data == want.data,
                    "{rel} level {level}: fhog features differ"
                );
                let banks: Vec<&FilterBank> = det.filters.iter().map(|(b, _)| b).collect();
                let fast_all = filter::saliencies(&got, &banks, fh, fw);
                for (bank, fast) in banks.iter().zip(&fast_all) {
                    let (sal, top, left, bottom, right) = saliency_reference(&want, bank, fh, fw);
                    assert_eq!((fast.first_r, fast.first_c), (top, left));
                    assert_eq!((fast.rows, fast.cols), (bottom + 1 - top, right + 1 - left));
                    let mut worst = 0f32;
                    for r in 0..fast.rows {
                        for c in 0..fast.cols {
                            let (a, b) = (fast.at(r, c), sal[(top + r) * want.nc + left + c]);
                            worst = worst.max((a - b).abs());
                        }
                    }
                    assert!(
                        worst < 1e-4,
                        "{rel} level {level}: score differs by {worst}"
                    );
                }
                levels_checked += 1;
                bufs.recycle(got);
            }
        }
        assert_eq!(levels_checked, 16);
    }
}
