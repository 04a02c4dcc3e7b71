//! Two element-wise steps of the encoder as in-place candle ops: the feed-forward bias + GELU, and
//! the padding-masked softmax of the attention scores. candle computes them with scalar libm
//! `erff` / `expf`: once the matrix products ran on AVX-512 these were ~30 % of a forward pass.
//! Here they are branch-free polynomials that the compiler vectorises for the widest SIMD the CPU
//! has (pulp compiles the loops for AVX-512, AVX2 or SSE and picks one at run time), in one pass
//! over memory each. They run on the calling thread: a forward pass already runs inside candle's
//! thread pool, and handing these passes to its rayon workers as well made the embedder slower
//! (the workers and candle's spinning barrier threads then fought over the two cores).

use candle_core::{CpuStorage, InplaceOp1, Layout, Result};

/// Rows per SIMD dispatch (the dispatch is a call through a function pointer: amortised).
const ROWS_PER_TASK: usize = 32;

/// erf(x) after Abramowitz & Stegun 7.1.28: |error| ≤ 3 × 10⁻⁷ exactly, ≤ 2 × 10⁻⁶ in f32 (the
/// 16th power amplifies rounding; next to GELU's 1 + erf, negligible), no branch and no `exp`, so it
/// vectorises (large |x|: the 16th power overflows to ∞ and erf is ±1, as it should be).
#[inline(always)]
fn erf(x: f32) -> f32 {
    const A: [f32; 6] = [
        0.070_523_08,
        0.042_282_01,
        0.009_270_527,
        0.000_152_014_3,
        0.000_276_567_2,
        0.000_043_063_8,
    ];
    let a = x.abs();
    let p = 1.0 + a * (A[0] + a * (A[1] + a * (A[2] + a * (A[3] + a * (A[4] + a * A[5])))));
    let p2 = p * p;
    let p4 = p2 * p2;
    let p8 = p4 * p4;
    (1.0 - 1.0 / (p8 * p8)).copysign(x)
}

/// GELU as BERT defines it, 0.5 · x · (1 + erf(x / √2)).
#[inline(always)]
fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// eˣ for x ≤ 0 (a softmax's shifted scores), relative error ≤ 2 × 10⁻⁷: x = n·ln 2 + r with
/// |r| ≤ ln 2 / 2, a degree-6 polynomial for eʳ, 2ⁿ put straight into the exponent bits. Below
/// −87 (where f32 underflows anyway) the result is e⁻⁸⁷ ≈ 1.6 × 10⁻³⁸, not 0: it still sums to
/// nothing next to the row's maximum, e⁰ = 1.
#[inline(always)]
fn exp_nonpositive(x: f32) -> f32 {
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    // Adding and taking away 1.5 · 2²³ rounds to the nearest integer with plain arithmetic, which
    // vectorises everywhere (`round` becomes a libm call without SSE4.1).
    const ROUND: f32 = 12_582_912.0;
    let x = x.max(-87.0);
    let n = (x * std::f32::consts::LOG2_E + ROUND) - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    // n ∈ [−126, 0]: 2ⁿ is a normal float.
    let scale = f32::from_bits(((n as i32 + 127) as u32) << 23);
    p * scale
}

/// The contiguous f32 data of an in-place op's tensor.
fn contiguous_f32<'a>(
    storage: &'a mut CpuStorage,
    layout: &Layout,
    op: &str,
) -> Result<&'a mut [f32]> {
    let CpuStorage::F32(data) = storage else {
        candle_core::bail!("{op}: f32 tensors only");
    };
    let Some((start, end)) = layout.contiguous_offsets() else {
        candle_core::bail!("{op}: contiguous tensors only");
    };
    Ok(&mut data[start..end])
}

/// x ← GELU(x + bias) on a (…, features) tensor, `bias` of length `features`.
pub struct BiasGelu<'a> {
    pub bias: &'a [f32],
}

impl InplaceOp1 for BiasGelu<'_> {
    fn name(&self) -> &'static str {
        "bias-gelu"
    }

    fn cpu_fwd(&self, storage: &mut CpuStorage, layout: &Layout) -> Result<()> {
        let data = contiguous_f32(storage, layout, self.name())?;
        let width = self.bias.len();
        if layout.dims().last() != Some(&width) {
            candle_core::bail!("bias-gelu: {:?} does not end in {width}", layout.dims());
        }
        data.chunks_mut(width * ROWS_PER_TASK).for_each(|rows| {
            pulp::Arch::new().dispatch(GeluRows {
                rows,
                bias: self.bias,
            })
        });
        Ok(())
    }
}

/// One task of [`BiasGelu`]. A `WithSimd` whose body is `inline(always)`, so that it is compiled
/// inside pulp's function for each instruction set (a closure would stay a scalar call).
struct GeluRows<'a> {
    rows: &'a mut [f32],
    bias: &'a [f32],
}

impl pulp::WithSimd for GeluRows<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        for row in self.rows.chunks_exact_mut(self.bias.len()) {
            for (x, b) in row.iter_mut().zip(self.bias) {
                *x = gelu(*x + b);
            }
        }
    }
}

/// Softmax over the last dimension of attention scores (batch, heads, queries, keys) where the
/// keys of text `i` are its first `lengths[i]`: the padding after them gets probability 0.
pub struct MaskedSoftmax<'a> {
    pub lengths: &'a [usize],
}

impl InplaceOp1 for MaskedSoftmax<'_> {
    fn name(&self) -> &'static str {
        "masked-softmax"
    }

    fn cpu_fwd(&self, storage: &mut CpuStorage, layout: &Layout) -> Result<()> {
        let data = contiguous_f32(storage, layout, self.name())?;
        let &[batch, heads, queries, keys] = layout.dims() else {
            candle_core::bail!("masked-softmax: {:?} is not 4-d", layout.dims());
        };
        if batch != self.lengths.len() || self.lengths.iter().any(|&l| l == 0 || l > keys) {
            candle_core::bail!("masked-softmax: lengths {:?} for {keys} keys", self.lengths);
        }
        data.chunks_mut(keys * ROWS_PER_TASK)
            .enumerate()
            .for_each(|(task, rows)| {
                pulp::Arch::new().dispatch(SoftmaxRows {
                    rows,
                    first_row: task * ROWS_PER_TASK,
                    keys,
                    rows_per_text: heads * queries,
                    lengths: self.lengths,
                })
            });
        Ok(())
    }
}

/// One task of [`MaskedSoftmax`] (a `WithSimd` for the reason given at [`GeluRows`]).
struct SoftmaxRows<'a> {
    rows: &'a mut [f32],
    /// Index of the first row among all (batch × heads × queries) rows.
    first_row: usize,
    keys: usize,
    rows_per_text: usize,
    lengths: &'a [usize],
}

impl pulp::WithSimd for SoftmaxRows<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        for (i, row) in self.rows.chunks_exact_mut(self.keys).enumerate() {
            let text = (self.first_row + i) / self.rows_per_text;
            let (real, padding) = row.split_at_mut(self.lengths[text]);
            softmax(real);
            padding.fill(0.0);
        }
    }
}

/// Lanes of the reductions below: independent partial results the compiler can keep in one
/// vector register (a single running f32 sum or max is a serial chain it may not reorder).
const LANES: usize = 16;

#[inline(always)]
fn softmax(row: &mut [f32]) {
    let mut maxes = [f32::NEG_INFINITY; LANES];
    let mut chunks = row.chunks_exact(LANES);
    for chunk in &mut chunks {
        for (m, &x) in maxes.iter_mut().zip(chunk) {
            *m = m.max(x);
        }
    }
    let max = chunks
        .remainder()
        .iter()
        .chain(&maxes)
        .fold(f32::NEG_INFINITY, |m, &x| m.max(x));
    for x in row.iter_mut() {
        *x = exp_nonpositive(*x - max);
    }
    let mut sums = [0.0f32; LANES];
    let mut chunks = row.chunks_exact(LANES);
    for chunk in &mut chunks {
        for (s, &x) in sums.iter_mut().zip(chunk) {
            *s += x;
        }
    }
    let sum: f32 = chunks.remainder().iter().chain(&sums).sum();
    let scale = 1.0 / sum;
    for x in row.iter_mut() {
        *x *= scale;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Tensor};

    /// erf by its Maclaurin series in f64 (exact to ~1e-9 for |x| ≤ 4; erf(4) = 1 − 1.5e-8).
    fn erf_reference(x: f64) -> f64 {
        if x.abs() > 4.0 {
            return x.signum();
        }
        let (mut term, mut sum) = (x, x);
        for n in 1..200 {
            term *= -x * x / n as f64;
            sum += term / (2 * n + 1) as f64;
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    }

    #[test]
    fn erf_and_exp_are_within_a_few_ulps_of_the_reference() {
        for i in -1000..=1000 {
            let x = i as f32 / 100.0;
            let err = (f64::from(erf(x)) - erf_reference(f64::from(x))).abs();
            assert!(err < 2e-6, "erf({x}): off by {err}");
        }
        for i in 0..=10_000 {
            let x = -(i as f32) / 100.0;
            let want = f64::from(x).exp();
            let rel = (f64::from(exp_nonpositive(x)) - want).abs() / want;
            assert!(rel < 3e-7 || x < -87.0, "exp({x}): relative error {rel}");
        }
        assert_eq!(exp_nonpositive(0.0), 1.0);
        assert!(exp_nonpositive(-1e30) < 1e-37);
    }

    #[test]
    fn bias_gelu_matches_candle() {
        let x = Tensor::arange(-300f32, 300., &Device::Cpu)
            .unwrap()
            .affine(0.02, 0.)
            .unwrap()
            .reshape((2, 100, 3))
            .unwrap();
        let bias = [0.5f32, -0.25, 0.0];
        let b = Tensor::new(&bias, &Device::Cpu).unwrap();
        let want = x.broadcast_add(&b).unwrap().gelu_erf().unwrap();
        let got = x.copy().unwrap();
        got.inplace_op1(&BiasGelu { bias: &bias }).unwrap();
        let diff = (got - want).unwrap().abs().unwrap().max_all().unwrap();
        assert!(diff.to_scalar::<f32>().unwrap() < 1e-6);
    }

    #[test]
    fn masked_softmax_gives_padding_nothing() {
        // (batch 2, heads 2, queries 3, keys 4): text 0 has 4 real keys, text 1 has 2.
        let scores = Tensor::arange(0f32, 48., &Device::Cpu)
            .unwrap()
            .affine(0.37, -8.)
            .unwrap()
            .reshape((2, 2, 3, 4))
            .unwrap();
        let rows = scores.flatten_to(2).unwrap().to_vec2::<f32>().unwrap();
        let probs = {
            let t = scores.copy().unwrap();
            t.inplace_op1(&MaskedSoftmax { lengths: &[4, 2] }).unwrap();
            t.flatten_to(2).unwrap().to_vec2::<f32>().unwrap()
        };
        for (r, (row, p)) in rows.iter().zip(&probs).enumerate() {
            let real = if r < 6 { 4 } else { 2 };
            let max = row[..real].iter().copied().fold(f32::MIN, f32::max);
            let sum: f64 = row[..real].iter().map(|&x| f64::from(x - max).exp()).sum();
            for k in 0..4 {
                let want = if k < real {
                    f64::from(row[k] - max).exp() / sum
                } else {
                    0.0
                };
                assert!((f64::from(p[k]) - want).abs() < 1e-6, "row {r} key {k}");
            }
        }
        let bad = scores.copy().unwrap();
        assert!(bad.inplace_op1(&MaskedSoftmax { lengths: &[4] }).is_err());
        assert!(
            bad.inplace_op1(&MaskedSoftmax { lengths: &[4, 0] })
                .is_err()
        );
    }
}
