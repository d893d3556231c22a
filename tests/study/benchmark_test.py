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

  def test_median_seconds_over_warms_up_on_the_first_argument(self):
    calls = []
    seconds = benchmark.median_seconds_over(calls.append, [3, 1, 2])
    self.assertEqual(calls, [3, 3, 1, 2])
    self.assertGreaterEqual(seconds, 0.)


class CodingBatchesTest(tf.test.TestCase):

  def setUp(self):
    super().setUp()
    # Digit i is filled with the value i.
    self.images = np.arange(5, dtype=np.uint8)[:, None, None, None] * (
        np.ones([1, 28, 28, 1], np.uint8))

  def digits(self, batch):
    return batch.numpy()[:, 0, 0, 0].tolist()

  def test_each_call_codes_the_next_digits(self):
    batches, order = benchmark.coding_batches(self.images, 1, 4)
    self.assertEqual([self.digits(b) for b in batches], [[0], [1], [2], [3]])
    self.assertEqual(order, [0, 1, 2, 3])

  def test_calls_wrap_around_and_repeat_batches_once_built(self):
    batches, order = benchmark.coding_batches(self.images, 2, 7)
    self.assertEqual([self.digits(b) for b in batches],
                     [[0, 1], [2, 3], [4, 0], [1, 2], [3, 4]])
    self.assertEqual(order, [0, 1, 2, 3, 4, 0, 1])

  def test_a_batch_larger_than_the_digits_repeats_them(self):
    batches, order = benchmark.coding_batches(self.images, 7, 3)
    self.assertEqual([self.digits(b) for b in batches],
                     [[0, 1, 2, 3, 4, 0, 1], [2, 3, 4, 0, 1, 2, 3],
                      [4, 0, 1, 2, 3, 4, 0]])
    self.assertEqual(order, [0, 1, 2])

  def test_all_digits_in_one_batch_are_built_once(self):
    batches, order = benchmark.coding_batches(self.images, 5, 3)
    self.assertEqual([self.digits(b) for b in batches], [[0, 1, 2, 3, 4]])
    self.assertEqual(order, [0, 0, 0])


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
