"""`evaluation.summarize`, behind every README number, against hand counts."""

import math

import numpy as np
import tensorflow as tf

from tfmnistcodec.study import evaluation


class SummarizeTest(tf.test.TestCase):

  def test_numbers_computed_by_hand(self):
    images = np.zeros([2, 28, 28, 1], np.uint8)
    images[1, 3, 4, 0] = 200
    reconstructions = images.copy()
    reconstructions[1, 3, 4, 0] = 50  # One pixel of 1,568 off by 150.
    result = evaluation.CodingResult(
        strings=np.array([b"ab", b"abcde"], dtype=object),
        bits=np.array([10., 21.], np.float32), reconstructions=reconstructions)
    summary = evaluation.summarize(images, result)
    self.assertEqual(summary["digits"], 2)
    self.assertEqual(summary["information_bits"], 15.5)
    self.assertEqual(summary["string_bits"], 28.)  # 8 * (2 + 5) / 2.
    self.assertAlmostEqual(summary["mae"], 150 / 1568 / 255, places=15)
    # MSE over all pixels: 150^2 / 1568; of the second digit: 150^2 / 784.
    self.assertAlmostEqual(summary["psnr"],
                           10 * math.log10(255**2 * 1568 / 150**2), places=10)
    # The exact digit counts as 100 dB.
    self.assertAlmostEqual(
        summary["psnr_per_digit"],
        (100 + 10 * math.log10(255**2 * 784 / 150**2)) / 2, places=10)

  def test_exact_digits(self):
    images = np.full([3, 28, 28, 1], 7, np.uint8)
    result = evaluation.CodingResult(
        strings=np.array([b"x"] * 3, dtype=object),
        bits=np.zeros(3, np.float32), reconstructions=images.copy())
    summary = evaluation.summarize(images, result)
    self.assertEqual(summary["mae"], 0.)
    self.assertEqual(summary["psnr"], float("inf"))
    self.assertEqual(summary["psnr_per_digit"], 100.)
    self.assertEqual(summary["string_bits"], 8.)


if __name__ == "__main__":
  tf.test.main()
