"""What the data modules share: the error, the image shape, TFDS lookups.

`OFFLINE_DATASETS` names the datasets `loading.prepare` can make without
TFDS' downloads; each is the module of that name in this package, whose
`prepare_<name>_from_registry` prepares it from the package registry. The
loader finds that function by name when it needs it, so this module and the
loader import no dataset module.
"""

import pathlib

import tensorflow as tf
import tensorflow_datasets as tfds

from tfmnistcodec import contract

__all__ = [
    "ANIMAL_MNIST_VERSION",
    "IMAGE_SHAPE",
    "OFFLINE_DATASETS",
    "DatasetError",
    "check_images",
    "data_root",
    "find_builder",
    "known_builder",
]

IMAGE_SHAPE = contract.IMAGE_SHAPE

# Our own: TFDS has no animal_mnist. Here, not in `animal_mnist`, because
# `find_builder` asks TFDS for this version.
ANIMAL_MNIST_VERSION = "1.0.0"

# The datasets `prepare` can make without TFDS' downloads.
OFFLINE_DATASETS = ("mnist", "animal_mnist")


class DatasetError(contract.UserValueError):
  """A dataset is unknown, of the wrong kind, or cannot be prepared."""


def data_root(data_dir):
  """The TFDS data folder that `data_dir` names (`None`: TFDS' default)."""
  return pathlib.Path(data_dir or tfds.core.constants.DATA_DIR).expanduser()


def find_builder(name, data_dir):
  """The TFDS builder of `name`, or `None` where TFDS cannot find one.

  `mnist` and the other TFDS datasets are registered, so TFDS has their code
  whether or not they are prepared. `animal_mnist` is not: TFDS finds it only
  as the files of a prepared dataset (a read-only builder), and we ask for our
  version, so that another `animal_mnist` is not taken for ours.
  """
  if name == "animal_mnist":
    name = f"{name}:{ANIMAL_MNIST_VERSION}"
  try:
    return tfds.builder(name, data_dir=data_dir)
  except tfds.core.registered.DatasetNotFoundError:
    return None


def known_builder(name, data_dir):
  """The TFDS builder of `name`; raises `DatasetError` where there is none."""
  builder = find_builder(name, data_dir)
  if builder is None:
    raise DatasetError(
        f"TFDS knows no dataset {name!r} (nor is it prepared in "
        f"data_dir={data_dir!r}); the datasets tfmnistcodec can prepare "
        f"offline are {', '.join(OFFLINE_DATASETS)}.")
  return builder


def check_images(builder):
  """Raises `DatasetError` unless the dataset has 28x28x1 uint8 images."""
  features = builder.info.features
  image = features["image"] if "image" in features.keys() else None
  if image is None or not isinstance(image, tfds.features.Image):
    raise DatasetError(
        f"dataset {builder.name!r} has no 'image' feature of images; "
        "tfmnistcodec needs 28x28x1 uint8 images.")
  shape, dtype = tuple(image.shape), tf.as_dtype(image.tf_dtype)
  if shape != IMAGE_SHAPE or dtype != tf.uint8:
    raise DatasetError(
        f"dataset {builder.name!r} has images of shape {shape} and dtype "
        f"{dtype.name}; tfmnistcodec needs 28x28x1 uint8 images.")
