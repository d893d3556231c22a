"""Synthetic digits and helpers shared by the tests."""

import functools
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import tensorflow as tf


from tfmnistcodec import data

REPO = pathlib.Path(__file__).resolve().parent.parent


def synthetic_digits(num, seed=0):
  """uint8 `[num, 28, 28, 1]` images of random strokes, MNIST-like in range.

  Each image is a few Gaussian blobs along a random line: structured enough
  for a codec to learn something in a few steps, and cheap to make.
  """
  rng = np.random.default_rng(seed)
  grid = np.stack(np.meshgrid(np.arange(28), np.arange(28), indexing="ij"), -1)
  images = np.zeros((num, 28, 28), np.float64)
  for i in range(num):
    start, end = rng.uniform(6, 22, size=(2, 2))
    for t in np.linspace(0, 1, 6):
      center = start + t * (end - start)
      images[i] += np.exp(-np.sum((grid - center)**2, -1) / 4.)
  images = np.clip(images * 255, 0, 255)
  return images.astype(np.uint8)[..., None]


def onednn_enabled():
  """Whether TensorFlow runs its oneDNN CPU kernels in this process.

  They are on by default on some Intel CPUs (and by TF_ENABLE_ONEDNN_OPTS=1),
  and their float results can depend on the batch size; TensorFlow's own
  kernels compute each digit of a batch the same whatever the batch.
  """
  try:
    from tensorflow.python.util import _pywrap_util_port  # pylint: disable=g-import-not-at-top
    return bool(_pywrap_util_port.IsMklEnabled())
  except (ImportError, AttributeError):
    return True  # Unknown: assume batch-dependent rounding.


@functools.lru_cache(maxsize=None)
def trained_codec(architecture="improved", lmbda=2000.):
  """A small codec trained for 80 steps on synthetic digits, and its lmbda.

  Trained, as a user's codec is, so that tests of `improved`'s latent search
  see it correct a real encoder rather than an initializer's accidents.
  Cached per process (a few seconds to train); callers must not change its
  variables.
  """
  from tfmnistcodec import training  # pylint: disable=g-import-not-at-top
  config = training.TrainConfig(
      architecture=architecture, lmbda=lmbda, latent_dims=10, batch_size=32,
      epochs=10, eval_batch_size=64)
  with tempfile.TemporaryDirectory() as model_dir:
    codec, _ = training.train_and_evaluate(
        config, model_dir, synthetic_digits(256, seed=21),
        synthetic_digits(64, seed=22))
  return codec, lmbda


class SyntheticMnistTestCase(tf.test.TestCase):
  """Tests with a tiny synthetic dataset stored as the TFDS `mnist`.

  So the binaries' real data path (tfds.load from `--data_dir`) runs, offline
  and fast: 128 training and 40 test digits in `cls.data_dir`, inside the
  class's temporary folder `cls.tmp`.
  """

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.tmp = tempfile.mkdtemp()
    cls.data_dir = os.path.join(cls.tmp, "tfds")
    train = synthetic_digits(128, seed=7)
    test = synthetic_digits(40, seed=8)
    data.write_mnist(cls.data_dir, train, np.arange(128) % 10, test,
                     np.arange(40) % 10)

  @classmethod
  def tearDownClass(cls):
    shutil.rmtree(cls.tmp, ignore_errors=True)
    super().tearDownClass()


def run_python(args, cwd=None, env=None, timeout=300):
  """Runs `python args...` in a fresh process; returns CompletedProcess."""
  full_env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  full_env["PYTHONPATH"] = os.pathsep.join(
      [str(REPO)] + [p for p in [full_env.get("PYTHONPATH")] if p])
  full_env.update(env or {})
  return subprocess.run(
      [sys.executable, *args], cwd=cwd, env=full_env, capture_output=True,
      text=True, timeout=timeout, stdin=subprocess.DEVNULL, check=False)


def modules_loaded_by(module):
  """Top-level module names that importing `module` in a fresh process loads.

  The import goes through the package's `__init__`, as a user's would, so
  the count includes what the package itself imports on the way.
  """
  code = (
      "import importlib, sys\n"
      "before = set(sys.modules)\n"
      f"importlib.import_module({module!r})\n"
      "print(' '.join(sorted({n.split('.')[0] for n in sys.modules} - "
      "{n.split('.')[0] for n in before})))\n")
  result = run_python(["-c", code])
  if result.returncode:
    raise RuntimeError(f"importing {module} failed:\n{result.stderr}")
  return result.stdout.split()
