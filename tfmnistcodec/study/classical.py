"""Classical image codecs on the same digits: PNG, WebP and JPEG via Pillow.

The baseline the learned codec's rate-distortion points are held against:
each digit is stored as its own file, as a user would store it, with the
codec's strongest settings (PNG optimized, WebP at its slowest and best
method, JPEG with optimized Huffman tables), and decoded back with Pillow.
The bytes counted are the whole file, headers included: that is what a user
keeps on disk, and at 784 pixels the headers are a large part of it.

The module imports only numpy and Pillow: no TensorFlow.
"""

import io
import math

import numpy as np
from PIL import Image

from tfmnistcodec import contract

__all__ = [
    "CODECS", "LOSSLESS", "DEFAULT_CODECS", "evaluate_classical",
    "best_at_or_below"
]

# Pillow format and save options of each codec; lossy ones add `quality`.
CODECS = {
    # `optimize` makes Pillow search the encoder settings for the smallest
    # file and sets zlib's compress_level to 9 whatever else is passed.
    "png": ("PNG", dict(optimize=True)),
    # For lossless WebP, quality is the effort: 100 with method 6 is the
    # slowest and smallest (7 ms a digit, 20 times method 5, for 2% fewer
    # bytes).
    "webp-lossless": ("WEBP", dict(lossless=True, quality=100, method=6)),
    "webp": ("WEBP", dict(method=6)),
    "jpeg": ("JPEG", dict(optimize=True)),
}
LOSSLESS = ("png", "webp-lossless")
DEFAULT_CODECS = (
    (("png", None), ("webp-lossless", None)) +
    tuple(("webp", q) for q in (0, 5, 10, 25, 50, 75, 90)) +
    tuple(("jpeg", q) for q in (1, 5, 10, 25, 50, 75, 90, 95)))

_SHAPE = (28, 28, 1)


def evaluate_classical(images, codecs=DEFAULT_CODECS):
  """Rate and distortion of classical codecs, one file per digit.

  Args:
    images: uint8 numpy array `[N, 28, 28, 1]`, N >= 1.
    codecs: Sequence of `(codec, quality)` pairs: `codec` a key of `CODECS`,
      `quality` None for the codecs in `LOSSLESS` and an int from 0 to 100
      for the others.

  Returns:
    A list with a dict per pair, in order: `codec`; `quality`;
    `bytes_per_digit`, the mean size of the digits' files; `bits_per_digit`,
    8 times that; `mae`, the mean absolute error of the decoded uint8 pixels,
    divided by 255; `psnr` in dB, from the mean squared error over all pixels
    of all digits (inf when every digit decodes exactly); `digits`, N.

  Raises:
    ValueError: For images that are not uint8 `[N, 28, 28, 1]`, and for
      unknown codecs or qualities that do not fit them.
    RuntimeError: When a file does not decode to a 28x28 image.
  """
  if not isinstance(images, np.ndarray):
    raise contract.UserValueError(
        f"images must be a numpy array, got {type(images)}.")
  if images.dtype != np.uint8:
    raise contract.UserValueError(f"images must be uint8, got {images.dtype}.")
  if images.ndim != 4 or images.shape[1:] != _SHAPE or not len(images):
    raise contract.UserValueError(
        "images must have shape [N, 28, 28, 1] with N >= 1, got "
        f"{list(images.shape)}.")
  codecs = [_checked_codec(codec, quality) for codec, quality in codecs]
  digits = images[..., 0]
  results = []
  for codec, quality in codecs:
    sizes = np.empty(len(digits), np.int64)
    decoded = np.empty_like(digits)
    for i, digit in enumerate(digits):
      data = _encode(digit, codec, quality)
      sizes[i] = len(data)
      decoded[i] = _decode(data, codec)
    error = decoded.astype(np.float64) - digits
    mse = float(np.mean(error**2))
    results.append(dict(
        codec=codec,
        quality=quality,
        bytes_per_digit=float(np.mean(sizes)),
        bits_per_digit=float(8 * np.mean(sizes)),
        mae=float(np.mean(np.abs(error)) / 255.),
        psnr=10 * math.log10(255.**2 / mse) if mse else math.inf,
        digits=len(digits),
    ))
  return results


def best_at_or_below(results, mae):
  """The setting with the fewest bytes per digit at an MAE of at most `mae`.

  Args:
    results: Dicts with `mae` and `bytes_per_digit`, as `evaluate_classical`
      returns.
    mae: The MAE to match or beat, a non-negative number.

  Returns:
    The result (dict) with the smallest `bytes_per_digit` among those whose
    `mae` is at most `mae` (the first such on ties), or None if there is
    none.

  Raises:
    ValueError: For an `mae` that is negative or NaN.
  """
  if not mae >= 0:
    raise contract.UserValueError(
        f"mae must be a non-negative number, got {mae}.")
  matches = [r for r in results if r["mae"] <= mae]
  return min(matches, key=lambda r: r["bytes_per_digit"], default=None)


def _checked_codec(codec, quality):
  if codec not in CODECS:
    raise contract.UserValueError(f"unknown codec {codec!r}; the codecs are "
                                  f"{sorted(CODECS)}.")
  if codec in LOSSLESS:
    if quality is not None:
      raise contract.UserValueError(
          f"{codec} is lossless and takes no quality, got "
          f"{quality!r}.")
  elif isinstance(quality, bool) or not isinstance(
      quality, (int, np.integer)) or not 0 <= quality <= 100:
    raise contract.UserValueError(
        f"{codec} needs an int quality from 0 to 100, got "
        f"{quality!r}.")
  return codec, None if quality is None else int(quality)


def _encode(digit, codec, quality):
  """The file of one `[28, 28]` uint8 digit, as bytes."""
  image_format, options = CODECS[codec]
  if quality is not None:
    options = dict(options, quality=quality)
  buffer = io.BytesIO()
  # A 2-D uint8 array becomes a mode "L" image.
  Image.fromarray(digit).save(buffer, image_format, **options)
  return buffer.getvalue()


def _decode(data, codec):
  """The `[28, 28]` uint8 digit a file decodes to."""
  with Image.open(io.BytesIO(data)) as image:
    image.load()
    if image.size != (28, 28) or image.mode not in ("L", "RGB"):
      raise RuntimeError(f"a {codec} file decoded to a {image.mode} image of "
                         f"{image.size}, not a 28x28 grayscale one.")
    # WebP has no grayscale mode: Pillow saves "L" as RGB with R = G = B and
    # decodes WebP to RGB. Converting back to "L" (ITU-R 601 luma), as a
    # user would, gives the gray: exactly for lossless WebP; for lossy WebP
    # libwebp's YUV-to-RGB rounding leaves G at most one level off R = B on
    # some pixels, and "L" then takes G's value (on MNIST that costs at most
    # 2% of the MAE, at quality 90). PNG and JPEG decode to "L" already.
    return np.asarray(image.convert("L"))
