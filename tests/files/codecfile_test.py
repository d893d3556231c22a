"""Tests of coding files with a SavedModel: round trips, refusals, fuzzing."""

import os
import textwrap

from absl.testing import parameterized
import numpy as np
import pytest
import tensorflow as tf

from tfmnistcodec.core import loss as loss_lib
from tfmnistcodec.core import model
from tfmnistcodec import export
from tfmnistcodec.files import atomic
from tfmnistcodec.files import codecfile
from tfmnistcodec.files import container
from tfmnistcodec.files import fuzzing

import testing_utils

# Files through exported SavedModels, also in other processes.
pytestmark = pytest.mark.slow

# Decodes a file with nothing but tensorflow and the layout in FORMAT.md.
CONSUMER = textwrap.dedent("""
    import sys
    import zlib
    import numpy as np
    import tensorflow as tf
    assert "tfmnistcodec" not in sys.modules
    assert "tensorflow_compression" not in sys.modules

    def varint(data, pos):
      value = shift = 0
      while True:
        byte = data[pos]; pos += 1
        value |= (byte & 0x7f) << shift; shift += 7
        if byte < 0x80:
          return value, pos

    saved_model, path, out = sys.argv[1:]
    data = open(path, "rb").read()
    assert data[:4] == b"TMNC" and data[4] == 1 and data[5] in (0, 1)
    model = tf.saved_model.load(saved_model)
    fingerprint = model.signatures["fingerprint"]()["fingerprint"].numpy()
    assert data[6:22] == bytes.fromhex(fingerprint.decode())
    if data[5] == 1:
      data, crc = data[:-4], data[-4:]
      assert zlib.crc32(data).to_bytes(4, "big") == crc
    digits, pos = varint(data, 22)
    per_string = 1
    if data[5] == 1:
      per_string, pos = varint(data, pos)
    n = -(-digits // per_string)
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
    if data[5] == 0:
      images = model.signatures["decompress"](strings=tf.constant(strings))
      images = images["images"].numpy()
    else:
      counts = [min(per_string, digits - i * per_string) for i in range(n)]
      images = np.concatenate([
          model.signatures["decompress_stream"](
              string=tf.constant(s), count=tf.constant(c))["images"].numpy()
          for s, c in zip(strings, counts)])
    np.save(out, images)
""")


def make_saved_model(path, seed):
  codec = model.Codec(latent_dims=10, seed=seed)
  codec.prior.log_scales.assign(np.linspace(0., 2., 10))
  export.export_saved_model(codec, path)
  return codec


MODES = (("streams", codecfile.STREAMS), ("strings", codecfile.STRINGS))


class CodecFileTest(tf.test.TestCase, parameterized.TestCase):

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

  @parameterized.named_parameters(*MODES)
  def test_round_trip(self, mode):
    data, bits = self.file_codec.compress(self.images, mode=mode)
    self.assertEqual(data[5], codecfile.MODES[mode])
    self.assertEqual(bits.shape, (20,))
    images = self.file_codec.decompress(data)
    self.assertEqual(images.dtype, np.uint8)
    self.assertAllEqual(images, self.expected_images(self.images))

  def test_empty_files_round_trip(self):
    for mode in codecfile.MODES:
      data, bits = self.file_codec.compress(self.images[:0], mode=mode)
      self.assertEqual(bits.shape, (0,))
      self.assertEqual(self.file_codec.decompress(data).shape, (0, 28, 28, 1))

  def test_streams_hold_at_most_max_stream_digits(self):
    images = np.concatenate([self.images] * 501)[:container.MAX_STREAM_DIGITS
                                                  + 7]
    data, _ = self.file_codec.compress(images)
    contents = container.unpack(data)
    self.assertEqual(contents.digits_per_string(),
                     [container.MAX_STREAM_DIGITS, 7])
    self.assertAllEqual(self.file_codec.decompress(data),
                        self.expected_images(images))

  def test_a_stream_is_shorter_than_its_strings(self):
    streams, bits = self.file_codec.compress(self.images)
    strings, _ = self.file_codec.compress(self.images, mode=codecfile.STRINGS)
    self.assertLess(len(streams), len(strings))
    # The stream is within a few bytes of the summed information content.
    self.assertLess(len(container.unpack(streams).strings[0]),
                    np.sum(bits) / 8 + 4)
    self.assertLen(container.unpack(strings).strings, 20)

  def test_refuses_an_unknown_mode(self):
    with self.assertRaisesRegex(ValueError, "unknown mode 'zip'"):
      self.file_codec.compress(self.images, mode="zip")

  def test_refuses_an_unknown_encoder(self):
    with self.assertRaisesRegex(ValueError, "unknown encoder 'best'; one of "
                                "default, fast, refined"):
      self.file_codec.compress(self.images, encoder="best")

  @parameterized.named_parameters(*MODES)
  def test_encoders_of_a_model_without_a_search(self, mode):
    # A `tutorial` model codes the rounded latents whatever the encoder.
    data, _ = self.file_codec.compress(self.images, mode=mode)
    for encoder in ("fast", "refined"):
      self.assertEqual(
          self.file_codec.compress(self.images, mode=mode, encoder=encoder)[0],
          data)

  @parameterized.named_parameters(*MODES)
  def test_encoders_of_a_model_that_searches(self, mode):
    codec, lmbda = testing_utils.trained_codec()
    path = os.path.join(self.tmp, "improved")
    if not os.path.exists(path):
      export.export_saved_model(codec, path, lmbda)
    file_codec = codecfile.FileCodec(path)
    coded = {encoder: file_codec.compress(self.images, mode=mode,
                                          encoder=encoder)
             for encoder in codecfile.ENCODERS}
    self.assertEqual(coded["refined"][0], coded["default"][0])
    self.assertNotEqual(coded["fast"][0], coded["default"][0])
    # The fast file holds the rounded latents: what `compress_fast` codes.
    x = loss_lib.images_to_float(self.images)
    rounded = tf.round(codec.analysis_transform(x))
    self.assertAllEqual(
        file_codec.decompress(coded["fast"][0]),
        loss_lib.float_to_images(codec.synthesis_transform(rounded)))
    self.assertAllClose(
        coded["fast"][1],
        tf.saved_model.load(path).signatures["compress_fast"](
            images=self.images)["bits"])
    # The search pays: fewer bits + lmbda * error, as coded.
    def coded_loss(data, bits):
      error = np.mean(np.abs(file_codec.decompress(data).astype(float) -
                             self.images.astype(float))) / 255.
      return np.mean(bits) + lmbda * error
    self.assertLess(coded_loss(*coded["default"]), coded_loss(*coded["fast"]))

  def test_an_older_saved_model_names_the_missing_signature(self):
    # Exported before `compress_stream_fast` and the refined signatures.
    path = os.path.join(self.tmp, "older")
    module = export.CodecModule(self.codec)
    old = ("compress", "decompress", "fingerprint", "compress_stream",
           "decompress_stream", "decompress_unchecked", "compress_fast")
    tf.saved_model.save(module, path,
                        signatures={name: getattr(module, name)
                                    for name in old})
    file_codec = codecfile.FileCodec(path)
    data, _ = file_codec.compress(self.images)
    self.assertEqual(data, self.file_codec.compress(self.images)[0])
    with self.assertRaisesRegex(
        ValueError, "has no compress_stream_fast signature \(encoder .fast., streams mode\).*"
        "export it again with bin/export.py"):
      file_codec.compress(self.images, encoder="fast")
    # Strings mode needs only compress_fast, which it has.
    self.assertEqual(
        file_codec.compress(self.images, mode=codecfile.STRINGS,
                            encoder="fast")[0],
        self.file_codec.compress(self.images, mode=codecfile.STRINGS)[0])

  def test_accepts_images_without_channel_axis(self):
    data, _ = self.file_codec.compress(self.images[..., 0])
    self.assertEqual(data, self.file_codec.compress(self.images)[0])

  def test_compressing_twice_gives_identical_bytes(self):
    first, _ = self.file_codec.compress(self.images)
    again = codecfile.FileCodec(self.path).compress(self.images)[0]
    self.assertEqual(first, again)

  def test_batches_do_not_change_the_file(self):
    whole, _ = self.file_codec.compress(self.images, mode=codecfile.STRINGS)
    batched, _ = self.file_codec.compress(
        self.images, mode=codecfile.STRINGS, batch_size=3)
    self.assertEqual(whole, batched)
    self.assertAllEqual(self.file_codec.decompress(whole, batch_size=7),
                        self.file_codec.decompress(whole))

  @parameterized.named_parameters(*MODES)
  def test_chunks_do_not_change_the_file(self, mode):
    whole, bits = self.file_codec.compress(self.images, mode=mode)
    chunks = (self.images[i:i + 3] for i in range(0, 20, 3))
    progress = []
    chunked, chunked_bits = self.file_codec.compress_chunks(
        chunks, mode=mode, batch_size=4, progress=progress.append)
    self.assertEqual(chunked, whole)
    self.assertAllEqual(chunked_bits, bits)
    self.assertEqual(sum(progress), 20)
    count, chunks = self.file_codec.decompress_chunks(chunked, batch_size=6)
    chunks = list(chunks)
    self.assertEqual(count, 20)
    self.assertEqual([len(c) for c in chunks],
                     [20] if mode == "streams" else [6, 6, 6, 2])
    self.assertAllEqual(np.concatenate(chunks),
                        self.expected_images(self.images))

  @parameterized.named_parameters(*MODES)
  def test_decodes_a_range_of_digits(self, mode):
    images = np.concatenate([self.images] * 3)  # 60 digits.
    data, _ = self.file_codec.compress(images, mode=mode)
    expected = self.expected_images(images)
    for start, stop in ((0, 60), (7, 8), (13, 47), (59, None), (60, 60)):
      with self.subTest(f"{start}:{stop}"):
        self.assertAllEqual(
            self.file_codec.decompress(data, batch_size=8,
                                       digits=(start, stop)),
            expected[start:stop])
    for digits in ((-1, 3), (5, 4), (0, 61)):
      with self.assertRaisesRegex(ValueError, "not a range of the file's 60"):
        self.file_codec.decompress(data, digits=digits)

  def test_a_range_decodes_only_the_streams_that_hold_it(self):
    images = np.concatenate([self.images] * 501)[:container.MAX_STREAM_DIGITS
                                                  + 7]
    data, _ = self.file_codec.compress(images)
    contents = container.unpack(data)
    # Corrupt the first stream: a range in the second never decodes it.
    strings = list(contents.strings)
    strings[0] += b"\xff" * 5  # Bytes past its end: the sanity check fails.
    damaged = container.pack(
        contents.fingerprint, strings, mode=container.MODE_STREAMS,
        num_digits=contents.num_digits, stream_digits=contents.stream_digits)
    tail = (container.MAX_STREAM_DIGITS + 2, container.MAX_STREAM_DIGITS + 7)
    self.assertAllEqual(self.file_codec.decompress(damaged, digits=tail),
                        self.expected_images(images[tail[0]:tail[1]]))
    with self.assertRaisesRegex(codecfile.CodecFileError, "corrupt stream 0"):
      self.file_codec.decompress(damaged, digits=(5, 6))

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
    data, _ = self.file_codec.compress(self.images[:6],
                                       mode=codecfile.STRINGS)
    contents = container.unpack(data)
    contents.strings[3] += b"\xff\xff\xff\xff\xff"
    with self.assertRaisesRegex(codecfile.CodecFileError,
                                r"corrupt string for digit 3 \(of 6\)"):
      self.file_codec.decompress(
          container.pack(contents.fingerprint, contents.strings))

  def test_names_the_digits_of_a_corrupt_stream(self):
    data, _ = self.file_codec.compress(self.images[:6])
    contents = container.unpack(data)
    with self.assertRaisesRegex(
        codecfile.CodecFileError,
        r"corrupt stream 0 \(of 1, digits 0 to 5\)"):
      self.file_codec.decompress(
          container.pack(contents.fingerprint,
                         [contents.strings[0] + b"\xff" * 5],
                         mode=container.MODE_STREAMS, num_digits=6,
                         stream_digits=6))
    # The checksum catches a damaged digit count, which the range decoder's
    # sanity check would let through.
    forged = bytearray(data)
    forged[22] = 7
    with self.assertRaisesRegex(codecfile.CodecFileError, "CRC-32"):
      self.file_codec.decompress(bytes(forged))

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

  @parameterized.named_parameters(*MODES)
  def test_decodes_in_a_separate_process_without_tfmnistcodec(self, mode):
    data, _ = self.file_codec.compress(self.images, mode=mode)
    path = os.path.join(self.tmp, f"digits-{mode}.tmnc")
    atomic.write_bytes(path, data)
    script = os.path.join(self.tmp, "consumer.py")
    with open(script, "w") as f:
      f.write(CONSUMER)
    out = os.path.join(self.tmp, f"decoded-{mode}.npy")
    result = testing_utils.run_python([script, self.path, path, out])
    self.assertEqual(result.returncode, 0, result.stderr)
    self.assertAllEqual(np.load(out), self.file_codec.decompress(data))

  def fuzz_outcomes(self, mode):
    data, _ = self.file_codec.compress(self.images[:8], mode=mode)
    outcomes = fuzzing.fuzz(self.file_codec.decompress, data, iterations=3000,
                            seed=0)
    self.assertEqual(sum(outcomes.values()), 3000)
    by_outcome = {}
    for (_, outcome), count in outcomes.items():
      by_outcome[outcome] = by_outcome.get(outcome, 0) + count
    return by_outcome

  def test_fuzzing_strings(self):
    by_outcome = self.fuzz_outcomes(codecfile.STRINGS)
    # Both paths are exercised: files refused, and mutated strings decoded.
    self.assertGreater(by_outcome.get("decoded", 0), 50)
    self.assertGreater(by_outcome.get("truncated file", 0), 50)
    self.assertGreater(by_outcome.get("made by another model", 0), 10)
    self.assertGreater(
        by_outcome.get("corrupt string for digit N (of N)", 0), 10)

  def test_fuzzing_streams(self):
    by_outcome = self.fuzz_outcomes(codecfile.STREAMS)
    # The checksum refuses every mutation that changes the file.
    self.assertNotIn("decoded", by_outcome)
    self.assertGreater(by_outcome.get("corrupt or truncated file", 0), 2000)


if __name__ == "__main__":
  tf.test.main()
