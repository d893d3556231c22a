#!/usr/bin/env python3
"""Rate–distortion report of trained models beside classical codecs.

  bin/evaluate.py --models=runs/sweep/lmbda_2000,runs/sweep/lmbda_500 \
      --output_dir=runs/report

Codes every test digit with each model's SavedModel (a run's --model_dir, or
the SavedModel folder itself) and reports information content, string bits,
file sizes in both file modes, MAE and PSNR, with the λ and architecture
each model was trained with; stores the same digits with PNG, WebP and JPEG,
one file per digit; and writes <output_dir>/report.json, report.md and
rd.png (the rate–distortion plot). Prints the Markdown table.
"""

from absl import app
from absl import flags


from tfmnistcodec import cli
from tfmnistcodec.study import sweep

_MODELS = flags.DEFINE_list(
    "models", None, "Comma-separated model_dirs of trained runs (or "
    "SavedModel folders).")
_OUTPUT_DIR = flags.DEFINE_string(
    "output_dir", None, "Where to write report.json, report.md and rd.png.")
_DATASET = flags.DEFINE_string("dataset", "mnist",
                               "TFDS name of the digits to code.")
_SPLIT = flags.DEFINE_string("split", "test", "Split of --dataset to code.")
_DATA_DIR = flags.DEFINE_string("data_dir", None, "TFDS data folder.")
_CLASSICAL = flags.DEFINE_bool(
    "classical", True, "Also code the digits with PNG, WebP and JPEG (about "
    "two minutes for 10,000 digits).")
_BASELINE = flags.DEFINE_string(
    "baseline", "tutorial", "Architecture the BD-rates are computed against.")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  with cli.user_errors():
    report = sweep.evaluate_models(
        _MODELS.value, _OUTPUT_DIR.value, dataset=_DATASET.value,
        split=_SPLIT.value, data_dir=_DATA_DIR.value,
        classical_codecs=_CLASSICAL.value, baseline=_BASELINE.value)
    print(report)


if __name__ == "__main__":
  flags.mark_flags_as_required(["models", "output_dir"])
  app.run(main)
