"""Writing decoded digits: one .npy array, or a folder of PNGs.

Outputs of any size are written as they come: `NpyWriter` and `PngWriter`
append chunks to a temporary name that is renamed into place only when every
digit is there; `write_npy` and `write_pngs` write digits held in memory.
(`imageio` exports all four, beside its readers.)
"""

import os
import pathlib
import shutil

import numpy as np
from PIL import Image

from tfmnistcodec.files import atomic
from tfmnistcodec.files import codecfile

__all__ = ["NpyWriter", "PngWriter", "write_npy", "write_pngs"]


def write_npy(path, images):
  """Writes uint8 images to a `.npy` file, atomically."""
  with NpyWriter(path, len(images)) as writer:
    writer.write(images)


def write_pngs(folder, images):
  """Writes one PNG per digit, `000000.png`, ... into a new folder, atomically.

  As `PngWriter`, for images in memory.
  """
  with PngWriter(folder) as writer:
    writer.write(images)


class NpyWriter:
  """Writes `count` uint8 digits `[count, 28, 28, 1]` to a `.npy` file in
  chunks, atomically: a context manager whose `write(images)` appends.

  The file appears when the block ends with all `count` digits written; an
  exception in the block, an interruption or a wrong count leaves nothing.

      with NpyWriter("digits.npy", count) as writer:
        for chunk in chunks:
          writer.write(chunk)

  Raises:
    atomic.OutputError: the file cannot be written (the message names it).
  """

  def __init__(self, path, count):
    self._path = path
    self._count = count
    self._written = 0
    self._writing = None
    self._file = None

  def __enter__(self):
    self._writing = atomic.writing(self._path)
    self._file = self._writing.__enter__()
    try:
      np.lib.format.write_array_header_1_0(self._file, {
          "descr": np.lib.format.dtype_to_descr(np.dtype(np.uint8)),
          "fortran_order": False,
          "shape": (self._count, 28, 28, 1),
      })
    except BaseException as e:
      # No `with` block runs, so no __exit__ either: remove the file here.
      if not self._writing.__exit__(type(e), e, e.__traceback__):
        raise
    return self

  def write(self, images):
    images = codecfile.check_images(images)
    if self._written + len(images) > self._count:
      raise ValueError(f"{self._path}: more than the {self._count} digits "
                       "announced.")
    self._file.write(np.ascontiguousarray(images).tobytes())
    self._written += len(images)

  def __exit__(self, exc_type, exc, traceback):
    if exc_type is None and self._written != self._count:
      exc = ValueError(f"{self._path}: {self._written} digits written of the "
                       f"{self._count} announced.")
      self._writing.__exit__(ValueError, exc, None)  # Removes the file.
      raise exc
    return self._writing.__exit__(exc_type, exc, traceback)


class PngWriter:
  """Writes one PNG per digit, `000000.png`, ... into a new folder, in chunks,
  atomically: a context manager whose `write(images)` appends.

  The PNGs are written into a temporary folder beside `folder`, which is
  renamed into place when the block ends; `folder` must not exist, or be
  empty. An exception in the block or an interruption removes the temporary
  folder.

  Raises:
    FileExistsError: `folder` exists and is not an empty folder.
    atomic.OutputError: the PNGs cannot be written (read-only folder, full
      disk, ...).
  """

  def __init__(self, folder):
    self._folder = pathlib.Path(folder)
    self._tmp = None
    self._written = 0

  def __enter__(self):
    folder = self._folder
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
      raise FileExistsError(f"{folder}: exists and is not an empty folder.")
    try:
      folder.parent.mkdir(parents=True, exist_ok=True)
      self._tmp = atomic.make_temp_dir(folder.parent, prefix=f".{folder.name}.")
    except OSError as e:
      raise atomic.write_error(folder, e) from e
    return self

  def write(self, images):
    try:
      for image in codecfile.check_images(images):
        Image.fromarray(image[..., 0]).save(
            self._tmp / f"{self._written:06d}.png")
        self._written += 1
    except OSError as e:
      raise atomic.write_error(self._folder, e) from e

  def __exit__(self, exc_type, exc, traceback):
    if exc_type is None:
      try:
        if self._folder.exists():
          self._folder.rmdir()
        os.rename(self._tmp, self._folder)
        return False
      except BaseException as e:  # pylint: disable=broad-except
        exc = e
    shutil.rmtree(self._tmp, ignore_errors=True)
    if isinstance(exc, OSError) and not isinstance(exc, atomic.OutputError):
      raise atomic.write_error(self._folder, exc) from exc
    if exc_type is None:
      raise exc
    return False
