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
        let onr = out_dim(x.nr, self.pad, self.kh, self.stride);
        let onc = out_dim(x.nc, self.pad, self.kw, self.stride);
        let n = onr * onc;
        let kdim = self.in_k * self.kh * self.kw;
        col.clear();
        col.resize(kdim * n, 0.0);
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
                            // Contiguous run with zero borders.
                            for (q, d) in dst.iter_mut().enumerate() {
                                let xx = (q + j) as isize - self.pad as isize;
                                *d = if xx >= 0 && (xx as usize) < x.nc {
                                    src[xx as usize]
                                } else {
                                    0.0
                                };
                            }
                        } else {
                            for (q, d) in dst.iter_mut().enumerate() {
                                let xx = (q * self.stride + j) as isize - self.pad as isize;
                                *d = if xx >= 0 && (xx as usize) < x.nc {
                                    src[xx as usize]
                                } else {
                                    0.0
                                };
                            }
                        }
                    }
                }
            }
        }
        let mut out = Planes::zeros(self.out_k, onr, onc);
        for (o, b) in self.bias.iter().enumerate() {
            out.data[o * n..(o + 1) * n].fill(*b);
        }
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
                true,
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
