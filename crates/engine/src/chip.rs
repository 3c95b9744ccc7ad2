//! Face-chip alignment exactly as dlib's `get_face_chip_details(shape, 150, 0.25)` +
//! `extract_image_chip`: a similarity transform from five landmarks to a canonical face,
//! then bilinear sampling, from a 2× image pyramid when the face is much larger than the
//! chip (dlib does this to avoid aliasing; skipping it would change the embedding).

use crate::geometry::{similarity_transform_full, Point};
use crate::pyramid::pyramid_down2_rgb;
use image::RgbImage;

/// Where a chip lies in the source image: an axis-aligned rectangle (real corners, dlib's
/// `drectangle`) rotated by `angle` about its centre, sampled to `size`×`size`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChipDetails {
    pub left: f64,
    pub top: f64,
    pub right: f64,
    pub bottom: f64,
    pub angle: f64,
    pub size: u32,
}

// dlib's canonical positions of the 5 landmarks in a unit face box.
const FIVE_POINT_TEMPLATE: [(f64, f64); 5] = [
    (0.8595674595992, 0.2134981538014),
    (0.6460604764104, 0.2289674387677),
    (0.1205750620789, 0.2137274526848),
    (0.3340850613712, 0.2290642403242),
    (0.4901123135679, 0.6277975316475),
];

/// dlib's `get_face_chip_details` for a 5-point shape.
pub fn face_chip_details(parts: &[Point], size: u32, padding: f64) -> ChipDetails {
    assert_eq!(parts.len(), 5, "face chips need the 5-point landmarks");
    let s = size as f64;
    let mut from = Vec::with_capacity(10);
    let mut to = Vec::with_capacity(10);
    for ((tx, ty), p) in FIVE_POINT_TEMPLATE.iter().zip(parts) {
        from.push((padding + tx) / (2.0 * padding + 1.0) * s);
        from.push((padding + ty) / (2.0 * padding + 1.0) * s);
        to.push(p.x as f64);
        to.push(p.y as f64);
    }
    let (m, t) = similarity_transform_full(&from, &to);
    let (px, py) = (m[0], m[2]);
    let angle = py.atan2(px);
    let scale = (px * px + py * py).sqrt();
    let (cx0, cy0) = (s / 2.0, s / 2.0);
    let (cx, cy) = (
        m[0] * cx0 + m[1] * cy0 + t[0],
        m[2] * cx0 + m[3] * cy0 + t[1],
    );
    // centered_drect: dlib shrinks the width by one before centring (inclusive corners).
    let (w, h) = (s * scale - 1.0, s * scale - 1.0);
    ChipDetails {
        left: cx - w / 2.0,
        top: cy - h / 2.0,
        right: cx + w / 2.0,
        bottom: cy + h / 2.0,
        angle,
        size,
    }
}

#[derive(Clone, Copy)]
struct DRect {
    l: f64,
    t: f64,
    r: f64,
    b: f64,
}

impl DRect {
    fn area(&self) -> f64 {
        if self.l > self.r || self.t > self.b {
            0.0
        } else {
            (self.r - self.l + 1.0) * (self.b - self.t + 1.0)
        }
    }
    // pyramid_down<2>::rect_down: each corner p -> p/2 - (1.25, 0.75).
    fn down(&self) -> DRect {
        DRect {
            l: self.l / 2.0 - 1.25,
            t: self.t / 2.0 - 0.75,
            r: self.r / 2.0 - 1.25,
            b: self.b / 2.0 - 0.75,
        }
    }
    fn center(&self) -> (f64, f64) {
        ((self.l + self.r) / 2.0, (self.t + self.b) / 2.0)
    }
}

fn rotate(center: (f64, f64), p: (f64, f64), angle: f64) -> (f64, f64) {
    let (s, c) = angle.sin_cos();
    let (x, y) = (p.0 - center.0, p.1 - center.1);
    (c * x - s * y + center.0, s * x + c * y + center.1)
}

fn round_half_up(v: f64) -> i64 {
    (v + 0.5).floor() as i64
}

/// Cut `img` to the chip `d` (dlib's `extract_image_chip` with bilinear interpolation).
pub fn extract_chip(img: &RgbImage, d: &ChipDetails) -> RgbImage {
    let size = d.size as usize;
    let chip_area = (size * size) as f64;
    let rect = DRect {
        l: d.left,
        t: d.top,
        r: d.right,
        b: d.bottom,
    };
    // The region of the image the chip can touch, grown as dlib grows it per pyramid level.
    let mut depth = 0usize;
    let mut grow = 2.0;
    let mut rd = rect.down();
    while rd.area() > chip_area {
        rd = rd.down();
        depth += 1;
        grow = grow * 2.0 + 2.0;
    }
    let c = rect.center();
    let corners = [
        (rect.l, rect.t),
        (rect.r, rect.t),
        (rect.l, rect.b),
        (rect.r, rect.b),
    ];
    let rot: Vec<(f64, f64)> = corners.iter().map(|p| rotate(c, *p, d.angle)).collect();
    let bl = rot.iter().map(|p| p.0).fold(f64::INFINITY, f64::min) - grow;
    let bt = rot.iter().map(|p| p.1).fold(f64::INFINITY, f64::min) - grow;
    let br = rot.iter().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max) + grow;
    let bb = rot.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max) + grow;
    let (iw, ih) = (img.width() as f64, img.height() as f64);
    let (bl, bt, br, bb) = (bl.max(0.0), bt.max(0.0), br.min(iw - 1.0), bb.min(ih - 1.0));
    let mut chip = RgbImage::new(d.size, d.size);
    if bl > br || bt > bb {
        return chip; // entirely outside the image: dlib leaves it black
    }
    let bbox = (
        round_half_up(bl),
        round_half_up(bt),
        round_half_up(br),
        round_half_up(bb),
    );
    let sub = image::imageops::crop_imm(
        img,
        bbox.0 as u32,
        bbox.1 as u32,
        (bbox.2 - bbox.0 + 1) as u32,
        (bbox.3 - bbox.1 + 1) as u32,
    )
    .to_image();

    let mut r = DRect {
        l: rect.l - bbox.0 as f64,
        t: rect.t - bbox.1 as f64,
        r: rect.r - bbox.0 as f64,
        b: rect.b - bbox.1 as f64,
    };
    let mut source = sub;
    let mut levels = 0usize;
    while r.down().area() > chip_area && levels < depth.max(1) + 8 {
        r = r.down();
        source = pyramid_down2_rgb(&source);
        levels += 1;
    }
    let c = r.center();
    let tl = rotate(c, (r.l, r.t), d.angle);
    let tr = rotate(c, (r.r, r.t), d.angle);
    let blc = rotate(c, (r.l, r.b), d.angle);
    let span = (size - 1) as f64;
    let (ux, uy) = ((tr.0 - tl.0) / span, (tr.1 - tl.1) / span);
    let (vx, vy) = ((blc.0 - tl.0) / span, (blc.1 - tl.1) / span);
    let (sw, sh) = (source.width() as i64, source.height() as i64);
    let src = source.as_raw();
    let out = chip.as_mut();
    for row in 0..size {
        for col in 0..size {
            let x = tl.0 + ux * col as f64 + vx * row as f64;
            let y = tl.1 + uy * col as f64 + vy * row as f64;
            let (left, top) = (x.floor() as i64, y.floor() as i64);
            if !(left >= 0 && top >= 0 && left + 1 < sw && top + 1 < sh) {
                continue; // outside: black, as dlib's transform_image
            }
            let (fx, fy) = (x - left as f64, y - top as f64);
            let at = |yy: i64, xx: i64, ch: usize| src[((yy * sw + xx) * 3) as usize + ch] as f64;
            let o = (row * size + col) * 3;
            for ch in 0..3 {
                let v = (1.0 - fy) * ((1.0 - fx) * at(top, left, ch) + fx * at(top, left + 1, ch))
                    + fy * ((1.0 - fx) * at(top + 1, left, ch) + fx * at(top + 1, left + 1, ch));
                out[o + ch] = v.clamp(0.0, 255.0) as u8;
            }
        }
    }
    chip
}
