//! The few tensor operations dlib's face ResNet needs, on a batch of samples in a
//! channel-major layout: channel, then sample, then rows × columns (row-major). Each
//! sample's plane is dlib's; putting a channel's planes of all samples side by side makes
//! a convolution over the whole batch one GEMM whose columns are every sample's pixels, so
//! the small late stages (9×9, 5×5, 3×3 pixels) still give the GEMM enough columns. The
//! GEMMs are the `gemm` crate's (AVX2/AVX-512 kernels chosen at run time).

/// A batch's activations: `k` channels × `b` samples × `nr × nc`.
#[derive(Debug, Clone)]
pub(crate) struct Planes {
    pub k: usize,
    pub b: usize,
    pub nr: usize,
    pub nc: usize,
    pub data: Vec<f32>,
}

impl Planes {
    pub fn zeros(k: usize, b: usize, nr: usize, nc: usize) -> Self {
        Planes {
            k,
            b,
            nr,
            nc,
            data: vec![0.0; k * b * nr * nc],
        }
    }

    /// Elements of one channel (all samples).
    fn channel_len(&self) -> usize {
        self.b * self.nr * self.nc
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
    /// A relu on the output, applied as the result is written (dlib's following `relu_`).
    pub relu: bool,
}

fn out_dim(input: usize, pad: usize, window: usize, stride: usize) -> usize {
    (input + 2 * pad).saturating_sub(window) / stride + 1
}

/// `dst[m × n] (+)= lhs[m × k] · rhs[k × n]`, row-major with the given row strides
/// (`lhs` also with a column stride).
///
/// # Safety
/// Every element addressed by the shapes and strides must be inside its allocation;
/// with `accumulate == false`, `dst` may be uninitialised (it is only written).
#[allow(clippy::too_many_arguments)]
unsafe fn sgemm(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut f32,
    dst_rs: usize,
    accumulate: bool,
    lhs: *const f32,
    lhs_cs: usize,
    lhs_rs: usize,
    rhs: *const f32,
    rhs_rs: usize,
) {
    gemm::gemm(
        m,
        n,
        k,
        dst,
        1,
        dst_rs as isize,
        accumulate,
        lhs,
        lhs_cs as isize,
        lhs_rs as isize,
        rhs,
        1,
        rhs_rs as isize,
        1.0f32,
        1.0f32,
        false,
        false,
        false,
        gemm::Parallelism::None,
    );
}

/// An output buffer of `len` elements holding each channel's bias (repeated `per_channel`
/// times), or uninitialised when there is no bias (the first GEMM writes every element).
fn output_buffer(bias: &[f32], out_k: usize, per_channel: usize) -> Vec<f32> {
    let mut data = Vec::with_capacity(out_k * per_channel);
    if bias.is_empty() {
        // SAFETY: f32 has no invalid bit patterns, and the callers' first GEMM overwrites
        // all out_k × per_channel elements (accumulate = false) before anything reads them.
        unsafe { data.set_len(out_k * per_channel) };
    } else {
        for b in bias {
            data.resize(data.len() + per_channel, *b);
        }
    }
    data
}

/// Where a stride-1 convolution runs as one GEMM per tap over the padded input (no
/// im2col copy) rather than im2col + one GEMM. On the small planes the shifted GEMMs waste
/// 22–64 % of their columns on padding and are 20 % slower over the whole network
/// (`examples/embed_profile`); on the 36×36 stage both cost the same and the shifted form
/// needs no 9× im2col buffer.
const SHIFTED_MIN_PIXELS: usize = 30 * 30;

impl Conv {
    pub fn forward(&self, x: &Planes, scratch: &mut Vec<f32>) -> Planes {
        assert_eq!(x.k, self.in_k, "conv input channels");
        if self.stride == 1 && x.nr * x.nc >= SHIFTED_MIN_PIXELS {
            return self.forward_shifted(x, scratch);
        }
        self.forward_im2col(x, scratch)
    }

    /// im2col over the whole batch, then one GEMM: `out[o, (s, p)] = Σ_(c,i,j)
    /// filters[o, (c, i, j)] · col[(c, i, j), (s, p)]`.
    fn forward_im2col(&self, x: &Planes, col: &mut Vec<f32>) -> Planes {
        let onr = out_dim(x.nr, self.pad, self.kh, self.stride);
        let onc = out_dim(x.nc, self.pad, self.kw, self.stride);
        let per_sample = onr * onc;
        let n = x.b * per_sample;
        let kdim = self.in_k * self.kh * self.kw;
        // Every element is written below, so the buffer is only grown, never cleared.
        if col.len() < kdim * n {
            col.resize(kdim * n, 0.0);
        }
        let in_plane = x.nr * x.nc;
        // With stride 2, each plane is first split into its even and odd columns, so that
        // every row of im2col is a plain copy of a run of one of them.
        let half = x.nc.div_ceil(2);
        let mut phases = if self.stride == 2 {
            vec![0f32; 2 * x.nr * half]
        } else {
            Vec::new()
        };
        // Row (c, i, j), sample s holds input(c, s, r*st + i - pad, q*st + j - pad) for
        // each output (r, q).
        for c in 0..self.in_k {
            for s in 0..x.b {
                let plane = &x.data[(c * x.b + s) * in_plane..][..in_plane];
                if self.stride == 2 {
                    let (even, odd) = phases.split_at_mut(x.nr * half);
                    for ((src, e), o) in plane
                        .chunks_exact(x.nc)
                        .zip(even.chunks_exact_mut(half))
                        .zip(odd.chunks_exact_mut(half))
                    {
                        for (t, pair) in src.chunks(2).enumerate() {
                            e[t] = pair[0];
                            if let Some(v) = pair.get(1) {
                                o[t] = *v;
                            }
                        }
                    }
                }
                for i in 0..self.kh {
                    for j in 0..self.kw {
                        let row = ((c * self.kh + i) * self.kw + j) * n + s * per_sample;
                        let dst_sample = &mut col[row..row + per_sample];
                        let (src, src_nc) = if self.stride == 2 {
                            let ph = (j as isize - self.pad as isize).rem_euclid(2) as usize;
                            (&phases[ph * x.nr * half..][..x.nr * half], half)
                        } else {
                            (plane, x.nc)
                        };
                        self.im2col_rows(src, src_nc, x.nr, x.nc, i, j, onr, onc, dst_sample);
                    }
                }
            }
        }
        let mut data = output_buffer(&self.bias, self.out_k, n);
        // SAFETY: dst is out_k × n, filters out_k × kdim, col kdim × n (sized above).
        unsafe {
            sgemm(
                self.out_k,
                n,
                kdim,
                data.as_mut_ptr(),
                n,
                !self.bias.is_empty(),
                self.filters.as_ptr(),
                1,
                kdim,
                col.as_ptr(),
                n,
            );
        }
        if self.relu {
            for v in &mut data {
                *v = v.max(0.0);
            }
        }
        Planes {
            k: self.out_k,
            b: x.b,
            nr: onr,
            nc: onc,
            data,
        }
    }

    /// One sample's part of im2col row (i, j): `dst[r·onc + q]` = input(r·st + i - pad,
    /// q·st + j - pad), zero outside the image. `src` is the input plane (`src_nc` = `nc`
    /// columns) for stride 1, and for stride 2 the phase (even or odd columns, `src_nc` =
    /// ⌈nc/2⌉ of them) that column j reads.
    #[allow(clippy::too_many_arguments)]
    fn im2col_rows(
        &self,
        src: &[f32],
        src_nc: usize,
        nr: usize,
        nc: usize,
        i: usize,
        j: usize,
        onr: usize,
        onc: usize,
        dst_sample: &mut [f32],
    ) {
        assert!(
            self.stride <= 2,
            "strides above 2 are not used by the network"
        );
        let st = self.stride as isize;
        let off = j as isize - self.pad as isize;
        // Output columns q0..q1 read inside the image, from src column q + shift.
        let q0 = ((-off + st - 1).div_euclid(st)).clamp(0, onc as isize) as usize;
        let q1 =
            ((nc as isize - off + st - 1).div_euclid(st)).clamp(q0 as isize, onc as isize) as usize;
        let shift = if st == 2 { off.div_euclid(2) } else { off };
        for r in 0..onr {
            let y = (r * self.stride + i) as isize - self.pad as isize;
            let dst = &mut dst_sample[r * onc..(r + 1) * onc];
            if y < 0 || y >= nr as isize {
                dst.fill(0.0);
                continue;
            }
            let row = &src[y as usize * src_nc..(y as usize + 1) * src_nc];
            dst[..q0].fill(0.0);
            let s0 = (q0 as isize + shift) as usize;
            dst[q0..q1].copy_from_slice(&row[s0..s0 + (q1 - q0)]);
            dst[q1..].fill(0.0);
        }
    }

    /// A stride-1 convolution without im2col: one GEMM per kernel tap over a zero-padded
    /// copy of the input. With the padded width `w`, tap (i, j) of output (r, q) reads
    /// padded element (r + i)·w + q + j, so each tap's input is the padded planes shifted
    /// by i·w + j: a plain strided matrix. A channel's padded planes of all samples are
    /// contiguous, so one GEMM covers the batch; outputs are computed `w` wide (and over
    /// the padding rows between samples) and the extra elements dropped at the end.
    fn forward_shifted(&self, x: &Planes, padded: &mut Vec<f32>) -> Planes {
        let (p, kh, kw) = (self.pad, self.kh, self.kw);
        let (w, h) = (x.nc + 2 * p, x.nr + 2 * p);
        let onr = out_dim(x.nr, p, kh, 1);
        let onc = out_dim(x.nc, p, kw, 1);
        let plane = w * h;
        let chan = x.b * plane;
        // The last tap's reads pass the last plane by up to kw - 1 elements (garbage
        // columns only): keep that much zero padding after it.
        let len = self.in_k * chan + kw;
        padded.clear();
        padded.resize(len, 0.0);
        for (cs, src) in x.data.chunks_exact(x.nr * x.nc).enumerate() {
            for (r, row) in src.chunks_exact(x.nc).enumerate() {
                let at = cs * plane + (r + p) * w + p;
                padded[at..at + x.nc].copy_from_slice(row);
            }
        }
        // Wide outputs: sample s, row r, column q at s·plane + r·w + q.
        let n = (x.b - 1) * plane + onr * w;
        // The bias is added as the outputs are copied out of `wide`, so the first tap's
        // GEMM only writes (no pass filling `wide` with the bias first).
        let mut wide = output_buffer(&[], self.out_k, n);
        for i in 0..kh {
            for j in 0..kw {
                let first = i == 0 && j == 0;
                // wide[o, q] (+)= Σ_c filters[o, c, i, j] · padded[c, i·w + j + q]
                // SAFETY: dst is out_k × n (row stride n); lhs element (o, c) is at
                // o·in_k·kh·kw + c·kh·kw + i·kw + j < filters.len(); rhs element (c, q) at
                // c·chan + i·w + j + q ≤ (in_k - 1)·chan + (kh - 1)·w + kw - 1
                // + (b - 1)·plane + onr·w - 1 < in_k·chan + kw = len, as sized above.
                unsafe {
                    sgemm(
                        self.out_k,
                        n,
                        self.in_k,
                        wide.as_mut_ptr(),
                        n,
                        !first,
                        self.filters.as_ptr().add(i * kw + j),
                        kh * kw,
                        self.in_k * kh * kw,
                        padded.as_ptr().add(i * w + j),
                        chan,
                    );
                }
            }
        }
        let mut data = Vec::with_capacity(self.out_k * x.b * onr * onc);
        for o in 0..self.out_k {
            let bias = self.bias.get(o).copied().unwrap_or(0.0);
            for s in 0..x.b {
                let sample = &wide[o * n + s * plane..];
                for r in 0..onr {
                    let row = &sample[r * w..r * w + onc];
                    if self.relu {
                        data.extend(row.iter().map(|v| (v + bias).max(0.0)));
                    } else {
                        data.extend(row.iter().map(|v| v + bias));
                    }
                }
            }
        }
        Planes {
            k: self.out_k,
            b: x.b,
            nr: onr,
            nc: onc,
            data,
        }
    }
}

/// Per-channel scale and shift (dlib's `affine_`, also batch norm frozen at inference).
pub(crate) fn affine(x: &mut Planes, gamma: &[f32], beta: &[f32]) {
    let n = x.channel_len();
    for (c, plane) in x.data.chunks_mut(n).enumerate() {
        let (g, b) = (gamma[c], beta[c]);
        for v in plane {
            *v = *v * g + b;
        }
    }
}

/// [`affine`] then [`relu`], in one pass.
pub(crate) fn affine_relu(x: &mut Planes, gamma: &[f32], beta: &[f32]) {
    let n = x.channel_len();
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
    if max {
        pool_impl::<true>(x, win_h, win_w, stride, pad)
    } else {
        pool_impl::<false>(x, win_h, win_w, stride, pad)
    }
}

fn pool_impl<const MAX: bool>(
    x: &Planes,
    win_h: usize,
    win_w: usize,
    stride: usize,
    pad: usize,
) -> Planes {
    let wh = if win_h == 0 { x.nr } else { win_h };
    let ww = if win_w == 0 { x.nc } else { win_w };
    let onr = out_dim(x.nr, pad, wh, stride);
    let onc = out_dim(x.nc, pad, ww, stride);
    // Each output's window, clipped to the plane: [first, last) rows and columns.
    let span = |out: usize, win: usize, len: usize| -> Vec<(usize, usize)> {
        (0..out)
            .map(|o| {
                let first = (o * stride) as isize - pad as isize;
                let last = (first + win as isize).min(len as isize);
                (first.clamp(0, len as isize) as usize, last.max(0) as usize)
            })
            .collect()
    };
    let (rows, cols) = (span(onr, wh, x.nr), span(onc, ww, x.nc));
    let mut out = Planes::zeros(x.k, x.b, onr, onc);
    // Every (channel, sample) plane is pooled on its own.
    for (plane, dst) in x
        .data
        .chunks_exact(x.nr * x.nc)
        .zip(out.data.chunks_exact_mut(onr * onc))
    {
        for (&(top, bottom), drow) in rows.iter().zip(dst.chunks_exact_mut(onc)) {
            for (&(left, right), d) in cols.iter().zip(drow.iter_mut()) {
                let mut acc = if MAX { f32::NEG_INFINITY } else { 0.0 };
                for y in top..bottom {
                    for &v in &plane[y * x.nc + left..y * x.nc + right] {
                        // (No NaNs here: a plain comparison, cheaper than f32::max.)
                        acc = if !MAX {
                            acc + v
                        } else if v > acc {
                            v
                        } else {
                            acc
                        };
                    }
                }
                let count = (bottom - top) * (right - left);
                *d = if count == 0 {
                    0.0
                } else if MAX {
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
/// pooled 32-channel input to a 64-channel output). Both hold the same samples.
/// With `relu`, the relu that follows it in one pass.
pub(crate) fn add_padded(mut a: Planes, b: &Planes, relu: bool) -> Planes {
    assert_eq!(a.b, b.b, "add_prev over different batches");
    if (a.k, a.nr, a.nc) == (b.k, b.nr, b.nc) {
        if relu {
            for (x, y) in a.data.iter_mut().zip(&b.data) {
                *x = (*x + y).max(0.0);
            }
        } else {
            for (x, y) in a.data.iter_mut().zip(&b.data) {
                *x += y;
            }
        }
        return a;
    }
    let a = &a;
    let (k, nr, nc) = (a.k.max(b.k), a.nr.max(b.nr), a.nc.max(b.nc));
    let mut out = Planes::zeros(k, a.b, nr, nc);
    for t in [a, b] {
        for cs in 0..t.k * t.b {
            for r in 0..t.nr {
                for q in 0..t.nc {
                    out.data[(cs * nr + r) * nc + q] += t.data[(cs * t.nr + r) * t.nc + q];
                }
            }
        }
    }
    if relu {
        self::relu(&mut out);
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
            b: 1,
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
            relu: false,
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

    /// Small planes go through im2col, large ones (≥ SHIFTED_MIN_PIXELS) through the
    /// shifted GEMMs; both with and without bias and the fused relu.
    #[test]
    fn stride_one_convs_match_direct_sum() {
        for (nr, nc) in [(6, 7), (31, 33)] {
            let x = Planes {
                k: 3,
                b: 1,
                nr,
                nc,
                data: (0..3 * nr * nc).map(|i| (i as f32 * 0.37).sin()).collect(),
            };
            let cases = [(3, 1, true), (3, 1, false), (3, 0, false), (5, 2, true)];
            for ((k, pad, bias), relu) in cases.into_iter().flat_map(|c| [(c, false), (c, true)]) {
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
                    relu,
                };
                let y = conv.forward(&x, &mut Vec::new());
                assert_eq!(
                    (y.k, y.nr, y.nc),
                    (4, nr + 2 * pad + 1 - k, nc + 2 * pad + 1 - k)
                );
                let mut negatives = 0;
                for o in 0..y.k {
                    for r in 0..y.nr {
                        for q in 0..y.nc {
                            let got = y.data[(o * y.nr + r) * y.nc + q];
                            let sum = naive(&conv, &x, o, r, q);
                            negatives += usize::from(sum < 0.0);
                            let want = if relu { sum.max(0.0) } else { sum };
                            assert!(
                                (got - want).abs() < 1e-4,
                                "{nr}x{nc} k{k} p{pad} relu {relu}: {got} vs {want}"
                            );
                        }
                    }
                }
                assert!(negatives > 0, "the relu cases need negative sums");
            }
        }
    }

    #[test]
    fn add_padded_zero_fills_missing_channels() {
        let a = Planes {
            k: 1,
            b: 1,
            nr: 1,
            nc: 2,
            data: vec![1.0, 2.0],
        };
        let b = Planes {
            k: 2,
            b: 1,
            nr: 1,
            nc: 1,
            data: vec![10.0, 20.0],
        };
        let s = add_padded(a, &b, false);
        assert_eq!((s.k, s.b, s.nr, s.nc), (2, 1, 1, 2));
        assert_eq!(s.data, vec![11.0, 2.0, 20.0, 0.0]);
    }

    #[test]
    fn avg_pool_everything_is_plane_mean() {
        let x = Planes {
            k: 1,
            b: 1,
            nr: 2,
            nc: 2,
            data: vec![1.0, 2.0, 3.0, 6.0],
        };
        let p = pool(&x, 0, 0, 1, 0, false);
        assert_eq!(p.data, vec![3.0]);
    }

    /// A batch gives each sample exactly what it gets alone, on both convolution paths
    /// (small planes: im2col; large: shifted GEMMs) and through pooling.
    #[test]
    fn a_batch_is_its_samples_side_by_side() {
        for (side, stride) in [(7usize, 1usize), (32, 1), (9, 2)] {
            let (k, b) = (3usize, 3usize);
            let samples: Vec<Planes> = (0..b)
                .map(|s| Planes {
                    k,
                    b: 1,
                    nr: side,
                    nc: side,
                    data: (0..k * side * side)
                        .map(|i| ((i * (s + 2)) as f32 * 0.37).sin())
                        .collect(),
                })
                .collect();
            let mut batch = Planes::zeros(k, b, side, side);
            for c in 0..k {
                for (s, x) in samples.iter().enumerate() {
                    let n = side * side;
                    batch.data[(c * b + s) * n..][..n].copy_from_slice(&x.data[c * n..][..n]);
                }
            }
            let conv = Conv {
                filters: (0..4 * k * 9).map(|i| (i as f32 * 0.11).cos()).collect(),
                bias: Vec::new(),
                out_k: 4,
                in_k: k,
                kh: 3,
                kw: 3,
                stride,
                pad: 1,
                relu: false,
            };
            let yb = conv.forward(&batch, &mut Vec::new());
            let pb = pool(&yb, 3, 3, 2, 1, true);
            for (s, x) in samples.iter().enumerate() {
                let y = conv.forward(x, &mut Vec::new());
                let p = pool(&y, 3, 3, 2, 1, true);
                for (one, all) in [(&y, &yb), (&p, &pb)] {
                    let n = one.nr * one.nc;
                    for c in 0..one.k {
                        let want = &one.data[c * n..][..n];
                        let got = &all.data[(c * b + s) * n..][..n];
                        for (g, w) in got.iter().zip(want) {
                            assert!((g - w).abs() < 1e-4, "side {side} sample {s}: {g} vs {w}");
                        }
                    }
                }
            }
        }
    }
}
