"""Tests of the side-by-side timing of training programs."""

import os
import sys

import tensorflow as tf

from tfmnistcodec.study import benchmark_training

# A stand-in program: prints its next run's epoch times from `runs` (argv[2]),
# after checking the flag `compare` adds and the oneDNN variable it sets.
_PROGRAM = """
import json, os, sys
name, expected_onednn, runs, epochs_flag = sys.argv[1:]
count = os.path.join(os.getcwd(), "count_" + name)
n = int(open(count).read()) if os.path.exists(count) else 0
open(count, "w").write(str(n + 1))
assert epochs_flag == "--epochs=3", epochs_flag
assert str(os.environ.get("TF_ENABLE_ONEDNN_OPTS")) == expected_onednn
print("a line of noise")
print(json.dumps(dict(epoch_seconds=json.loads(runs)[n])))
"""


# Stand-ins for --time_to_target: a baseline that prints its epochs and its
# coded test digits' bits and MAE, and a trainer that prints its epochs and
# test losses; each checks the flags it is given and that it runs in turn.
_BASELINE = """
import json, os, sys
assert sys.argv[1:] == ["--epochs=3", "--lmbda=" + os.environ["EXPECT"]], sys.argv
assert "TF_ENABLE_ONEDNN_OPTS" not in os.environ
open("order", "a").write("baseline ")
print(json.dumps(dict(epoch_seconds=[10., 10., 10.], information_bits=20.,
                      mae=0.01 if sys.argv[2] == "--lmbda=2000" else 0.1)))
"""
_OURS = """
import json, os, sys
assert sys.argv[1:] == ["--epochs=3", "--lmbda=" + os.environ["EXPECT"]], sys.argv
assert os.environ["TF_ENABLE_ONEDNN_OPTS"] == "1"
open("order", "a").write("ours ")
print(json.dumps(dict(epoch_seconds=[4., 5., 6.], test_losses=[60., 40., 39.])))
"""


def _command(name, onednn, runs):
  return ([sys.executable, "-c", _PROGRAM, name, "1" if onednn else "None",
           repr(runs)], onednn)


class CompareTest(tf.test.TestCase):

  def test_medians_after_the_first_epoch_and_ratios(self):
    commands = dict(
        ours=_command("ours", True, [[9., 2., 4.], [8., 3., 5.]]),
        keras=_command("keras", False, [[7., 6., 6.], [7., 8., 8.]]))
    report = benchmark_training.compare(commands, repeats=2, epochs=3,
                                        cwd=self.get_temp_dir())
    self.assertEqual(report["epochs_per_run"], 3)
    self.assertEqual(report["repeats"], 2)
    self.assertEqual(report["ours"]["runs"], [[9., 2., 4.], [8., 3., 5.]])
    self.assertEqual(report["ours"]["median_epoch_seconds"], 3.5)
    self.assertEqual(report["ours"]["median_first_epoch_seconds"], 8.5)
    self.assertEqual(report["keras"]["median_epoch_seconds"], 7.)
    self.assertEqual(benchmark_training.ratio(report, "ours", "keras"), .5)
    self.assertIsNone(benchmark_training.ratio(report, "ours", "missing"))

  def test_a_failing_program_exits_with_its_error(self):
    command = [sys.executable, "-c", "import sys; sys.exit('it broke')"]
    with self.assertRaisesRegex(SystemExit, "failed:\nit broke"):
      benchmark_training.run_program(command, False, self.get_temp_dir())


class TimeToTargetTest(tf.test.TestCase):

  def test_seconds_to_the_first_epoch_at_the_target(self):
    seconds = [4., 5., 6.]
    losses = [60., 40., 39.]
    self.assertEqual(
        benchmark_training.seconds_to_target(seconds, losses, 40.), 9.)
    self.assertEqual(
        benchmark_training.seconds_to_target(seconds, losses, 60.), 4.)
    self.assertEqual(
        benchmark_training.seconds_to_target(seconds, losses, 39.), 15.)
    self.assertIsNone(
        benchmark_training.seconds_to_target(seconds, losses, 38.9))
    self.assertIsNone(benchmark_training.seconds_to_target([], [], 1.))

  def test_the_baseline_sets_the_target_and_its_time(self):
    work = self.get_temp_dir()
    reports = {}
    for lmbda in (2000., 300.):
      # The stand-ins check the lmbda they are given against EXPECT.
      os.environ["EXPECT"] = f"{lmbda:g}"
      try:
        reports.update(benchmark_training.time_to_target(
            ([sys.executable, "-c", _BASELINE], False),
            ([sys.executable, "-c", _OURS], True), [lmbda], epochs=3,
            cwd=work))
      finally:
        del os.environ["EXPECT"]
    # lmbda 2000: target 20 + 2000 * 0.01 = 40, reached after epoch 2.
    self.assertEqual(reports["2000"], dict(
        target_loss=40., baseline_seconds=30.,
        baseline_epoch_seconds=[10., 10., 10.], epoch_seconds=[4., 5., 6.],
        test_losses=[60., 40., 39.], seconds_to_target=9., ratio=.3))
    # lmbda 300: target 20 + 300 * 0.1 = 50: epoch 2 again.
    self.assertEqual(reports["300"]["target_loss"], 50.)
    self.assertEqual(reports["300"]["seconds_to_target"], 9.)
    self.assertEqual(reports["epochs_per_run"], 3)
    with open(os.path.join(work, "order")) as f:
      self.assertEqual(f.read(), "baseline ours baseline ours ")

  def test_a_target_never_reached_has_no_ratio(self):
    os.environ["EXPECT"] = "1"
    try:
      report = benchmark_training.time_to_target(
          ([sys.executable, "-c", _BASELINE], False),
          ([sys.executable, "-c", _OURS], True), [1.], epochs=3,
          cwd=self.get_temp_dir())
    finally:
      del os.environ["EXPECT"]
    # Target 20 + 1 * 0.1, below every test loss of ours.
    self.assertIsNone(report["1"]["seconds_to_target"])
    self.assertIsNone(report["1"]["ratio"])


if __name__ == "__main__":
  tf.test.main()
