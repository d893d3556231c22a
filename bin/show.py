#!/usr/bin/env python3
"""The tutorial's figure: 16 test digits, their strings, their reconstructions.

  bin/show.py --model=runs/mnist --output=digits.png [--skip=0]

Codes test digits --skip to --skip+15 with the model's SavedModel and writes a
PNG of each original beside its reconstruction, titled with the range-coded
string in hex and its length and information content in bits.
"""

from absl import app
from absl import flags

from tfmnistcodec import contract
from tfmnistcodec import cli
from tfmnistcodec import data
from tfmnistcodec.files import atomic
from tfmnistcodec.study import evaluation

_MODEL = flags.DEFINE_string(
    "model", None, "A run's model_dir, or its SavedModel folder.")
_OUTPUT = flags.DEFINE_string("output", None, "The PNG to write.")
_SKIP = flags.DEFINE_integer("skip", 0, "Index of the first digit shown.",
                             lower_bound=0)
_NUM = flags.DEFINE_integer("num", 16, "How many digits to show.",
                            lower_bound=1, upper_bound=64)
_DATASET = flags.DEFINE_string("dataset", "mnist", "TFDS name of the digits.")
_DATA_DIR = flags.DEFINE_string("data_dir", None, "TFDS data folder.")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  with cli.user_errors():
    saved_model = evaluation.find_saved_model(_MODEL.value)
    atomic.check_output(_OUTPUT.value, inputs=[saved_model])
    images = data.load_numpy(_DATASET.value, "test", _DATA_DIR.value)
    if _SKIP.value >= len(images):
      raise contract.UserValueError(
          f"--skip={_SKIP.value} is past the last of the "
          f"{len(images)} test digits.")
    # Digits before --skip are coded too (milliseconds each), so the
    # figure's titles give each digit's index in the split.
    images = images[:_SKIP.value + _NUM.value]
    result = evaluation.code_with_saved_model(saved_model, images)
    evaluation.figure(images, result, _OUTPUT.value, num=_NUM.value,
                      skip=_SKIP.value)
    print(f"test digits {_SKIP.value} to {len(images) - 1} -> "
          f"{_OUTPUT.value}")


if __name__ == "__main__":
  flags.mark_flags_as_required(["model", "output"])
  app.run(main)
