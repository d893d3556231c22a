"""Tests of `training.trainer`: the schedule and the `Trainer`'s pieces."""

import tensorflow as tf

from tfmnistcodec import training
from tfmnistcodec.training import averaging
from tfmnistcodec.training import trainer as trainer_lib

import testing_utils

TINY = dict(latent_dims=8, batch_size=32, epochs=2, eval_batch_size=64,
            lmbda=500.)


class LearningRateTest(tf.test.TestCase):

  def test_tutorial_keeps_its_rate(self):
    config = training.TrainConfig(architecture="tutorial", learning_rate=2e-3)
    for step in (0, 699, 700, 850, 1000, 1200):
      self.assertEqual(trainer_lib.learning_rate(config, step, 1000), 2e-3)

  def test_improved_decays_over_the_last_30_percent(self):
    config = training.TrainConfig(architecture="improved", learning_rate=1e-3)
    rate = lambda step: trainer_lib.learning_rate(config, step, 1000)
    self.assertEqual(rate(0), 1e-3)
    self.assertEqual(rate(700), 1e-3)
    self.assertEqual(rate(850), 1e-3 * .1**.5)
    self.assertEqual(rate(1000), 1e-3 * .1)
    # Past the end (more epochs were asked before): no lower than a tenth.
    self.assertEqual(rate(1200), 1e-3 * .1)


class TrainerTest(tf.test.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.train_images = tf.constant(testing_utils.synthetic_digits(100, seed=1))
    cls.test_images = testing_utils.synthetic_digits(40, seed=2)

  def _trainer(self, **settings):
    config = training.TrainConfig(**dict(TINY, **settings))
    return trainer_lib.Trainer(config, tf.distribute.get_strategy(),
                               self.train_images)

  def test_steps_count_the_last_smaller_batch(self):
    trainer = self._trainer()
    self.assertEqual(trainer.steps_per_epoch, 4)
    self.assertEqual(trainer.total_steps, 8)
    self.assertEqual(trainer.step, 0)

  def test_checkpoint_holds_the_prior_optimizer_only_where_there_is_one(self):
    self.assertNotIn("prior_optimizer", dir(
        self._trainer(architecture="tutorial").checkpoint()))
    checkpoint = self._trainer(architecture="improved").checkpoint()
    self.assertIn("prior_optimizer", dir(checkpoint))

  def test_train_sets_the_schedule_and_counts_steps_and_digits(self):
    trainer = self._trainer(architecture="improved", learning_rate=1e-3)
    optimizer = trainer.checkpoint().optimizer
    prior_optimizer = trainer.checkpoint().prior_optimizer
    # The last two steps of the epoch: 32 and 4 digits.
    sums, digits = trainer.train(trainer.epoch_batches(0, 2), 7, 2)
    self.assertEqual(trainer.step, 2)
    self.assertEqual(float(digits), 36.)
    self.assertEqual(sorted(sums), ["distortion", "loss", "rate"])
    rate = trainer_lib.learning_rate(training.TrainConfig(
        **dict(TINY, architecture="improved", learning_rate=1e-3)), 7, 8)
    self.assertEqual(float(optimizer.learning_rate), float(tf.constant(rate)))
    self.assertEqual(float(prior_optimizer.learning_rate),
                     float(tf.constant(rate * 10)))
    # A run's own factor, where it has one.
    trainer = self._trainer(architecture="improved", learning_rate=1e-3,
                            prior_learning_rate_factor=20.)
    trainer.train(trainer.epoch_batches(0, 2), 7, 1)
    self.assertEqual(float(trainer.checkpoint().prior_optimizer.learning_rate),
                     float(tf.constant(rate * 20)))

  def test_epoch_dataset_batches_the_epoch_without_autotuning(self):
    trainer = self._trainer()
    batches = list(trainer.epoch_dataset(1, 2))
    # 100 digits in batches of 32: from the third batch on, 32 and 4 digits,
    # each with its positions in the batch.
    self.assertEqual([len(b["images"]) for b in batches], [32, 4])
    self.assertAllEqual(batches[1]["positions"], tf.range(4))
    # Every digit of the epoch once, in the epoch's own order.
    whole = tf.concat([b["images"] for b in trainer.epoch_dataset(1, 0)], 0)
    self.assertAllEqual(whole[64:], batches[0]["images"].numpy().tolist() +
                        batches[1]["images"].numpy().tolist())
    self.assertAllEqual(tf.sort(tf.reshape(tf.reduce_sum(
        tf.cast(whole, tf.int32), [1, 2, 3]), [-1])), tf.sort(tf.reshape(
            tf.reduce_sum(tf.cast(self.train_images, tf.int32), [1, 2, 3]),
            [-1])))
    self.assertNotAllEqual(whole, tf.concat(
        [b["images"] for b in trainer.epoch_dataset(0, 0)], 0))
    # Deleting an iterator of an autotuned dataset waits for the autotuner's
    # sleep to end (periods of 10 ms doubling): on MNIST, epochs that trained
    # in 19-24 s ended at 20.5 or 41.0 s (BUILD.md).
    self.assertIs(trainer.epoch_dataset(0, 0).options().autotune.enabled,
                  False)

  def test_evaluate_matches_the_function_on_the_result(self):
    for architecture in ("tutorial", "improved"):
      trainer = self._trainer(architecture=architecture)
      trainer.train(trainer.epoch_batches(0, 0), 0, 4)
      self.assertEqual(
          trainer.evaluate(self.test_images),
          training.evaluate(trainer.result_codec, self.test_images, 500., 64))

  def test_plain_codec_copies_every_variable_of_the_result(self):
    for architecture in ("tutorial", "improved"):
      trainer = self._trainer(architecture=architecture)
      trainer.train(trainer.epoch_batches(0, 0), 0, 4)
      copy = trainer.plain_codec()
      self.assertLen(copy.variables, len(trainer.result_codec.variables))
      for a, b in zip(trainer.result_codec.variables, copy.variables):
        self.assertIsNot(a, b)
        self.assertEqual(a.name, b.name)
        self.assertAllEqual(a, b)

  def test_the_trainer_averages_every_10_steps_and_at_each_epoch_end(self):
    self.assertEqual(averaging.EVERY, 10)
    images = tf.constant(testing_utils.synthetic_digits(96, seed=1))
    config = training.TrainConfig(**dict(TINY, architecture="improved",
                                         batch_size=8, ema_steps=20.))
    trainer = trainer_lib.Trainer(config, tf.distribute.get_strategy(),
                                  images)
    self.assertEqual(trainer.steps_per_epoch, 12)
    average = trainer.checkpoint().moving_average
    self.assertIs(trainer.result_codec, average.codec)
    iterator = trainer.epoch_batches(0, 0)
    trainer.train(iterator, 0, 9)
    self.assertEqual((int(average.step), float(average.weight)), (0, 0.))
    trainer.train(iterator, 9, 1)
    # Step 10: the first update copies the variables.
    self.assertEqual(int(average.step), 10)
    for a, v in zip(average.codec.variables, trainer.codec.variables):
      self.assertAllEqual(a, v)
    trainer.train(iterator, 10, 2)
    # Step 12 ends the epoch.
    self.assertEqual(int(average.step), 12)
    self.assertNotAllClose(average.codec.variables[0],
                           trainer.codec.variables[0])
    # The tutorial's keeps no average.
    trainer = self._trainer(architecture="tutorial")
    self.assertIs(trainer.result_codec, trainer.codec)
    self.assertNotIn("moving_average", dir(trainer.checkpoint()))


if __name__ == "__main__":
  tf.test.main()
