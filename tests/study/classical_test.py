"""Tests of the classical-codec baseline: real file sizes, exact lossless
round trips, errors that follow quality, refusals."""

import io
import math

from absl.testing import parameterized
import numpy as np
from PIL import Image
import tensorflow as tf

import testing_utils
from tfmnistcodec.study import classical

DIGITS = testing_utils.synthetic_digits(6)
JPEG_QUALITIES = (1, 5, 10, 25, 50, 75, 90, 95)


def by_hand(digit, image_format, **options):
  """One digit's file, written with Pillow without the module's help."""
  buffer = io.BytesIO()
  Image.fromarray(digit[..., 0]).save(buffer, image_format, **options)
  return buffer.getvalue()


class EvaluateClassicalTest(tf.test.TestCase, parameterized.TestCase):

  def test_fields_and_order(self):
    codecs = [("jpeg", 50), ("png", None), ("webp", 10)]
    results = classical.evaluate_classical(DIGITS, codecs)
    self.assertEqual([(r["codec"], r["quality"]) for r in results], codecs)
    for r in results:
      self.assertEqual(
          set(r), {"codec", "quality", "bytes_per_digit", "bits_per_digit",
                   "mae", "psnr", "digits"})
      self.assertEqual(r["digits"], 6)
      self.assertEqual(r["bits_per_digit"], 8 * r["bytes_per_digit"])

  @parameterized.named_parameters(
      ("png", "png", "PNG", dict(optimize=True)),
      ("webp_lossless", "webp-lossless", "WEBP",
       dict(lossless=True, quality=100, method=6)))
  def test_lossless_is_exact_and_sizes_are_files(self, codec, image_format,
                                                 options):
    result, = classical.evaluate_classical(DIGITS, [(codec, None)])
    self.assertEqual(result["mae"], 0.)
    self.assertEqual(result["psnr"], math.inf)
    files = [by_hand(digit, image_format, **options) for digit in DIGITS]
    self.assertEqual(result["bytes_per_digit"],
                     np.mean([len(f) for f in files]))
    for digit, data in zip(DIGITS, files):
      with Image.open(io.BytesIO(data)) as image:
        self.assertAllEqual(np.asarray(image.convert("L")), digit[..., 0])

  @parameterized.named_parameters(
      ("jpeg", "jpeg", 50, "JPEG", dict(optimize=True), "L"),
      ("webp", "webp", 25, "WEBP", dict(method=6), "RGB"))
  def test_lossy_one_digit_by_hand(self, codec, quality, image_format,
                                   options, decoded_mode):
    digit = DIGITS[:1]
    data = by_hand(digit[0], image_format, quality=quality, **options)
    with Image.open(io.BytesIO(data)) as image:
      self.assertEqual(image.mode, decoded_mode)
      error = np.asarray(image.convert("L"), np.float64) - digit[0, ..., 0]
    result, = classical.evaluate_classical(digit, [(codec, quality)])
    self.assertEqual(result["bytes_per_digit"], len(data))
    self.assertAlmostEqual(result["mae"], np.mean(np.abs(error)) / 255.,
                           delta=1e-15)
    self.assertAlmostEqual(result["psnr"],
                           10 * np.log10(255.**2 / np.mean(error**2)),
                           delta=1e-12)
    self.assertGreater(result["mae"], 0.)

  def test_jpeg_gets_better_as_quality_rises(self):
    results = classical.evaluate_classical(
        testing_utils.synthetic_digits(16, seed=1),
        [("jpeg", q) for q in JPEG_QUALITIES])
    mae = [r["mae"] for r in results]
    psnr = [r["psnr"] for r in results]
    size = [r["bytes_per_digit"] for r in results]
    # MAE only from quality 5 up: from 1 to 5 the strokes improve (and the
    # MSE with them), but the few AC terms that 5 keeps ring over the black
    # background, which is most of the pixels. On the MNIST test digits too:
    # MAE 0.051 at 1, 0.055 at 5; background alone 0.027 and 0.039.
    self.assertAllEqual(np.diff(mae[1:]) <= 0, [True] * 6)
    self.assertAllEqual(np.diff(psnr) >= 0, [True] * 7)
    self.assertAllEqual(np.diff(size) >= 0, [True] * 7)

  def test_default_codecs(self):
    self.assertEqual(
        classical.DEFAULT_CODECS,
        (("png", None), ("webp-lossless", None), ("webp", 0), ("webp", 5),
         ("webp", 10), ("webp", 25), ("webp", 50), ("webp", 75),
         ("webp", 90)) + tuple(("jpeg", q) for q in JPEG_QUALITIES))

  @parameterized.named_parameters(
      ("list", DIGITS.tolist(), "numpy array"),
      ("float", DIGITS.astype(np.float32), "must be uint8, got float32"),
      ("no_channel", DIGITS[..., 0], r"\[N, 28, 28, 1\].*got \[6, 28, 28\]"),
      ("rgb", np.repeat(DIGITS, 3, -1), r"got \[6, 28, 28, 3\]"),
      ("size", DIGITS[:, :27], r"got \[6, 27, 28, 1\]"),
      ("empty", DIGITS[:0], r"N >= 1, got \[0, 28, 28, 1\]"),
  )
  def test_refuses_images(self, images, message):
    with self.assertRaisesRegex(ValueError, message):
      classical.evaluate_classical(images, [("png", None)])

  @parameterized.named_parameters(
      ("unknown", ("gif", None), "unknown codec 'gif'"),
      ("lossless_quality", ("png", 9), "png is lossless and takes no quality"),
      ("no_quality", ("jpeg", None), "jpeg needs an int quality"),
      ("float_quality", ("webp", 50.), "webp needs an int quality"),
      ("bool_quality", ("webp", True), "webp needs an int quality"),
      ("high", ("jpeg", 101), "from 0 to 100, got 101"),
      ("negative", ("webp", -1), "from 0 to 100, got -1"),
  )
  def test_refuses_codecs(self, codec, message):
    with self.assertRaisesRegex(ValueError, message):
      classical.evaluate_classical(DIGITS, [("png", None), codec])

  def test_imports_neither_tensorflow_nor_scipy(self):
    loaded = testing_utils.modules_loaded_by(
        "tfmnistcodec.study.classical")
    self.assertIn("PIL", loaded)
    self.assertNoCommonElements(["tensorflow", "scipy"], loaded)


class BestAtOrBelowTest(tf.test.TestCase, parameterized.TestCase):

  RESULTS = [
      dict(codec="png", quality=None, mae=0., bytes_per_digit=270.),
      dict(codec="jpeg", quality=1, mae=.05, bytes_per_digit=200.),
      dict(codec="jpeg", quality=5, mae=.055, bytes_per_digit=215.),
      dict(codec="webp", quality=0, mae=.03, bytes_per_digit=96.5),
      dict(codec="webp", quality=50, mae=.007, bytes_per_digit=201.),
  ]

  @parameterized.named_parameters(
      ("lossless_only", 0., 270.), ("below_all_lossy", .006, 270.),
      ("equal_counts", .007, 201.), ("between", .02, 201.),
      ("equal_again", .03, 96.5), ("all", 1., 96.5))
  def test_best(self, mae, expected):
    best = classical.best_at_or_below(self.RESULTS, mae)
    self.assertEqual(best["bytes_per_digit"], expected)
    self.assertIn(best, self.RESULTS)

  def test_none(self):
    self.assertIsNone(classical.best_at_or_below(self.RESULTS[1:], .006))
    self.assertIsNone(classical.best_at_or_below([], 1.))

  @parameterized.parameters(-.1, float("nan"))
  def test_refuses_mae(self, mae):
    with self.assertRaisesRegex(ValueError, "non-negative"):
      classical.best_at_or_below(self.RESULTS, mae)


if __name__ == "__main__":
  tf.test.main()
