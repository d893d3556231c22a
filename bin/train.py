#!/usr/bin/env python3
"""Trains a tfmnistcodec codec and exports its SavedModel.

  bin/train.py --model_dir=runs/mnist [--lmbda=2000 --epochs=15 ...]
  bin/train.py --model_dir=runs/mnist --strategy=mirrored      # all local GPUs
  TF_CONFIG=... bin/train.py --model_dir=/shared/run --strategy=multi_worker

Writes <model_dir>/config.json, checkpoints/, summaries/ (TensorBoard) and
saved_model/. A rerun with the same --model_dir resumes from the last
checkpoint, under any --strategy; once all epochs are done it only re-exports.
Under --strategy=multi_worker, start the same command on every machine, each
with its own TF_CONFIG (README.md); only the chief writes to --model_dir.
"""

# TensorFlow's oneDNN CPU kernels unless the environment says otherwise;
# set before TensorFlow is imported (tfmnistcodec/tfenv.py says why).
from tfmnistcodec import tfenv

tfenv.use_onednn_by_default()

# pylint: disable=g-import-not-at-top,wrong-import-position
from absl import app
from absl import flags

from tfmnistcodec import cli

cli.define_training_flags()
FLAGS = flags.FLAGS


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  with cli.user_errors():
    cli.train_and_export(cli.train_config_from_flags(), FLAGS.model_dir,
                         FLAGS.dataset, FLAGS.data_dir, FLAGS.strategy)


if __name__ == "__main__":
  flags.mark_flag_as_required("model_dir")
  app.run(main)
