//! Sentence vectors from token vectors: the mean over real (unpadded) tokens, scaled to unit
//! length. A text longer than one forward pass is pooled over the tokens of all its windows.

use candle_core::{Result, Tensor};

/// `hidden` is (batch, tokens, dims), `mask` (batch, tokens) with 1 for real tokens and 0 for
/// padding: (batch, dims), each row the sum of its real tokens' vectors.
pub fn masked_sums(hidden: &Tensor, mask: &Tensor) -> Result<Tensor> {
    let mask = mask.to_dtype(hidden.dtype())?.unsqueeze(1)?;
    // (batch, 1, tokens) × (batch, tokens, dims): the masked sum as one batched matmul.
    mask.matmul(hidden)?.squeeze(1)
}

/// The unit-length mean of every token of a text's windows, given each window's
/// [`masked_sums`] row: for a single window exactly sentence-transformers' mean pooling followed
/// by its `Normalize`.
pub fn mean_of<'a>(windows: impl IntoIterator<Item = &'a [f32]>, dimensions: usize) -> Vec<f32> {
    let mut sum = vec![0f64; dimensions];
    for window in windows {
        for (total, x) in sum.iter_mut().zip(window) {
            *total += f64::from(*x);
        }
    }
    // At least one token per window ([CLS] and [SEP] always are); dividing by the count
    // before normalising changes nothing but the rounding, so it is skipped.
    let norm = sum.iter().map(|x| x * x).sum::<f64>().sqrt().max(1e-12);
    sum.iter().map(|x| (x / norm) as f32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn padding_does_not_count_in_the_sum() {
        let hidden = Tensor::new(
            &[
                [[1f32, 2.], [3., 4.], [100., 100.]],
                [[2., 0.], [4., 0.], [6., 0.]],
            ],
            &Device::Cpu,
        )
        .unwrap();
        let mask = Tensor::new(&[[1u32, 1, 0], [1, 1, 1]], &Device::Cpu).unwrap();
        let sums = masked_sums(&hidden, &mask)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        assert_eq!(sums, vec![vec![4., 6.], vec![12., 0.]]);
    }

    #[test]
    fn windows_pool_as_one_text_and_come_out_unit_length() {
        let windows = [vec![3f32, 0.], vec![0., 4.]];
        assert_eq!(
            mean_of(windows.iter().map(Vec::as_slice), 2),
            vec![0.6, 0.8]
        );
        assert_eq!(mean_of([windows[1].as_slice()], 2), vec![0., 1.]);
    }
}
