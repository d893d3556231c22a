"""The entropy model: a factorized `NoisyLogistic` prior and its range coder.

The prior has one learned log-scale per latent dimension (location 0), as in the
TensorFlow Compression tutorial. `ContinuousBatchedEntropyModel(coding_rank=1)`
codes each digit's latent vector into one string.
"""

import math

import tensorflow as tf
import tensorflow_compression as tfc

__all__ = ["Prior", "entropy_model", "noisy_bits"]


class Prior(tf.Module):
  """Factorized `NoisyLogistic(loc=0, scale=exp(log_scales))` prior."""

  def __init__(self, latent_dims, name="prior"):
    super().__init__(name=name)
    if latent_dims < 1:
      raise ValueError("`latent_dims` must be at least 1.")
    with self.name_scope:
      self.log_scales = tf.Variable(tf.zeros([latent_dims]), name="log_scales")

  @property
  def latent_dims(self):
    return int(self.log_scales.shape[0])

  def distribution(self):
    """The prior as a distribution with batch shape `[latent_dims]`."""
    return tfc.NoisyLogistic(loc=0., scale=tf.exp(self.log_scales))


def entropy_model(prior, compression=False, decode_sanity_check=True):
  """`ContinuousBatchedEntropyModel(coding_rank=1)` over a `Prior` module.

  Args:
    prior: A `Prior`.
    compression: If `True`, the range-coding tables are computed now, from the
      current prior, and held by the entropy model; call this eagerly and once
      (after training), never per batch.
    decode_sanity_check: Whether `decompress` fails on strings that do not
      decode completely.

  Returns:
    A `tfc.ContinuousBatchedEntropyModel`.
  """
  # The prior's location is fixed at 0, so TFC's offset heuristic (round to
  # the mode plus an integer) would only ever find an offset of 0, after
  # sampling the prior for it. Plain rounding is the same and costs nothing.
  return tfc.ContinuousBatchedEntropyModel(
      prior.distribution(), coding_rank=1, compression=compression,
      offset_heuristic=False, decode_sanity_check=decode_sanity_check)


def noisy_bits(prior, latents_perturbed):
  """Differentiable rate of latents perturbed with uniform noise, in bits.

  This is what `ContinuousBatchedEntropyModel.__call__(training=True)`
  computes (with no Laplace tail mass and no expected gradients); it is spelled
  out so that the caller chooses the noise, from a stateless RNG, and training
  is reproducible from its seed and step.

  Args:
    prior: A `Prior`.
    latents_perturbed: `[N, latent_dims]` latents plus noise in [-0.5, 0.5).

  Returns:
    `[N]` bits per digit.
  """
  log_probs = prior.distribution().log_prob(latents_perturbed)
  return tf.reduce_sum(log_probs, axis=-1) / -math.log(2.)
