"""Tests of `training.config`: the config's checks, the settings a resume keeps."""

import dataclasses

import tensorflow as tf

from tfmnistcodec.training import config as config_lib


class ConfigTest(tf.test.TestCase):

  def test_rejects_out_of_range_values(self):
    for name, value, message in (
        ("lmbda", 0., "lmbda must be positive, got 0.0."),
        ("learning_rate", -1., "learning_rate must be positive, got -1.0."),
        ("prior_learning_rate_factor", 0.,
         "prior_learning_rate_factor must be positive, got 0.0."),
        ("latent_dims", 0, "latent_dims must be at least 1, got 0."),
        ("batch_size", 0, "batch_size must be at least 1, got 0."),
        ("steps_per_loop", 0, "steps_per_loop must be at least 1, got 0."),
        ("eval_batch_size", 0, "eval_batch_size must be at least 1, got 0."),
        ("analysis_hidden_layers", 0,
         "analysis_hidden_layers must be at least 1, got 0."),
    ):
      with self.subTest(name), self.assertRaises(ValueError) as raised:
        config_lib.TrainConfig(**{name: value})
      self.assertEqual(str(raised.exception), message)

  def test_resolve_fills_in_the_architectures_settings(self):
    given = config_lib.TrainConfig(learning_rate=1e-3,
                                   prior_learning_rate_factor=5., ema_steps=0.,
                                   batch_size=64, analysis_hidden_layers=3)
    self.assertIs(given.resolve(), given)
    self.assertIs(given.resolve(config_lib.TrainConfig(
        learning_rate=2e-3, prior_learning_rate_factor=10., ema_steps=75.,
        batch_size=256, analysis_hidden_layers=3)), given)
    for architecture, settings in (
        ("improved", dict(learning_rate=2e-3, prior_learning_rate_factor=10.,
                          ema_steps=75., batch_size=256,
                          analysis_hidden_layers=3)),
        ("tutorial", dict(learning_rate=1e-3, prior_learning_rate_factor=1.,
                          ema_steps=0., batch_size=128,
                          analysis_hidden_layers=1))):
      config = config_lib.TrainConfig(architecture=architecture)
      self.assertIsNone(config.learning_rate)
      self.assertIsNone(config.prior_learning_rate_factor)
      self.assertIsNone(config.ema_steps)
      self.assertIsNone(config.batch_size)
      self.assertIsNone(config.analysis_hidden_layers)
      self.assertEqual(config.resolve(),
                       dataclasses.replace(config, **settings))
    # A run resumed without them keeps its own ...
    improved = config_lib.TrainConfig(architecture="improved")
    old = config_lib.TrainConfig(architecture="improved", learning_rate=1e-3,
                                 prior_learning_rate_factor=20., ema_steps=0.,
                                 batch_size=128, analysis_hidden_layers=1)
    self.assertEqual(improved.resolve(old), old)
    # ... one by one: what the resumed run names, it keeps ...
    self.assertEqual(
        dataclasses.replace(improved, ema_steps=100.).resolve(old),
        dataclasses.replace(old, ema_steps=100.))
    # ... unless it is another architecture's, which the check then names.
    tutorial = config_lib.TrainConfig(architecture="tutorial").resolve()
    self.assertEqual(improved.resolve(tutorial), improved.resolve())

  def test_rejects_a_negative_time_constant(self):
    with self.assertRaisesRegex(ValueError,
                                r"^ema_steps must be 0 or more, got -1\.0\.$"):
      config_lib.TrainConfig(ema_steps=-1.)

  def test_same_settings_but_epochs_pass(self):
    saved = config_lib.TrainConfig(epochs=1, steps_per_loop=7)
    config_lib.check_same_settings(
        saved, config_lib.TrainConfig(epochs=3), "runs/a")

  def test_other_settings_are_named(self):
    saved = config_lib.TrainConfig(latent_dims=8, seed=1)
    with self.assertRaises(ValueError) as raised:
      config_lib.check_same_settings(
          saved, config_lib.TrainConfig(latent_dims=9, seed=2), "runs/a")
    self.assertEqual(
        str(raised.exception),
        "runs/a holds a run with other settings: latent_dims=8 (now 9), "
        "seed=1 (now 2). Use another model_dir or the same settings.")


if __name__ == "__main__":
  tf.test.main()
