"""Unit tests of the benchmark logic (the end-to-end run is in tools_bin_test)."""

from absl.testing import parameterized
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


if __name__ == "__main__":
  tf.test.main()
