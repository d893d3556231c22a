"""Fuzz targets: the file parsers and decoders, each with its contract.

A target is a function `bytes -> None` that returns normally for every input
the code under test handles as documented (a result of the promised type and
shape, or the documented error) and raises anything else: another exception
propagates as it is, a result outside the contract raises `ContractError`.
A coverage-guided fuzzer (`fuzz_atheris`, under atheris) or a test replaying
a corpus calls them; nothing here imports atheris.

    container          container.unpack(data): a `Contents` (that packs and
                       unpacks back to itself) or `ContainerError`.
    png npy idx gzip   imageio.read_bytes(data): uint8 [N, 28, 28, 1] or
                       `imageio.InputError`. Each forces its format's magic
                       bytes onto the input, so that the fuzzer spends its
                       time in that reader's deeper checks (see `READERS`).
    decompress         the SavedModel's `decompress` signature on one string:
                       uint8 [1, 28, 28, 1] or `InvalidArgumentError`.
    decompress_stream  its `decompress_stream` signature: the first byte
                       picks the digit count k (1 to 16), the rest is the
                       stream: uint8 [k, 28, 28, 1] or `InvalidArgumentError`.
    file               `codecfile.FileCodec.decompress`: uint8 [N, 28, 28, 1]
                       or `CodecFileError`. The first byte is a control byte
                       (bit 0: write the model's fingerprint into the file,
                       bit 1: make a streams file's CRC-32 right), so that
                       mutated files get past those two checks too.

The decoder targets need a SavedModel: `make(name, model=...)` builds any
target by name; the model-free ones are also plain functions of this module.
"""

import functools
import zlib

__all__ = [
    "TARGETS", "MODEL_TARGETS", "READERS", "READER_MAX_BYTES",
    "ContractError", "check_images", "container_target", "reader_target",
    "decompress_target", "decompress_stream_target", "file_target", "make",
    "container", "png", "npy", "idx", "gzip"
]

# The readers' magic bytes (imageio recognizes inputs by them).
READERS = {
    "png": b"\x89PNG\r\n\x1a\n",
    "npy": b"\x93NUMPY",
    "idx": b"\x00\x00\x08\x03",
    "gzip": b"\x1f\x8b",
}
MODEL_TARGETS = ("decompress", "decompress_stream", "file")
TARGETS = ("container", *READERS, *MODEL_TARGETS)
# What the readers may hold: small, so each execution stays fast, yet enough
# for a gzip bomb of a fuzzer's input (at most a few KB) to pass it.
READER_MAX_BYTES = 1 << 16
# decompress_stream: the most digits the first byte asks for.
MAX_STREAM_COUNT = 16


class ContractError(AssertionError):
  """Code under test returned something outside its documented contract."""


def check_images(images, count=None):
  """Raises `ContractError` unless `images` is uint8 `[N, 28, 28, 1]`.

  Args:
    images: What the code under test returned.
    count: N, when the caller knows it.
  """
  import numpy as np  # pylint: disable=g-import-not-at-top
  if not (isinstance(images, np.ndarray) and images.dtype == np.uint8 and
          images.ndim == 4 and images.shape[1:] == (28, 28, 1) and
          (count is None or images.shape[0] == count)):
    raise ContractError(
        f"expected uint8 [{'N' if count is None else count}, 28, 28, 1] "
        f"images, got {type(images).__name__} "
        f"{getattr(images, 'dtype', '')} {getattr(images, 'shape', '')}")


def container_target(unpack=None):
  """The `container` target, of `unpack` (default `container.unpack`)."""
  from tfmnistcodec.files import container as lib  # pylint: disable=g-import-not-at-top
  unpack = unpack or lib.unpack

  def container(data):
    try:
      contents = unpack(data)
    except lib.ContainerError:
      return
    if not isinstance(contents, lib.Contents):
      raise ContractError(f"unpack returned a {type(contents).__name__}")
    if len(contents.strings) != len(contents.digits_per_string()):
      raise ContractError(
          f"{len(contents.strings)} strings for "
          f"{len(contents.digits_per_string())} streams")
    # What unpack accepts, pack must write, and that must read back the same.
    again = lib.unpack(
        lib.pack(contents.fingerprint, contents.strings, contents.mode,
                 contents.num_digits, contents.stream_digits))
    if again != contents:
      raise ContractError(f"{contents} packs and unpacks to {again}")

  return container


def reader_target(fmt, read_bytes=None, max_bytes=READER_MAX_BYTES):
  """The target of one input format (a key of `READERS`).

  Args:
    fmt: "png", "npy", "idx" or "gzip". The input gets the format's magic
      bytes in front unless it starts with them. For "gzip", an input whose
      first byte is even is instead gzipped whole (after that byte), so the
      fuzzer also reaches what comes after a valid gzip stream: the idx
      checks and the size bound.
    read_bytes: The reader (default `imageio.read_bytes`).
    max_bytes: Passed on to the reader.
  """
  if fmt not in READERS:
    raise ValueError(f"unknown format {fmt!r}; one of {', '.join(READERS)}")
  from tfmnistcodec.files import imageio  # pylint: disable=g-import-not-at-top
  read_bytes = read_bytes or imageio.read_bytes
  magic = READERS[fmt]

  def reader(data):
    data = bytes(data)
    if fmt == "gzip" and data and data[0] % 2 == 0:
      compressor = zlib.compressobj(1, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
      data = compressor.compress(data[1:]) + compressor.flush()
    elif not data.startswith(magic):
      data = magic + data
    try:
      images = read_bytes(data, f"<{fmt}>", max_bytes=max_bytes)
    except imageio.InputError:
      return
    check_images(images)

  reader.__name__ = fmt
  return reader


def _invalid_argument():
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  return tf.errors.InvalidArgumentError


def decompress_target(signature):
  """The `decompress` target of a SavedModel's `decompress` signature."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  invalid = _invalid_argument()

  def decompress(data):
    try:
      images = signature(strings=tf.constant([bytes(data)], tf.string))
    except invalid:
      return
    check_images(images["images"].numpy(), 1)

  return decompress


def decompress_stream_target(signature):
  """The `decompress_stream` target of that SavedModel signature."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  invalid = _invalid_argument()

  def decompress_stream(data):
    data = bytes(data)
    count = data[0] % MAX_STREAM_COUNT + 1 if data else 1
    try:
      images = signature(string=tf.constant(data[1:], tf.string),
                         count=tf.constant(count, tf.int32))
    except invalid:
      return
    check_images(images["images"].numpy(), count)

  return decompress_stream


def file_target(file_codec, fingerprint=None):
  """The `file` target of a `codecfile.FileCodec` (or its stand-in).

  Args:
    file_codec: Has `decompress(bytes)`.
    fingerprint: What control bit 0 writes into the file (default
      `file_codec.fingerprint`).
  """
  from tfmnistcodec.files import codecfile  # pylint: disable=g-import-not-at-top
  from tfmnistcodec.files import container as lib  # pylint: disable=g-import-not-at-top
  if fingerprint is None:
    fingerprint = file_codec.fingerprint
  start = len(lib.MAGIC) + 2
  header = start + lib.FINGERPRINT_BYTES

  def file(data):
    data = bytes(data)
    control, data = (data[0], bytearray(data[1:])) if data else (0, b"")
    if control & 1 and len(data) >= header:
      data[start:header] = fingerprint
    if (control & 2 and len(data) >= header + 4 and
        data[start - 1] == lib.MODE_STREAMS):
      data[-4:] = zlib.crc32(data[:-4]).to_bytes(4, "big")
    try:
      images = file_codec.decompress(bytes(data))
    except codecfile.CodecFileError:
      return
    check_images(images)

  return file


@functools.lru_cache(maxsize=None)
def _saved_model(model):
  # Cached: the signatures need the loaded object alive.
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  return tf.saved_model.load(model)


@functools.lru_cache(maxsize=None)
def _file_codec(model):
  from tfmnistcodec.files import codecfile  # pylint: disable=g-import-not-at-top
  return codecfile.FileCodec(model)


def make(name, model=None):
  """The target called `name` (one of `TARGETS`).

  Args:
    name: The target's name.
    model: SavedModel folder, for the `MODEL_TARGETS`; loaded once per
      process.

  Raises:
    ValueError: an unknown name, or a decoder target without a model.
  """
  if name not in TARGETS:
    raise ValueError(f"unknown fuzz target {name!r}; the targets are "
                     f"{', '.join(TARGETS)}")
  if name == "container":
    return container_target()
  if name in READERS:
    return reader_target(name)
  if model is None:
    raise ValueError(f"the {name} target needs a SavedModel (model=...)")
  if name == "file":
    return file_target(_file_codec(str(model)))
  signature = _saved_model(str(model)).signatures[name]
  if name == "decompress":
    return decompress_target(signature)
  return decompress_stream_target(signature)


@functools.lru_cache(maxsize=None)
def _default(name):
  return make(name)


def container(data):
  """The `container` target."""
  _default("container")(data)


def png(data):
  """The `png` reader target."""
  _default("png")(data)


def npy(data):
  """The `npy` reader target."""
  _default("npy")(data)


def idx(data):
  """The `idx` reader target."""
  _default("idx")(data)


def gzip(data):
  """The `gzip` reader target (see `reader_target`)."""
  _default("gzip")(data)
