"""Tests of reading users' digit files and writing decoded digits."""

import errno
import gzip
import io
import os
import struct
import tempfile
from unittest import mock

import numpy as np
from PIL import Image
import tensorflow as tf

from tfmnistcodec.files import atomic
from tfmnistcodec.files import imageio

import testing_utils


def png_bytes(array):
  buffer = io.BytesIO()
  Image.fromarray(array).save(buffer, format="PNG")
  return buffer.getvalue()


def idx_bytes(images):
  return struct.pack(">IIII", 0x0803, len(images), 28, 28) + images.tobytes()


class ImageIOTest(tf.test.TestCase):

  def setUp(self):
    super().setUp()
    self.dir = tempfile.mkdtemp(dir=self.get_temp_dir())
    self.images = testing_utils.synthetic_digits(3, seed=6)

  def write(self, name, data):
    path = os.path.join(self.dir, name)
    with open(path, "wb") as f:
      f.write(data)
    return path

  def npy(self, name, array):
    buffer = io.BytesIO()
    np.save(buffer, array)
    return self.write(name, buffer.getvalue())

  def test_reads_each_input_kind(self):
    png = self.write("a.png", png_bytes(self.images[0, ..., 0]))
    self.assertAllEqual(imageio.read_images(png), self.images[:1])
    for array in (self.images, self.images[..., 0]):
      path = self.npy("a.npy", array)
      self.assertAllEqual(imageio.read_images(path), self.images)
    raw = self.write("t10k-images-idx3-ubyte", idx_bytes(self.images))
    self.assertAllEqual(imageio.read_images(raw), self.images)
    gz = self.write("t10k-images-idx3-ubyte.gz",
                    gzip.compress(idx_bytes(self.images)))
    self.assertAllEqual(imageio.read_images(gz), self.images)

  def test_chunks_of_any_size_give_the_same_digits(self):
    images = testing_utils.synthetic_digits(23, seed=7)
    paths = {
        "npy": self.npy("a.npy", images),
        "npy_fortran": self.npy("f.npy", np.asfortranarray(images[..., 0])),
        "idx": self.write("i-idx3-ubyte", idx_bytes(images)),
        "gzip": self.write("i-idx3-ubyte.gz", gzip.compress(idx_bytes(images))),
    }
    folder = os.path.join(self.dir, "pngs")
    imageio.write_pngs(folder, images)
    paths["pngs"] = folder
    for name, path in paths.items():
      with self.subTest(name):
        source = imageio.open_images(path)
        self.assertEqual(source.count, 23)
        for size in (1, 5, 23, 100):
          chunks = list(source.chunks(size))
          self.assertEqual([len(c) for c in chunks],
                           [min(size, 23 - i) for i in range(0, 23, size)])
          self.assertAllEqual(np.concatenate(chunks), images)
        self.assertAllEqual(
            imageio.read_bytes(open(path, "rb").read()) if name != "pngs"
            else imageio.read_images(path), images)

  def test_a_gzip_is_checked_as_it_inflates(self):
    # Its header promises 3 digits: more inflated data, or less, is refused
    # when the reading gets there, after inflating at most one byte more.
    long = gzip.compress(idx_bytes(self.images) + bytes(10**7))
    short = gzip.compress(idx_bytes(self.images)[:-784])
    for data, message in ((long, "more data than the 3 digits"),
                          (short, "the data ends before them")):
      with self.subTest(message):
        source = imageio.open_images(self.write("x-idx3-ubyte.gz", data))
        self.assertEqual(source.count, 3)
        with self.assertRaisesRegex(imageio.InputError, message):
          list(source.chunks(2))

  def test_npy_writer_writes_chunks_atomically(self):
    path = os.path.join(self.dir, "out.npy")
    with imageio.NpyWriter(path, 3) as writer:
      writer.write(self.images[:2])
      self.assertFalse(os.path.exists(path))
      writer.write(self.images[2:, ..., 0])
    self.assertAllEqual(np.load(path), self.images)
    for count, error in ((4, ValueError), (3, KeyboardInterrupt)):
      with self.subTest(error.__name__):
        other = os.path.join(self.dir, "other.npy")
        with self.assertRaises(error):
          with imageio.NpyWriter(other, count) as writer:
            writer.write(self.images)
            if error is KeyboardInterrupt:
              raise KeyboardInterrupt
        self.assertEqual(os.listdir(self.dir), ["out.npy"])

  def test_png_writer_numbers_the_digits_across_chunks(self):
    folder = os.path.join(self.dir, "pngs")
    with imageio.PngWriter(folder) as writer:
      writer.write(self.images[:1])
      writer.write(self.images[1:])
    self.assertEqual(sorted(os.listdir(folder)),
                     ["000000.png", "000001.png", "000002.png"])
    self.assertAllEqual(imageio.read_images(folder), self.images)

  def test_refusals(self):
    rgb = np.zeros([28, 28, 3], np.uint8)
    cases = {
        "rgb.png": (png_bytes(rgb), "RGB PNG; need 8-bit grayscale"),
        "big.png": (png_bytes(np.zeros([32, 32], np.uint8)), "32x32 PNG"),
        "deep.png": (png_bytes(np.zeros([28, 28], np.uint16)),
                     "PNG; need 8-bit grayscale"),
        "cut.png": (png_bytes(self.images[0, ..., 0])[:60],
                    "cannot decode the PNG"),
        "empty": (b"", "empty file"),
        "text.txt": (b"hello", "not a PNG, .npy or idx image file"),
        "labels-idx1-ubyte": (struct.pack(">II", 0x0801, 2) + b"\x01\x02",
                              "not a PNG, .npy or idx image file"),
        "cut-idx3-ubyte": (idx_bytes(self.images)[:-5],
                           "header says 3 images"),
        "small-idx3-ubyte": (struct.pack(">IIII", 0x0803, 1, 14, 14) +
                             bytes(196), "idx images of 14x14"),
        "bad.gz": (b"\x1f\x8b\x07\x00" + bytes(20), "corrupt gzip data"),
        "cut.gz": (gzip.compress(idx_bytes(self.images))[:-20],
                   "truncated gzip data"),
        "notidx.gz": (gzip.compress(b"hello"), "gzipped, but not an idx"),
    }
    for name, (data, message) in cases.items():
      with self.subTest(name):
        with self.assertRaisesRegex(imageio.InputError, message):
          imageio.read_images(self.write(name, data))

  def test_refuses_npy_of_other_dtype_or_shape(self):
    cases = {
        "float": (self.images.astype(np.float32), "uint8, got float32"),
        "nan": (np.full([2, 28, 28], np.nan), "uint8, got float64"),
        "int": (self.images.astype(np.int64), "uint8, got int64"),
        "shape": (np.zeros([2, 28, 27], np.uint8), r"got \[2, 28, 27\]"),
        "flat": (np.zeros([784], np.uint8), r"got \[784\]"),
        "scalar": (np.uint8(3), r"got \[\]"),
        "objects": (np.array([None, 1], dtype=object), "uint8, got object"),
    }
    for name, (array, message) in cases.items():
      with self.subTest(name):
        with self.assertRaisesRegex(imageio.InputError, message):
          imageio.read_images(self.npy(name + ".npy", array))

  def test_refuses_npy_whose_header_promises_more_than_it_holds(self):
    buffer = io.BytesIO()
    np.save(buffer, np.zeros([1, 28, 28], np.uint8))
    # The header promises 9 digits (7,056 bytes); the file holds 784.
    forged = buffer.getvalue().replace(b"(1, 28, 28)", b"(9, 28, 28)")
    with self.assertRaisesRegex(imageio.InputError, "holds 784 bytes"):
      imageio.read_images(self.write("forged.npy", forged))

  def test_refuses_gzip_bombs(self):
    bomb = gzip.compress(idx_bytes(np.zeros([2000, 28, 28], np.uint8)))
    path = self.write("bomb-idx3-ubyte.gz", bomb)
    with self.assertRaisesRegex(imageio.InputError, "2000 digits, more than"):
      imageio.read_images(path, max_bytes=100000)

  def test_reads_a_folder_of_pngs_in_name_order(self):
    folder = os.path.join(self.dir, "pngs")
    os.mkdir(folder)
    with self.assertRaisesRegex(imageio.InputError, "no .png files"):
      imageio.read_images(folder)
    for i in (2, 0, 1):
      with open(os.path.join(folder, f"{i}.png"), "wb") as f:
        f.write(png_bytes(self.images[i, ..., 0]))
    self.assertAllEqual(imageio.read_images(folder), self.images)

  def test_refuses_what_is_not_a_regular_file(self):
    with self.assertRaisesRegex(IsADirectoryError, "is a directory"):
      imageio.read_file(self.dir)
    with self.assertRaisesRegex(FileNotFoundError, "no such file"):
      imageio.read_images(os.path.join(self.dir, "missing.png"))
    fifo = os.path.join(self.dir, "fifo")
    os.mkfifo(fifo)
    with self.assertRaisesRegex(imageio.InputError, "not a regular file"):
      imageio.read_images(fifo)

  def test_write_pngs_then_read_them_back(self):
    folder = os.path.join(self.dir, "out")
    imageio.write_pngs(folder, self.images)
    self.assertEqual(sorted(os.listdir(folder)),
                     ["000000.png", "000001.png", "000002.png"])
    back = np.concatenate([
        imageio.read_images(os.path.join(folder, name))
        for name in sorted(os.listdir(folder))
    ])
    self.assertAllEqual(back, self.images)
    with self.assertRaisesRegex(FileExistsError, "not an empty folder"):
      imageio.write_pngs(folder, self.images)
    self.assertEqual(sorted(os.listdir(self.dir)), ["out"])
    umask = os.umask(0)
    os.umask(umask)
    self.assertEqual(os.stat(folder).st_mode & 0o777, 0o777 & ~umask)

  def test_write_pngs_that_fail_or_are_interrupted_leave_nothing(self):
    full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    for error, expected, message in (
        (full, atomic.OutputError, "No space left on device; nothing was "
         "written.$"),
        (KeyboardInterrupt(), KeyboardInterrupt, "")):
      with self.subTest(type(error).__name__):
        folder = tempfile.mkdtemp(dir=self.dir)
        out = os.path.join(folder, "pngs")
        saves = []
        original_save = Image.Image.save

        def save(image, path, *args, error=error, saves=saves,
                 original_save=original_save, **kwargs):
          if len(saves) == 2:
            raise error
          saves.append(path)
          original_save(image, path, *args, **kwargs)

        with mock.patch.object(Image.Image, "save", autospec=True,
                               side_effect=save):
          with self.assertRaisesRegex(expected, message):
            imageio.write_pngs(out, np.concatenate([self.images] * 2))
        self.assertLen(saves, 2)
        self.assertEqual(os.listdir(folder), [])

  def test_write_pngs_of_no_digits_is_an_empty_folder(self):
    folder = os.path.join(self.dir, "none")
    imageio.write_pngs(folder, self.images[:0])
    self.assertEqual(os.listdir(folder), [])

  def test_write_npy(self):
    path = os.path.join(self.dir, "out.npy")
    imageio.write_npy(path, self.images)
    self.assertAllEqual(np.load(path), self.images)
    self.assertEqual(os.listdir(self.dir), ["out.npy"])


if __name__ == "__main__":
  tf.test.main()
