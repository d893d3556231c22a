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
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile

from absl import app
from absl import flags

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


def _train_once():
  # pylint: disable=g-import-not-at-top
  from tfmnistcodec import data
  from tfmnistcodec import training
  train = data.load_numpy("mnist", "train", _DATA_DIR.value)
  test = data.load_numpy("mnist", "test", _DATA_DIR.value)
  with tempfile.TemporaryDirectory() as model_dir:
    _, history = training.train_and_evaluate(
        training.TrainConfig(epochs=_EPOCHS.value,
                             architecture=_ARCHITECTURE.value),
        model_dir, train, test)
  print(json.dumps(dict(epoch_seconds=[h["seconds"] for h in history])))


def _run(command, onednn):
  env = dict(os.environ)
  env.pop("TF_ENABLE_ONEDNN_OPTS", None)
  if onednn:
    env["TF_ENABLE_ONEDNN_OPTS"] = "1"
  result = subprocess.run(command, capture_output=True, text=True, check=False,
                          cwd=REPO, env=env)
  if result.returncode:
    sys.exit(f"error: {' '.join(command)} failed:\n{result.stderr[-3000:]}")
  return json.loads(result.stdout.strip().splitlines()[-1])["epoch_seconds"]


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  if _WORKER.value:
    _train_once()
    return
  common = [f"--epochs={_EPOCHS.value}"]
  if _DATA_DIR.value:
    common.append(f"--data_dir={_DATA_DIR.value}")
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
  runs = {name: [] for name in commands}
  for repeat in range(_REPEATS.value):
    for name, (command, onednn) in commands.items():
      seconds = _run(command + common, onednn)
      runs[name].append(seconds)
      print(f"run {repeat + 1}/{_REPEATS.value} {name}: "
            f"{', '.join(f'{s:.1f}' for s in seconds)} s per epoch",
            file=sys.stderr)
  report = dict(epochs_per_run=_EPOCHS.value, repeats=_REPEATS.value)
  for name, seconds in runs.items():
    report[name] = dict(
        median_epoch_seconds=statistics.median(
            s for run in seconds for s in run[1:]),
        median_first_epoch_seconds=statistics.median(run[0] for run in seconds),
        runs=seconds)

  def ratio(name, baseline):
    if name in report and baseline in report:
      return (report[name]["median_epoch_seconds"] /
              report[baseline]["median_epoch_seconds"])
    return None

  for name in ("tfmnistcodec", "tfmnistcodec_improved",
               "tfmnistcodec_tf_defaults"):
    report[f"ratio_{name}_to_keras"] = ratio(name, "keras_tutorial")
  report["ratio_improved_to_tutorial"] = ratio("tfmnistcodec_improved",
                                               "tfmnistcodec")
  print(json.dumps(report, indent=2))


if __name__ == "__main__":
  app.run(main)
