#!/usr/bin/env python3
"""Speed and memory of training and of coding through the SavedModel.

  bin/benchmark.py [--repeats=3 --epochs=2 --model=runs/mnist]

Training: --repeats fresh runs of --epochs epochs on MNIST each (bin/train.py's
loop: default settings, oneDNN kernels as bin/train.py sets them); reports the
median seconds per epoch (training and validation) and training steps per
second, over every epoch but each run's first, which also traces and
compiles. Coding: the SavedModel of --model (default: the benchmark's own
last run) compresses and decompresses test digits at batch sizes 1, 128 and
10,000, each timed call the next digits of the test split (wrapping around);
reports the median time per call and digits per second, and beside each
compress signature's, the string bits and MAE of those digits. Coders: the
range coder alone, tensorflow-compression's ops against the SavedModel's
stock-op coder on the same latents and tables, side by side (best of 5
alternating rounds, bits per digit, whether the bytes are identical). Files,
with --file_digits: bin/compress.py and bin/decompress.py, each in its own
process, on inputs of those sizes: seconds, digits per second and peak
resident memory of each, and the round trip checked against the
SavedModel's own. Then the peak resident memory of this process. Prints one JSON object (also written to
--output when given). The machine is shared and noisy: compare numbers from
one run, side by side.
"""



# oneDNN as bin/train.py sets it: the training numbers are the binaries'.
from tfmnistcodec import tfenv

tfenv.use_onednn_by_default()

# pylint: disable=g-import-not-at-top,wrong-import-position
import json

from absl import app
from absl import flags

from tfmnistcodec import cli
from tfmnistcodec import data
from tfmnistcodec.files import atomic
from tfmnistcodec.study import benchmark

_REPEATS = flags.DEFINE_integer(
    "repeats", 3, "Training runs; 0 skips training (then --model is needed).",
    lower_bound=0)
_EPOCHS = flags.DEFINE_integer(
    "epochs", 2, "Epochs per training run (the first is warm-up).",
    lower_bound=1)
_MODEL = flags.DEFINE_string(
    "model", None, "SavedModel (or model_dir) for the coding benchmark; "
    "default: the model of the benchmark's last training run.")
_CALLS = flags.DEFINE_list(
    "batch_calls", ["1:200", "128:50", "10000:5"],
    "Coding batch sizes and how many timed calls of each, as SIZE:CALLS.")
_FILE_DIGITS = flags.DEFINE_list(
    "file_digits", [],
    "Also time bin/compress.py and bin/decompress.py (each its own process, "
    "with its peak memory) on .npy inputs of this many test digits "
    "(repeated), e.g. 10000,100000,1000000. Default: not run.")
_CODERS = flags.DEFINE_bool(
    "coders", True, "Also time the range coder alone: tensorflow-compression's "
    "ops against the stock-op coder, 1, 128 and 10,000 digits per call.")
_DATA_DIR = flags.DEFINE_string("data_dir", None, "TFDS data folder.")
_OUTPUT = flags.DEFINE_string("output", None, "Also write the JSON here.")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  with cli.user_errors():
    batch_calls = benchmark.parse_batch_calls(_CALLS.value)
    file_digits = benchmark.parse_sizes(_FILE_DIGITS.value, "--file_digits")
    if not _REPEATS.value and not _MODEL.value:
      raise app.UsageError("--repeats=0 (no training) needs a --model.")
    if _OUTPUT.value:
      atomic.check_output(_OUTPUT.value,
                          inputs=[_MODEL.value] if _MODEL.value else [])
    result = benchmark.benchmark(
        data.load_numpy("mnist", "train", _DATA_DIR.value),
        data.load_numpy("mnist", "test", _DATA_DIR.value),
        _REPEATS.value, _EPOCHS.value, batch_calls, _MODEL.value,
        file_digits, coders=_CODERS.value)
    text = json.dumps(result, indent=2)
    if _OUTPUT.value:
      atomic.write_bytes(_OUTPUT.value, (text + "\n").encode())
    print(text)


if __name__ == "__main__":
  app.run(main)
