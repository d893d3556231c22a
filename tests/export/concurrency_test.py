"""Tests of concurrent callers: one SavedModel or FileCodec, many threads."""

import concurrent.futures
import os

import numpy as np
import pytest
import tensorflow as tf

from tfmnistcodec.core import model
from tfmnistcodec import export
from tfmnistcodec.files import codecfile

import testing_utils

# A refining SavedModel called from 8 threads.
pytestmark = pytest.mark.slow

THREADS = 8


class ConcurrencyTest(tf.test.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    # The default architecture: its `compress` runs the latent search.
    cls.path = os.path.join(tf.compat.v1.test.get_temp_dir(), "concurrent")
    export.export_saved_model(
        model.Codec(latent_dims=10, seed=6,
                    architecture=model.DEFAULT_ARCHITECTURE),
        cls.path, lmbda=2000.)
    images = testing_utils.synthetic_digits(THREADS * 6, seed=11)
    # Each thread its own batch, so a mix-up between callers would show.
    cls.batches = np.split(images, THREADS)

  def assert_threads_agree_with_one_caller(self, call):
    """`call(batch)` from 8 threads at once, each batch 3 times."""
    alone = [call(batch) for batch in self.batches]
    with concurrent.futures.ThreadPoolExecutor(THREADS) as pool:
      together = list(pool.map(call, self.batches * 3))
    for i, result in enumerate(together):
      self.assertEqual(result, alone[i % THREADS], f"call {i}")

  def test_saved_model_signatures(self):
    loaded = tf.saved_model.load(self.path)
    signatures = loaded.signatures

    def code(batch):
      images = tf.constant(batch)
      strings = signatures["compress"](images=images)["strings"]
      fast = signatures["compress_fast"](images=images)["strings"]
      stream = signatures["compress_stream"](images=images)["string"]
      decoded = signatures["decompress"](strings=strings)["images"]
      from_stream = signatures["decompress_stream"](
          string=stream, count=len(batch))["images"]
      return (strings.numpy().tolist(), fast.numpy().tolist(),
              stream.numpy(), decoded.numpy().tobytes(),
              from_stream.numpy().tobytes())

    self.assert_threads_agree_with_one_caller(code)

  def test_file_codec(self):
    codec = codecfile.FileCodec(self.path)

    def code(batch):
      files = [codec.compress(batch, mode=mode)[0]
               for mode in (codecfile.STREAMS, codecfile.STRINGS)]
      return files, [codec.decompress(data).tobytes() for data in files]

    self.assert_threads_agree_with_one_caller(code)


if __name__ == "__main__":
  tf.test.main()
