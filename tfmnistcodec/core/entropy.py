"""The entropy model: a factorized prior and its range coder.

`Prior` is the TensorFlow Compression tutorial's: a `NoisyLogistic` with one
learned log-scale per latent dimension (location 0). `DeepFactorizedPrior` is
the more flexible density of Ballé et al. (2018, appendix 6.1): per latent
dimension, a small monotone network models the cumulative, so each marginal
can be skewed, off-centre or multi-modal. `ContinuousBatchedEntropyModel
(coding_rank=1)` codes each digit's latent vector into one string.
"""

import math

import tensorflow as tf
import tensorflow_compression as tfc

from tfmnistcodec import contract

__all__ = [
    "Prior", "DeepFactorizedPrior", "entropy_model", "noisy_bits",
    "coder_with_tables"
]


class Prior(tf.Module):
  """Factorized `NoisyLogistic(loc=0, scale=exp(log_scales))` prior."""

  def __init__(self, latent_dims, name="prior"):
    super().__init__(name=name)
    if latent_dims < 1:
      raise contract.UserValueError("`latent_dims` must be at least 1.")
    with self.name_scope:
      self.log_scales = tf.Variable(tf.zeros([latent_dims]), name="log_scales")

  @property
  def latent_dims(self):
    return int(self.log_scales.shape[0])

  def distribution(self):
    """The prior as a distribution with batch shape `[latent_dims]`."""
    return tfc.NoisyLogistic(loc=0., scale=tf.exp(self.log_scales))


class _NoisyDeepFactorized(tfc.NoisyDeepFactorized):
  """TFC's `NoisyDeepFactorized`, its tails located in a compiled graph.

  The range-coding tables span each dimension's density between two tail
  quantiles, which TFC finds by an iterative search (`estimate_tails`, a
  `tf.while_loop` of small steps). Built eagerly, as the tables are, the
  loop runs op by op: about 3.5 s per export on two CPU cores. The same
  search in one `tf.function` takes about 0.3 s, and gave the same tails,
  bit for bit, on the models measured.
  """

  def _lower_tail(self, tail_mass):
    return tf.function(super()._lower_tail, autograph=False)(tail_mass)

  def _upper_tail(self, tail_mass):
    return tf.function(super()._upper_tail, autograph=False)(tail_mass)


class DeepFactorizedPrior(tf.Module):
  """Factorized `NoisyDeepFactorized` prior: a learned density per dimension.

  The density's variables (`matrix_i`, `bias_i`, `factor_i`, one slice per
  latent dimension) are created once, here, by TFC's `DeepFactorized`, then
  the biases, which TFC draws from the global RNG, are redrawn from `seed`,
  so that the seed alone fixes the initial prior.
  """

  def __init__(self, latent_dims, seed=0, num_filters=(3, 3), init_scale=10.,
               name="prior"):
    super().__init__(name=name)
    if latent_dims < 1:
      raise contract.UserValueError("`latent_dims` must be at least 1.")
    with self.name_scope:
      self.density = _NoisyDeepFactorized(
          batch_shape=[latent_dims], num_filters=num_filters,
          init_scale=init_scale)
    for i, bias in enumerate(self.density.base._biases):  # pylint: disable=protected-access
      bias.assign(tf.random.stateless_uniform(
          bias.shape, seed=tf.random.experimental.stateless_fold_in(
              tf.constant([4, seed], tf.int64), i),
          minval=-.5, maxval=.5))
    self._latent_dims = latent_dims

  @property
  def latent_dims(self):
    return self._latent_dims

  def distribution(self):
    """The prior as a distribution with batch shape `[latent_dims]`."""
    return self.density


def entropy_model(prior, compression=False, decode_sanity_check=True):
  """`ContinuousBatchedEntropyModel(coding_rank=1)` over a `Prior` module.

  Args:
    prior: A `Prior` or `DeepFactorizedPrior`.
    compression: If `True`, the range-coding tables are computed now, from the
      current prior, and held by the entropy model; call this eagerly and once
      (after training), never per batch.
    decode_sanity_check: Whether `decompress` fails on strings that do not
      decode completely.

  Returns:
    A `tfc.ContinuousBatchedEntropyModel`.
  """
  # Latents are rounded to integers, as in training's evaluation and the
  # tutorial. For `Prior` (location 0) TFC's offset heuristic would find an
  # offset of 0 anyway; for `DeepFactorizedPrior` an offset (its median)
  # would have to be trained with, and is left out on purpose.
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
    prior: A `Prior` or `DeepFactorizedPrior`.
    latents_perturbed: `[N, latent_dims]` latents plus noise in [-0.5, 0.5).

  Returns:
    `[N]` bits per digit.
  """
  log_probs = prior.distribution().log_prob(latents_perturbed)
  return tf.reduce_sum(log_probs, axis=-1) / -math.log(2.)


def coder_with_tables(entropy_model, coding_rank, decode_sanity_check=True):
  """A range coder that codes with `entropy_model`'s tables, at any rank.

  The tables (`cdf`, `cdf_offset`) are read from `entropy_model`, not built
  again, so every coder of an exported model shares one copy, and they cannot
  drift apart. The coder is stateless: build it inside the `tf.function`
  that uses it.

  Args:
    entropy_model: A `ContinuousBatchedEntropyModel` with `compression=True`
      and no quantization offset (as `entropy_model()` makes them).
    coding_rank: Innermost dimensions coded into one string: 1 codes each
      digit's latent vector into its own string; 2 codes a `[N, latent_dims]`
      batch into one string, which saves the coder's per-string overhead.
    decode_sanity_check: Whether `decompress` fails on strings that do not
      decode completely. Off, any bytes decode to some latents.

  Returns:
    A stateless `tfc.ContinuousBatchedEntropyModel`.
  """
  if entropy_model.quantization_offset is not None:
    raise contract.UserValueError(
        "coder_with_tables needs an entropy model without a "
        "quantization offset.")
  return tfc.ContinuousBatchedEntropyModel(
      prior_shape=entropy_model.prior_shape, coding_rank=coding_rank,
      compression=True, stateless=True, cdf=entropy_model.cdf,
      cdf_offset=entropy_model.cdf_offset, offset_heuristic=False,
      bottleneck_dtype=entropy_model.bottleneck_dtype,
      tail_mass=entropy_model.tail_mass,
      decode_sanity_check=decode_sanity_check)
