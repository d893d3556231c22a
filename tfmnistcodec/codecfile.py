"""Coding digits to and from tfmnistcodec files with an exported SavedModel.

    codec = FileCodec("runs/mnist/saved_model")
    data, bits = codec.compress(images)       # uint8 [N, 28, 28(, 1)] -> bytes
    images = codec.decompress(data)           # bytes -> uint8 [N, 28, 28, 1]

Decoding trusts nothing: the container is checked field by field
(`container.unpack`), the fingerprint must be the model's own, and a string
that fails the range decoder's sanity check is named by its digit's index.
Every such problem raises `CodecFileError` (a `ValueError`).
"""

import pathlib

import numpy as np
import tensorflow as tf
import tensorflow_compression  # pylint: disable=unused-import  # Coder ops.

from tfmnistcodec import container

__all__ = [
    "CodecFileError", "FileCodec", "check_images", "check_image_spec"
]

CodecFileError = container.ContainerError


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
    raise ValueError(f"images must be uint8, got {np.dtype(dtype)}; convert "
                     "them to 0..255 integers first.")
  if tuple(shape[1:]) not in ((28, 28), (28, 28, 1)):
    raise ValueError(f"images must have shape [N, 28, 28] or [N, 28, 28, 1], "
                     f"got {list(shape)}.")


class FileCodec:
  """A SavedModel from `export.export_saved_model`, for files of digits."""

  def __init__(self, saved_model_dir):
    path = pathlib.Path(saved_model_dir)
    if not path.is_dir() or not tf.saved_model.contains_saved_model(str(path)):
      raise FileNotFoundError(f"{path} is not a SavedModel folder.")
    self._loaded = tf.saved_model.load(str(path))
    missing = {"compress", "decompress", "fingerprint"} - set(
        self._loaded.signatures.keys())
    if missing:
      raise ValueError(
          f"the SavedModel in {path} has no {', '.join(sorted(missing))} "
          "signature; export it again with bin/export.py.")
    self._compress = self._loaded.signatures["compress"]
    self._decompress = self._loaded.signatures["decompress"]
    hex_ = self._loaded.signatures["fingerprint"]()["fingerprint"].numpy()
    self.fingerprint = bytes.fromhex(hex_.decode())

  def compress(self, images, batch_size=1000):
    """Compresses digits into file bytes.

    Args:
      images: uint8 `[N, 28, 28]` or `[N, 28, 28, 1]`.
      batch_size: Digits per call of the SavedModel.

    Returns:
      `(data, bits)`: the file's bytes, and float32 `[N]` information content.
    """
    images = check_images(images)
    strings, bits = [], []
    for start in range(0, len(images), batch_size):
      coded = self._compress(images=tf.constant(images[start:start +
                                                       batch_size]))
      strings.extend(coded["strings"].numpy().tolist())
      bits.append(coded["bits"].numpy())
    bits = np.concatenate(bits) if bits else np.zeros([0], np.float32)
    return container.pack(self.fingerprint, strings), bits

  def decompress(self, data, batch_size=1000):
    """Decodes file bytes into uint8 images `[N, 28, 28, 1]`.

    Raises:
      CodecFileError: not a valid file, a file made by another model, or a
        corrupt string (the message names the digit).
    """
    fingerprint, strings = container.unpack(data)
    if fingerprint != self.fingerprint:
      raise CodecFileError(
          f"made by another model: the file's model fingerprint is "
          f"{fingerprint.hex()}, this model's is {self.fingerprint.hex()}.")
    images = [np.zeros([0, 28, 28, 1], np.uint8)]
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
    return self._decompress(
        strings=tf.constant(strings, tf.string))["images"].numpy()
