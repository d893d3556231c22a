"""Tests of the named architectures: what each changes, exactly."""

import numpy as np
import tensorflow as tf

from tfmnistcodec.core import entropy
from tfmnistcodec.core import loss as loss_lib
from tfmnistcodec.core import model
from tfmnistcodec import training

import testing_utils


class ArchitectureTest(tf.test.TestCase):

  def test_names(self):
    self.assertEqual(list(model.ARCHITECTURES), ["tutorial", "improved"])
    self.assertEqual(model.get_architecture("tutorial"),
                     model.Architecture("tutorial"))
    with self.assertRaisesRegex(ValueError,
                                "unknown architecture 'big'; the architectures "
                                "are tutorial, improved"):
      model.get_architecture("big")
    with self.assertRaisesRegex(ValueError, "unknown architecture"):
      training.TrainConfig(architecture="big")

  def test_priors(self):
    self.assertIsInstance(model.Codec(8, seed=0).prior, entropy.Prior)
    improved = model.Codec(8, seed=0, architecture="improved")
    self.assertIsInstance(improved.prior, entropy.DeepFactorizedPrior)
    self.assertEqual(improved.latent_dims, 8)
    # The seed alone fixes the initial prior (TFC draws its biases from the
    # global RNG; they are redrawn from the seed).
    again = model.Codec(8, seed=0, architecture="improved")
    for a, b in zip(improved.prior.variables, again.prior.variables):
      self.assertAllEqual(a, b)
    other = model.Codec(8, seed=1, architecture="improved")
    self.assertNotAllEqual(improved.prior.density.base._biases[0],  # pylint: disable=protected-access
                           other.prior.density.base._biases[0])  # pylint: disable=protected-access

  def test_analysis_hidden_layers(self):
    def extra(codec):
      return len(codec.analysis_transform.extra_fc)
    self.assertEqual(extra(model.Codec(8, seed=0)), 0)
    self.assertEqual(extra(model.Codec(8, seed=0, architecture="improved")), 2)
    # A run's own setting wins over the architecture's (runs from before the
    # setting had the tutorial's one layer).
    self.assertEqual(extra(model.Codec(8, seed=0, architecture="improved",
                                       analysis_hidden_layers=1)), 0)
    self.assertEqual(extra(model.Codec(8, seed=0, analysis_hidden_layers=3)),
                     2)

  def test_learning_rate_schedule(self):
    tutorial = training.TrainConfig(learning_rate=1e-3,
                                    architecture="tutorial")
    improved = training.TrainConfig(learning_rate=1e-3,
                                    architecture="improved")
    for step in (0, 500, 999):
      self.assertEqual(training.learning_rate(tutorial, step, 1000), 1e-3)
    self.assertEqual(training.learning_rate(improved, 0, 1000), 1e-3)
    self.assertEqual(training.learning_rate(improved, 700, 1000), 1e-3)
    self.assertAllClose(training.learning_rate(improved, 850, 1000),
                        1e-3 * .1**.5)
    self.assertAllClose(training.learning_rate(improved, 1000, 1000), 1e-4)

  def test_improved_measures_distortion_on_clipped_outputs(self):
    images = testing_utils.synthetic_digits(4, seed=3)
    codec = model.Codec(8, seed=0, architecture="improved")
    # Push every output below 0: background pixels (0) then cost nothing.
    output_bias = codec.synthesis_transform.conv_2.bias
    output_bias.assign(output_bias - 10.)
    x = loss_lib.images_to_float(images)
    metrics = loss_lib.rate_distortion(codec, images)
    self.assertAllClose(metrics["distortion"], tf.reduce_mean(x))
    # The tutorial's codec with the same transforms.
    tutorial = model.Codec(
        8, seed=0,
        analysis_hidden_layers=codec.architecture.analysis_hidden_layers)
    for a, b in zip(tutorial.analysis_transform.variables +
                    tutorial.synthesis_transform.variables,
                    codec.analysis_transform.variables +
                    codec.synthesis_transform.variables):
      a.assign(b)
    self.assertGreater(loss_lib.rate_distortion(tutorial, images)["distortion"],
                       metrics["distortion"] + 1.)
    self.assertTrue(np.isfinite(metrics["rate"].numpy()))


if __name__ == "__main__":
  tf.test.main()
