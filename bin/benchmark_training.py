#!/usr/bin/env python3
"""Seconds per training epoch: tfmnistcodec's architectures and the Keras model.

  bin/benchmark_training.py [--epochs=2 --repeats=3 --data_dir=...]

Runs, alternating so that all see the same machine load, `--repeats` fresh
processes of each of: tfmnistcodec's training loop as `bin/train.py` runs it
(TensorFlow's oneDNN kernels on) with the `tutorial` and the `improved`
architecture, the tutorial one with TensorFlow's defaults, and the TensorFlow
Compression tutorial's Keras model
(`benchmarks/keras_tutorial.py`, `Model.fit`, TensorFlow's defaults), each for
`--epochs` epochs on MNIST with the default settings (lmbda 2000, batch 128),
validating on the test split after every epoch. An epoch's time is its training
plus its validation. The first epoch of each process also pays for tracing, so
it is reported apart. Prints one JSON object: the medians, the ratios to
Keras, the ratio of `improved` to `tutorial`, and every measurement.
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

REPO = pathlib.Path(__file__).resolve().parent.parent


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  if _WORKER.value:
    seconds = benchmark_training.train_once(_EPOCHS.value, _ARCHITECTURE.value,
                                            _DATA_DIR.value)
    print(json.dumps(dict(epoch_seconds=seconds)))
    return
  common = [f"--data_dir={_DATA_DIR.value}"] if _DATA_DIR.value else []
  ours = [sys.executable, __file__, "--worker=tfmnistcodec"]
  # name: (command, whether TensorFlow's oneDNN kernels are on)
  commands = {
      "tfmnistcodec": (ours, True),
      "tfmnistcodec_improved": (ours + ["--architecture=improved"], True),
      "tfmnistcodec_tf_defaults": (ours, False),
      "keras_tutorial": ([
          sys.executable, str(REPO / "benchmarks" / "keras_tutorial.py"),
          "--evaluate=false"
      ], False),
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
