"""Training: the tape loop, its configuration, checkpoints and run folders.

- `config`: `TrainConfig`, and the settings a resumed run keeps.
- `run_folder`: `RunFolder`, where a run's files live.
- `trainer`: the optimizers, the learning-rate schedule and `Trainer`, the
  compiled inner steps.
- `averaging`: `MovingAverage`, the average of the variables that validation
  and export use where a run keeps one.
- `controller`: `Controller` (restore, saves, validation, summaries, timing)
  and `train_and_evaluate`, which composes the two.
- `distribute`: the `tf.distribute` strategies and what each worker writes.
"""

from tfmnistcodec.training.config import FIXED_SETTINGS
from tfmnistcodec.training.config import TrainConfig
from tfmnistcodec.training.controller import format_seconds
from tfmnistcodec.training.controller import restore_codec
from tfmnistcodec.training.controller import train_and_evaluate
from tfmnistcodec.training.run_folder import CHECKPOINT_DIR
from tfmnistcodec.training.run_folder import CONFIG_FILE
from tfmnistcodec.training.run_folder import load_config
from tfmnistcodec.training.run_folder import SUMMARY_DIR
from tfmnistcodec.training.run_folder import write_json
from tfmnistcodec.training.trainer import evaluate
from tfmnistcodec.training.trainer import learning_rate
from tfmnistcodec.training.trainer import make_optimizer
from tfmnistcodec.training.trainer import make_prior_optimizer
from tfmnistcodec.training.trainer import optimizer_groups
from tfmnistcodec.training.trainer import train_step

__all__ = [
    "CHECKPOINT_DIR",
    "CONFIG_FILE",
    "evaluate",
    "FIXED_SETTINGS",
    "format_seconds",
    "learning_rate",
    "load_config",
    "make_optimizer",
    "make_prior_optimizer",
    "optimizer_groups",
    "restore_codec",
    "SUMMARY_DIR",
    "train_and_evaluate",
    "train_step",
    "TrainConfig",
    "write_json",
]
