"""Tests of the prior and the entropy model."""

import numpy as np
import tensorflow as tf

from tfmnistcodec.core import entropy


class EntropyTest(tf.test.TestCase):

  def test_prior_has_one_log_scale_per_latent(self):
    prior = entropy.Prior(latent_dims=13)
    self.assertEqual([v.name for v in prior.trainable_variables],
                     ["prior/log_scales:0"])
    self.assertEqual(prior.log_scales.shape, (13,))
    self.assertAllEqual(prior.log_scales, np.zeros(13))
    distribution = prior.distribution()
    self.assertEqual(distribution.batch_shape, (13,))

  def test_noisy_bits_equals_entropy_model_on_integers(self):
    # With zero noise on integer latents, the training-mode rate is exactly the
    # information content that the range coder's entropy model assigns.
    prior = entropy.Prior(latent_dims=6)
    prior.log_scales.assign([-1., 0., 1., 2., 0.5, -0.5])
    y = tf.constant([[0., 1., -2., 5., 3., -1.], [7., 0., 0., -4., 2., 1.]])
    _, expected = entropy.entropy_model(prior)(y, training=False)
    self.assertAllClose(entropy.noisy_bits(prior, y), expected, rtol=1e-6)

  def test_entropy_model_codes_rank_one(self):
    prior = entropy.Prior(latent_dims=4)
    model_ = entropy.entropy_model(prior, compression=True)
    self.assertEqual(model_.coding_rank, 1)
    y = tf.constant([[0.4, -1.6, 3.2, 0.], [1., 2., -3., 0.5]])
    strings = model_.compress(y)
    self.assertEqual(strings.shape, (2,))
    self.assertAllEqual(model_.decompress(strings, []), tf.round(y))

  def test_deep_factorized_tables_are_tfcs(self):
    # The tails come from a compiled graph, TFC's from its eager search
    # (seconds): the same tails, so the same range-coding tables.
    prior = entropy.DeepFactorizedPrior(latent_dims=5, seed=3)
    # Skew the densities away from their start, as training does.
    for i, variable in enumerate(prior.trainable_variables):
      variable.assign_add(tf.random.stateless_normal(
          variable.shape, seed=[5, i], stddev=.3))
    distribution = prior.distribution()
    ours_class = type(distribution)
    tfc_class = ours_class.__mro__[1]
    self.assertEqual(tfc_class.__name__, "NoisyDeepFactorized")
    self.assertIsNot(ours_class._lower_tail, tfc_class._lower_tail)
    ours = entropy.entropy_model(prior, compression=True)
    distribution.__class__ = tfc_class
    try:
      tfcs = entropy.entropy_model(prior, compression=True)
    finally:
      distribution.__class__ = ours_class
    self.assertAllEqual(ours.cdf, tfcs.cdf)
    self.assertAllEqual(ours.cdf_offset, tfcs.cdf_offset)


if __name__ == "__main__":
  tf.test.main()
