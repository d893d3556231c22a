"""Seconds per training epoch of several programs, side by side.

The logic behind bin/benchmark_training.py. Each program is a command that
trains in a fresh process and prints, as its last line, a JSON object with
`epoch_seconds`; the programs run alternately, `repeats` times each, so that
all see the same machine load. An epoch's time is its training plus its
validation; the first epoch of each process also pays for tracing, so it is
reported apart.

`time_to_target` measures the other yardstick: how long one program takes to
reach the test loss at which a baseline ends its training.
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile

from tfmnistcodec import tfenv

__all__ = ["compare", "ratio", "run_program", "seconds_to_target",
           "time_to_target", "train_once"]


def train_once(epochs, architecture, data_dir=None, lmbda=2000.):
  """One training run with the default settings but `lmbda`.

  Returns:
    A dict: `epoch_seconds`, each epoch's training plus validation, and
    `test_losses`, each epoch's logged test loss (rate + lmbda * distortion
    of the quantized latents, as `bin/train.py` logs it).
  """
  # pylint: disable=g-import-not-at-top  # The caller sets oneDNN first.
  from tfmnistcodec import data
  from tfmnistcodec import training
  train = data.load_numpy("mnist", "train", data_dir)
  test = data.load_numpy("mnist", "test", data_dir)
  with tempfile.TemporaryDirectory() as model_dir:
    _, history = training.train_and_evaluate(
        training.TrainConfig(epochs=epochs, architecture=architecture,
                             lmbda=lmbda),
        model_dir, train, test)
  return dict(epoch_seconds=[h["seconds"] for h in history],
              test_losses=[h["eval/loss"] for h in history])


def run_program(command, onednn, cwd):
  """Runs one program's `command`; the JSON object it printed last.

  Exits with the program's stderr if it fails.
  """
  env = dict(os.environ)
  env.pop(tfenv.ONEDNN, None)
  if onednn:
    env[tfenv.ONEDNN] = "1"
  result = subprocess.run(command, capture_output=True, text=True, check=False,
                          cwd=cwd, env=env)
  if result.returncode:
    sys.exit(f"error: {' '.join(command)} failed:\n{result.stderr[-3000:]}")
  return json.loads(result.stdout.strip().splitlines()[-1])


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
      seconds = run_program(command + [f"--epochs={epochs}"], onednn,
                            cwd)["epoch_seconds"]
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


def seconds_to_target(epoch_seconds, test_losses, target):
  """Seconds from the start to the end of the first epoch at `target` or below.

  Args:
    epoch_seconds: Each epoch's seconds (training plus validation).
    test_losses: The test loss logged after each epoch.
    target: The loss to reach.

  Returns:
    The sum of the seconds of the epochs up to and including the first whose
    test loss is at most `target`, or `None` if none is.
  """
  elapsed = 0.
  for seconds, loss in zip(epoch_seconds, test_losses):
    elapsed += seconds
    if loss <= target:
      return elapsed
  return None


def time_to_target(baseline, ours, lmbdas, epochs, cwd):
  """How long `ours` takes to reach the test loss `baseline` ends with.

  For each lmbda, runs the baseline, then ours, each `epochs` epochs with
  `--epochs=EPOCHS --lmbda=LMBDA` added to its command, in fresh processes
  one after the other (so both see the same machine).

  Args:
    baseline: `(command, whether oneDNN is on)` of a program that prints
      `epoch_seconds`, and `information_bits` and `mae` (of its uint8
      outputs, over 255) of the coded test digits: its target is
      `information_bits + lmbda * mae`, and its time the sum of its epochs.
    ours: `(command, whether oneDNN is on)` of a program that prints
      `epoch_seconds` and `test_losses`, one per epoch.
    lmbdas: The lmbdas to train at.
    epochs: Epochs of each run.
    cwd: Folder to run the commands in.

  Returns:
    A dict: `epochs_per_run`, and per lmbda (a key like `"2000"`) the
    target loss, the baseline's seconds, our epochs' seconds and test
    losses, our seconds to the target (`None` if not reached) and its
    ratio to the baseline's seconds.
  """
  report = dict(epochs_per_run=epochs)
  for lmbda in lmbdas:
    flags = [f"--epochs={epochs}", f"--lmbda={lmbda:g}"]
    printed = run_program(baseline[0] + flags, baseline[1], cwd)
    target = printed["information_bits"] + lmbda * printed["mae"]
    baseline_seconds = sum(printed["epoch_seconds"])
    print(f"lmbda {lmbda:g}: the baseline ends at test loss {target:.2f} "
          f"after {baseline_seconds:.1f} s", file=sys.stderr)
    run = run_program(ours[0] + flags, ours[1], cwd)
    reached = seconds_to_target(run["epoch_seconds"], run["test_losses"],
                                target)
    print(f"lmbda {lmbda:g}: ours reached it after "
          f"{'never' if reached is None else f'{reached:.1f} s'}",
          file=sys.stderr)
    report[f"{lmbda:g}"] = dict(
        target_loss=target,
        baseline_seconds=baseline_seconds,
        baseline_epoch_seconds=printed["epoch_seconds"],
        epoch_seconds=run["epoch_seconds"],
        test_losses=run["test_losses"],
        seconds_to_target=reached,
        ratio=None if reached is None else reached / baseline_seconds)
  return report
