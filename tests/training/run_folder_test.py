"""Tests of `training.run_folder`: paths, config.json, checkpoint steps."""

import dataclasses
import json
import pathlib

import tensorflow as tf

from tfmnistcodec import training
from tfmnistcodec.training import config as config_lib
from tfmnistcodec.training import run_folder


class RunFolderTest(tf.test.TestCase):

  def test_paths(self):
    folder = run_folder.RunFolder("runs/mnist")
    self.assertEqual(folder.path, pathlib.Path("runs/mnist"))
    self.assertEqual(folder.config_file, pathlib.Path("runs/mnist/config.json"))
    self.assertEqual(folder.checkpoint_dir,
                     pathlib.Path("runs/mnist/checkpoints"))
    self.assertEqual(folder.summary_dir, pathlib.Path("runs/mnist/summaries"))
    self.assertEqual(folder.saved_model_dir,
                     pathlib.Path("runs/mnist/saved_model"))

  def test_checkpoint_step(self):
    step = run_folder.RunFolder.checkpoint_step
    self.assertEqual(step(None), -1)
    self.assertEqual(step("runs/mnist/checkpoints/ckpt-0"), 0)
    self.assertEqual(step("runs/lmbda-500/checkpoints/ckpt-1234"), 1234)

  def test_start_makes_the_folder_and_writes_the_config(self):
    folder = run_folder.RunFolder(self.get_temp_dir() + "/a/b")
    config = config_lib.TrainConfig(latent_dims=8, epochs=2)
    started = folder.start(config)
    # The settings the run trains with are written, not `None`.
    self.assertEqual(started, config.resolve())
    self.assertEqual(started.learning_rate, 2e-3)
    self.assertEqual(started.prior_learning_rate_factor, 10.)
    self.assertEqual(started.ema_steps, 75.)
    self.assertEqual(started.batch_size, 256)
    self.assertEqual(started.analysis_hidden_layers, 3)
    self.assertEqual(json.loads(folder.config_file.read_text()),
                     dataclasses.asdict(started))
    self.assertEqual(folder.load_config(), started)
    self.assertEqual(training.load_config(folder.path), started)

  def test_a_run_resumed_without_a_factor_keeps_its_own(self):
    folder = run_folder.RunFolder(self.get_temp_dir() + "/factor")
    folder.start(config_lib.TrainConfig(prior_learning_rate_factor=20.))
    started = folder.start(config_lib.TrainConfig(epochs=20))
    self.assertEqual(started.prior_learning_rate_factor, 20.)
    self.assertEqual(folder.load_config(), started)
    with self.assertRaisesRegex(
        ValueError, r"prior_learning_rate_factor=20\.0 \(now 10\.0\)"):
      folder.start(config_lib.TrainConfig(prior_learning_rate_factor=10.))

  def test_a_run_resumed_keeps_its_learning_rate_average_and_batch(self):
    folder = run_folder.RunFolder(self.get_temp_dir() + "/rates")
    folder.start(config_lib.TrainConfig(learning_rate=1e-3, ema_steps=0.,
                                        batch_size=128))
    started = folder.start(config_lib.TrainConfig(epochs=20))
    self.assertEqual(
        (started.learning_rate, started.ema_steps, started.batch_size),
        (1e-3, 0., 128))
    with self.assertRaisesRegex(ValueError, r"ema_steps=0\.0 \(now 75\.0\)"):
      folder.start(config_lib.TrainConfig(ema_steps=75.))
    with self.assertRaisesRegex(ValueError, r"batch_size=128 \(now 256\)"):
      folder.start(config_lib.TrainConfig(batch_size=256))
    # `resolve` checks the same, and writes nothing.
    self.assertEqual(folder.resolve(config_lib.TrainConfig(epochs=20)),
                     started)
    with self.assertRaisesRegex(ValueError, r"batch_size=128 \(now 256\)"):
      folder.resolve(config_lib.TrainConfig(batch_size=256))
    self.assertEqual(folder.load_config(), started)

  def test_a_config_from_before_the_factor_keeps_the_factor_of_then(self):
    for architecture, factor in (("improved", 10.), ("tutorial", 1.)):
      folder = run_folder.RunFolder(self.get_temp_dir() + "/" + architecture)
      folder.path.mkdir()
      # Such configs recorded their learning rate and batch, and had no
      # average.
      values = dataclasses.asdict(
          config_lib.TrainConfig(architecture=architecture,
                                 learning_rate=1e-3, batch_size=128))
      del values["prior_learning_rate_factor"], values["ema_steps"]
      del values["analysis_hidden_layers"]
      run_folder.write_json(folder.config_file, values)
      saved = folder.load_config()
      # ... and the tutorial's analysis transform.
      self.assertEqual(
          (saved.learning_rate, saved.prior_learning_rate_factor,
           saved.ema_steps, saved.batch_size, saved.analysis_hidden_layers),
          (1e-3, factor, 0., 128, 1))
      # Resumed with the defaults, it goes on with those settings.
      self.assertEqual(folder.start(config_lib.TrainConfig(
          architecture=architecture)), saved)

  def test_start_without_write_makes_nothing(self):
    folder = run_folder.RunFolder(self.get_temp_dir() + "/not_chief")
    folder.start(config_lib.TrainConfig(), write=False)
    self.assertFalse(folder.path.exists())

  def test_start_rewrites_epochs_and_refuses_other_settings(self):
    folder = run_folder.RunFolder(self.get_temp_dir() + "/resume")
    folder.start(config_lib.TrainConfig(epochs=1))
    folder.start(config_lib.TrainConfig(epochs=3))
    self.assertEqual(folder.load_config().epochs, 3)
    with self.assertRaisesRegex(ValueError, r"lmbda=2000\.0 \(now 500\.0\)"):
      folder.start(config_lib.TrainConfig(epochs=3, lmbda=500.))
    # Refused before anything is written.
    self.assertEqual(folder.load_config(),
                     config_lib.TrainConfig(epochs=3).resolve())

  def test_a_config_from_before_architectures_is_the_tutorial(self):
    folder = run_folder.RunFolder(self.get_temp_dir() + "/old")
    folder.path.mkdir()
    values = dataclasses.asdict(config_lib.TrainConfig())
    del values["architecture"], values["prior_learning_rate_factor"]
    values["a_setting_since_removed"] = 1
    run_folder.write_json(folder.config_file, values)
    self.assertEqual(folder.load_config(), config_lib.TrainConfig(
        architecture="tutorial", prior_learning_rate_factor=1.))

  def test_no_config_names_the_folder(self):
    path = self.get_temp_dir() + "/nothing"
    with self.assertRaises(FileNotFoundError) as raised:
      run_folder.load_config(path)
    self.assertEqual(
        str(raised.exception),
        f"{path}/config.json does not exist: {path} holds no trained model.")

  def test_no_checkpoint_yet(self):
    folder = run_folder.RunFolder(self.get_temp_dir() + "/empty")
    self.assertIsNone(folder.latest_checkpoint())


if __name__ == "__main__":
  tf.test.main()
