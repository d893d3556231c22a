#!/usr/bin/env python3
"""A rate–distortion sweep: one model per λ, then the report across them.

  bin/sweep.py --lmbdas=2000,500,300 --workdir=runs/sweep

Trains one model per λ in <workdir>/lmbda_<λ> with the other training flags
(reusing models that are finished, resuming one that was interrupted), then
codes the test digits with each and with PNG, WebP and JPEG, and writes
<workdir>/report/report.json, report.md and rd.png (bin/evaluate.py).
"""

# TensorFlow's oneDNN CPU kernels unless the environment says otherwise;
# set before TensorFlow is imported (tfmnistcodec/tfenv.py says why).
from tfmnistcodec import tfenv

tfenv.use_onednn_by_default()

# pylint: disable=g-import-not-at-top,wrong-import-position
import os

from absl import app
from absl import flags

from tfmnistcodec import cli
from tfmnistcodec.study import sweep

cli.define_training_flags(single_run=False)
_LMBDAS = flags.DEFINE_list(
    "lmbdas", ["2000", "500", "300"], "Comma-separated λ values, one model "
    "each.")
_WORKDIR = flags.DEFINE_string(
    "workdir", None, "Folder of the sweep's models and report.")
_CLASSICAL = flags.DEFINE_bool(
    "classical", True, "Also code the test digits with PNG, WebP and JPEG.")
FLAGS = flags.FLAGS


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  with cli.user_errors():
    lmbdas = [cli.positive_float(value, "--lmbdas") for value in _LMBDAS.value]
    model_dirs = sweep.run_sweep(lmbdas, _WORKDIR.value,
                                 cli.train_config_from_flags(), FLAGS.dataset,
                                 FLAGS.data_dir)
    print(sweep.evaluate_models(
        model_dirs, os.path.join(_WORKDIR.value, "report"),
        dataset=FLAGS.dataset, data_dir=FLAGS.data_dir,
        classical_codecs=_CLASSICAL.value))


if __name__ == "__main__":
  flags.mark_flag_as_required("workdir")
  app.run(main)
