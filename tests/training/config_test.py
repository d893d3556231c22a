"""Tests of `training.config`: the config's checks, the settings a resume keeps."""

import tensorflow as tf

from tfmnistcodec.training import config as config_lib


class ConfigTest(tf.test.TestCase):

  def test_rejects_out_of_range_values(self):
    for name, value, message in (
        ("lmbda", 0., "lmbda must be positive, got 0.0."),
        ("learning_rate", -1., "learning_rate must be positive, got -1.0."),
        ("latent_dims", 0, "latent_dims must be at least 1, got 0."),
        ("steps_per_loop", 0, "steps_per_loop must be at least 1, got 0."),
        ("eval_batch_size", 0, "eval_batch_size must be at least 1, got 0."),
    ):
      with self.subTest(name), self.assertRaises(ValueError) as raised:
        config_lib.TrainConfig(**{name: value})
      self.assertEqual(str(raised.exception), message)

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
