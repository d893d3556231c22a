"""End-to-end tests of the binaries, on a tiny synthetic `mnist` in TFDS."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import tensorflow as tf

import testing_utils

# End to end: each test starts the binaries (Python and TensorFlow) and trains.
pytestmark = pytest.mark.slow

BIN = testing_utils.REPO / "bin"
TINY_FLAGS = ["--latent_dims=6", "--batch_size=32", "--lmbda=300"]

# Codes the test split through a SavedModel's signatures; prints the mean
# string bits, information bits and MAE of the uint8 outputs, as JSON.
_RECOUNT = """
import json, sys
import numpy as np
import tensorflow as tf
from tfmnistcodec import data
model = tf.saved_model.load(sys.argv[1])
images = data.load_numpy("mnist", "test", sys.argv[2])
coded = model.signatures["compress"](images=tf.constant(images))
decoded = model.signatures["decompress"](strings=coded["strings"])["images"]
print(json.dumps(dict(
    string_bits=float(np.mean([8 * len(s) for s in coded["strings"].numpy()])),
    information_bits=float(np.mean(coded["bits"].numpy())),
    mae=float(np.mean(np.abs(decoded.numpy().astype(np.float64) - images))
              / 255.))))
"""


class BinTest(testing_utils.SyntheticMnistTestCase):

  def run_bin(self, name, *flags):
    return testing_utils.run_python(
        [str(BIN / name), f"--data_dir={self.data_dir}", *flags])

  def test_main_trains_exports_codes_and_draws(self):
    model_dir = os.path.join(self.get_temp_dir(), "main")
    result = self.run_bin("main.py", f"--model_dir={model_dir}", "--epochs=1",
                          *TINY_FLAGS)
    self.assertEqual(result.returncode, 0, result.stderr)
    self.assertIn("40 mnist test digits", result.stdout)
    self.assertIn("bits/digit", result.stdout)
    with open(os.path.join(model_dir, "results.json")) as f:
      results = json.load(f)
    self.assertEqual(results["digits"], 40)
    # The numbers are those of the SavedModel's own signatures on the test
    # digits, coded again in another process with main.py's kernels.
    again = testing_utils.run_python(
        ["-c", _RECOUNT, os.path.join(model_dir, "saved_model"),
         self.data_dir], env=dict(TF_ENABLE_ONEDNN_OPTS="1"))
    self.assertEqual(again.returncode, 0, again.stderr)
    recount = json.loads(again.stdout.strip().splitlines()[-1])
    self.assertEqual(results["string_bits"], recount["string_bits"])
    self.assertAlmostEqual(results["information_bits"],
                           recount["information_bits"], places=4)
    self.assertEqual(results["mae"], recount["mae"])
    # The strings cost more than their information content.
    self.assertGreater(results["string_bits"], results["information_bits"])
    with open(os.path.join(model_dir, "digits.png"), "rb") as f:
      self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")
    self.assertTrue(tf.saved_model.contains_saved_model(
        os.path.join(model_dir, "saved_model")))

    # Rerun with more epochs: resumes at step 4, trains epoch 2 only.
    result = self.run_bin("train.py", f"--model_dir={model_dir}", "--epochs=2",
                          *TINY_FLAGS)
    self.assertEqual(result.returncode, 0, result.stderr)
    self.assertRegex(result.stderr, r"Resumed from .*ckpt-4 at step 4")
    self.assertIn("epoch 2/2 (step 8)", result.stderr)
    self.assertNotIn("epoch 1/2", result.stderr)

    result = testing_utils.run_python(
        [str(BIN / "export.py"), f"--model_dir={model_dir}"])
    self.assertEqual(result.returncode, 0, result.stderr)

  def test_resumes_after_kill_9_as_if_never_stopped(self):
    # A checkpoint after every compiled loop (here an epoch of 4 steps),
    # killed at step 8 or later; resumed with the same flags, the run ends
    # with every variable of an uninterrupted run's, to the bit (the
    # mid-epoch case is tests/training/training_test.py's).
    flags = ["--epochs=25", "--checkpoint_secs=0", *TINY_FLAGS]
    model_dir = os.path.join(self.get_temp_dir(), "killed")
    checkpoints = os.path.join(model_dir, "checkpoints")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2",
               PYTHONPATH=str(testing_utils.REPO))
    process = subprocess.Popen(
        [sys.executable, str(BIN / "train.py"), f"--data_dir={self.data_dir}",
         f"--model_dir={model_dir}", *flags], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
      deadline = time.monotonic() + 240
      while time.monotonic() < deadline:
        latest = tf.train.latest_checkpoint(checkpoints)
        if latest and int(latest.rsplit("-", 1)[1]) >= 8:
          break
        time.sleep(0.2)
      else:
        self.fail("no checkpoint after 240 s")
    finally:
      process.send_signal(signal.SIGKILL)
      process.wait()
    killed_at = int(tf.train.latest_checkpoint(checkpoints).rsplit("-", 1)[1])
    self.assertLess(killed_at, 100, "the run ended before the kill")
    result = self.run_bin("train.py", f"--model_dir={model_dir}", *flags)
    self.assertEqual(result.returncode, 0, result.stderr)
    self.assertRegex(result.stderr, f"Resumed from .* at step {killed_at}")
    self.assertIn("epoch 25/25 (step 100)", result.stderr)

    straight = os.path.join(self.get_temp_dir(), "straight")
    result = self.run_bin("train.py", f"--model_dir={straight}", *flags)
    self.assertEqual(result.returncode, 0, result.stderr)
    path_a, path_b = (
        tf.train.latest_checkpoint(os.path.join(d, "checkpoints"))
        for d in (straight, model_dir))
    self.assertEqual(os.path.basename(path_a), "ckpt-100")
    self.assertEqual(os.path.basename(path_b), "ckpt-100")
    # All but the object graph and the count of saves made in the folder,
    # which tells when saves fell (one fewer in a run here), not what was
    # trained.
    bookkeeping = ("_CHECKPOINTABLE_OBJECT_GRAPH",
                   "save_counter/.ATTRIBUTES/VARIABLE_VALUE")
    names = [n for n, _ in tf.train.list_variables(path_a)
             if n not in bookkeeping]
    self.assertEqual(names, [n for n, _ in tf.train.list_variables(path_b)
                             if n not in bookkeeping])
    self.assertGreater(len(names), 20)
    for name in names:  # The codec's, the optimizers' slots and steps.
      self.assertAllEqual(tf.train.load_variable(path_a, name),
                          tf.train.load_variable(path_b, name), msg=name)

  def test_refuses_dataset_of_other_shape_with_one_line(self):
    result = self.run_bin("train.py", "--dataset=cifar10",
                          f"--model_dir={self.get_temp_dir()}/cifar")
    self.assertNotEqual(result.returncode, 0)
    self.assertNotIn("Traceback", result.stderr)
    self.assertRegex(result.stderr.strip().splitlines()[-1],
                     r"^error: dataset 'cifar10' has images of shape "
                     r"\(32, 32, 3\)")

  def test_rejects_extra_arguments(self):
    result = self.run_bin("train.py", f"--model_dir={self.get_temp_dir()}/x",
                          "stray")
    self.assertNotEqual(result.returncode, 0)
    self.assertIn("unexpected arguments: stray", result.stderr)

  def test_export_without_a_run(self):
    result = testing_utils.run_python(
        [str(BIN / "export.py"), f"--model_dir={self.get_temp_dir()}/none"])
    self.assertNotEqual(result.returncode, 0)
    self.assertNotIn("Traceback", result.stderr)
    self.assertIn("holds no trained model", result.stderr)


if __name__ == "__main__":
  tf.test.main()
