//! The few tensor operations dlib's face ResNet needs, on one sample at a time in dlib's
//! layout (channels × rows × columns, row-major). Convolution is im2col + SGEMM (the `gemm`
//! crate, whose AVX2/AVX-512 kernels are chosen at run time).

/// One sample's activations: `k` planes of `nr × nc`.
#[derive(Debug, Clone)]
pub(crate) struct Planes {
    pub k: usize,
    pub nr: usize,
    pub nc: usize,
    pub data: Vec<f32>,
}

impl Planes {
    pub fn zeros(k: usize, nr: usize, nc: usize) -> Self {
        Planes {
            k,
            nr,
            nc,
            data: vec![0.0; k * nr * nc],
        }
    }
}

/// A convolution with dlib's `con_` semantics (cross-correlation, zero padding).
#[derive(Debug)]
pub(crate) struct Conv {
    pub filters: Vec<f32>, // [out][in][kh][kw]
    pub bias: Vec<f32>,
    pub out_k: usize,
    pub in_k: usize,
    pub kh: usize,
    pub kw: usize,
    pub stride: usize,
    pub pad: usize,
}

fn out_dim(input: usize, pad: usize, window: usize, stride: usize) -> usize {
    (input + 2 * pad).saturating_sub(window) / stride + 1
}

impl Conv {
    pub fn forward(&self, x: &Planes, col: &mut Vec<f32>) -> Planes {
        assert_eq!(x.k, self.in_k, "conv input channels");
        if self.stride == 1 {
            return self.forward_shifted(x, col);
        }
        let onr = out_dim(x.nr, self.pad, self.kh, self.stride);
        let onc = out_dim(x.nc, self.pad, self.kw, self.stride);
        let n = onr * onc;
        let kdim = self.in_k * self.kh * self.kw;
        // Every element is written below, so the buffer is only grown, never cleared.
        if col.len() < kdim * n {
            col.resize(kdim * n, 0.0);
        }
        // im2col: row (c, i, j) holds input(c, r*s + i - pad, q*s + j - pad) for each output (r, q).
        for c in 0..self.in_k {
            let plane = &x.data[c * x.nr * x.nc..(c + 1) * x.nr * x.nc];
            for i in 0..self.kh {
                for j in 0..self.kw {
                    let row = &mut col[((c * self.kh + i) * self.kw + j) * n..][..n];
                    for r in 0..onr {
                        let y = (r * self.stride + i) as isize - self.pad as isize;
                        let dst = &mut row[r * onc..(r + 1) * onc];
                        if y < 0 || y >= x.nr as isize {
                            dst.fill(0.0);
                            continue;
                        }
                        let src = &plane[y as usize * x.nc..(y as usize + 1) * x.nc];
                        if self.stride == 1 {
                            // Output column q reads input column q + j - pad: one copy of
                            // the part inside the image, zeros either side.
                            let off = j as isize - self.pad as isize;
                            let q0 = (-off).clamp(0, onc as isize) as usize;
                            let q1 =
                                (x.nc as isize - off).clamp(q0 as isize, onc as isize) as usize;
                            dst[..q0].fill(0.0);
                            let s0 = (q0 as isize + off) as usize;
                            dst[q0..q1].copy_from_slice(&src[s0..s0 + (q1 - q0)]);
                            dst[q1..].fill(0.0);
                        } else {
                            // Input column q·stride + j - pad: zeros outside the image.
                            let (st, off) = (self.stride as isize, j as isize - self.pad as isize);
                            let q0 =
                                ((-off + st - 1).div_euclid(st)).clamp(0, onc as isize) as usize;
                            let q1 = ((x.nc as isize - off + st - 1).div_euclid(st))
                                .clamp(q0 as isize, onc as isize)
                                as usize;
                            dst[..q0].fill(0.0);
                            let s0 = (q0 as isize * st + off) as usize;
                            let (len, st) = (q1 - q0, self.stride);
                            if len > 0 {
                                // Indexing a slice cut to the last element read lets the
                                // loop run without bounds checks (and vectorise).
                                let run = &src[s0..s0 + (len - 1) * st + 1];
                                for (k, d) in dst[q0..q1].iter_mut().enumerate() {
                                    *d = run[k * st];
                                }
                            }
                            dst[q1..].fill(0.0);
                        }
                    }
                }
            }
        }
        // With a bias, the GEMM adds to it; without (folded into the next affine), the GEMM
        // writes every element itself.
        let has_bias = !self.bias.is_empty();
        let mut data = Vec::with_capacity(self.out_k * n);
        if has_bias {
            for b in &self.bias {
                data.resize(data.len() + n, *b);
            }
        } else {
            // SAFETY: f32 has no invalid bit patterns, and gemm overwrites all out_k × n
            // elements below (read_dst = false) before anything reads them.
            unsafe { data.set_len(self.out_k * n) };
        }
        let mut out = Planes {
            k: self.out_k,
            nr: onr,
            nc: onc,
            data,
        };
        // out[o, p] += sum_k filters[o, k] * col[k, p]
        // SAFETY: slices are sized m×k, k×n and m×n with the row-major strides given.
        unsafe {
            gemm::gemm(
                self.out_k,
                n,
                kdim,
                out.data.as_mut_ptr(),
                1,
                n as isize,
                has_bias,
                self.filters.as_ptr(),
                1,
                kdim as isize,
                col.as_ptr(),
                1,
                n as isize,
                1.0f32,
                1.0f32,
                false,
                false,
                false,
                gemm::Parallelism::None,
            );
        }
        out
    }

    /// A stride-1 convolution without im2col: one GEMM per kernel tap over a zero-padded
    /// copy of the input. With the padded width `w`, tap (i, j) of output (r, q) reads
    /// padded element (r + i)·w + q + j, so each tap's input is the padded planes shifted
    /// by i·w + j: a plain strided matrix. Outputs are computed `w` wide and the extra
    /// columns dropped at the end.
    fn forward_shifted(&self, x: &Planes, padded: &mut Vec<f32>) -> Planes {
        let (p, kh, kw) = (self.pad, self.kh, self.kw);
        let (w, h) = (x.nc + 2 * p, x.nr + 2 * p);
        let onr = out_dim(x.nr, p, kh, 1);
        let onc = out_dim(x.nc, p, kw, 1);
        let plane = w * h;
        // The last tap's reads pass the last plane by up to kw - 1 elements (garbage
        // columns only): keep that much zero padding after it.
        let len = self.in_k * plane + kw;
        padded.clear();
        padded.resize(len, 0.0);
        for c in 0..self.in_k {
            let src = &x.data[c * x.nr * x.nc..(c + 1) * x.nr * x.nc];
            for (r, row) in src.chunks_exact(x.nc).enumerate() {
                let at = c * plane + (r + p) * w + p;
                padded[at..at + x.nc].copy_from_slice(row);
            }
        }
        let n = onr * w;
        let mut wide = Vec::with_capacity(self.out_k * n);
        let has_bias = !self.bias.is_empty();
        if has_bias {
            for b in &self.bias {
                wide.resize(wide.len() + n, *b);
            }
        } else {
            // SAFETY: f32 has no invalid bit patterns; the first tap's GEMM writes all
            // out_k × n elements (read_dst = false) before anything reads them.
            unsafe { wide.set_len(self.out_k * n) };
        }
        for i in 0..kh {
            for j in 0..kw {
                let first = i == 0 && j == 0;
                // wide[o, q] (+)= Σ_c filters[o, c, i, j] · padded[c, i·w + j + q]
                // SAFETY: dst is out_k × n (row stride n); lhs element (o, c) is at
                // o·in_k·kh·kw + c·kh·kw + i·kw + j < filters.len(); rhs element (c, q) at
                // c·plane + i·w + j + q ≤ (in_k - 1)·plane + (kh - 1)·w + kw - 1 + onr·w - 1
                // < len, as sized above.
                unsafe {
                    gemm::gemm(
                        self.out_k,
                        n,
                        self.in_k,
                        wide.as_mut_ptr(),
                        1,
                        n as isize,
                        has_bias || !first,
                        self.filters.as_ptr().add(i * kw + j),
                        (kh * kw) as isize,
                        (self.in_k * kh * kw) as isize,
                        padded.as_ptr().add(i * w + j),
                        1,
                        plane as isize,
                        1.0f32,
                        1.0f32,
                        false,
                        false,
                        false,
                        gemm::Parallelism::None,
                    );
                }
            }
        }
        let mut data = Vec::with_capacity(self.out_k * onr * onc);
        for row in wide.chunks_exact(w) {
            data.extend_from_slice(&row[..onc]);
        }
        Planes {
            k: self.out_k,
            nr: onr,
            nc: onc,
            data,
        }
    }
}

/// Per-channel scale and shift (dlib's `affine_`, also batch norm frozen at inference).
pub(crate) fn affine(x: &mut Planes, gamma: &[f32], beta: &[f32]) {
    let n = x.nr * x.nc;
    for (c, plane) in x.data.chunks_mut(n).enumerate() {
        let (g, b) = (gamma[c], beta[c]);
        for v in plane {
            *v = *v * g + b;
        }
    }
}

/// [`affine`] then [`relu`], in one pass.
pub(crate) fn affine_relu(x: &mut Planes, gamma: &[f32], beta: &[f32]) {
    let n = x.nr * x.nc;
    for (c, plane) in x.data.chunks_mut(n).enumerate() {
        let (g, b) = (gamma[c], beta[c]);
        for v in plane {
            *v = (*v * g + b).max(0.0);
        }
    }
}

pub(crate) fn relu(x: &mut Planes) {
    for v in &mut x.data {
        *v = v.max(0.0);
    }
}

/// Max or average pooling as dlib's CPU `pooling` does it: windows centred at
/// `out*stride + window/2 - pad`, clipped to the image; averages over the clipped window.
/// A window of 0 means "the whole plane".
pub(crate) fn pool(
    x: &Planes,
    win_h: usize,
    win_w: usize,
    stride: usize,
    pad: usize,
    max: bool,
) -> Planes {
    let wh = if win_h == 0 { x.nr } else { win_h };
    let ww = if win_w == 0 { x.nc } else { win_w };
    let onr = out_dim(x.nr, pad, wh, stride);
    let onc = out_dim(x.nc, pad, ww, stride);
    let mut out = Planes::zeros(x.k, onr, onc);
    let (yoff, xoff) = (
        (wh / 2) as isize - pad as isize,
        (ww / 2) as isize - pad as isize,
    );
    for c in 0..x.k {
        let plane = &x.data[c * x.nr * x.nc..(c + 1) * x.nr * x.nc];
        for r in 0..onr {
            let cy = (r * stride) as isize + yoff;
            let top = (cy - (wh / 2) as isize).max(0);
            let bottom = (cy - (wh / 2) as isize + wh as isize - 1).min(x.nr as isize - 1);
            for q in 0..onc {
                let cx = (q * stride) as isize + xoff;
                let left = (cx - (ww / 2) as isize).max(0);
                let right = (cx - (ww / 2) as isize + ww as isize - 1).min(x.nc as isize - 1);
                let mut acc = if max { f32::NEG_INFINITY } else { 0.0 };
                let mut count = 0usize;
                for y in top..=bottom {
                    for xx in left..=right {
                        let v = plane[y as usize * x.nc + xx as usize];
                        if max {
                            acc = acc.max(v);
                        } else {
                            acc += v;
                        }
                        count += 1;
                    }
                }
                out.data[(c * onr + r) * onc + q] = if count == 0 {
                    0.0
                } else if max {
                    acc
                } else {
                    acc / count as f32
                };
            }
        }
    }
    out
}

/// dlib's `add_prev`: element-wise sum over the larger of the two shapes, where a value
/// outside a tensor's own shape counts as zero (this is how a residual-down block adds a
/// pooled 32-channel input to a 64-channel output).
pub(crate) fn add_padded(a: &Planes, b: &Planes) -> Planes {
    if (a.k, a.nr, a.nc) == (b.k, b.nr, b.nc) {
        let data = a.data.iter().zip(&b.data).map(|(x, y)| x + y).collect();
        return Planes {
            k: a.k,
            nr: a.nr,
            nc: a.nc,
            data,
        };
    }
    let (k, nr, nc) = (a.k.max(b.k), a.nr.max(b.nr), a.nc.max(b.nc));
    let mut out = Planes::zeros(k, nr, nc);
    for t in [a, b] {
        for c in 0..t.k {
            for r in 0..t.nr {
                for q in 0..t.nc {
                    out.data[(c * nr + r) * nc + q] += t.data[(c * t.nr + r) * t.nc + q];
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conv_matches_direct_sum() {
        // 2 in-channels 5x4, 3 out-channels 3x3, stride 2 pad 1, against a naive loop.
        let x = Planes {
            k: 2,
            nr: 5,
            nc: 4,
            data: (0..40).map(|i| (i as f32 * 0.37).sin()).collect(),
        };
        let conv = Conv {
            filters: (0..54).map(|i| (i as f32 * 0.11).cos()).collect(),
            bias: vec![0.5, -1.0, 0.25],
            out_k: 3,
            in_k: 2,
            kh: 3,
            kw: 3,
            stride: 2,
            pad: 1,
        };
        let y = conv.forward(&x, &mut Vec::new());
        assert_eq!((y.k, y.nr, y.nc), (3, 3, 2));
        for o in 0..3 {
            for r in 0..3 {
                for q in 0..2 {
                    let mut s = conv.bias[o];
                    for c in 0..2 {
                        for i in 0..3 {
                            for j in 0..3 {
                                let yy = (r * 2 + i) as isize - 1;
                                let xx = (q * 2 + j) as isize - 1;
                                if (0..5).contains(&yy) && (0..4).contains(&xx) {
                                    s += conv.filters[((o * 2 + c) * 3 + i) * 3 + j]
                                        * x.data[(c * 5 + yy as usize) * 4 + xx as usize];
                                }
                            }
                        }
                    }
                    let got = y.data[(o * 3 + r) * 2 + q];
                    assert!((got - s).abs() < 1e-5, "{got} vs {s}");
                }
            }
        }
    }

    /// The naive sum a convolution must equal (dlib's `con_`: cross-correlation, zeros
    /// outside the image).
    fn naive(conv: &Conv, x: &Planes, o: usize, r: usize, q: usize) -> f32 {
        let mut s = conv.bias.get(o).copied().unwrap_or(0.0);
        for c in 0..conv.in_k {
            for i in 0..conv.kh {
                for j in 0..conv.kw {
                    let yy = (r * conv.stride + i) as isize - conv.pad as isize;
                    let xx = (q * conv.stride + j) as isize - conv.pad as isize;
                    if (0..x.nr as isize).contains(&yy) && (0..x.nc as isize).contains(&xx) {
                        s += conv.filters[((o * conv.in_k + c) * conv.kh + i) * conv.kw + j]
                            * x.data[(c * x.nr + yy as usize) * x.nc + xx as usize];
                    }
                }
            }
        }
        s
    }

    #[test]
    fn stride_one_convs_match_direct_sum() {
        let x = Planes {
            k: 3,
            nr: 6,
            nc: 7,
            data: (0..126).map(|i| (i as f32 * 0.37).sin()).collect(),
        };
        for (k, pad, bias) in [(3, 1, true), (3, 1, false), (3, 0, false), (5, 2, true)] {
            let conv = Conv {
                filters: (0..4 * 3 * k * k)
                    .map(|i| (i as f32 * 0.11).cos())
                    .collect(),
                bias: if bias {
                    vec![0.5, -1.0, 0.25, 2.0]
                } else {
                    Vec::new()
                },
                out_k: 4,
                in_k: 3,
                kh: k,
                kw: k,
                stride: 1,
                pad,
            };
            let y = conv.forward(&x, &mut Vec::new());
            assert_eq!(
                (y.k, y.nr, y.nc),
                (4, 6 + 2 * pad + 1 - k, 7 + 2 * pad + 1 - k)
            );
            for o in 0..y.k {
                for r in 0..y.nr {
                    for q in 0..y.nc {
                        let (got, want) =
                            (y.data[(o * y.nr + r) * y.nc + q], naive(&conv, &x, o, r, q));
                        assert!((got - want).abs() < 1e-4, "k{k} p{pad}: {got} vs {want}");
                    }
                }
            }
        }
    }

    #[test]
    fn add_padded_zero_fills_missing_channels() {
        let a = Planes {
            k: 1,
            nr: 1,
            nc: 2,
            data: vec![1.0, 2.0],
        };
        let b = Planes {
            k: 2,
            nr: 1,
            nc: 1,
            data: vec![10.0, 20.0],
        };
        let s = add_padded(&a, &b);
        assert_eq!((s.k, s.nr, s.nc), (2, 1, 2));
        assert_eq!(s.data, vec![11.0, 2.0, 20.0, 0.0]);
    }

    #[test]
    fn avg_pool_everything_is_plane_mean() {
        let x = Planes {
            k: 1,
            nr: 2,
            nc: 2,
            data: vec![1.0, 2.0, 3.0, 6.0],
        };
        let p = pool(&x, 0, 0, 1, 0, false);
        assert_eq!(p.data, vec![3.0]);
    }
}
