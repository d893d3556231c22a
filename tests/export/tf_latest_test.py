"""The SavedModel on the newest TensorFlow, without tensorflow-compression.

A consumer in its own virtual environment (TensorFlow `LATEST`, nothing
else) loads a SavedModel exported here with TensorFlow 2.14, codes the same
digits to the same bytes and decodes this side's strings to the same images
(up to the float kernels' rounding: one level, rarely). The environment is
built once, with pip from the package registry, and kept in
$TFMNISTCODEC_TF_LATEST_VENV (default ~/.cache/tfmnistcodec/); where it
cannot be built (no registry, no wheel for this Python), the test is skipped
and says why.
"""

import os
import pathlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf


from tfmnistcodec.core import model
from tfmnistcodec import export

import testing_utils

# Another TensorFlow in its own environment, in another process.
pytestmark = pytest.mark.slow

LATEST = "2.21.0"
VENV = pathlib.Path(os.environ.get(
    "TFMNISTCODEC_TF_LATEST_VENV",
    pathlib.Path.home() / ".cache" / "tfmnistcodec" / f"venv-tf{LATEST}"))

CONSUMER = textwrap.dedent("""
    import json
    import sys
    import numpy as np
    import tensorflow as tf
    assert "tensorflow_compression" not in sys.modules
    assert "tfmnistcodec" not in sys.modules
    saved_model, inputs, out = sys.argv[1:]
    data = np.load(inputs, allow_pickle=True)
    codec = tf.saved_model.load(saved_model)
    images = tf.constant(data["images"])
    np.savez(
        out, version=tf.__version__,
        strings=codec.signatures["compress"](images=images)["strings"].numpy(),
        fast=codec.signatures["compress_fast"](images=images)[
            "strings"].numpy(),
        stream=codec.signatures["compress_stream"](images=images)[
            "string"].numpy(),
        decoded=codec.signatures["decompress"](
            strings=tf.constant(data["strings"]))["images"].numpy(),
        streamed=codec.signatures["decompress_stream"](
            string=tf.constant(data["stream"]),
            count=len(data["images"]))["images"].numpy(),
        unchecked=codec.signatures["decompress_unchecked"](
            strings=tf.constant([b"", b"noise"]))["images"].numpy(),
        fingerprint=codec.signatures["fingerprint"]()["fingerprint"].numpy())
""")


def latest_python():
  """The environment's Python, built if missing; or the reason it is not."""
  python = VENV / "bin" / "python"
  stamp = VENV / ".complete"
  if stamp.exists():
    return python, None
  try:
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)],
                   check=True, capture_output=True, text=True, timeout=300)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet",
         f"tensorflow-cpu=={LATEST}"],
        check=True, capture_output=True, text=True, timeout=1800)
  except (OSError, subprocess.SubprocessError) as e:
    detail = getattr(e, "stderr", None) or str(e)
    return None, (f"cannot build a TensorFlow {LATEST} environment in {VENV}: "
                  f"{detail.strip().splitlines()[-1:]}")
  stamp.write_text(LATEST)
  return python, None


class LatestTensorFlowTest(tf.test.TestCase):

  def test_codes_as_tensorflow_2_14_does(self):
    python, why = latest_python()
    if python is None:
      self.skipTest(why)
    tmp = self.get_temp_dir()
    codec = model.Codec(latent_dims=10, seed=4, architecture="tutorial")
    codec.prior.log_scales.assign(np.linspace(-1., 2., 10))
    path = os.path.join(tmp, "saved_model")
    module = export.export_saved_model(codec, path)
    images = testing_utils.synthetic_digits(40, seed=5)
    strings = module.compress(images)["strings"].numpy()
    stream = module.compress_stream(images)["string"].numpy()
    inputs = os.path.join(tmp, "inputs.npz")
    np.savez(inputs, images=images, strings=strings, stream=stream)
    script = os.path.join(tmp, "consumer.py")
    with open(script, "w") as f:
      f.write(CONSUMER)
    out = os.path.join(tmp, "out.npz")
    result = subprocess.run(
        [str(python), script, path, inputs, out], capture_output=True,
        text=True, timeout=600, check=False, stdin=subprocess.DEVNULL,
        env={"PATH": os.environ.get("PATH", ""), "TF_CPP_MIN_LOG_LEVEL": "2",
             "HOME": os.environ.get("HOME", tmp)})
    self.assertEqual(result.returncode, 0, result.stderr)
    got = np.load(out, allow_pickle=True)
    self.assertEqual(str(got["version"]), LATEST)
    # The same bytes, whichever TensorFlow codes them ...
    self.assertAllEqual(got["strings"], strings)
    self.assertAllEqual(got["fast"], module.compress_fast(images)["strings"])
    self.assertEqual(got["stream"].item(), stream)
    self.assertEqual(got["fingerprint"].item(),
                     module.fingerprint()["fingerprint"].numpy())
    # ... and the same images, up to one level of the float kernels.
    expected = module.decompress(tf.constant(strings))["images"].numpy()
    for decoded in (got["decoded"], got["streamed"]):
      difference = np.abs(decoded.astype(int) - expected.astype(int))
      self.assertLessEqual(difference.max(), 1)
      self.assertLessEqual(np.mean(difference > 0), 1e-3)
    self.assertEqual(got["unchecked"].shape, (2, 28, 28, 1))


if __name__ == "__main__":
  tf.test.main()
