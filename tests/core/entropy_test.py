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

  def test_deep_factorized_log_probs_are_tfc_log_prob(self):
    # One pass of the density's network gives TFC's four-pass values exactly,
    # and the same gradients (by the values exactly; by the variables up to
    # the order of float sums), far in both tails and at the median too.
    prior = entropy.DeepFactorizedPrior(latent_dims=7, seed=2)
    for variable in prior.trainable_variables:
      variable.assign_add(tf.random.stateless_normal(
          variable.shape, seed=[3, len(variable.name)], stddev=.3))
    rng = np.random.default_rng(0)
    values = np.concatenate([
        rng.normal(size=[40, 7]) * 4, np.full([1, 7], 60.),
        np.full([1, 7], -60.), np.zeros([1, 7])]).astype(np.float32)
    values = tf.constant(values)

    def log_probs_and_gradients(fn):
      with tf.GradientTape() as tape:
        tape.watch(values)
        log_probs = fn(values)
        total = tf.reduce_sum(log_probs)
      return log_probs, tape.gradient(
          total, [values] + list(prior.trainable_variables))

    expected, expected_gradients = log_probs_and_gradients(
        prior.distribution().log_prob)
    got, gradients = log_probs_and_gradients(
        lambda v: entropy.log_probs(prior, v))
    self.assertAllEqual(got, expected)
    self.assertTrue(np.all(np.isfinite(got)))
    self.assertAllEqual(gradients[0], expected_gradients[0])
    for got_gradient, gradient in zip(gradients[1:], expected_gradients[1:]):
      self.assertAllClose(got_gradient, gradient, rtol=1e-4, atol=1e-6)
    self.assertAllEqual(
        entropy.noisy_bits(prior, values),
        tf.reduce_sum(expected, -1) / -np.log(2.).astype(np.float32))

  def test_log_probs_of_the_logistic_prior_are_its_distributions(self):
    prior = entropy.Prior(latent_dims=3)
    prior.log_scales.assign([-1., 0., 2.])
    values = tf.constant([[0., 1.5, -7.], [30., -.25, 2.]])
    self.assertAllEqual(entropy.log_probs(prior, values),
                        prior.distribution().log_prob(values))

  def test_entropy_model_codes_rank_one(self):
    prior = entropy.Prior(latent_dims=4)
    model_ = entropy.entropy_model(prior, compression=True)
    self.assertEqual(model_.coding_rank, 1)
    y = tf.constant([[0.4, -1.6, 3.2, 0.], [1., 2., -3., 0.5]])
    strings = model_.compress(y)
    self.assertEqual(strings.shape, (2,))
    self.assertAllEqual(model_.decompress(strings, []), tf.round(y))


if __name__ == "__main__":
  tf.test.main()
