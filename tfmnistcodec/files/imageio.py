"""Reading digits from users' files, and writing decoded digits.

Inputs are recognized by content, not by name: 28x28 grayscale PNGs (or a
folder of them), `.npy` uint8 arrays `[N, 28, 28]` or `[N, 28, 28, 1]`, and
MNIST idx image files, raw or gzipped. Anything else, or anything malformed, raises `InputError` naming
the file and the problem.
"""

import io
import os
import pathlib
import shutil
import struct
import zlib

import numpy as np
from PIL import Image

from tfmnistcodec import contract
from tfmnistcodec.files import atomic
from tfmnistcodec.files import codecfile

__all__ = [
    "InputError", "read_bytes", "read_file", "read_images", "write_npy",
    "write_pngs"
]

_PNG = b"\x89PNG\r\n\x1a\n"
_NPY = b"\x93NUMPY"
_GZIP = b"\x1f\x8b"
_IDX_IMAGES = struct.pack(">I", 0x0803)
# Generous bounds, so a hostile file cannot make us read or inflate without end.
MAX_INPUT_BYTES = 1 << 30


class InputError(contract.UserValueError):
  """An input file that is not digits this codec can read."""


def read_file(path, max_bytes=MAX_INPUT_BYTES):
  """Bytes of a regular file, with clear errors for anything else."""
  path = pathlib.Path(path)
  if not path.exists():
    raise FileNotFoundError(f"{path}: no such file.")
  if path.is_dir():
    raise IsADirectoryError(f"{path}: is a directory, not a file.")
  if not path.is_file():
    # A FIFO or a device could block or never end.
    raise InputError(f"{path}: not a regular file.")
  if path.stat().st_size > max_bytes:
    raise InputError(f"{path}: larger than {max_bytes} bytes.")
  return path.read_bytes()


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


def _npy(path, data):
  # Check the header before loading, so that a forged shape cannot make numpy
  # allocate for an array that the file does not hold.
  buffer = io.BytesIO(data)
  try:
    version = np.lib.format.read_magic(buffer)
    if version == (1, 0):
      shape, _, dtype = np.lib.format.read_array_header_1_0(buffer)
    elif version == (2, 0):
      shape, _, dtype = np.lib.format.read_array_header_2_0(buffer)
    else:
      raise contract.UserValueError(f"unsupported .npy version {version}")
  except (OSError, ValueError, EOFError, SyntaxError) as e:
    raise InputError(f"{path}: cannot read the .npy header: {e}") from None
  try:
    codecfile.check_image_spec(shape, dtype)
  except ValueError as e:
    raise InputError(f"{path}: {e}") from None
  if len(data) - buffer.tell() != int(np.prod(shape)):
    raise InputError(f"{path}: the .npy header says {list(shape)}, but the "
                     f"file holds {len(data) - buffer.tell()} bytes of data.")
  array = np.load(io.BytesIO(data), allow_pickle=False)
  return codecfile.check_images(array)


def _idx(path, data):
  if len(data) < 16:
    raise InputError(f"{path}: truncated idx file ({len(data)} bytes).")
  magic, count, rows, columns = struct.unpack(">IIII", data[:16])
  if magic != 0x0803:
    raise InputError(f"{path}: not an idx file of uint8 images.")
  if (rows, columns) != (28, 28):
    raise InputError(f"{path}: idx images of {rows}x{columns}; need 28x28.")
  if len(data) != 16 + count * 784:
    raise InputError(f"{path}: the idx header says {count} images "
                     f"({16 + count * 784} bytes), the file has {len(data)}.")
  return np.frombuffer(data, np.uint8, offset=16).reshape(count, 28, 28, 1)


def _gunzip(path, data, max_bytes):
  output = bytearray()
  decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
  try:
    chunk = decompressor.decompress(data, max_bytes + 1)
    output += chunk
    if len(output) > max_bytes or decompressor.unconsumed_tail:
      raise InputError(f"{path}: inflates to more than {max_bytes} bytes.")
    if not decompressor.eof:
      raise InputError(f"{path}: truncated gzip data.")
  except zlib.error as e:
    raise InputError(f"{path}: corrupt gzip data: {e}") from None
  return bytes(output)


def read_images(path, max_bytes=MAX_INPUT_BYTES):
  """Digits in one input file, or a folder's PNGs, as uint8 `[N, 28, 28, 1]`.

  A folder stands for its `*.png` files, in the order of their names.
  """
  path = pathlib.Path(path)
  if path.is_dir():
    pngs = sorted(p for p in path.iterdir() if p.suffix.lower() == ".png")
    if not pngs:
      raise InputError(f"{path}: a folder with no .png files.")
    return np.concatenate([read_images(p, max_bytes) for p in pngs])
  return read_bytes(read_file(path, max_bytes), path, max_bytes)


def read_bytes(data, name="<bytes>", max_bytes=MAX_INPUT_BYTES):
  """Digits in the bytes of one input file (a PNG, .npy, idx or gzipped idx).

  As `read_images`, for data already in memory; `name` names it in errors.
  """
  path = name
  if data.startswith(_GZIP):
    data = _gunzip(path, data, max_bytes)
    if not data.startswith(_IDX_IMAGES):
      raise InputError(f"{path}: gzipped, but not an idx image file.")
  if data.startswith(_PNG):
    return _png(path, data)
  if data.startswith(_NPY):
    return _npy(path, data)
  if data.startswith(_IDX_IMAGES):
    return _idx(path, data)
  if not data:
    raise InputError(f"{path}: empty file.")
  raise InputError(f"{path}: not a PNG, .npy or idx image file.")


def write_npy(path, images):
  """Writes uint8 images to a `.npy` file, atomically."""
  buffer = io.BytesIO()
  np.save(buffer, images, allow_pickle=False)
  atomic.write_bytes(path, buffer.getvalue())


def write_pngs(folder, images):
  """Writes one PNG per digit, `000000.png`, ... into a new folder, atomically.

  The PNGs are written into a temporary folder beside `folder`, which is then
  renamed into place; `folder` must not exist, or be empty. A failed or
  interrupted write removes the temporary folder.

  Raises:
    FileExistsError: `folder` exists and is not an empty folder.
    atomic.OutputError: the PNGs cannot be written (read-only folder, full
      disk, ...).
  """
  folder = pathlib.Path(folder)
  if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
    raise FileExistsError(f"{folder}: exists and is not an empty folder.")
  try:
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = atomic.make_temp_dir(folder.parent, prefix=f".{folder.name}.")
  except OSError as e:
    raise atomic.write_error(folder, e) from e
  try:
    for i, image in enumerate(images):
      Image.fromarray(image[..., 0]).save(tmp / f"{i:06d}.png")
    if folder.exists():
      folder.rmdir()
    os.rename(tmp, folder)
  except BaseException as e:
    shutil.rmtree(tmp, ignore_errors=True)
    if isinstance(e, OSError):
      raise atomic.write_error(folder, e) from e
    raise
