"""Training: the tape loop, its configuration, checkpoints and run folders."""

from tfmnistcodec.training.loop import evaluate
from tfmnistcodec.training.loop import format_seconds
from tfmnistcodec.training.loop import learning_rate
from tfmnistcodec.training.loop import load_config
from tfmnistcodec.training.loop import make_optimizer
from tfmnistcodec.training.loop import make_prior_optimizer
from tfmnistcodec.training.loop import optimizer_groups
from tfmnistcodec.training.loop import restore_codec
from tfmnistcodec.training.loop import train_and_evaluate
from tfmnistcodec.training.loop import train_step
from tfmnistcodec.training.loop import TrainConfig
from tfmnistcodec.training.loop import write_json
# Not in `__all__`, but read as `training.X` by the sweep and bin/main.py, as
# when training was one module.
from tfmnistcodec.training.loop import CHECKPOINT_DIR
from tfmnistcodec.training.loop import CONFIG_FILE
from tfmnistcodec.training.loop import FIXED_SETTINGS
from tfmnistcodec.training.loop import SUMMARY_DIR

__all__ = [
    "TrainConfig",
    "make_optimizer",
    "make_prior_optimizer",
    "optimizer_groups",
    "learning_rate",
    "train_step",
    "evaluate",
    "train_and_evaluate",
    "load_config",
    "restore_codec",
    "write_json",
    "format_seconds",
]
