"""Tests of atomic writes."""

import os
import stat
import tempfile

import tensorflow as tf

from tfmnistcodec import atomic


class AtomicTest(tf.test.TestCase):

  def test_writes_with_the_usual_permissions_and_no_leftovers(self):
    folder = tempfile.mkdtemp(dir=self.get_temp_dir())
    path = os.path.join(folder, "out.bin")
    atomic.write_bytes(path, b"old")
    atomic.write_bytes(path, b"new")
    with open(path, "rb") as f:
      self.assertEqual(f.read(), b"new")
    umask = os.umask(0)
    os.umask(umask)
    self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o666 & ~umask)
    self.assertEqual(os.listdir(folder), ["out.bin"])

  def test_missing_folder(self):
    with self.assertRaises(FileNotFoundError):
      atomic.write_bytes(os.path.join(self.get_temp_dir(), "no", "x"), b"")


if __name__ == "__main__":
  tf.test.main()
