"""Reading digits from users' files, and writing decoded digits.

Inputs are recognized by content, not by name: 28x28 grayscale PNGs (or a
folder of them), `.npy` uint8 arrays `[N, 28, 28]` or `[N, 28, 28, 1]`, and
MNIST idx image files, raw or gzipped. Anything else, or anything malformed,
raises `InputError` naming the file and the problem.

Inputs of any size are read in bounded memory: `open_images(path)` checks an
input's header and says how many digits it holds, and its `chunks(size)`
reads them a chunk at a time (.npy and idx files from the disk, gzip
inflated as it goes, a folder's PNGs one by one). Outputs of any size are
written as they come (`imagewriters`, whose `NpyWriter`, `PngWriter`,
`write_npy` and `write_pngs` this module exports too).
"""

import gzip
import io
import os
import pathlib
import struct
import zlib

import numpy as np
from PIL import Image

from tfmnistcodec import contract
from tfmnistcodec.files import codecfile
# The writers, exported here too: imageio reads users' files and writes them.
from tfmnistcodec.files.imagewriters import NpyWriter
from tfmnistcodec.files.imagewriters import PngWriter
from tfmnistcodec.files.imagewriters import write_npy
from tfmnistcodec.files.imagewriters import write_pngs

__all__ = [
    "InputError", "ImageSource", "NpyWriter", "PngWriter", "open_images",
    "read_bytes", "read_file", "read_images", "write_npy", "write_pngs"
]

_PNG = b"\x89PNG\r\n\x1a\n"
_NPY = b"\x93NUMPY"
_GZIP = b"\x1f\x8b"
_IDX_IMAGES = struct.pack(">I", 0x0803)
_DIGIT_BYTES = 28 * 28
# A 28x28 grayscale PNG takes well under a kilobyte; a larger one is refused
# unread (text chunks cannot make us read without end).
MAX_PNG_BYTES = 1 << 24
# Digits per chunk when reading whole inputs (about 8 MB).
CHUNK_DIGITS = 10000


class InputError(contract.UserValueError):
  """An input file that is not digits this codec can read."""


def _check_regular_file(path):
  path = pathlib.Path(path)
  if not path.exists():
    raise FileNotFoundError(f"{path}: no such file.")
  if path.is_dir():
    raise IsADirectoryError(f"{path}: is a directory, not a file.")
  if not path.is_file():
    # A FIFO or a device could block or never end.
    raise InputError(f"{path}: not a regular file.")
  return path


def read_file(path, max_bytes=None):
  """Bytes of a regular file, with clear errors for anything else."""
  path = _check_regular_file(path)
  if max_bytes is not None and path.stat().st_size > max_bytes:
    raise InputError(f"{path}: larger than {max_bytes} bytes.")
  return path.read_bytes()


class ImageSource:
  """The digits of one input, whose header has been checked.

  Attributes:
    name: The input's path (or name), for messages.
    count: How many digits it holds, as its header says.
  """

  def __init__(self, name, count, read):
    self.name = name
    self.count = count
    self._read = read

  def chunks(self, size=CHUNK_DIGITS):
    """Yields the digits as uint8 `[n, 28, 28, 1]` arrays of `size` (the last
    one the rest), reading each chunk when it is asked for.

    Raises:
      InputError: the input holds fewer or more digits than its header says
        (found when the reading gets there: a gzip stream's length is known
        only at its end), or it is corrupt.
    """
    if size < 1:
      raise ValueError(f"chunk size must be positive, got {size}.")
    return self._read(size)


def _png(path, data):
  try:
    with Image.open(io.BytesIO(data)) as image:
      image.load()
      mode, size = image.mode, image.size
      array = np.asarray(image)
  except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
    raise InputError(f"{path}: cannot decode the PNG: {e}") from None
  if mode != "L":
    raise InputError(f"{path}: a {mode} PNG; need 8-bit grayscale (mode L).")
  if size != (28, 28):
    raise InputError(f"{path}: a {size[0]}x{size[1]} PNG; need 28x28.")
  return array.reshape(1, 28, 28, 1).astype(np.uint8)


def _read(stream, size, path):
  """Up to `size` bytes of `stream` (fewer at its end)."""
  try:
    return stream.read(size)
  except EOFError:  # A gzip stream cut short.
    raise InputError(f"{path}: truncated gzip data.") from None
  except (gzip.BadGzipFile, zlib.error) as e:
    raise InputError(f"{path}: corrupt gzip data: {e}") from None


def _digit_chunks(stream, path, count, size, cut_short):
  """Yields the `count` digits of raw uint8 pixels that follow in `stream`,
  `size` at a time, then checks that nothing follows them; `cut_short` is
  the message for a stream that ends before."""
  for start in range(0, count, size):
    n = min(size, count - start)
    data = _read(stream, n * _DIGIT_BYTES, path)
    if len(data) != n * _DIGIT_BYTES:
      raise InputError(cut_short)
    yield np.frombuffer(data, np.uint8).reshape(n, 28, 28, 1)
  if _read(stream, 1, path):
    raise InputError(f"{path}: more data than the {count} digits that its "
                     "header says.")


def _npy_header(path, stream):
  # The header is checked before any data is read, so that a forged shape
  # cannot make numpy allocate for an array that the file does not hold.
  try:
    version = np.lib.format.read_magic(stream)
    if version == (1, 0):
      shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
    elif version == (2, 0):
      shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
    else:
      raise contract.UserValueError(f"unsupported .npy version {version}")
  except Exception as e:  # pylint: disable=broad-except
    # numpy parses the header's Python literal with few checks of its own:
    # untrusted headers make it raise ValueError, SyntaxError, EOFError,
    # tokenize.TokenError (unbalanced brackets), TypeError (a bytes key), ...
    # (the fuzzer found the last two). Each is a header we cannot read.
    raise InputError(f"{path}: cannot read the .npy header: "
                     f"{type(e).__name__}: {e}") from None
  try:
    codecfile.check_image_spec(shape, dtype)
  except ValueError as e:
    raise InputError(f"{path}: {e}") from None
  return shape, fortran


def _npy(path, stream, size_of_data):
  shape, fortran = _npy_header(path, stream)
  count = shape[0]
  data_bytes = size_of_data - stream.tell()
  if data_bytes != count * _DIGIT_BYTES:
    raise InputError(f"{path}: the .npy header says {list(shape)}, but the "
                     f"file holds {data_bytes} bytes of data.")
  offset = stream.tell()
  cut_short = f"{path}: the .npy file ends before its {count} digits."

  def read(size):
    stream.seek(offset)
    if not fortran:
      yield from _digit_chunks(stream, path, count, size, cut_short)
      return
    # Column-major: a digit's pixels are not together in the file. Rare
    # (np.save of a transposed array); read the whole array.
    stream.seek(0)
    images = codecfile.check_images(np.load(stream, allow_pickle=False))
    for start in range(0, count, size):
      yield images[start:start + size]

  return ImageSource(str(path), count, read)


def _idx(path, stream, size_of_data):
  header = _read(stream, 16, path)
  if len(header) < 16:
    raise InputError(f"{path}: truncated idx file ({len(header)} bytes).")
  magic, count, rows, columns = struct.unpack(">IIII", header)
  if magic != 0x0803:
    raise InputError(f"{path}: not an idx file of uint8 images.")
  if (rows, columns) != (28, 28):
    raise InputError(f"{path}: idx images of {rows}x{columns}; need 28x28.")
  expected = 16 + count * _DIGIT_BYTES
  if size_of_data is not None and size_of_data != expected:
    raise InputError(f"{path}: the idx header says {count} images "
                     f"({expected} bytes), the file has {size_of_data}.")
  cut_short = (f"{path}: the idx header says {count} images ({expected} "
               "bytes), the data ends before them.")

  def read(size):
    stream.seek(16)
    yield from _digit_chunks(stream, path, count, size, cut_short)

  return ImageSource(str(path), count, read)


def _open_stream(path, stream, size):
  """An `ImageSource` for the seekable binary `stream` of `size` bytes."""
  magic = stream.read(8)
  stream.seek(0)
  if magic.startswith(_GZIP):
    inflated = gzip.GzipFile(fileobj=stream, mode="rb")
    if _read(inflated, 4, path) != _IDX_IMAGES:
      raise InputError(f"{path}: gzipped, but not an idx image file.")
    inflated.seek(0)
    return _idx(path, inflated, None)
  if magic.startswith(_PNG):
    if size > MAX_PNG_BYTES:
      raise InputError(f"{path}: a PNG of {size} bytes; a 28x28 digit takes "
                       f"less than {MAX_PNG_BYTES}.")
    image = _png(path, stream.read())
    return ImageSource(str(path), 1, lambda size: iter([image]))
  if magic.startswith(_NPY):
    return _npy(path, stream, size)
  if magic.startswith(_IDX_IMAGES):
    return _idx(path, stream, size)
  if not magic:
    raise InputError(f"{path}: empty file.")
  raise InputError(f"{path}: not a PNG, .npy or idx image file.")


def _folder(path):
  pngs = sorted(p for p in path.iterdir() if p.suffix.lower() == ".png")
  if not pngs:
    raise InputError(f"{path}: a folder with no .png files.")

  def read(size):
    for start in range(0, len(pngs), size):
      yield np.concatenate(
          [read_images(png) for png in pngs[start:start + size]])

  return ImageSource(str(path), len(pngs), read)


def open_images(path):
  """The digits of one input file, or of a folder's PNGs, as an `ImageSource`.

  A folder stands for its `*.png` files, in the order of their names. The
  input's header is checked here; its data is read by `chunks()`, which opens
  the file again and keeps it open while it runs.

  Raises:
    FileNotFoundError, IsADirectoryError: no such file; a folder given where
      a file is needed.
    InputError: not digits this codec reads; the message says why.
  """
  path = pathlib.Path(path)
  if path.is_dir():
    return _folder(path)
  path = _check_regular_file(path)
  with open(path, "rb") as stream:
    count = _open_stream(path, stream, os.fstat(stream.fileno()).st_size).count

  def read(size):
    # The file is opened again, and its header checked again, for each pass.
    with open(path, "rb") as stream:
      source = _open_stream(path, stream, os.fstat(stream.fileno()).st_size)
      if source.count != count:
        raise InputError(f"{path}: changed while it was read.")
      yield from source.chunks(size)

  return ImageSource(str(path), count, read)


def read_images(path, max_bytes=None):
  """All digits of one input (as `open_images`), as uint8 `[N, 28, 28, 1]`.

  Refuses, before reading them, digits that take more than `max_bytes`.
  """
  return _read_all(open_images(path), max_bytes)


def read_bytes(data, name="<bytes>", max_bytes=None):
  """Digits in the bytes of one input file (a PNG, .npy, idx or gzipped idx).

  As `read_images`, for data already in memory; `name` names it in errors.
  """
  return _read_all(_open_stream(name, io.BytesIO(data), len(data)), max_bytes)


def _read_all(source, max_bytes):
  if max_bytes is not None and source.count * _DIGIT_BYTES > max_bytes:
    raise InputError(
        f"{source.name}: {source.count} digits, more than the {max_bytes} "
        "bytes allowed.")
  return np.concatenate([np.zeros([0, 28, 28, 1], np.uint8),
                         *source.chunks()])
