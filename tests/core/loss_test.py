"""Tests of the rate-distortion loss."""

import numpy as np
import tensorflow as tf

from tfmnistcodec.core import loss as loss_lib
from tfmnistcodec.core import model

import testing_utils


class LossTest(tf.test.TestCase):

  def setUp(self):
    super().setUp()
    self.codec = model.Codec(latent_dims=8, seed=1)
    self.images = testing_utils.synthetic_digits(5)

  def test_rate_and_distortion_are_scalars(self):
    for noise_seed in (None, [1, 2]):
      rd = loss_lib.rate_distortion(self.codec, self.images, noise_seed)
      self.assertEqual(rd["rate"].shape, ())
      self.assertEqual(rd["distortion"].shape, ())
      self.assertGreater(rd["rate"], 0.)
      self.assertBetween(float(rd["distortion"]), 0., 1.)
    self.assertAllClose(loss_lib.loss(rd, 10.),
                        rd["rate"] + 10. * rd["distortion"])

  def test_distortion_is_mean_absolute_error_in_unit_range(self):
    x = loss_lib.images_to_float(self.images)
    y = self.codec.analysis_transform(x)
    x_hat = self.codec.synthesis_transform(tf.round(y))
    rd = loss_lib.rate_distortion(self.codec, self.images)
    self.assertAllClose(rd["distortion"], np.mean(np.abs(x - x_hat)))

  def test_eager_equals_tf_function(self):
    fn = lambda images: loss_lib.rate_distortion(self.codec, images, [3, 4])
    eager = fn(self.images)
    graph = tf.function(fn)(self.images)
    self.assertAllClose(eager, graph, rtol=1e-5)

  def test_noise_comes_from_the_seed(self):
    a = loss_lib.rate_distortion(self.codec, self.images, [5, 6])
    b = loss_lib.rate_distortion(self.codec, self.images, [5, 6])
    c = loss_lib.rate_distortion(self.codec, self.images, [5, 7])
    self.assertAllEqual(a["rate"], b["rate"])
    self.assertNotAllClose(a["rate"], c["rate"])

  def test_rejects_float_images(self):
    with self.assertRaisesRegex(TypeError, "uint8"):
      loss_lib.rate_distortion(self.codec, np.zeros([2, 28, 28, 1], np.float32))

  def test_rejects_wrong_shape(self):
    with self.assertRaisesRegex(ValueError, r"\[N, 28, 28, 1\]"):
      loss_lib.rate_distortion(self.codec, np.zeros([2, 32, 32, 1], np.uint8))

  def test_float_to_images_rounds_and_saturates(self):
    x = tf.constant([-0.5, 0., 0.5 / 255, 1.4 / 255, 1., 2.])
    self.assertAllEqual(loss_lib.float_to_images(x), [0, 0, 0, 1, 255, 255])


if __name__ == "__main__":
  tf.test.main()
