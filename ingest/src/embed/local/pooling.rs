//! Sentence vectors from token vectors: the mean over real (unpadded) tokens, scaled to unit length.

use candle_core::{DType, Result, Tensor};

/// `hidden` is (batch, tokens, dims), `mask` (batch, tokens) with 1 for real tokens and 0 for padding.
pub fn mean_pool(hidden: &Tensor, mask: &Tensor) -> Result<Tensor> {
    let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
    let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
    // At least one token per row ([CLS] and [SEP] always are); the clamp only guards the division.
    let counts = mask.sum(1)?.clamp(1e-9, f64::MAX)?;
    summed.broadcast_div(&counts)
}

/// Each row divided by its L2 norm, so cosine similarity is a dot product.
pub fn l2_normalize(vectors: &Tensor) -> Result<Tensor> {
    let norms = vectors
        .sqr()?
        .sum_keepdim(1)?
        .sqrt()?
        .clamp(1e-12, f64::MAX)?;
    vectors.broadcast_div(&norms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn padding_does_not_count_in_the_mean() {
        let hidden = Tensor::new(
            &[
                [[1f32, 2.], [3., 4.], [100., 100.]],
                [[2., 0.], [4., 0.], [6., 0.]],
            ],
            &Device::Cpu,
        )
        .unwrap();
        let mask = Tensor::new(&[[1u32, 1, 0], [1, 1, 1]], &Device::Cpu).unwrap();
        let pooled = mean_pool(&hidden, &mask).unwrap().to_vec2::<f32>().unwrap();
        assert_eq!(pooled, vec![vec![2., 3.], vec![4., 0.]]);
    }

    #[test]
    fn rows_become_unit_vectors() {
        let v = Tensor::new(&[[3f32, 4.], [0., 2.]], &Device::Cpu).unwrap();
        let n = l2_normalize(&v).unwrap().to_vec2::<f32>().unwrap();
        assert_eq!(n, vec![vec![0.6, 0.8], vec![0., 1.]]);
    }
}
