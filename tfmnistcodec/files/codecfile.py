"""Coding digits to and from tfmnistcodec files with an exported SavedModel.

    codec = FileCodec("runs/mnist/saved_model")
    data, bits = codec.compress(images)       # uint8 [N, 28, 28(, 1)] -> bytes
    images = codec.decompress(data)           # bytes -> uint8 [N, 28, 28, 1]

`compress(images, encoder="fast")` codes the analysis transform's latents
without the per-digit search (for an `improved` model, about 60 times
faster in large batches, at more error); `encoder="refined"` asks for the search by
name. Files decode the same whichever encoder made them.

Files come in two modes (`container`): "streams" (the default) codes up to
10,000 digits into each range-coded stream, within a few bytes of their
information content; "strings" codes each digit into its own string, for
random access, at a few bits more per digit.

Decoding trusts nothing: the container is checked field by field
(`container.unpack`), the fingerprint must be the model's own, and a string
that fails the range decoder's sanity check is named by its digit's index.
Every such problem raises `CodecFileError` (a `ValueError`).
"""

import importlib
import pathlib

import numpy as np

from tfmnistcodec import contract
from tfmnistcodec.files import container

__all__ = [
    "CodecFileError", "FileCodec", "STREAMS", "STRINGS", "MODES", "ENCODERS",
    "check_images", "check_image_spec"
]

CodecFileError = container.ContainerError
# File modes by name: see `FileCodec.compress`.
STREAMS = "streams"
STRINGS = "strings"
MODES = {STREAMS: container.MODE_STREAMS, STRINGS: container.MODE_STRINGS}
# Which latents to code (`compress`'s `encoder`), by the SavedModel
# signatures that code them: one string per digit, one stream.
ENCODERS = contract.ENCODERS
# Signatures every SavedModel that FileCodec reads has had; the other
# encoders' are looked up when asked for.
_SIGNATURES = ("compress", "decompress", "fingerprint", "compress_stream",
               "decompress_stream")


def _tensorflow():
  """TensorFlow, imported for a `FileCodec`, not with this module.

  So the binaries refuse a bad input, output or file in a fraction of a
  second, before TensorFlow's seconds of start-up (`imageio` and
  `imagewriters` use this module's checks). tensorflow_compression registers
  the range coding ops of SavedModels exported before the stock-op coder.
  """
  tf = importlib.import_module("tensorflow")
  importlib.import_module("tensorflow_compression")
  return tf


def _call(fn, *args, **kwargs):
  return fn(*args, **kwargs)


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
    if not path.is_dir():
      raise FileNotFoundError(f"{path} is not a SavedModel folder.")
    tf = _tensorflow()
    if not tf.saved_model.contains_saved_model(str(path)):
      raise FileNotFoundError(f"{path} is not a SavedModel folder.")
    self._path = path
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

  def compress(self, images, mode=STREAMS, batch_size=1000,
               encoder="default"):
    """Compresses digits into file bytes.

    Args:
      images: uint8 `[N, 28, 28]` or `[N, 28, 28, 1]`.
      mode: `STREAMS` (smallest: one range-coded stream per
        `container.MAX_STREAM_DIGITS` digits) or `STRINGS` (one string per
        digit, for random access).
      batch_size: Digits per call of the SavedModel (`STRINGS` mode).
      encoder: A key of `ENCODERS`: `"default"`, the model's own choice;
        `"fast"`, the analysis transform's latents, rounded, with no
        per-digit search; `"refined"`, the search, where the model's
        architecture has one.

    Returns:
      `(data, bits)`: the file's bytes, and float32 `[N]` information content.
    """
    return self.compress_chunks([check_images(images)], mode, batch_size,
                                encoder=encoder)

  def compress_chunks(self, chunks, mode=STREAMS, batch_size=1000,
                      call=_call, progress=None, encoder="default"):
    """As `compress`, for digits that come in chunks: any number of them.

    Each chunk is coded when it comes, so memory holds a chunk and the coded
    strings (a few bytes per digit), never all the digits.

    Args:
      chunks: An iterable of uint8 `[n, 28, 28(, 1)]` arrays, of any sizes
        (`imageio.ImageSource.chunks()`, ...).
      mode, batch_size: As in `compress`; the file does not depend on how the
        digits are chunked.
      call: Calls a signature, as `call(signature, **inputs)`; the binaries
        pass `cli.interruptible`, so that a signal stops a long call at once.
      progress: If given, called with the number of digits after each call.
      encoder: As in `compress`.

    Returns:
      `(data, bits)`, as `compress`.
    """
    if mode not in MODES:
      raise contract.UserValueError(
          f"unknown mode {mode!r}; one of {', '.join(MODES)}.")
    tf = _tensorflow()
    compress = self._encoder(encoder, mode)
    if mode == STREAMS:
      batch_size = container.MAX_STREAM_DIGITS
    strings, bits = [], [np.zeros([0], np.float32)]
    for batch in _rebatch(chunks, batch_size):
      coded = call(compress, images=tf.constant(batch))
      if mode == STREAMS:
        strings.append(coded["string"].numpy())
      else:
        strings.extend(coded["strings"].numpy().tolist())
      bits.append(coded["bits"].numpy())
      if progress is not None:
        progress(len(bits[-1]))
    bits = np.concatenate(bits)
    data = container.pack(
        self.fingerprint, strings, mode=MODES[mode], num_digits=len(bits),
        stream_digits=batch_size if mode == STREAMS else 1)
    return data, bits

  def _encoder(self, encoder, mode):
    """The signature that codes `mode`'s strings with `encoder`."""
    if encoder not in ENCODERS:
      raise contract.UserValueError(
          f"unknown encoder {encoder!r}; one of {', '.join(ENCODERS)}.")
    name = ENCODERS[encoder][mode == STREAMS]
    if name not in self._loaded.signatures:
      raise contract.UserValueError(
          f"the SavedModel in {self._path} has no {name} signature (encoder "
          f"{encoder!r}, {mode} mode): it was exported before tfmnistcodec "
          "had it; export it again with bin/export.py.")
    return self._loaded.signatures[name]

  def decompress(self, data, batch_size=1000, digits=None):
    """Decodes file bytes (of either mode) into uint8 images `[N, 28, 28, 1]`.

    Args:
      data: The file's bytes.
      batch_size: Strings per call of the SavedModel (`STRINGS` mode).
      digits: `(start, stop)`: decode only the digits `start` to `stop - 1`
        (`stop` may be `None`: to the end)
        (as `images[start:stop]`, without decoding the others in `STRINGS`
        mode, or the streams that hold none of them in `STREAMS` mode);
        `None` for all.

    Raises:
      CodecFileError: not a valid file, a file made by another model, or a
        corrupt string (the message names the digits it held).
      ValueError: `digits` is not a range of the file's digits.
    """
    _, chunks = self.decompress_chunks(data, batch_size, digits)
    return np.concatenate([np.zeros([0, 28, 28, 1], np.uint8), *chunks])

  def decompress_chunks(self, data, batch_size=1000, digits=None,
                        call=_call):
    """As `decompress`, a chunk at a time: `(count, chunks)`.

    The file is checked (container, checksum, fingerprint) before this
    returns; `chunks` then yields the `count` digits as uint8
    `[n, 28, 28, 1]` arrays (a stream, or `batch_size` strings), decoding
    each when it is asked for, and raises `CodecFileError` at a corrupt
    string. `call` is as in `compress_chunks`.
    """
    contents = container.unpack(data)
    if contents.fingerprint != self.fingerprint:
      raise CodecFileError(
          f"made by another model: the file's model fingerprint is "
          f"{contents.fingerprint.hex()}, this model's is "
          f"{self.fingerprint.hex()}.")
    start, stop = _digit_range(digits, contents.num_digits)
    if contents.mode == container.MODE_STREAMS:
      chunks = self._decode_streams(contents, start, stop, call)
    else:
      chunks = self._decode_strings(contents.strings, start, stop,
                                    batch_size, call)
    return stop - start, chunks

  def _decode_streams(self, contents, start, stop, call):
    tf = _tensorflow()
    per_stream = contents.stream_digits
    counts = contents.digits_per_string()
    for i in range(start // per_stream, -(-stop // per_stream)):
      first = i * per_stream
      try:
        images = call(self._signatures["decompress_stream"],
                      string=tf.constant(contents.strings[i], tf.string),
                      count=tf.constant(counts[i], tf.int32))["images"]
      except tf.errors.InvalidArgumentError:
        raise CodecFileError(
            f"corrupt stream {i} (of {len(contents.strings)}, digits "
            f"{first} to {first + counts[i] - 1}): the range decoder's sanity "
            "check failed.") from None
      yield images.numpy()[max(start - first, 0):stop - first]

  def _decode_strings(self, strings, start, stop, batch_size, call):
    tf = _tensorflow()
    for first in range(start, stop, batch_size):
      batch = strings[first:min(first + batch_size, stop)]
      try:
        yield call(self._decode, batch)
      except tf.errors.InvalidArgumentError:
        # Some string in the batch is corrupt: find the first, to name it.
        for i, string in enumerate(batch):
          try:
            self._decode([string])
          except tf.errors.InvalidArgumentError:
            raise CodecFileError(
                f"corrupt string for digit {first + i} (of {len(strings)}): "
                "the range decoder's sanity check failed.") from None
        raise

  def _decode(self, strings):
    tf = _tensorflow()
    return self._signatures["decompress"](
        strings=tf.constant(strings, tf.string))["images"].numpy()


def _rebatch(chunks, size):
  """Yields the digits of `chunks` in uint8 `[size, 28, 28, 1]` batches (the
  last one the rest), whatever the chunks' sizes."""
  pending, held = [], 0
  for chunk in chunks:
    chunk = check_images(chunk)
    while len(chunk):
      take = min(size - held, len(chunk))
      pending.append(chunk[:take])
      held += take
      chunk = chunk[take:]
      if held == size:
        yield np.concatenate(pending)
        pending, held = [], 0
  if held:
    yield np.concatenate(pending)


def _digit_range(digits, count):
  """`(start, stop)` of `digits` (a pair, or `None` for all) in `count`."""
  if digits is None:
    return 0, count
  start, stop = digits
  stop = count if stop is None else stop
  if not 0 <= start <= stop <= count:
    raise contract.UserValueError(
        f"digits {start}:{stop} are not a range of the file's {count} digits "
        f"(0 <= start <= stop <= {count}).")
  return start, stop
