"""End-to-end tests of the study tools: sweep, evaluate, show, sample, benchmark.

They run on a tiny synthetic `mnist` in TFDS, so they check wiring, files and
error handling, not the numbers of a real run (those are in README.md).
"""

import json
import os
import shutil
import tempfile

import numpy as np
import pytest
import tensorflow as tf


from tfmnistcodec.core import model
from tfmnistcodec import data

import testing_utils

# End to end: a sweep, then the study binaries on its models.
pytestmark = pytest.mark.slow

BIN = testing_utils.REPO / "bin"
TINY_FLAGS = ["--latent_dims=6", "--batch_size=32", "--epochs=1"]
PNG = b"\x89PNG\r\n\x1a\n"


class ToolsBinTest(tf.test.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.tmp = tempfile.mkdtemp()
    cls.data_dir = os.path.join(cls.tmp, "tfds")
    data.write_mnist(cls.data_dir, testing_utils.synthetic_digits(96, seed=7),
                     np.arange(96) % 10,
                     testing_utils.synthetic_digits(24, seed=8),
                     np.arange(24) % 10)
    # One sweep of two models, shared by the tests below.
    cls.workdir = os.path.join(cls.tmp, "sweep")
    cls.sweep = cls.run_bin("sweep.py", "--lmbdas=300,100",
                            f"--workdir={cls.workdir}", *TINY_FLAGS)
    # Read now: a later test's sweep rewrites the report.
    cls.report_files = {}
    for name in ("report.json", "report.md", "rd.png"):
      path = os.path.join(cls.workdir, "report", name)
      if os.path.exists(path):
        with open(path, "rb") as f:
          cls.report_files[name] = f.read()

  @classmethod
  def tearDownClass(cls):
    shutil.rmtree(cls.tmp, ignore_errors=True)
    super().tearDownClass()

  @classmethod
  def run_bin(cls, name, *flags):
    return testing_utils.run_python(
        [str(BIN / name), f"--data_dir={cls.data_dir}", *flags])

  @classmethod
  def run_bin_without_data(cls, name, *flags):
    return testing_utils.run_python([str(BIN / name), *flags])

  def assert_png(self, path):
    with open(path, "rb") as f:
      self.assertEqual(f.read(8), PNG)

  def assert_one_line_error(self, result, message):
    self.assertEqual(result.returncode, 1, result.stderr)
    self.assertNotIn("Traceback", result.stderr)
    self.assertRegex(result.stderr.strip().splitlines()[-1],
                     f"^error: .*{message}")

  def test_sweep_trains_each_lmbda_and_reports(self):
    self.assertEqual(self.sweep.returncode, 0, self.sweep.stderr)
    report = json.loads(self.report_files["report.json"])
    self.assertEqual(report["digits"], 24)
    self.assertEqual(sorted(m["lmbda"] for m in report["models"]),
                     [100., 300.])
    for row in report["models"]:
      self.assertEqual(row["architecture"], model.DEFAULT_ARCHITECTURE)
      # The streams file codes what its own information content says.
      self.assertBetween(8 * row["streams_file_bytes"],
                         row["streams_information_bits"],
                         row["streams_information_bits"] + 64)
      self.assertGreater(row["string_bits"], 0)
      self.assertGreater(row["strings_file_bytes"], row["string_bits"] / 8)
    self.assertEqual(
        {(c["codec"], c["quality"]) for c in report["classical"]},
        {("png", None), ("webp-lossless", None), *(
            ("webp", q) for q in (0, 5, 10, 25, 50, 75, 90)), *(
                ("jpeg", q) for q in (1, 5, 10, 25, 50, 75, 90, 95))})
    self.assertEqual(self.report_files["rd.png"][:8], PNG)
    self.assertIn("| webp q0 |", self.report_files["report.md"].decode())
    self.assertIn("sweep 1/2: training λ=300", self.sweep.stderr)

  def test_sweep_reuses_finished_models(self):
    again = self.run_bin("sweep.py", "--lmbdas=300", "--noclassical",
                         f"--workdir={self.workdir}", *TINY_FLAGS)
    self.assertEqual(again.returncode, 0, again.stderr)
    self.assertIn("λ=300 is finished", again.stderr)
    self.assertNotIn("training λ=300", again.stderr)

  def test_evaluate_names_a_missing_model(self):
    result = self.run_bin("evaluate.py", "--models=/nonexistent/run",
                          f"--output_dir={self.tmp}/nothing")
    self.assert_one_line_error(result, "holds no SavedModel")
    self.assertFalse(os.path.exists(f"{self.tmp}/nothing"))

  def test_sweep_refuses_a_bad_lmbda(self):
    result = self.run_bin("sweep.py", "--lmbdas=300,-2",
                          f"--workdir={self.tmp}/bad", *TINY_FLAGS)
    self.assert_one_line_error(result, "'-2' is not a positive")

  def test_show_and_sample(self):
    model = os.path.join(self.workdir, "lmbda_300")
    out = os.path.join(self.get_temp_dir(), "show.png")
    result = self.run_bin("show.py", f"--model={model}", f"--output={out}",
                          "--skip=4")
    self.assertEqual(result.returncode, 0, result.stderr)
    self.assertIn("test digits 4 to 19", result.stdout)
    self.assert_png(out)
    result = self.run_bin("show.py", f"--model={model}", f"--output={out}",
                          "--skip=24")
    self.assert_one_line_error(result, "past the last of the 24 test digits")
    samples = os.path.join(self.get_temp_dir(), "samples.png")
    result = self.run_bin_without_data(
        "sample.py", f"--model={model}/saved_model",
        f"--output={samples}", "--num=6", "--seed=3")
    self.assertEqual(result.returncode, 0, result.stderr)
    self.assert_png(samples)
    result = self.run_bin_without_data(
        "sample.py", f"--model={self.tmp}", f"--output={samples}")
    self.assert_one_line_error(result, "holds no SavedModel")
    # Neither writes into the model it reads.
    listing = sorted(os.listdir(os.path.join(model, "saved_model")))
    for binary, run in (("show.py", self.run_bin),
                        ("sample.py", self.run_bin_without_data)):
      with self.subTest(binary):
        result = run(binary, f"--model={model}",
                     f"--output={model}/saved_model/saved_model.pb")
        self.assert_one_line_error(result, "is inside the input folder")
        self.assertEqual(sorted(os.listdir(os.path.join(model, "saved_model"))),
                         listing)

  def test_benchmark_prints_json(self):
    out = os.path.join(self.get_temp_dir(), "benchmark.json")
    result = self.run_bin("benchmark.py", "--repeats=2", "--epochs=2",
                          "--batch_calls=1:3,24:2", f"--output={out}")
    self.assertEqual(result.returncode, 0, result.stderr)
    printed = json.loads(result.stdout)
    with open(out) as f:
      self.assertEqual(json.load(f), printed)
    self.assertEqual(printed["training"]["runs"], 2)
    self.assertLen(printed["training"]["epoch_seconds"], 2)
    self.assertEqual(
        [(c["signature"], c["batch_size"]) for c in printed["coding"]],
        [("compress", 1), ("decompress", 1), ("compress_fast", 1),
         ("compress", 24), ("decompress", 24), ("compress_fast", 24)])
    # Each call codes the next digits: 3 calls of one digit code 3 of the
    # 24 test digits; 2 calls of 24 code the 24 twice.
    self.assertEqual([c["digits"] for c in printed["coding"]],
                     [3, 3, 3, 24, 24, 24])
    # Beside each compress signature's speed, what it coded: whole bytes
    # per digit, and the error of the decoded digits.
    for entry in printed["coding"]:
      if entry["signature"] == "decompress":
        self.assertNotIn("mae", entry)
        continue
      self.assertGreater(entry["string_bits_per_digit"], 0)
      self.assertBetween(entry["mae"], 1e-6, 1.)
      total_bits = entry["string_bits_per_digit"] * entry["digits"]
      self.assertAlmostEqual(total_bits, round(total_bits), places=3)
      self.assertEqual(round(total_bits) % 8, 0)
    # Both range coders, side by side at each batch size (1, 128, 10,000,
    # as many as the test split holds), wrote the same bytes.
    coders = printed["coders"]
    self.assertEqual([c["coder"] for c in coders],
                     ["tensorflow_compression", "stock_ops"] * 3)
    self.assertEqual([c["batch_size"] for c in coders[::2]],
                     [c["batch_size"] for c in coders[1::2]])
    self.assertEqual(coders[0]["batch_size"], 1)
    self.assertTrue(all(c["identical_bytes"] for c in coders))
    # MiB, not KiB or bytes: a TensorFlow process holds hundreds of MiB, and
    # the peak cannot fall after training.
    self.assertBetween(printed["peak_rss_mib"], 100, 16384)
    self.assertGreaterEqual(printed["peak_rss_mib"],
                            printed["peak_rss_mib_after_training"])


  def test_benchmark_of_the_file_tools_at_several_sizes(self):
    # A model of the sweep; no training (--repeats=0).
    saved_model = os.path.join(self.workdir, "lmbda_300", "saved_model")
    # The coders alone are test_benchmark_prints_json's.
    result = self.run_bin("benchmark.py", "--repeats=0",
                          f"--model={saved_model}", "--batch_calls=1:2",
                          "--file_digits=24,50", "--nocoders")
    self.assertEqual(result.returncode, 0, result.stderr)
    printed = json.loads(result.stdout)
    self.assertNotIn("training", printed)
    self.assertNotIn("coders", printed)
    files = printed["files"]
    self.assertEqual([(f["binary"], f["digits"]) for f in files],
                     [("compress", 24), ("decompress", 24),
                      ("compress", 50), ("decompress", 50)])
    for entry in files:
      # Each binary's own peak (a TensorFlow process: hundreds of MiB), and
      # its coding alone is faster than the whole process.
      self.assertBetween(entry["peak_rss_mib"], 100, 16384)
      self.assertLess(entry["coding_seconds"], entry["seconds"])
      self.assertGreater(entry["coding_digits_per_second"],
                         entry["digits_per_second"])
    result = self.run_bin("benchmark.py", "--repeats=0")
    self.assertNotEqual(result.returncode, 0)
    self.assertIn("--repeats=0 (no training) needs a --model", result.stderr)
    result = self.run_bin("benchmark.py", "--repeats=0",
                          f"--model={saved_model}", "--file_digits=10,x")
    self.assert_one_line_error(result, "--file_digits: '10,x' is not a list")


if __name__ == "__main__":
  tf.test.main()
