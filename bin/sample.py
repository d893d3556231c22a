#!/usr/bin/env python3
"""The decoder as a generative model: random strings decoded into digits.

  bin/sample.py --model=runs/mnist --output=samples.png --num=16 --seed=0

Draws --num random byte strings of --bytes bytes each from --seed and decodes
them with the SavedModel's `decompress_unchecked` signature (no sanity check,
so any bytes decode), as the tutorial does; writes them as a grid PNG, each
titled with its string in hex.
"""

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf
import tensorflow_compression  # pylint: disable=unused-import  # Coder ops.

from tfmnistcodec import contract
from tfmnistcodec import cli
from tfmnistcodec.files import atomic
from tfmnistcodec.study import evaluation
from tfmnistcodec.study import report

_MODEL = flags.DEFINE_string(
    "model", None, "A run's model_dir, or its SavedModel folder.")
_OUTPUT = flags.DEFINE_string("output", None, "The PNG to write.")
_NUM = flags.DEFINE_integer("num", 16, "How many samples.", lower_bound=1,
                            upper_bound=256)
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the random strings.",
                             lower_bound=0)
_BYTES = flags.DEFINE_integer(
    "bytes", 8, "Bytes per random string (the tutorial's 8 are about what a "
    "digit costs at λ=2000).", lower_bound=1, upper_bound=64)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  with cli.user_errors():
    saved_model = evaluation.find_saved_model(_MODEL.value)
    atomic.check_output(_OUTPUT.value, inputs=[saved_model])
    loaded = tf.saved_model.load(str(saved_model))
    if "decompress_unchecked" not in loaded.signatures:
      raise contract.UserValueError(
          f"the SavedModel in {saved_model} has no "
          "decompress_unchecked signature; export it again with "
          "bin/export.py.")
    rng = np.random.default_rng(_SEED.value)
    strings = [rng.bytes(_BYTES.value) for _ in range(_NUM.value)]
    images = loaded.signatures["decompress_unchecked"](
        strings=tf.constant(strings, tf.string))["images"].numpy()
    report.sample_figure(images, strings, _OUTPUT.value)
    print(f"{len(strings)} samples -> {_OUTPUT.value}")


if __name__ == "__main__":
  flags.mark_flags_as_required(["model", "output"])
  app.run(main)
