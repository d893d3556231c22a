"""Tests of atomic writes and of the check that outputs spare the inputs."""

import errno
import os
import stat
import tempfile
from unittest import mock

import tensorflow as tf

from tfmnistcodec.files import atomic


class AtomicTest(tf.test.TestCase):

  def setUp(self):
    super().setUp()
    self.folder = tempfile.mkdtemp(dir=self.get_temp_dir())

  def path(self, *names):
    return os.path.join(self.folder, *names)

  def write(self, name, data=b"input"):
    with open(self.path(name), "wb") as f:
      f.write(data)
    return self.path(name)

  def read(self, name):
    with open(self.path(name), "rb") as f:
      return f.read()

  def test_writes_with_the_usual_permissions_and_no_leftovers(self):
    path = self.path("out.bin")
    atomic.write_bytes(path, b"old")
    atomic.write_bytes(path, b"new")
    self.assertEqual(self.read("out.bin"), b"new")
    umask = os.umask(0)
    os.umask(umask)
    self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o666 & ~umask)
    self.assertEqual(os.listdir(self.folder), ["out.bin"])

  def test_missing_folder(self):
    path = self.path("no", "x")
    with self.assertRaisesRegex(
        atomic.OutputError,
        f"^cannot write {path}: the folder {self.path('no')} does not exist; "
        "nothing was written.$"):
      atomic.write_bytes(path, b"")

  def test_onto_a_folder(self):
    os.mkdir(self.path("folder"))
    with self.assertRaisesRegex(atomic.OutputError, "it is a folder"):
      atomic.write_bytes(self.path("folder"), b"data")
    self.assertEqual(os.listdir(self.folder), ["folder"])
    self.assertEqual(os.listdir(self.path("folder")), [])

  def test_a_full_disk_leaves_the_old_file_and_no_temporary_file(self):
    self.write("out.bin", b"old")
    full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    with mock.patch.object(atomic.os, "fsync", side_effect=full):
      with self.assertRaisesRegex(
          atomic.OutputError,
          "^cannot write .*out.bin: No space left on device; nothing was "
          "written.$"):
        atomic.write_bytes(self.path("out.bin"), b"new")
    self.assertEqual(self.read("out.bin"), b"old")
    self.assertEqual(os.listdir(self.folder), ["out.bin"])

  def test_an_interrupted_write_leaves_no_temporary_file(self):
    with mock.patch.object(atomic.os, "fsync", side_effect=KeyboardInterrupt):
      with self.assertRaises(KeyboardInterrupt):
        atomic.write_bytes(self.path("out.bin"), b"new")
    self.assertEqual(os.listdir(self.folder), [])

  def test_refuses_an_input_by_any_name(self):
    data = self.write("d.npy")
    os.symlink("d.npy", self.path("link.npy"))
    os.link(data, self.path("hard.npy"))
    relative = os.path.relpath(data)
    cases = {
        "same name": (data, [data]),
        "./ and relative": (os.path.join(".", relative), [relative]),
        "input through a symlink": (data, [self.path("link.npy")]),
        "output through a symlink": (self.path("link.npy"), [data]),
        "hard link": (self.path("hard.npy"), [data]),
        "among others": (data, [self.folder + "/missing", data]),
    }
    for name, (output, inputs) in cases.items():
      with self.subTest(name):
        with self.assertRaisesRegex(
            atomic.OutputError, "^the output .* is the input .*: writing it "
            "would destroy the input; choose another output.$"):
          atomic.check_output(output, inputs=inputs)
    self.assertEqual(self.read("d.npy"), b"input")

  def test_refuses_an_output_inside_an_input_folder(self):
    os.makedirs(self.path("model", "variables"))
    os.symlink("model", self.path("model_link"))
    # tf.test's clean-up of its temporary folder trips on folder symlinks.
    self.addCleanup(os.unlink, self.path("model_link"))
    for output in (self.path("model", "x.tmnc"),
                   self.path("model", "variables", "x.tmnc"),
                   self.path("model_link", "x.tmnc")):
      with self.subTest(output):
        with self.assertRaisesRegex(
            atomic.OutputError, "is inside the input folder .*model; choose "
            "an output outside it.$"):
          atomic.check_output(output, inputs=[self.path("model")])
    # A new folder of PNGs inside it, too.
    with self.assertRaisesRegex(atomic.OutputError, "inside the input folder"):
      atomic.check_output(self.path("model", "new", "pngs"),
                          inputs=[self.path("model")], folder=True)

  def test_accepts_other_outputs(self):
    data = self.write("d.npy")
    os.mkdir(self.path("model"))
    self.write("old.tmnc")
    for output in ("new.tmnc", "old.tmnc", "model_copy.tmnc"):
      atomic.check_output(self.path(output),
                          inputs=[data, self.path("model")])
    atomic.check_output(self.path("pngs"), inputs=[data], folder=True)
    atomic.check_output(self.path("a", "b", "pngs"), inputs=[data],
                        folder=True)
    atomic.check_output(self.path("model"), inputs=[data], folder=True)

  def test_refuses_outputs_that_cannot_be_written(self):
    os.mkdir(self.path("folder"))
    file = self.write("file")
    cases = {
        "folder": (self.path("folder"), False, "is a folder; give a file "
                   "name.$"),
        "missing folder": (self.path("missing", "x"), False,
                           "the folder .*missing does not exist.$"),
        "file as a folder": (self.path("file", "x"), False,
                             "file is not a folder.$"),
        "file as the PNG folder": (file, True, "exists and is not a folder.$"),
        "device": ("/dev/null", False, "is not a regular file"),
    }
    for name, (output, folder, message) in cases.items():
      with self.subTest(name):
        with self.assertRaisesRegex(atomic.OutputError, message):
          atomic.check_output(output, folder=folder)

  def test_never_replaces_a_fifo(self):
    # Nor a device; not tried on /dev/null, which a regression would replace.
    fifo = self.path("fifo")
    os.mkfifo(fifo)
    with self.assertRaisesRegex(atomic.OutputError, "is not a regular file"):
      atomic.write_bytes(fifo, b"data")
    self.assertTrue(stat.S_ISFIFO(os.stat(fifo).st_mode))
    self.assertEqual(os.listdir(self.folder), ["fifo"])

  def test_refuses_a_folder_it_cannot_write_in(self):
    with mock.patch.object(atomic.os, "access", return_value=False):
      with self.assertRaisesRegex(
          atomic.OutputError, "the folder .* is not writable"):
        atomic.check_output(self.path("x"))


if __name__ == "__main__":
  tf.test.main()
