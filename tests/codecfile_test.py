"""Tests of coding files with a SavedModel: round trips, refusals, fuzzing."""

import os
import textwrap

import numpy as np
import tensorflow as tf

from tfmnistcodec import atomic
from tfmnistcodec import codecfile
from tfmnistcodec import container
from tfmnistcodec import export
from tfmnistcodec import fuzzing
from tfmnistcodec import loss as loss_lib
from tfmnistcodec import model

import testing_utils

# Decodes a file with nothing but tensorflow, tensorflow_compression and the
# layout in FORMAT.md.
CONSUMER = textwrap.dedent("""
    import sys
    import numpy as np
    import tensorflow as tf
    import tensorflow_compression
    assert "tfmnistcodec" not in sys.modules

    def varint(data, pos):
      value = shift = 0
      while True:
        byte = data[pos]; pos += 1
        value |= (byte & 0x7f) << shift; shift += 7
        if byte < 0x80:
          return value, pos

    saved_model, path, out = sys.argv[1:]
    data = open(path, "rb").read()
    assert data[:4] == b"TMNC" and data[4] == 1 and data[5] == 0
    model = tf.saved_model.load(saved_model)
    fingerprint = model.signatures["fingerprint"]()["fingerprint"].numpy()
    assert data[6:22] == bytes.fromhex(fingerprint.decode())
    n, pos = varint(data, 22)
    shortest, pos = varint(data, pos)
    width = data[pos]; pos += 1
    size = (n * width + 7) // 8
    bits = int.from_bytes(data[pos:pos + size], "big") >> (size * 8 - n * width)
    pos += size
    strings = []
    for i in range(n):
      length = shortest + ((bits >> (width * (n - 1 - i))) & ((1 << width) - 1))
      strings.append(data[pos:pos + length]); pos += length
    assert pos == len(data)
    images = model.signatures["decompress"](strings=tf.constant(strings))
    np.save(out, images["images"].numpy())
""")


def make_saved_model(path, seed):
  codec = model.Codec(latent_dims=10, seed=seed)
  codec.prior.log_scales.assign(np.linspace(0., 2., 10))
  export.export_saved_model(codec, path)
  return codec


class CodecFileTest(tf.test.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.tmp = tf.compat.v1.test.get_temp_dir()
    cls.path = os.path.join(cls.tmp, "codec_a")
    cls.codec = make_saved_model(cls.path, seed=1)
    cls.file_codec = codecfile.FileCodec(cls.path)
    cls.images = testing_utils.synthetic_digits(20, seed=9)

  def expected_images(self, images):
    x = loss_lib.images_to_float(images)
    y_hat = tf.round(self.codec.analysis_transform(x))
    return loss_lib.float_to_images(
        self.codec.synthesis_transform(y_hat)).numpy()

  def test_round_trip(self):
    data, bits = self.file_codec.compress(self.images)
    self.assertEqual(bits.shape, (20,))
    images = self.file_codec.decompress(data)
    self.assertEqual(images.dtype, np.uint8)
    self.assertAllEqual(images, self.expected_images(self.images))

  def test_accepts_images_without_channel_axis(self):
    data, _ = self.file_codec.compress(self.images[..., 0])
    self.assertEqual(data, self.file_codec.compress(self.images)[0])

  def test_compressing_twice_gives_identical_bytes(self):
    first, _ = self.file_codec.compress(self.images)
    again = codecfile.FileCodec(self.path).compress(self.images)[0]
    self.assertEqual(first, again)

  def test_batches_do_not_change_the_file(self):
    whole, _ = self.file_codec.compress(self.images)
    batched, _ = self.file_codec.compress(self.images, batch_size=3)
    self.assertEqual(whole, batched)
    self.assertAllEqual(self.file_codec.decompress(whole, batch_size=7),
                        self.file_codec.decompress(whole))

  def test_fingerprint_signature(self):
    module = export.CodecModule(self.codec)
    self.assertEqual(
        self.file_codec.fingerprint,
        export.fingerprint(module.entropy_model, module.synthesis_transform))
    self.assertLen(self.file_codec.fingerprint, container.FINGERPRINT_BYTES)

  def test_refuses_a_file_made_by_another_model(self):
    other = os.path.join(self.tmp, "codec_b")
    make_saved_model(other, seed=2)
    data, _ = codecfile.FileCodec(other).compress(self.images)
    with self.assertRaisesRegex(codecfile.CodecFileError,
                                "made by another model"):
      self.file_codec.decompress(data)

  def test_names_the_digit_of_a_corrupt_string(self):
    data, _ = self.file_codec.compress(self.images[:6])
    fingerprint, strings = container.unpack(data)
    strings[3] += b"\xff\xff\xff\xff\xff"
    with self.assertRaisesRegex(codecfile.CodecFileError,
                                r"corrupt string for digit 3 \(of 6\)"):
      self.file_codec.decompress(container.pack(fingerprint, strings))

  def test_refuses_images_it_cannot_code(self):
    for images, message in (
        (self.images.astype(np.float32), "must be uint8, got float32"),
        (np.full([2, 28, 28], np.nan), "must be uint8, got float64"),
        (self.images[:, :27], r"got \[20, 27, 28, 1\]"),
        (np.zeros([28, 28], np.uint8), r"got \[28, 28\]"),
        (np.zeros([2, 28, 28, 3], np.uint8), r"got \[2, 28, 28, 3\]"),
    ):
      with self.subTest(message):
        with self.assertRaisesRegex(ValueError, message):
          self.file_codec.compress(images)

  def test_not_a_saved_model(self):
    with self.assertRaisesRegex(FileNotFoundError, "not a SavedModel"):
      codecfile.FileCodec(self.tmp)

  def test_decodes_in_a_separate_process_without_tfmnistcodec(self):
    data, _ = self.file_codec.compress(self.images)
    path = os.path.join(self.tmp, "digits.tmnc")
    atomic.write_bytes(path, data)
    script = os.path.join(self.tmp, "consumer.py")
    with open(script, "w") as f:
      f.write(CONSUMER)
    out = os.path.join(self.tmp, "decoded.npy")
    result = testing_utils.run_python([script, self.path, path, out])
    self.assertEqual(result.returncode, 0, result.stderr)
    self.assertAllEqual(np.load(out), self.file_codec.decompress(data))

  def test_fuzzing(self):
    data, _ = self.file_codec.compress(self.images[:8])
    outcomes = fuzzing.fuzz(self.file_codec.decompress, data, iterations=3000,
                            seed=0)
    self.assertEqual(sum(outcomes.values()), 3000)
    by_outcome = {}
    for (_, outcome), count in outcomes.items():
      by_outcome[outcome] = by_outcome.get(outcome, 0) + count
    # Both paths are exercised: files refused, and mutated strings decoded.
    self.assertGreater(by_outcome.get("decoded", 0), 50)
    self.assertGreater(by_outcome.get("truncated file", 0), 50)
    self.assertGreater(by_outcome.get("made by another model", 0), 10)
    self.assertGreater(by_outcome.get("corrupt string for digit N (of N)", 0),
                       10)


if __name__ == "__main__":
  tf.test.main()
