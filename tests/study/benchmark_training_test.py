"""Tests of the side-by-side timing of training programs."""

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


if __name__ == "__main__":
  tf.test.main()
