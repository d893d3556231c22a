"""End-to-end tests of bin/compress.py, bin/decompress.py and bin/fuzz.py."""

import gzip
import os
import shlex
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np
from PIL import Image
import pytest
import tensorflow as tf

from tfmnistcodec.core import model
from tfmnistcodec import export
from tfmnistcodec.files import codecfile
from tfmnistcodec.files import container

import testing_utils

# End to end: each test starts the binaries on a trained SavedModel.
pytestmark = pytest.mark.slow

BIN = testing_utils.REPO / "bin"

# Prints the hex of each `compress_fast` string of a .npy's digits, then
# decodes each .tmnc file given after them to PREFIX<i>.npy.
_FAST_AND_DECODED = """
import sys
import numpy as np
import tensorflow as tf
from tfmnistcodec.files import codecfile
saved_model, digits, prefix, *files = sys.argv[1:]
model = tf.saved_model.load(saved_model)
strings = model.signatures["compress_fast"](
    images=tf.constant(np.load(digits)))["strings"]
print(" ".join(s.hex() for s in strings.numpy()))
codec = codecfile.FileCodec(saved_model)
for i, path in enumerate(files):
  with open(path, "rb") as f:
    np.save(f"{prefix}{i}.npy", codec.decompress(f.read()))
"""


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

  def run_bin(self, name, *args, cwd=None, env=None):
    return testing_utils.run_python([str(BIN / name), *args], cwd=cwd,
                                    env=env)

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

  def test_decompress_a_range_of_digits(self):
    work = self.new_dir()
    for mode in codecfile.MODES:
      coded = os.path.join(work, f"{mode}.tmnc")
      if mode == codecfile.STREAMS:
        # bin/compress.py's default mode, which the round trip runs: this
        # file is written here, without another process.
        with open(coded, "wb") as f:
          f.write(codecfile.FileCodec(self.model).compress(self.images)[0])
      else:
        result = self.run_bin("compress.py", f"--model={self.model}",
                              f"--mode={mode}", f"--output={coded}",
                              self.idx_gz)
        self.assertEqual(result.returncode, 0, result.stderr)
      with self.subTest(mode):
        out = os.path.join(work, f"{mode}.npy")
        result = self.run_bin("decompress.py", f"--model={self.model}",
                              f"--output={out}", "--digits=7:19", coded)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn(": 12 digits", result.stdout)
        self.assertAllEqual(np.load(out), self.expected[7:19])
        folder = os.path.join(work, f"{mode}_pngs")
        result = self.run_bin("decompress.py", f"--model={self.model}",
                              f"--output={folder}", "--digits=28:", coded)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(sorted(os.listdir(folder)),
                         ["000000.png", "000001.png"])
        for digits, message in (("25:31", "not a range of the file's 30"),
                                ("3", "give START:END")):
          out = os.path.join(work, "bad.npy")
          result = self.run_bin("decompress.py", f"--model={self.model}",
                                f"--output={out}", f"--digits={digits}", coded)
          self.assert_one_line_error(result, message)
          self.assertFalse(os.path.exists(out))

  def test_default_architecture_with_and_without_onednn(self):
    # The default architecture refines each digit's latents in `compress`: a
    # trained one, through bin/compress.py, in processes with TensorFlow's
    # oneDNN kernels off (its default on AMD CPUs) and on. What README
    # ("Files of digits") promises: the same kernels give the same bytes in
    # every process; `compress_fast` gives the same strings with both; the
    # search may end elsewhere with the other kernels, and a file decodes
    # with either to pixels at most one grey level apart (decoded by one
    # process per kernel setting, which also prints its `compress_fast`).
    work = self.new_dir()
    improved = os.path.join(work, "improved")
    codec, lmbda = testing_utils.trained_codec()
    export.export_saved_model(codec, improved, lmbda)
    loaded = tf.saved_model.load(improved)
    strings = loaded.signatures["compress"](images=self.images)["strings"]
    fast = loaded.signatures["compress_fast"](images=self.images)["strings"]
    self.assertTrue(np.any(strings.numpy() != fast.numpy()))  # It searched.
    np.save(os.path.join(work, "digits.npy"), self.images)
    files = {}
    for onednn, runs in (("0", "ab"), ("1", "a")):
      for run in runs:
        coded = os.path.join(work, f"onednn_{onednn}{run}.tmnc")
        result = self.run_bin("compress.py", f"--model={improved}",
                              f"--output={coded}", self.idx_gz,
                              env=dict(TF_ENABLE_ONEDNN_OPTS=onednn))
        self.assertEqual(result.returncode, 0, result.stderr)
        with open(coded, "rb") as f:
          files[onednn + run] = f.read()
    self.assertEqual(files["0a"], files["0b"])
    fast_strings, decoded = {}, {}
    for onednn in ("0", "1"):
      prefix = os.path.join(work, f"decoded_by_{onednn}_")
      result = testing_utils.run_python(
          ["-c", _FAST_AND_DECODED, improved, os.path.join(work, "digits.npy"),
           prefix, *(os.path.join(work, f"onednn_{written}a.tmnc")
                     for written in ("0", "1"))],
          env=dict(TF_ENABLE_ONEDNN_OPTS=onednn))
      self.assertEqual(result.returncode, 0, result.stderr)
      fast_strings[onednn] = result.stdout
      for i, written in enumerate(("0", "1")):
        decoded[written, onednn] = np.load(f"{prefix}{i}.npy").astype(np.int32)
        self.assertEqual(decoded[written, onednn].shape, (30, 28, 28, 1))
    self.assertEqual(fast_strings["0"], fast_strings["1"])
    self.assertEqual(fast_strings["0"].split(), [s.hex() for s in fast.numpy()])
    for written in ("0", "1"):
      self.assertAllInRange(
          decoded[written, "0"] - decoded[written, "1"], -1, 1)

  def test_encoder_flag(self):
    # --encoder=fast codes a searching model's rounded latents: the bytes
    # FileCodec writes with the fast encoder, which decode to what
    # compress_fast's strings decode to. A SavedModel exported before the
    # fast stream signature is refused in one line, naming it.
    work = self.new_dir()
    improved = os.path.join(work, "improved")
    codec, lmbda = testing_utils.trained_codec()
    export.export_saved_model(codec, improved, lmbda)
    coded = os.path.join(work, "fast.tmnc")
    result = self.run_bin("compress.py", f"--model={improved}",
                          f"--output={coded}", "--encoder=fast", self.idx_gz)
    self.assertEqual(result.returncode, 0, result.stderr)
    with open(coded, "rb") as f:
      data = f.read()
    file_codec = codecfile.FileCodec(improved)
    self.assertEqual(data, file_codec.compress(self.images, encoder="fast")[0])
    loaded = tf.saved_model.load(improved)
    fast = loaded.signatures["compress_fast"](images=self.images)["strings"]
    self.assertAllEqual(file_codec.decompress(data),
                        loaded.signatures["decompress"](strings=fast)["images"])
    older = os.path.join(work, "older")
    module = export.CodecModule(model.Codec(latent_dims=10, seed=3))
    tf.saved_model.save(module, older, signatures={
        name: getattr(module, name) for name in (
            "compress", "decompress", "fingerprint", "compress_stream",
            "decompress_stream")})
    out = os.path.join(work, "older.tmnc")
    result = self.run_bin("compress.py", f"--model={older}", f"--output={out}",
                          "--encoder=fast", self.idx_gz)
    self.assert_one_line_error(
        result, "has no compress_stream_fast signature .*bin/export.py")
    self.assertFalse(os.path.exists(out))

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

  def test_never_writes_over_an_input(self):
    work = self.new_dir()
    digits = os.path.join(work, "d.npy")
    np.save(digits, self.images)
    coded = os.path.join(work, "c.npy")  # A file of digits, named .npy.
    with open(coded, "wb") as f:
      f.write(codecfile.FileCodec(self.model).compress(self.images)[0])
    os.symlink("d.npy", os.path.join(work, "d_link.npy"))
    os.symlink("c.npy", os.path.join(work, "c_link.npy"))
    os.link(digits, os.path.join(work, "d_hard.npy"))
    pngs = os.path.join(work, "pngs")
    os.mkdir(pngs)
    Image.fromarray(self.images[0, ..., 0]).save(os.path.join(pngs, "0.png"))
    before = {name: self.read(work, name) for name in ("d.npy", "c.npy")}
    model = f"--model={self.model}"
    # Each way of naming an input, once; atomic_test.py has every case.
    cases = {
        "compress, same name": ("compress.py", "--output=d.npy", "d.npy"),
        "compress, ./": ("compress.py", "--output=./d.npy", "d.npy"),
        "compress, through a symlink": ("compress.py", "--output=d.npy",
                                        "d_link.npy"),
        "compress, hard link, the second input": (
            "compress.py", "--output=d_hard.npy", "pngs", "d.npy"),
        "compress, inside the input folder": ("compress.py",
                                              "--output=pngs/x.tmnc", "pngs"),
        "decompress, same name": ("decompress.py", "--output=c.npy", "c.npy"),
        "decompress, ./": ("decompress.py", "--output=./c.npy", "c.npy"),
        "decompress, through a symlink": ("decompress.py", "--output=c.npy",
                                          "c_link.npy"),
        "decompress, PNGs inside the model": (
            "decompress.py", f"--output={self.model}/pngs", "c.npy"),
    }
    for name, (binary, *args) in cases.items():
      with self.subTest(name):
        result = self.run_bin(binary, model, *args, cwd=work)
        self.assert_one_line_error(
            result, "(is the input|is inside the input folder)")
        for file, data in before.items():
          self.assertEqual(self.read(work, file), data)
    self.assertCountEqual(
        os.listdir(work),
        ["d.npy", "c.npy", "d_link.npy", "c_link.npy", "d_hard.npy", "pngs"])
    self.assertEqual(os.listdir(pngs), ["0.png"])
    self.assertCountEqual(os.listdir(self.model),
                          ["saved_model.pb", "variables", "assets",
                           "fingerprint.pb"])

  def test_outputs_that_cannot_be_written(self):
    work = self.new_dir()
    os.mkdir(os.path.join(work, "folder"))
    model = f"--model={self.model}"
    for args, message in (
        (["--output=folder", self.idx_gz], "the output folder is a folder"),
        (["--output=missing/x.tmnc", self.idx_gz],
         "the folder missing does not exist")):
      with self.subTest(args[0]):
        result = self.run_bin("compress.py", model, *args, cwd=work)
        self.assert_one_line_error(result, message)
        self.assertEqual(os.listdir(work), ["folder"])
        self.assertEqual(os.listdir(os.path.join(work, "folder")), [])

  def run_on_tmpfs(self, mount_options, fill, *runs):
    """Runs binaries with a fresh tmpfs mounted at `work/mnt`, just for them.

    In a user and mount namespace of their own (`unshare`), so it needs no
    privileges and leaves no mount behind.

    Args:
      mount_options: tmpfs options, e.g. "size=32k" or "ro".
      fill: Whether to fill the tmpfs first, so every write finds it full.
      *runs: `(binary, args...)` tuples; args may name `{mnt}`.

    Returns:
      `(results, listing)`: a `(returncode, stderr)` pair per run, and the
      names in the tmpfs after the last run.
    """
    if shutil.which("unshare") is None:
      self.skipTest("no unshare command (util-linux) here")
    probe = subprocess.run(["unshare", "-rm", "true"], capture_output=True,
                           check=False)
    if probe.returncode:
      self.skipTest("no unprivileged mount namespaces here (unshare -rm: "
                    f"{probe.stderr.decode().strip()})")
    work = self.new_dir()
    mnt = os.path.join(work, "mnt")
    os.mkdir(mnt)
    lines = [f"mount -t tmpfs -o {mount_options} tmpfs {shlex.quote(mnt)} "
             "|| exit 99"]
    if fill:  # Fails when the disk is full, as it should.
      lines.append(f"cat /dev/zero > {shlex.quote(mnt)}/fill 2>/dev/null")
    for i, (binary, *args) in enumerate(runs):
      command = [sys.executable, str(BIN / binary),
                 *(a.format(mnt=mnt) for a in args)]
      out = shlex.quote(os.path.join(work, str(i)))
      lines.append(f"{shlex.join(command)} >{out}.out 2>{out}.err; "
                   f"echo $? >{out}.rc")
    lines.append(f"ls -A {shlex.quote(mnt)} >{shlex.quote(work)}/listing")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2",
               PYTHONPATH=str(testing_utils.REPO))
    done = subprocess.run(["unshare", "-rm", "sh", "-c", "\n".join(lines)],
                          env=env, capture_output=True, text=True,
                          timeout=600, check=False)
    self.assertNotEqual(done.returncode, 99, done.stderr)
    results = []
    for i in range(len(runs)):
      with open(os.path.join(work, f"{i}.rc")) as rc, open(
          os.path.join(work, f"{i}.err")) as err:
        results.append(subprocess.CompletedProcess(
            runs[i], int(rc.read()), "", err.read()))
    with open(os.path.join(work, "listing")) as f:
      return results, f.read().split()

  def test_full_and_read_only_disks_end_with_one_line_and_leave_nothing(self):
    coded = os.path.join(self.new_dir(), "digits.tmnc")
    with open(coded, "wb") as f:
      f.write(codecfile.FileCodec(self.model).compress(self.images)[0])
    model = f"--model={self.model}"
    runs = (("compress.py", model, "--output={mnt}/x.tmnc", self.idx_gz),
            ("decompress.py", model, "--output={mnt}/x.npy", coded),
            ("decompress.py", model, "--output={mnt}/pngs", coded))
    for options, fill, message in (
        ("size=32k", True, "No space left on device; nothing was written."),
        ("ro", False, r"is not writable \(read-only, or no permission\).")):
      with self.subTest(options):
        results, listing = self.run_on_tmpfs(options, fill, *runs)
        for result in results:
          self.assert_one_line_error(result, message)
        self.assertEqual(listing, ["fill"] if fill else [])

  def test_signals_stop_a_long_compress_cleanly(self):
    work = self.new_dir()
    improved = os.path.join(work, "improved")
    export.export_saved_model(
        model.Codec(latent_dims=10, seed=3, architecture="improved"),
        improved, lmbda=2000.)
    # Minutes of latent refinement: far longer than the test waits.
    digits = os.path.join(work, "digits.npy")
    np.save(digits, np.concatenate([self.images] * 100))
    out = os.path.join(work, "out.tmnc")
    for signum in (signal.SIGTERM, signal.SIGINT):
      with self.subTest(signal.Signals(signum).name):
        process = subprocess.Popen(
            [sys.executable, str(BIN / "compress.py"), f"--model={improved}",
             f"--output={out}", digits],
            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2",
                     PYTHONPATH=str(testing_utils.REPO)),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        try:
          log = []
          for line in process.stderr:  # Until the coding has started.
            log.append(line)
            if "Compressing 3000 digits" in line:
              break
          time.sleep(1)
          process.send_signal(signum)
          stdout, rest = process.communicate(timeout=60)
        finally:
          process.kill()
          process.wait()
        result = subprocess.CompletedProcess(
            process.args, process.returncode, stdout, "".join(log) + rest)
        self.assertEqual(result.returncode, 128 + signum, result.stderr)
        self.assert_one_line_error(
            result, f"interrupted by {signal.Signals(signum).name}")
        self.assertEqual(stdout, "")
        self.assertCountEqual(os.listdir(work), ["improved", "digits.npy"])

  def test_an_empty_npy_round_trips(self):
    work = self.new_dir()
    empty = os.path.join(work, "empty.npy")
    np.save(empty, np.zeros([0, 28, 28], np.uint8))
    model = f"--model={self.model}"
    for mode, output in (("streams", "out.npy"), ("strings", "pngs")):
      with self.subTest(mode):
        coded = os.path.join(work, f"{mode}.tmnc")
        result = self.run_bin("compress.py", model, f"--mode={mode}",
                              f"--output={coded}", empty)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertRegex(result.stdout, r"^0 digits -> .*: \d+ bytes$")
        self.assertEqual(container.unpack(self.read(work, coded)).num_digits,
                         0)
        result = self.run_bin("decompress.py", model,
                              f"--output={os.path.join(work, output)}", coded)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertRegex(result.stdout, r"-> .*: 0 digits, \d+ bytes$")
    decoded = np.load(os.path.join(work, "out.npy"))
    self.assertEqual((decoded.shape, decoded.dtype),
                     ((0, 28, 28, 1), np.uint8))
    self.assertEqual(os.listdir(os.path.join(work, "pngs")), [])

  def read(self, folder, name):
    with open(os.path.join(folder, name), "rb") as f:
      return f.read()

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
