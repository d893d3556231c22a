#!/usr/bin/env python3
"""Re-exports <model_dir>/saved_model from the latest checkpoint.

  bin/export.py --model_dir=runs/mnist
"""

import pathlib

from absl import app
from absl import flags
from absl import logging


from tfmnistcodec import cli
from tfmnistcodec import export
from tfmnistcodec import training

_MODEL_DIR = flags.DEFINE_string(
    "model_dir", None, "Folder of a training run (bin/train.py --model_dir).")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  with cli.user_errors():
    codec, config = training.restore_codec(_MODEL_DIR.value)
    path = pathlib.Path(_MODEL_DIR.value) / cli.SAVED_MODEL_DIR
    export.export_saved_model(codec, path, config.lmbda)
    logging.info("Exported the SavedModel to %s.", path)


if __name__ == "__main__":
  flags.mark_flag_as_required("model_dir")
  app.run(main)
