#!/usr/bin/env python3
"""Seconds per training epoch: tfmnistcodec's architectures and the Keras model.

  bin/benchmark_training.py [--epochs=2 --repeats=3 --data_dir=...]

Runs, alternating so that all see the same machine load, `--repeats` fresh
processes of each of: tfmnistcodec's training loop as `bin/train.py` runs it
(TensorFlow's oneDNN kernels on) with the `tutorial` and the `improved`
architecture, the tutorial one with TensorFlow's defaults, and the TensorFlow
Compression tutorial's Keras model
(`benchmarks/keras_tutorial.py`, `Model.fit`, TensorFlow's defaults), each for
`--epochs` epochs on MNIST with the default settings (lmbda 2000; batches of
128 digits, 256 for `improved`, as `bin/train.py` trains each), validating on
the test split after every epoch. An epoch's time is its training plus its
validation. The first epoch of each process also pays for tracing, so
it is reported apart. Prints one JSON object: the medians, the ratios to
Keras, the ratio of `improved` to `tutorial`, and every measurement.

  bin/benchmark_training.py --time_to_target --epochs=15 [--lmbdas=2000,300]

Time to quality instead: for each lmbda, the Keras model trains `--epochs`
epochs and codes the test digits (its target: information bits + lmbda * the
MAE of its uint8 outputs), then `bin/train.py`'s defaults train as long, and
the report gives the seconds until their logged test loss first reaches the
target, and that over the Keras model's training time.
"""

import json
import pathlib
import sys

from absl import app
from absl import flags

from tfmnistcodec.study import benchmark_training

_EPOCHS = flags.DEFINE_integer(
    "epochs", 2, "Epochs per run (at least 2: the first one is warm-up).",
    lower_bound=2)
_REPEATS = flags.DEFINE_integer("repeats", 3, "Runs of each.", lower_bound=1)
_DATA_DIR = flags.DEFINE_string("data_dir", None, "TFDS data folder.")
_WORKER = flags.DEFINE_enum(
    "worker", None, ["tfmnistcodec"],
    "Internal: run one tfmnistcodec training and print its epoch times.")
PROGRAMS = ("tfmnistcodec", "tfmnistcodec_improved", "tfmnistcodec_tf_defaults",
            "keras_tutorial")
_PROGRAMS = flags.DEFINE_multi_enum(
    "programs", list(PROGRAMS), PROGRAMS,
    "Which programs to time (repeat the flag for several); ratios are "
    "reported where both sides ran.")
_ARCHITECTURE = flags.DEFINE_string(
    "architecture", "tutorial", "Internal: the worker's architecture.")
_LMBDA = flags.DEFINE_float("lmbda", 2000., "Internal: the worker's lmbda.")
_TIME_TO_TARGET = flags.DEFINE_bool(
    "time_to_target", False,
    "Measure the time to the Keras model's final test loss instead.")
_LMBDAS = flags.DEFINE_list(
    "lmbdas", ["2000", "300"], "With --time_to_target: the lmbdas to train at.")

REPO = pathlib.Path(__file__).resolve().parent.parent


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  if _WORKER.value:
    print(json.dumps(benchmark_training.train_once(
        _EPOCHS.value, _ARCHITECTURE.value, _DATA_DIR.value, _LMBDA.value)))
    return
  common = [f"--data_dir={_DATA_DIR.value}"] if _DATA_DIR.value else []
  ours = [sys.executable, __file__, "--worker=tfmnistcodec"]
  keras = [sys.executable, str(REPO / "benchmarks" / "keras_tutorial.py")]
  if _TIME_TO_TARGET.value:
    try:
      lmbdas = [float(lmbda) for lmbda in _LMBDAS.value]
    except ValueError:
      lmbdas = []
    if not lmbdas or not all(lmbda > 0 for lmbda in lmbdas):
      raise app.UsageError(f"--lmbdas must be positive numbers, got "
                           f"{','.join(_LMBDAS.value)!r}")
    # Only here: the side-by-side epochs need no TensorFlow in this process.
    from tfmnistcodec.core import model  # pylint: disable=g-import-not-at-top
    report = benchmark_training.time_to_target(
        (keras + common, False),
        (ours + [f"--architecture={model.DEFAULT_ARCHITECTURE}"] + common,
         True), lmbdas, _EPOCHS.value, cwd=REPO)
    print(json.dumps(report, indent=2))
    return
  # name: (command, whether TensorFlow's oneDNN kernels are on)
  commands = {
      "tfmnistcodec": (ours, True),
      "tfmnistcodec_improved": (ours + ["--architecture=improved"], True),
      "tfmnistcodec_tf_defaults": (ours, False),
      "keras_tutorial": (keras + ["--evaluate=false"], False),
  }
  commands = {name: commands[name] for name in PROGRAMS
              if name in _PROGRAMS.value}
  commands = {name: (command + common, onednn)
              for name, (command, onednn) in commands.items()}
  report = benchmark_training.compare(commands, _REPEATS.value, _EPOCHS.value,
                                      cwd=REPO)
  for name in ("tfmnistcodec", "tfmnistcodec_improved",
               "tfmnistcodec_tf_defaults"):
    report[f"ratio_{name}_to_keras"] = benchmark_training.ratio(
        report, name, "keras_tutorial")
  report["ratio_improved_to_tutorial"] = benchmark_training.ratio(
      report, "tfmnistcodec_improved", "tfmnistcodec")
  print(json.dumps(report, indent=2))


if __name__ == "__main__":
  app.run(main)
