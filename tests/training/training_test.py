"""Tests of the training loop: steps, checkpoints, resumption, settings."""

import json
import os

import pytest
import tensorflow as tf

from tfmnistcodec.core import loss as loss_lib
from tfmnistcodec.core import model
from tfmnistcodec import training

import testing_utils

# Whole (tiny) training runs, resumed and compared.
pytestmark = pytest.mark.slow

# 96 digits in batches of 32: 3 steps an epoch, fast.
TINY = dict(latent_dims=8, batch_size=32, epochs=1, eval_batch_size=64,
            lmbda=500.)


class TrainingTest(tf.test.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.train_images = testing_utils.synthetic_digits(96, seed=1)
    cls.test_images = testing_utils.synthetic_digits(40, seed=2)

  def test_loss_falls_over_a_few_steps(self):
    codec = model.Codec(latent_dims=8, seed=0)
    optimizer = training.make_optimizer(1e-3)
    images = self.train_images[:32]
    noise = loss_lib.uniform_noise([32, 8], [0, 0])
    step = tf.function(lambda: training.train_step(
        codec, optimizer, images, 2000., noise))
    # The same batch and noise every step: the loss (summed over the 32
    # digits) must go down.
    losses = [float(step()["loss"]) for _ in range(30)]
    self.assertLess(losses[-1], 0.7 * losses[0])
    self.assertEqual(int(optimizer.iterations), 30)

  def test_training_writes_checkpoint_config_and_summaries(self):
    model_dir = self.get_temp_dir() + "/run"
    config = training.TrainConfig(**TINY)
    codec, history = training.train_and_evaluate(
        config, model_dir, self.train_images, self.test_images)
    self.assertIsInstance(codec, model.Codec)
    self.assertLen(history, 1)
    self.assertEqual(history[0]["step"], 3)
    for key in ("train/loss", "train/rate", "train/distortion", "eval/loss",
                "eval/rate", "eval/distortion"):
      self.assertIn(key, history[0])
    self.assertEqual(
        tf.train.latest_checkpoint(os.path.join(model_dir, "checkpoints")),
        os.path.join(model_dir, "checkpoints", "ckpt-3"))
    with open(os.path.join(model_dir, "config.json")) as f:
      self.assertEqual(json.load(f)["latent_dims"], 8)
    self.assertNotEmpty(os.listdir(os.path.join(model_dir, "summaries")))
    self.assertEqual(training.load_config(model_dir), config.resolve())

  def test_eval_metrics_match_rate_distortion(self):
    model_dir = self.get_temp_dir() + "/eval"
    codec, history = training.train_and_evaluate(
        training.TrainConfig(**TINY), model_dir, self.train_images,
        self.test_images)
    rd = loss_lib.rate_distortion(codec, self.test_images)
    self.assertAllClose(history[0]["eval/rate"], rd["rate"], rtol=1e-5)
    self.assertAllClose(history[0]["eval/distortion"], rd["distortion"],
                        rtol=1e-5)

  def test_resume_continues_the_step_count(self):
    model_dir = self.get_temp_dir() + "/resume"
    training.train_and_evaluate(
        training.TrainConfig(**TINY), model_dir, self.train_images,
        self.test_images)
    _, history = training.train_and_evaluate(
        training.TrainConfig(**dict(TINY, epochs=3)), model_dir,
        self.train_images, self.test_images)
    # Epoch 1 was done; this call trains epochs 2 and 3 only.
    self.assertEqual([h["epoch"] for h in history], [2, 3])
    self.assertEqual([h["step"] for h in history], [6, 9])
    # Done: a third call trains nothing.
    _, history = training.train_and_evaluate(
        training.TrainConfig(**dict(TINY, epochs=3)), model_dir,
        self.train_images, self.test_images)
    self.assertEmpty(history)

  def test_prior_learns_with_its_own_faster_adam(self):
    config = training.TrainConfig(**dict(TINY, architecture="improved"))
    codec = model.Codec(8, seed=0, architecture="improved")
    optimizer = training.make_optimizer(config.resolve().learning_rate)
    prior_optimizer = training.make_prior_optimizer(config)
    # improved: 10 times its 2e-3.
    self.assertAllClose(prior_optimizer.learning_rate, 2e-2)
    self.assertAllClose(training.make_prior_optimizer(training.TrainConfig(
        **dict(TINY, architecture="improved",
               prior_learning_rate_factor=5.))).learning_rate, 1e-2)
    self.assertIsNone(training.make_prior_optimizer(
        training.TrainConfig(**dict(TINY, architecture="tutorial"))))
    groups = training.optimizer_groups(codec, optimizer, prior_optimizer)
    self.assertEqual([g[0] for g in groups], [optimizer, prior_optimizer])
    transforms, prior = (variables for _, variables in groups)
    self.assertLen(transforms + prior, len(codec.trainable_variables))
    before = [v.numpy() for v in transforms + prior]
    training.train_step(codec, optimizer, self.train_images[:32], 500.,
                        loss_lib.uniform_noise([32, 8], [0, 0]),
                        prior_optimizer=prior_optimizer)
    moved = [abs(v.numpy() - b).max() for v, b in zip(transforms + prior,
                                                       before)]
    # Adam's first step moves each variable by its learning rate times the
    # sign of its gradient.
    self.assertAllClose(max(moved[:len(transforms)]), 2e-3, rtol=1e-3)
    self.assertAllClose(max(moved[len(transforms):]), 2e-2, rtol=1e-3)

  def test_resumed_run_equals_uninterrupted_run(self):
    # Stateless randomness keyed by seed, epoch and step: stopping after one
    # epoch and resuming gives the same variables as training straight on.
    # `improved` checks that the prior's own Adam is checkpointed too.
    for architecture in ("tutorial", "improved"):
      tiny = dict(TINY, architecture=architecture)
      straight = self.get_temp_dir() + "/straight_" + architecture
      resumed = self.get_temp_dir() + "/resumed_" + architecture
      codec_a, _ = training.train_and_evaluate(
          training.TrainConfig(**dict(tiny, epochs=2)), straight,
          self.train_images, self.test_images)
      training.train_and_evaluate(
          training.TrainConfig(**tiny), resumed, self.train_images,
          self.test_images)
      codec_b, _ = training.train_and_evaluate(
          training.TrainConfig(**dict(tiny, epochs=2)), resumed,
          self.train_images, self.test_images)
      self.assertLen(codec_b.variables, len(codec_a.variables))
      for a, b in zip(codec_a.variables, codec_b.variables):
        self.assertAllEqual(a, b, msg=a.name)

  def _assert_same_checkpoints(self, dir_a, dir_b):
    # Every variable of the final checkpoints: the codec's, the optimizers'
    # slots and step counts.
    path_a, path_b = (tf.train.latest_checkpoint(os.path.join(d, "checkpoints"))
                      for d in (dir_a, dir_b))
    self.assertEqual(os.path.basename(path_a), os.path.basename(path_b))
    names = [n for n, _ in tf.train.list_variables(path_a)
             if n != "_CHECKPOINTABLE_OBJECT_GRAPH"]
    self.assertEqual(names, [n for n, _ in tf.train.list_variables(path_b)
                             if n != "_CHECKPOINTABLE_OBJECT_GRAPH"])
    for name in names:
      self.assertAllEqual(tf.train.load_variable(path_a, name),
                          tf.train.load_variable(path_b, name), msg=name)

  def test_resumed_run_equals_uninterrupted_run_exactly(self):
    # Stopped after step 4, mid-way through the second epoch (as by a kill
    # after that step's checkpoint), with the same settings: resuming runs
    # the very same steps, with the same noise, digits and learning rates
    # (`improved` decays them over steps 5 and 6), so every variable is the
    # same to the bit.
    for architecture in ("tutorial", "improved"):
      config = training.TrainConfig(**dict(
          TINY, architecture=architecture, epochs=2, steps_per_loop=1,
          checkpoint_secs=0.))
      straight = self.get_temp_dir() + "/exact_straight_" + architecture
      resumed = self.get_temp_dir() + "/exact_resumed_" + architecture
      codec_a, _ = training.train_and_evaluate(
          config, straight, self.train_images, self.test_images)
      training.train_and_evaluate(config, resumed, self.train_images,
                                  self.test_images)
      checkpoints = os.path.join(resumed, "checkpoints")
      for name in os.listdir(checkpoints):
        if name.startswith(("ckpt-5.", "ckpt-6.")):
          os.remove(os.path.join(checkpoints, name))
      tf.compat.v1.train.update_checkpoint_state(
          checkpoints, os.path.join(checkpoints, "ckpt-4"),
          all_model_checkpoint_paths=[os.path.join(checkpoints, "ckpt-4")])
      codec_b, history = training.train_and_evaluate(
          config, resumed, self.train_images, self.test_images)
      self.assertEqual([h["step"] for h in history], [6])
      self.assertLen(codec_b.variables, len(codec_a.variables))
      for a, b in zip(codec_a.variables, codec_b.variables):
        self.assertAllEqual(a, b, msg=f"{architecture} {a.name}")
      self._assert_same_checkpoints(straight, resumed)

  def test_resume_mid_epoch_after_a_time_based_checkpoint(self):
    model_dir = self.get_temp_dir() + "/midepoch"
    # checkpoint_secs=0 saves after every compiled loop of one step.
    config = training.TrainConfig(
        **dict(TINY, steps_per_loop=1, checkpoint_secs=0.))
    training.train_and_evaluate(config, model_dir, self.train_images,
                                self.test_images)
    checkpoints = tf.train.get_checkpoint_state(
        os.path.join(model_dir, "checkpoints")).all_model_checkpoint_paths
    self.assertEqual([p.rsplit("-", 1)[1] for p in checkpoints],
                     ["1", "2", "3"])

  def test_restore_codec_reads_the_latest_checkpoint(self):
    # The codec that training returns and validated: for `improved`, the
    # moving average of the variables, not the variables as trained (which
    # differ after two epochs: the average updated at the end of each).
    kernel = "analysis_transform/conv_1/kernel/.ATTRIBUTES/VARIABLE_VALUE"
    for architecture, key in (("tutorial", "codec/"),
                              ("improved", "moving_average/codec/")):
      model_dir = self.get_temp_dir() + "/restore_" + architecture
      codec, _ = training.train_and_evaluate(
          training.TrainConfig(**dict(TINY, architecture=architecture,
                                      epochs=2)),
          model_dir, self.train_images, self.test_images)
      restored, config = training.restore_codec(model_dir)
      self.assertEqual(config.latent_dims, 8)
      for a, b in zip(codec.trainable_variables,
                      restored.trainable_variables):
        self.assertAllEqual(a, b)
      path = tf.train.latest_checkpoint(os.path.join(model_dir, "checkpoints"))
      self.assertAllEqual(restored.analysis_transform.conv_1.kernel,
                          tf.train.load_variable(path, key + kernel))
    self.assertNotAllClose(tf.train.load_variable(path, "codec/" + kernel),
                           tf.train.load_variable(path, key + kernel))

  def test_refuses_other_settings_in_the_same_model_dir(self):
    model_dir = self.get_temp_dir() + "/settings"
    training.train_and_evaluate(
        training.TrainConfig(**TINY), model_dir, self.train_images,
        self.test_images)
    with self.assertRaisesRegex(ValueError, "latent_dims=8"):
      training.train_and_evaluate(
          training.TrainConfig(**dict(TINY, latent_dims=9)), model_dir,
          self.train_images, self.test_images)

  def test_rejects_bad_config_and_images(self):
    with self.assertRaisesRegex(ValueError, "lmbda"):
      training.TrainConfig(lmbda=0.)
    with self.assertRaisesRegex(ValueError, "batch_size"):
      training.TrainConfig(batch_size=0)
    with self.assertRaisesRegex(ValueError, "train_images"):
      training.train_and_evaluate(
          training.TrainConfig(**TINY), self.get_temp_dir() + "/bad",
          self.train_images[..., 0], self.test_images)

  def test_run_folder_names_stay_on_the_package(self):
    # The sweep and bin/main.py read them as `training.X`.
    self.assertEqual(training.CONFIG_FILE, "config.json")
    self.assertEqual(training.CHECKPOINT_DIR, "checkpoints")
    self.assertEqual(training.SUMMARY_DIR, "summaries")
    self.assertEqual(training.FIXED_SETTINGS,
                     ("architecture", "lmbda", "latent_dims", "batch_size",
                      "learning_rate", "seed", "prior_learning_rate_factor",
                      "ema_steps", "analysis_hidden_layers"))

  def test_restore_codec_without_a_run_names_the_folder(self):
    with self.assertRaisesRegex(FileNotFoundError, "holds no trained model"):
      training.restore_codec(self.get_temp_dir() + "/nothing")


if __name__ == "__main__":
  tf.test.main()
