"""Tests of `training.averaging`: the moving average's arithmetic."""

import math

import tensorflow as tf

from tfmnistcodec import training
from tfmnistcodec.core import model
from tfmnistcodec.training import averaging


class MovingAverageTest(tf.test.TestCase):

  def _codecs(self):
    config = training.TrainConfig(latent_dims=8, architecture="improved")
    average = averaging.MovingAverage(config, time_constant=20.)
    return average, model.Codec(8, seed=5, architecture="improved")

  def test_the_first_update_copies_then_samples_weigh_by_their_steps(self):
    average, codec = self._codecs()
    first = [v.numpy() for v in codec.variables]
    average.update(codec, tf.constant(10, tf.int64))
    for a, v in zip(average.codec.variables, first):
      self.assertAllEqual(a, v)
    self.assertAllClose(average.weight, 1 - math.exp(-10 / 20))
    for v in codec.variables:
      v.assign(v + 1.)
    # The second sample stands for the 30 steps since the first.
    average.update(codec, tf.constant(40, tf.int64))
    old, new = math.exp(-30 / 20) * (1 - math.exp(-10 / 20)), 1 - math.exp(
        -30 / 20)
    self.assertEqual(int(average.step), 40)
    for a, v in zip(average.codec.variables, first):
      self.assertAllClose(a, v + new / (old + new))


if __name__ == "__main__":
  tf.test.main()
