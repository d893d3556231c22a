"""Seconds per training epoch of several programs, side by side.

The logic behind bin/benchmark_training.py. Each program is a command that
trains in a fresh process and prints, as its last line, a JSON object with
`epoch_seconds`; the programs run alternately, `repeats` times each, so that
all see the same machine load. An epoch's time is its training plus its
validation; the first epoch of each process also pays for tracing, so it is
reported apart.
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile

from tfmnistcodec import tfenv

__all__ = ["compare", "ratio", "run_program", "train_once"]


def train_once(epochs, architecture, data_dir=None):
  """One training run with the default settings; its seconds per epoch."""
  # pylint: disable=g-import-not-at-top  # The caller sets oneDNN first.
  from tfmnistcodec import data
  from tfmnistcodec import training
  train = data.load_numpy("mnist", "train", data_dir)
  test = data.load_numpy("mnist", "test", data_dir)
  with tempfile.TemporaryDirectory() as model_dir:
    _, history = training.train_and_evaluate(
        training.TrainConfig(epochs=epochs, architecture=architecture),
        model_dir, train, test)
  return [h["seconds"] for h in history]


def run_program(command, onednn, cwd):
  """Runs one program's `command`; its `epoch_seconds`, or exits with why."""
  env = dict(os.environ)
  env.pop(tfenv.ONEDNN, None)
  if onednn:
    env[tfenv.ONEDNN] = "1"
  result = subprocess.run(command, capture_output=True, text=True, check=False,
                          cwd=cwd, env=env)
  if result.returncode:
    sys.exit(f"error: {' '.join(command)} failed:\n{result.stderr[-3000:]}")
  return json.loads(result.stdout.strip().splitlines()[-1])["epoch_seconds"]


def ratio(report, name, baseline):
  """Median epoch seconds of `name` over `baseline`'s; None unless both ran."""
  if name in report and baseline in report:
    return (report[name]["median_epoch_seconds"] /
            report[baseline]["median_epoch_seconds"])
  return None


def compare(commands, repeats, epochs, cwd):
  """Times every program, alternating; the report without ratios.

  Args:
    commands: Dict of name to `(command, whether oneDNN is on)`; each
      command is run with `--epochs=EPOCHS` (and whatever it holds).
    repeats: Runs of each program.
    epochs: Epochs per run, at least 2.
    cwd: Folder to run the commands in.

  Returns:
    A dict: `epochs_per_run`, `repeats` and, per program, its median epoch
    seconds after the first, its median first epoch, and every run's times.
  """
  runs = {name: [] for name in commands}
  for repeat in range(repeats):
    for name, (command, onednn) in commands.items():
      seconds = run_program(command + [f"--epochs={epochs}"], onednn, cwd)
      runs[name].append(seconds)
      print(f"run {repeat + 1}/{repeats} {name}: "
            f"{', '.join(f'{s:.1f}' for s in seconds)} s per epoch",
            file=sys.stderr)
  report = dict(epochs_per_run=epochs, repeats=repeats)
  for name, seconds in runs.items():
    report[name] = dict(
        median_epoch_seconds=statistics.median(
            s for run in seconds for s in run[1:]),
        median_first_epoch_seconds=statistics.median(run[0] for run in seconds),
        runs=seconds)
  return report
