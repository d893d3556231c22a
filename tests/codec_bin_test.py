"""End-to-end tests of bin/compress.py, bin/decompress.py and bin/fuzz.py."""

import gzip
import os
import struct
import tempfile

import numpy as np
from PIL import Image
import tensorflow as tf

from tfmnistcodec import codecfile
from tfmnistcodec import container
from tfmnistcodec import export
from tfmnistcodec import model

import testing_utils

BIN = testing_utils.REPO / "bin"


class CodecBinTest(tf.test.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.tmp = tempfile.mkdtemp(dir=tf.compat.v1.test.get_temp_dir())
    cls.model = os.path.join(cls.tmp, "saved_model")
    export.export_saved_model(model.Codec(latent_dims=10, seed=3), cls.model)
    cls.other_model = os.path.join(cls.tmp, "other_model")
    export.export_saved_model(model.Codec(latent_dims=10, seed=4),
                              cls.other_model)
    cls.images = testing_utils.synthetic_digits(30, seed=10)
    cls.idx_gz = os.path.join(cls.tmp, "t10k-images-idx3-ubyte.gz")
    with open(cls.idx_gz, "wb") as f:
      f.write(gzip.compress(
          struct.pack(">IIII", 0x0803, 30, 28, 28) + cls.images.tobytes()))
    cls.expected = codecfile.FileCodec(cls.model).decompress(
        codecfile.FileCodec(cls.model).compress(cls.images)[0])

  def run_bin(self, name, *args):
    return testing_utils.run_python([str(BIN / name), *args])

  def new_dir(self):
    return tempfile.mkdtemp(dir=self.tmp)

  def assert_one_line_error(self, result, message):
    self.assertNotEqual(result.returncode, 0)
    self.assertNotIn("Traceback", result.stderr)
    self.assertRegex(result.stderr.strip().splitlines()[-1],
                     "^error: .*" + message)

  def test_round_trip_from_idx_and_from_pngs(self):
    work = self.new_dir()
    coded = os.path.join(work, "digits.tmnc")
    result = self.run_bin("compress.py", f"--model={self.model}",
                          f"--output={coded}", self.idx_gz)
    self.assertEqual(result.returncode, 0, result.stderr)
    self.assertRegex(result.stdout, r"^30 digits -> .*: \d+ bytes, [\d.]+ "
                     r"bits/digit")
    out = os.path.join(work, "decoded.npy")
    result = self.run_bin("decompress.py", f"--model={self.model}",
                          f"--output={out}", coded)
    self.assertEqual(result.returncode, 0, result.stderr)
    self.assertIn("30 digits", result.stdout)
    self.assertAllEqual(np.load(out), self.expected)

    # The same digits as a folder of PNGs (named in order) give the same
    # bytes; so do the PNGs given one by one.
    png_dir = os.path.join(work, "pngs")
    os.mkdir(png_dir)
    pngs = []
    for i, image in enumerate(self.images):
      pngs.append(os.path.join(png_dir, f"in{i:02d}.png"))
      Image.fromarray(image[..., 0]).save(pngs[-1])
    from_pngs = os.path.join(work, "from_pngs.tmnc")
    result = self.run_bin("compress.py", f"--model={self.model}",
                          f"--output={from_pngs}", png_dir)
    self.assertEqual(result.returncode, 0, result.stderr)
    one_by_one = os.path.join(work, "one_by_one.tmnc")
    result = self.run_bin("compress.py", f"--model={self.model}",
                          f"--output={one_by_one}", *pngs)
    self.assertEqual(result.returncode, 0, result.stderr)
    with open(one_by_one, "rb") as a, open(from_pngs, "rb") as b:
      self.assertEqual(a.read(), b.read())
    with open(coded, "rb") as a, open(from_pngs, "rb") as b:
      self.assertEqual(a.read(), b.read())

    folder = os.path.join(work, "decoded")
    result = self.run_bin("decompress.py", f"--model={self.model}",
                          f"--output={folder}", from_pngs)
    self.assertEqual(result.returncode, 0, result.stderr)
    names = sorted(os.listdir(folder))
    self.assertEqual(names[0], "000000.png")
    self.assertLen(names, 30)
    back = np.stack([np.asarray(Image.open(os.path.join(folder, n)))
                     for n in names])
    self.assertAllEqual(back[..., None], self.expected)

  def test_hostile_inputs_end_with_one_line_and_no_output(self):
    work = self.new_dir()
    good = os.path.join(work, "good.tmnc")
    data, _ = codecfile.FileCodec(self.model).compress(
        self.images[:5], mode=codecfile.STRINGS)
    with open(good, "wb") as f:
      f.write(data)
    contents = container.unpack(data)
    strings = contents.strings
    fingerprint = contents.fingerprint
    strings[2] = strings[2] + b"\xff" * 6
    cases = {
        "empty": (b"", "empty file"),
        "magic": (b"GIF89a" + data[6:], "not a tfmnistcodec file"),
        "version": (data[:4] + b"\x09" + data[5:], "format version 9"),
        "truncated": (data[:-3], "truncated file"),
        "trailing": (data + b"junk", "4 trailing bytes"),
        "corrupt_string": (container.pack(fingerprint, strings),
                           "corrupt string for digit 2"),
        "other_model": (codecfile.FileCodec(self.other_model).compress(
            self.images[:5])[0], "made by another model"),
    }
    for name, (contents, message) in cases.items():
      with self.subTest(name):
        path = os.path.join(work, name + ".tmnc")
        with open(path, "wb") as f:
          f.write(contents)
        out = os.path.join(work, name + ".npy")
        result = self.run_bin("decompress.py", f"--model={self.model}",
                              f"--output={out}", path)
        self.assert_one_line_error(result, message)
        self.assertFalse(os.path.exists(out))
    result = self.run_bin("decompress.py", f"--model={self.model}",
                          f"--output={work}/dir.npy", work)
    self.assert_one_line_error(result, "is a directory")
    self.assertEqual(sorted(n for n in os.listdir(work) if n.startswith(".")),
                     [])

  def test_bad_images_end_with_one_line_and_no_output(self):
    work = self.new_dir()
    floats = os.path.join(work, "floats.npy")
    np.save(floats, np.full([2, 28, 28], np.nan, np.float32))
    rgb = os.path.join(work, "rgb.png")
    Image.fromarray(np.zeros([28, 28, 3], np.uint8)).save(rgb)
    empty_dir = os.path.join(work, "empty")
    os.mkdir(empty_dir)
    small = os.path.join(work, "small.png")
    Image.fromarray(np.zeros([20, 28], np.uint8)).save(small)
    for path, message in ((floats, "uint8, got float32"),
                          (rgb, "RGB PNG"), (small, "28x20 PNG"),
                          (empty_dir, "a folder with no .png files"),
                          (os.path.join(work, "missing.png"), "no such file")):
      with self.subTest(path):
        out = os.path.join(work, "out.tmnc")
        result = self.run_bin("compress.py", f"--model={self.model}",
                              f"--output={out}", path)
        self.assert_one_line_error(result, message)
        self.assertFalse(os.path.exists(out))

  def test_wrong_model_folder(self):
    result = self.run_bin("compress.py", f"--model={self.tmp}/nothing",
                          f"--output={self.tmp}/x.tmnc", self.idx_gz)
    self.assert_one_line_error(result, "is not a SavedModel folder")

  def test_fuzz_script(self):
    work = self.new_dir()
    coded = os.path.join(work, "digits.tmnc")
    data, _ = codecfile.FileCodec(self.model).compress(self.images[:6])
    with open(coded, "wb") as f:
      f.write(data)
    result = self.run_bin("fuzz.py", f"--model={self.model}",
                          f"--file={coded}", "--iterations=300", "--seed=5")
    self.assertEqual(result.returncode, 0, result.stderr)
    self.assertIn("300 mutated files: no crash", result.stdout)


if __name__ == "__main__":
  tf.test.main()
