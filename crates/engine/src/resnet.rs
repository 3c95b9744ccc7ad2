//! dlib's face recognition ResNet (`dlib_face_recognition_resnet_model_v1.dat`): loading and
//! the forward pass from a 150×150 RGB chip to the 128-d embedding.
//!
//! dlib serializes a network by its C++ type, outermost layer first, each layer writing its
//! version, then its whole sub-network, then its own parameters. The stream does not say
//! which layer comes next, so we rebuild the type (the `anet_type` of dlib's
//! `dnn_face_recognition_ex.cpp`) as a list of [`Node`]s and read along it.

use crate::dlib_format::{DlibReader, TensorShape};
use crate::error::ModelError;
use crate::nn::{add_padded, affine, affine_relu, pool, relu, Conv, Planes};

/// Side of the square input chip.
pub const CHIP_SIZE: usize = 150;
/// Length of a face embedding.
pub const EMBEDDING_LEN: usize = 128;
/// Chips per batch beyond which [`FaceResNet::embeddings`] gains nothing more: the
/// late stages' GEMMs have enough columns, and larger batches only need more memory.
pub const MAX_BATCH: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq)]
enum LayerKind {
    Conv {
        filters: usize,
        size: usize,
        stride: usize,
    },
    Affine,
    Relu,
    MaxPool {
        size: usize,
        stride: usize,
    },
    AvgPool {
        size: usize,
        stride: usize,
    },
    AddPrev(u8),
    Fc {
        outputs: usize,
    },
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Node {
    Layer(LayerKind),
    Tag(u8),
    Skip(u8),
}

/// One step of the forward pass.
#[derive(Debug)]
enum Op {
    Conv(Conv),
    Affine {
        gamma: Vec<f32>,
        beta: Vec<f32>,
    },
    Relu,
    /// An affine followed by a relu, in one pass over the activations.
    AffineRelu {
        gamma: Vec<f32>,
        beta: Vec<f32>,
    },
    MaxPool {
        size: usize,
        stride: usize,
        pad: usize,
    },
    AvgPool {
        size: usize,
        stride: usize,
        pad: usize,
    },
    Tag(u8),
    Skip(u8),
    /// dlib's `add_prev` with the tag's activations; `relu`: the relu after it, fused.
    AddPrev(u8, bool),
    Fc {
        weights: Vec<f32>,
        inputs: usize,
        outputs: usize,
    },
}

/// The loaded network.
#[derive(Debug)]
pub struct FaceResNet {
    mean_rgb: [f32; 3],
    ops: Vec<Op>,
}

/// The architecture in forward order (input side first).
fn architecture() -> Vec<Node> {
    use LayerKind::*;
    let mut v = vec![
        Node::Layer(Conv {
            filters: 32,
            size: 7,
            stride: 2,
        }),
        Node::Layer(Affine),
        Node::Layer(Relu),
        Node::Layer(MaxPool { size: 3, stride: 2 }),
    ];
    let block = |v: &mut Vec<Node>, n: usize, stride: usize| {
        v.push(Node::Layer(Conv {
            filters: n,
            size: 3,
            stride,
        }));
        v.push(Node::Layer(Affine));
        v.push(Node::Layer(Relu));
        v.push(Node::Layer(Conv {
            filters: n,
            size: 3,
            stride: 1,
        }));
        v.push(Node::Layer(Affine));
    };
    // ares<N> = relu<add_prev1<block<N,1,tag1<SUBNET>>>>
    let ares = |v: &mut Vec<Node>, n: usize| {
        v.push(Node::Tag(1));
        block(v, n, 1);
        v.push(Node::Layer(AddPrev(1)));
        v.push(Node::Layer(Relu));
    };
    // ares_down<N> = relu<add_prev2<avg_pool<2,2,2,2,skip1<tag2<block<N,2,tag1<SUBNET>>>>>>>
    let ares_down = |v: &mut Vec<Node>, n: usize| {
        v.push(Node::Tag(1));
        block(v, n, 2);
        v.push(Node::Tag(2));
        v.push(Node::Skip(1));
        v.push(Node::Layer(AvgPool { size: 2, stride: 2 }));
        v.push(Node::Layer(AddPrev(2)));
        v.push(Node::Layer(Relu));
    };
    for _ in 0..3 {
        ares(&mut v, 32);
    }
    ares_down(&mut v, 64);
    for _ in 0..3 {
        ares(&mut v, 64);
    }
    ares_down(&mut v, 128);
    for _ in 0..2 {
        ares(&mut v, 128);
    }
    ares_down(&mut v, 256);
    for _ in 0..2 {
        ares(&mut v, 256);
    }
    ares_down(&mut v, 256);
    v.push(Node::Layer(AvgPool { size: 0, stride: 1 }));
    v.push(Node::Layer(Fc { outputs: 128 }));
    v
}

/// What the input layer holds.
struct InputLayer {
    mean_rgb: [f32; 3],
}

fn read_input_layer(r: &mut DlibReader) -> Result<InputLayer, ModelError> {
    r.expect_tag(&["input_rgb_image_sized"])?;
    let mean_rgb = [r.float()? as f32, r.float()? as f32, r.float()? as f32];
    let (nr, nc) = (r.size()?, r.size()?);
    if (nr, nc) != (CHIP_SIZE, CHIP_SIZE) {
        return Err(r.error(format!(
            "input is {nr}x{nc}, expected {CHIP_SIZE}x{CHIP_SIZE}"
        )));
    }
    Ok(InputLayer { mean_rgb })
}

fn read_lr_multipliers(r: &mut DlibReader) -> Result<(), ModelError> {
    for _ in 0..4 {
        r.float()?;
    }
    Ok(())
}

fn slice_params(
    r: &DlibReader,
    params: &[f32],
    offset: usize,
    shape: TensorShape,
) -> Result<Vec<f32>, ModelError> {
    params
        .get(offset..offset + shape.len())
        .map(|s| s.to_vec())
        .ok_or_else(|| r.error(format!("params too short for {shape:?} at {offset}")))
}

fn read_layer(r: &mut DlibReader, kind: LayerKind, in_k: usize) -> Result<Op, ModelError> {
    Ok(match kind {
        LayerKind::Conv {
            filters,
            size,
            stride,
        } => {
            let tag = r.expect_tag(&["con_4", "con_5"])?;
            let (_, params) = r.tensor()?;
            let num_filters = r.size()?;
            let (kh, kw) = (r.size()?, r.size()?);
            let (sy, sx) = (r.size()?, r.size()?);
            let (py, px) = (r.size()?, r.size()?);
            if (num_filters, kh, kw, sy, sx) != (filters, size, size, stride, stride) || py != px {
                return Err(r.error(format!(
                    "con_ layer is {num_filters} filters {kh}x{kw} stride {sy}x{sx} pad {py}x{px}, \
                     expected {filters} filters {size}x{size} stride {stride}"
                )));
            }
            let fshape = r.alias_tensor()?;
            let bshape = r.alias_tensor()?;
            read_lr_multipliers(r)?;
            let use_bias = if tag == "con_5" { r.bool()? } else { true };
            if fshape
                != (TensorShape {
                    n: filters,
                    k: in_k,
                    nr: kh,
                    nc: kw,
                })
            {
                return Err(r.error(format!(
                    "con_ filter shape {fshape:?}, input has {in_k} channels"
                )));
            }
            let weights = slice_params(r, &params, 0, fshape)?;
            let bias = if use_bias && params.len() >= fshape.len() + bshape.len() {
                slice_params(r, &params, fshape.len(), bshape)?
            } else {
                vec![0.0; filters]
            };
            Op::Conv(Conv {
                filters: weights,
                bias,
                out_k: filters,
                in_k,
                kh,
                kw,
                stride,
                pad: py,
                relu: false,
            })
        }
        LayerKind::Affine => {
            let tag = r.expect_tag(&["affine_", "affine_2", "bn_con2"])?;
            let (_, params) = r.tensor()?;
            let gshape = r.alias_tensor()?;
            let bshape = r.alias_tensor()?;
            let gamma = slice_params(r, &params, 0, gshape)?;
            let beta = slice_params(r, &params, gshape.len(), bshape)?;
            if gamma.len() != in_k || beta.len() != in_k {
                return Err(r.error(format!(
                    "affine_ has {} channels, expected {in_k}",
                    gamma.len()
                )));
            }
            if tag == "bn_con2" {
                // A batch-norm layer saved from training: fold its running statistics into
                // a per-channel affine transform exactly as dlib's affine_(const bn_&) does.
                let _means = r.tensor()?;
                let _invstds = r.tensor()?;
                let (_, running_means) = r.tensor()?;
                let (_, running_vars) = r.tensor()?;
                r.size()?; // num_updates
                r.size()?; // running_stats_window_size
                read_lr_multipliers(r)?;
                let eps = r.float()? as f32;
                let g: Vec<f32> = gamma
                    .iter()
                    .zip(&running_vars)
                    .map(|(g, v)| g / (v + eps).sqrt())
                    .collect();
                let b = beta
                    .iter()
                    .zip(&g)
                    .zip(&running_means)
                    .map(|((b, g), m)| b - g * m)
                    .collect();
                Op::Affine { gamma: g, beta: b }
            } else {
                r.int()?; // mode
                if tag == "affine_2" {
                    r.bool()?; // disabled
                }
                Op::Affine { gamma, beta }
            }
        }
        LayerKind::Relu => {
            r.expect_tag(&["relu_"])?;
            Op::Relu
        }
        LayerKind::MaxPool { size, stride } | LayerKind::AvgPool { size, stride } => {
            let is_max = matches!(kind, LayerKind::MaxPool { .. });
            r.expect_tag(&[if is_max { "max_pool_2" } else { "avg_pool_2" }])?;
            let (nr, nc, sy, sx, py, px) = (
                r.size()?,
                r.size()?,
                r.size()?,
                r.size()?,
                r.size()?,
                r.size()?,
            );
            if (nr, nc, sy, sx) != (size, size, stride, stride) || py != px {
                return Err(r.error(format!(
                    "pool layer {nr}x{nc} stride {sy}x{sx}, expected {size} stride {stride}"
                )));
            }
            if is_max {
                Op::MaxPool {
                    size,
                    stride,
                    pad: py,
                }
            } else {
                Op::AvgPool {
                    size,
                    stride,
                    pad: py,
                }
            }
        }
        LayerKind::AddPrev(tag) => {
            r.expect_tag(&["add_prev_"])?;
            Op::AddPrev(tag, false)
        }
        LayerKind::Fc { outputs } => {
            let tag = r.expect_tag(&["fc_2", "fc_3"])?;
            let (num_outputs, num_inputs) = (r.size()?, r.size()?);
            let (_, params) = r.tensor()?;
            let wshape = r.alias_tensor()?;
            let _bshape = r.alias_tensor()?;
            let bias_mode = r.int()?;
            read_lr_multipliers(r)?;
            if tag == "fc_3" {
                r.bool()?;
            }
            if num_outputs != outputs || num_inputs != in_k || bias_mode != 1 {
                return Err(r.error(format!(
                    "fc layer {num_inputs}->{num_outputs} (bias mode {bias_mode}), expected {in_k}->{outputs} without bias"
                )));
            }
            Op::Fc {
                weights: slice_params(r, &params, 0, wshape)?,
                inputs: num_inputs,
                outputs,
            }
        }
    })
}

/// Channel count after each node, to check every layer's shape as it is read.
fn channels_before(arch: &[Node]) -> Vec<usize> {
    let mut k = 3usize;
    let mut tags = [0usize; 4];
    let mut out = Vec::with_capacity(arch.len());
    for node in arch {
        out.push(k);
        match *node {
            Node::Layer(LayerKind::Conv { filters, .. }) => k = filters,
            Node::Layer(LayerKind::AddPrev(t)) => k = k.max(tags[t as usize]),
            Node::Layer(LayerKind::Fc { outputs }) => k = outputs,
            Node::Tag(t) => tags[t as usize] = k,
            Node::Skip(t) => k = tags[t as usize],
            Node::Layer(_) => {}
        }
    }
    out
}

impl FaceResNet {
    /// Parse the model file's bytes.
    pub fn from_bytes(data: &[u8]) -> Result<Self, ModelError> {
        let mut r = DlibReader::new(data, "dlib_face_recognition_resnet_model_v1.dat");
        // add_loss_layer<loss_metric_, ...>
        r.expect_int(1, "loss layer version")?;
        let loss = r.expect_tag(&["loss_metric_", "loss_metric_2"])?;
        if loss == "loss_metric_2" {
            r.float()?;
            r.float()?;
        }
        let arch = architecture();
        let ks = channels_before(&arch);
        // Headers are written outermost first: read versions down to the input layer.
        let mut versions = vec![0i64; arch.len()];
        for i in (0..arch.len()).rev() {
            versions[i] = r.int()?;
            let ok = match arch[i] {
                Node::Layer(_) if i == 0 => (2..=3).contains(&versions[i]),
                Node::Layer(_) => (1..=2).contains(&versions[i]),
                Node::Tag(_) | Node::Skip(_) => versions[i] == 1,
            };
            if !ok {
                return Err(r.error(format!(
                    "unexpected version {} for {:?}",
                    versions[i], arch[i]
                )));
            }
        }
        let input = read_input_layer(&mut r)?;
        // Then each layer's own parameters and bookkeeping, innermost first.
        let mut ops = Vec::with_capacity(arch.len());
        for (i, node) in arch.iter().enumerate() {
            match *node {
                Node::Tag(t) => ops.push(Op::Tag(t)),
                Node::Skip(t) => ops.push(Op::Skip(t)),
                Node::Layer(kind) => {
                    ops.push(read_layer(&mut r, kind, ks[i])?);
                    for _ in 0..3 {
                        r.bool()?;
                    }
                    r.tensor()?; // x_grad
                    r.tensor()?; // cached_output
                    if i == 0 {
                        r.tensor()?; // grad_final
                        if versions[i] >= 3 {
                            r.int()?; // sample_expansion_factor
                        }
                    } else if versions[i] == 2 {
                        r.tensor()?; // params_grad
                    }
                }
            }
        }
        if !r.at_end() {
            return Err(r.error("trailing bytes after the network"));
        }
        Ok(FaceResNet {
            mean_rgb: input.mean_rgb,
            ops: fuse(ops),
        })
    }

    /// The 128-d embedding of one aligned 150×150 RGB chip (row-major, 3 bytes a pixel).
    pub fn embedding(&self, chip_rgb: &[u8]) -> [f32; EMBEDDING_LEN] {
        self.embeddings(&[chip_rgb])[0]
    }

    /// The embeddings of several chips, run through the network together: each
    /// convolution is one GEMM over all of them, which keeps the late stages' GEMMs
    /// (9×9 down to 3×3 pixels a chip) efficient. Each chip's answer is the one it gets
    /// alone, up to float rounding. Batches of [`MAX_BATCH`] or fewer chips do best.
    pub fn embeddings(&self, chips_rgb: &[&[u8]]) -> Vec<[f32; EMBEDDING_LEN]> {
        let b = chips_rgb.len();
        if b == 0 {
            return Vec::new();
        }
        let n = CHIP_SIZE * CHIP_SIZE;
        let mut x = Planes::zeros(3, b, CHIP_SIZE, CHIP_SIZE);
        for (s, chip_rgb) in chips_rgb.iter().enumerate() {
            assert_eq!(
                chip_rgb.len(),
                CHIP_SIZE * CHIP_SIZE * 3,
                "chip must be 150x150 RGB"
            );
            for (i, px) in chip_rgb.chunks_exact(3).enumerate() {
                for (c, v) in px.iter().enumerate() {
                    x.data[(c * b + s) * n + i] = (*v as f32 - self.mean_rgb[c]) / 256.0;
                }
            }
        }
        let mut scratch = Vec::new();
        let mut tags: [Option<Planes>; 4] = Default::default();
        // A tag takes the activations instead of copying them; until the next convolution
        // replaces them, `x` is read from the tag (`x_in`), which nothing else modifies.
        let mut x_in: Option<usize> = None;
        for op in &self.ops {
            if x_in.is_some() && !matches!(op, Op::Conv(_) | Op::Tag(_) | Op::Skip(_)) {
                // An in-place step on tagged activations: it needs its own copy after all.
                x = tags[x_in.take().unwrap()].clone().expect("tagged");
            }
            match op {
                Op::Conv(c) => {
                    let input = match x_in.take() {
                        Some(t) => tags[t].as_ref().expect("tagged"),
                        None => &x,
                    };
                    x = c.forward(input, &mut scratch);
                }
                Op::Affine { gamma, beta } => affine(&mut x, gamma, beta),
                Op::AffineRelu { gamma, beta } => affine_relu(&mut x, gamma, beta),
                Op::Relu => relu(&mut x),
                Op::MaxPool { size, stride, pad } => {
                    x = pool(&x, *size, *size, *stride, *pad, true)
                }
                Op::AvgPool { size, stride, pad } => {
                    x = pool(&x, *size, *size, *stride, *pad, false)
                }
                Op::Tag(t) => {
                    let t = *t as usize;
                    match x_in {
                        // Tagged twice in a row: both tags hold the same activations.
                        Some(from) => tags[t] = tags[from].clone(),
                        None => {
                            tags[t] = Some(std::mem::replace(&mut x, Planes::zeros(0, 0, 0, 0)))
                        }
                    }
                    x_in = Some(t);
                }
                Op::Skip(t) => {
                    x_in = None;
                    x = tags[*t as usize].take().expect("skip before its tag");
                }
                Op::AddPrev(t, relu) => {
                    x = add_padded(
                        std::mem::replace(&mut x, Planes::zeros(0, 0, 0, 0)),
                        tags[*t as usize].as_ref().expect("add_prev before its tag"),
                        *relu,
                    )
                }
                Op::Fc {
                    weights,
                    inputs,
                    outputs,
                } => {
                    // After avg_pool_everything: x[c, s] (planes of 1×1).
                    debug_assert_eq!(x.data.len(), *inputs * b);
                    let mut y = vec![0.0f32; *outputs * b];
                    for s in 0..b {
                        let ys = &mut y[s * outputs..(s + 1) * outputs];
                        for (c, row) in weights.chunks_exact(*outputs).enumerate() {
                            let xi = x.data[c * b + s];
                            for (yo, w) in ys.iter_mut().zip(row) {
                                *yo += xi * w;
                            }
                        }
                    }
                    // Sample-major from here on (only the embeddings are left).
                    x = Planes {
                        k: *outputs,
                        b,
                        nr: 1,
                        nc: 1,
                        data: y,
                    };
                }
            }
        }
        x.data
            .chunks_exact(EMBEDDING_LEN)
            .map(|d| {
                let mut out = [0.0f32; EMBEDDING_LEN];
                out.copy_from_slice(d);
                out
            })
            .collect()
    }
}

/// Fewer passes over the activations, same arithmetic up to rounding: the affine after a
/// convolution folds into it (γ·(W∗x + b) + β = (γW)∗x + (γb + β)), so the convolution
/// writes the affine's output directly; a relu after a convolution or an `add_prev` is
/// applied as they write their outputs.
fn fuse(ops: Vec<Op>) -> Vec<Op> {
    let mut out: Vec<Op> = Vec::with_capacity(ops.len());
    let mut it = ops.into_iter().peekable();
    while let Some(op) = it.next() {
        match op {
            Op::Conv(mut c) => {
                if let Some(Op::Affine { gamma, beta }) = it.peek() {
                    let per_filter = c.in_k * c.kh * c.kw;
                    for (f, g) in c.filters.chunks_exact_mut(per_filter).zip(gamma) {
                        for w in f {
                            *w = (*w as f64 * *g as f64) as f32;
                        }
                    }
                    c.bias = (0..c.out_k)
                        .map(|o| {
                            let b = c.bias.get(o).copied().unwrap_or(0.0) as f64;
                            (gamma[o] as f64 * b + beta[o] as f64) as f32
                        })
                        .collect();
                    it.next();
                }
                if matches!(it.peek(), Some(Op::Relu)) {
                    it.next();
                    c.relu = true;
                }
                out.push(Op::Conv(c));
            }
            Op::AddPrev(t, false) if matches!(it.peek(), Some(Op::Relu)) => {
                it.next();
                out.push(Op::AddPrev(t, true));
            }
            Op::Affine { gamma, beta } if matches!(it.peek(), Some(Op::Relu)) => {
                it.next();
                out.push(Op::AffineRelu { gamma, beta });
            }
            op => out.push(op),
        }
    }
    out
}
