"""Coding digits to and from tfmnistcodec files with an exported SavedModel.

    codec = FileCodec("runs/mnist/saved_model")
    data, bits = codec.compress(images)       # uint8 [N, 28, 28(, 1)] -> bytes
    images = codec.decompress(data)           # bytes -> uint8 [N, 28, 28, 1]

Files come in two modes (`container`): "streams" (the default) codes up to
10,000 digits into each range-coded stream, within a few bytes of their
information content; "strings" codes each digit into its own string, for
random access, at a few bits more per digit.

Decoding trusts nothing: the container is checked field by field
(`container.unpack`), the fingerprint must be the model's own, and a string
that fails the range decoder's sanity check is named by its digit's index.
Every such problem raises `CodecFileError` (a `ValueError`).
"""

import pathlib

import numpy as np
import tensorflow as tf
import tensorflow_compression  # pylint: disable=unused-import  # Coder ops.

from tfmnistcodec import contract
from tfmnistcodec.files import container

__all__ = [
    "CodecFileError", "FileCodec", "STREAMS", "STRINGS", "MODES",
    "check_images", "check_image_spec"
]

CodecFileError = container.ContainerError
# File modes by name: see `FileCodec.compress`.
STREAMS = "streams"
STRINGS = "strings"
MODES = {STREAMS: container.MODE_STREAMS, STRINGS: container.MODE_STRINGS}
_SIGNATURES = ("compress", "decompress", "fingerprint", "compress_stream",
               "decompress_stream")


def check_images(images):
  """Returns `images` as uint8 `[N, 28, 28, 1]`, or raises `ValueError`.

  Accepts `[N, 28, 28]` and `[N, 28, 28, 1]` uint8 arrays; refuses every other
  shape and dtype (floats, NaNs included) with a message that says which.
  """
  images = np.asarray(images)
  check_image_spec(images.shape, images.dtype)
  return images.reshape(-1, 28, 28, 1)


def check_image_spec(shape, dtype):
  """Raises `ValueError` unless `shape`, `dtype` are digits we can code."""
  if np.dtype(dtype) != np.uint8:
    raise contract.UserValueError(
        f"images must be uint8, got {np.dtype(dtype)}; convert "
        "them to 0..255 integers first.")
  if tuple(shape[1:]) not in ((28, 28), (28, 28, 1)):
    raise contract.UserValueError(
        f"images must have shape [N, 28, 28] or [N, 28, 28, 1], "
        f"got {list(shape)}.")


class FileCodec:
  """A SavedModel from `export.export_saved_model`, for files of digits."""

  def __init__(self, saved_model_dir):
    path = pathlib.Path(saved_model_dir)
    if not path.is_dir() or not tf.saved_model.contains_saved_model(str(path)):
      raise FileNotFoundError(f"{path} is not a SavedModel folder.")
    self._loaded = tf.saved_model.load(str(path))
    missing = set(_SIGNATURES) - set(self._loaded.signatures.keys())
    if missing:
      raise contract.UserValueError(
          f"the SavedModel in {path} has no {', '.join(sorted(missing))} "
          "signature; export it again with bin/export.py.")
    self._signatures = {
        name: self._loaded.signatures[name] for name in _SIGNATURES
    }
    hex_ = self._signatures["fingerprint"]()["fingerprint"].numpy()
    self.fingerprint = bytes.fromhex(hex_.decode())

  def compress(self, images, mode=STREAMS, batch_size=1000):
    """Compresses digits into file bytes.

    Args:
      images: uint8 `[N, 28, 28]` or `[N, 28, 28, 1]`.
      mode: `STREAMS` (smallest: one range-coded stream per
        `container.MAX_STREAM_DIGITS` digits) or `STRINGS` (one string per
        digit, for random access).
      batch_size: Digits per call of the SavedModel (`STRINGS` mode).

    Returns:
      `(data, bits)`: the file's bytes, and float32 `[N]` information content.
    """
    images = check_images(images)
    if mode not in MODES:
      raise contract.UserValueError(
          f"unknown mode {mode!r}; one of {', '.join(MODES)}.")
    if mode == STREAMS:
      batch_size = container.MAX_STREAM_DIGITS
    strings, bits = [], [np.zeros([0], np.float32)]
    for start in range(0, len(images), batch_size):
      batch = tf.constant(images[start:start + batch_size])
      if mode == STREAMS:
        coded = self._signatures["compress_stream"](images=batch)
        strings.append(coded["string"].numpy())
      else:
        coded = self._signatures["compress"](images=batch)
        strings.extend(coded["strings"].numpy().tolist())
      bits.append(coded["bits"].numpy())
    data = container.pack(
        self.fingerprint, strings, mode=MODES[mode], num_digits=len(images),
        stream_digits=batch_size if mode == STREAMS else 1)
    return data, np.concatenate(bits)

  def decompress(self, data, batch_size=1000):
    """Decodes file bytes (of either mode) into uint8 images `[N, 28, 28, 1]`.

    Raises:
      CodecFileError: not a valid file, a file made by another model, or a
        corrupt string (the message names the digits it held).
    """
    contents = container.unpack(data)
    if contents.fingerprint != self.fingerprint:
      raise CodecFileError(
          f"made by another model: the file's model fingerprint is "
          f"{contents.fingerprint.hex()}, this model's is "
          f"{self.fingerprint.hex()}.")
    images = [np.zeros([0, 28, 28, 1], np.uint8)]
    if contents.mode == container.MODE_STREAMS:
      first = 0
      for i, (string, count) in enumerate(
          zip(contents.strings, contents.digits_per_string())):
        try:
          images.append(self._signatures["decompress_stream"](
              string=tf.constant(string, tf.string),
              count=tf.constant(count, tf.int32))["images"].numpy())
        except tf.errors.InvalidArgumentError:
          raise CodecFileError(
              f"corrupt stream {i} (of {len(contents.strings)}, digits "
              f"{first} to {first + count - 1}): the range decoder's sanity "
              "check failed.") from None
        first += count
      return np.concatenate(images)
    strings = contents.strings
    for start in range(0, len(strings), batch_size):
      batch = strings[start:start + batch_size]
      try:
        images.append(self._decode(batch))
      except tf.errors.InvalidArgumentError:
        # Some string in the batch is corrupt: find the first, to name it.
        for i, string in enumerate(batch):
          try:
            self._decode([string])
          except tf.errors.InvalidArgumentError:
            raise CodecFileError(
                f"corrupt string for digit {start + i} (of {len(strings)}): "
                "the range decoder's sanity check failed.") from None
        raise
    return np.concatenate(images)

  def _decode(self, strings):
    return self._signatures["decompress"](
        strings=tf.constant(strings, tf.string))["images"].numpy()
