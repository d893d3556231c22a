"""A run folder (`model_dir`): where each of a run's files lives.

    model_dir/
      config.json     the `TrainConfig` (`CONFIG_FILE`)
      checkpoints/    `tf.train.CheckpointManager`'s `ckpt-<step>` (`CHECKPOINT_DIR`)
      summaries/      TensorBoard's events (`SUMMARY_DIR`)
      saved_model/    the export (`contract.SAVED_MODEL_DIR`)

On several workers only the chief writes here (`distribute.is_chief`).
"""

import dataclasses
import json
import pathlib

import tensorflow as tf

from tfmnistcodec import contract
from tfmnistcodec.files import atomic
from tfmnistcodec.training import config as config_lib

__all__ = [
    "CONFIG_FILE",
    "CHECKPOINT_DIR",
    "SUMMARY_DIR",
    "RunFolder",
    "load_config",
    "write_json",
]

CONFIG_FILE = "config.json"
CHECKPOINT_DIR = "checkpoints"
SUMMARY_DIR = "summaries"


# Kept here for callers of `training.write_json`; `atomic` owns it.
write_json = atomic.write_json


def load_config(model_dir):
  """The `TrainConfig` a model_dir was trained with.

  Raises:
    FileNotFoundError: there is no `config.json`: no run was started there.
    contract.UserValueError: `config.json` is not valid JSON.
  """
  path = pathlib.Path(model_dir) / CONFIG_FILE
  try:
    values = json.loads(path.read_text())
  except FileNotFoundError:
    raise FileNotFoundError(
        f"{path} does not exist: {model_dir} holds no trained model.") from None
  except json.JSONDecodeError as e:
    raise contract.UserValueError(f"{path} is not valid JSON: {e}.") from None
  fields = {f.name for f in dataclasses.fields(config_lib.TrainConfig)}
  # Runs from before architectures existed trained the tutorial's.
  values.setdefault("architecture", "tutorial")
  # Runs from before the factor was recorded trained with their
  # architecture's factor of then: 10 for `improved`, no prior Adam (1) for
  # `tutorial`.
  values.setdefault("prior_learning_rate_factor",
                    10. if values["architecture"] == "improved" else 1.)
  # Runs from before the moving average validated and exported their
  # variables as trained.
  values.setdefault("ema_steps", 0.)
  # Runs from before the analysis transform's depth was recorded had the
  # tutorial's one hidden layer.
  values.setdefault("analysis_hidden_layers", 1)
  return config_lib.TrainConfig(
      **{k: v for k, v in values.items() if k in fields})


class RunFolder:
  """The files of one run, under `path`; it makes nothing until asked."""

  def __init__(self, path):
    self._path = pathlib.Path(path)

  @property
  def path(self):
    return self._path

  @property
  def config_file(self):
    return self._path / CONFIG_FILE

  @property
  def checkpoint_dir(self):
    return self._path / CHECKPOINT_DIR

  @property
  def summary_dir(self):
    return self._path / SUMMARY_DIR

  @property
  def saved_model_dir(self):
    return self._path / contract.SAVED_MODEL_DIR

  def load_config(self):
    """The `TrainConfig` of `config.json` (`load_config`)."""
    return load_config(self._path)

  def start(self, config, write=True):
    """Checks `config` against a saved one; if `write`, makes and writes it.

    Args:
      config: The `TrainConfig` of the run starting or resuming here.
      write: Whether this task writes the folder (on several workers, the
        chief only): then the folder is made and `config.json` (re)written.

    Returns:
      `config` as the run trains with it (`TrainConfig.resolve`): where it
      leaves a setting to the architecture, a resumed run keeps its own.

    Raises:
      ValueError: the folder holds a run with other `FIXED_SETTINGS`.
    """
    if write:
      self._path.mkdir(parents=True, exist_ok=True)
    config = self.resolve(config)
    if write:
      write_json(self.config_file, dataclasses.asdict(config))
    return config

  def resolve(self, config):
    """`config` as a run here trains with it; writes nothing.

    Where `config` leaves a setting to the architecture, a run resumed here
    keeps its own (`TrainConfig.resolve`).

    Raises:
      ValueError: the folder holds a run with other `FIXED_SETTINGS`.
    """
    saved = self.load_config() if self.config_file.exists() else None
    config = config.resolve(saved)
    if saved is not None:
      config_lib.check_same_settings(saved, config, self._path)
    return config

  def latest_checkpoint(self):
    """The path of the newest checkpoint, or `None` if there is none."""
    return tf.train.latest_checkpoint(str(self.checkpoint_dir))

  @staticmethod
  def checkpoint_step(path):
    """The step of checkpoint `path` (`.../ckpt-<step>`); -1 for `None`."""
    return -1 if path is None else int(path.rsplit("-", 1)[1])

  def summary_writer(self, write=True):
    """The run's summary writer, or one that writes nothing if not `write`."""
    if write:
      return tf.summary.create_file_writer(str(self.summary_dir))
    return tf.summary.create_noop_writer()
