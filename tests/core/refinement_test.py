"""Tests of encoder-side latent refinement."""

import numpy as np
import tensorflow as tf

from tfmnistcodec.core import loss as loss_lib
from tfmnistcodec.core import model
from tfmnistcodec.core import refinement
from tfmnistcodec import training

import testing_utils


class RefinementTest(tf.test.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    # A briefly trained codec, so that the latents carry information and the
    # search has something to trade.
    cls.images = testing_utils.synthetic_digits(64, seed=1)
    cls.codec = model.Codec(8, seed=0, architecture="improved")
    optimizer = training.make_optimizer(1e-2)
    for step in range(30):
      training.train_step(
          cls.codec, optimizer, cls.images, tf.constant(500.),
          loss_lib.uniform_noise([64, 8], [step, 1]))
    cls.x = loss_lib.images_to_float(cls.images)
    cls.y = cls.codec.analysis_transform(cls.x)

  def refine(self, steps, x=None, y=None, lmbda=500.):
    x = self.x if x is None else x
    y = self.y if y is None else y
    return refinement.refine_latents(
        self.codec.synthesis_transform, self.codec.prior, x, y, lmbda, steps)

  def quantized_loss(self, y_hat, lmbda=500.):
    return refinement.quantized_loss(
        self.codec.synthesis_transform, self.codec.prior, self.x, y_hat,
        lmbda).numpy()

  def test_zero_steps_rounds(self):
    self.assertAllEqual(self.refine(0), tf.round(self.y))

  def test_integer_latents_never_worse_than_rounding(self):
    refined = self.refine(20)
    self.assertEqual(refined.shape, self.y.shape)
    self.assertAllEqual(refined, tf.round(refined))
    before = self.quantized_loss(tf.round(self.y))
    after = self.quantized_loss(refined)
    self.assertAllLessEqual(after - before, 0.)
    # And it finds something: some digits are coded strictly cheaper.
    self.assertGreater(np.sum(after < before), 0)
    self.assertLess(after.mean(), before.mean())

  def test_deterministic(self):
    self.assertAllEqual(self.refine(5), self.refine(5))

  def test_in_a_tf_function(self):
    refine = tf.function(lambda x, y: self.refine(5, x, y))
    self.assertAllEqual(refine(self.x, self.y), self.refine(5))

  def test_quantized_loss_is_bits_plus_lmbda_mae_of_uint8_outputs(self):
    y_hat = tf.round(self.y)
    decoded = loss_lib.float_to_images(self.codec.synthesis_transform(y_hat))
    mae = np.mean(np.abs(self.images.astype(np.float64) -
                         decoded.numpy().astype(np.float64)) / 255.,
                  axis=(1, 2, 3))
    bits = -np.sum(self.codec.prior.distribution().log_prob(y_hat).numpy(),
                   axis=-1) / np.log(2.)
    self.assertAllClose(self.quantized_loss(y_hat, lmbda=100.),
                        bits + 100. * mae, rtol=1e-5)

  def test_noise_of_a_digit_does_not_depend_on_the_batch_size(self):
    seed = tf.constant([3, 4], tf.int64)
    y = tf.random.stateless_normal([9, 8], seed=[1, 2])
    whole = refinement._soft_round(y, .3, seed)  # pylint: disable=protected-access
    part = refinement._soft_round(y[:4], .3, seed)  # pylint: disable=protected-access
    self.assertAllEqual(whole[:4], part)
    # Soft rounding stays between each latent's two nearest integers.
    self.assertAllInRange(whole - tf.floor(y), 0., 1.)


if __name__ == "__main__":
  tf.test.main()
