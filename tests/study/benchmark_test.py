"""Unit tests of the benchmark logic (the end-to-end run is in tools_bin_test)."""

from unittest import mock

from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from tfmnistcodec.study import benchmark


class ParseBatchCallsTest(tf.test.TestCase, parameterized.TestCase):

  def test_pairs(self):
    self.assertEqual(benchmark.parse_batch_calls(["1:200", "128:50"]),
                     [(1, 200), (128, 50)])

  @parameterized.parameters("1", "1:2:3", "0:5", "5:0", "-1:5", "a:b", ":")
  def test_refuses(self, spec):
    with self.assertRaisesRegex(ValueError, f"{spec!r} is not SIZE:CALLS"):
      benchmark.parse_batch_calls(["1:1", spec])

  def test_median_seconds_calls_once_more_to_warm_up(self):
    calls = []
    seconds = benchmark.median_seconds(lambda: calls.append(1), 4)
    self.assertLen(calls, 5)
    self.assertGreaterEqual(seconds, 0.)


class BenchmarkTest(tf.test.TestCase):

  def test_a_missing_model_is_refused_before_training(self):
    digits = np.zeros([4, 28, 28, 1], np.uint8)
    missing = self.get_temp_dir() + "/no_such_run"
    with mock.patch.object(benchmark, "benchmark_training") as training:
      with self.assertRaisesRegex(FileNotFoundError,
                                  "no_such_run holds no SavedModel"):
        benchmark.benchmark(digits, digits, repeats=3, epochs=2,
                            batch_calls=[(1, 1)], model=missing)
    training.assert_not_called()


if __name__ == "__main__":
  tf.test.main()
