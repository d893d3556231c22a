"""Tests of the fuzz targets: the corpus replays clean, and contracts bite.

Without atheris: each file of tests/fuzz_corpus/<target>/ goes through its
target as libFuzzer would pass it, and each target is shown to fail on a
planted bad behaviour (an unexpected exception, a result of the wrong type
or shape), so that a fuzzer running it would report one.
"""

import gzip
import io
import os
import struct
import zlib

from absl.testing import parameterized
import numpy as np
import pytest
import tensorflow as tf

from tfmnistcodec import export
from tfmnistcodec.core import model
from tfmnistcodec.files import codecfile
from tfmnistcodec.files import container
from tfmnistcodec.files import fuzz_atheris
from tfmnistcodec.files import fuzz_targets
from tfmnistcodec.files import imageio
import testing_utils

CORPUS = testing_utils.REPO / "tests" / "fuzz_corpus"
FINGERPRINT = bytes(range(16))
# Found by the npy target (BUILD.md, "Fuzzing"): a .npy header with an
# unclosed brace makes numpy's header parser raise tokenize.TokenError, which
# imageio let through instead of an InputError (fixed).
_HEADER = b"{'descr': '|u1'," + b" " * 37 + b"\n"
NPY_UNCLOSED_HEADER = (b"\x93NUMPY\x01\x00" + struct.pack("<H", len(_HEADER))
                       + _HEADER)


def corpus(target):
  folder = CORPUS / target
  return sorted(p for p in folder.iterdir() if p.is_file())


def invalid_argument():
  return tf.errors.InvalidArgumentError(None, None, "sanity check failed")


class Planted(Exception):
  """What a planted bug raises."""


def raise_planted(*args, **kwargs):
  del args, kwargs
  raise Planted("planted")


class CorpusTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.parameters(*fuzz_targets.TARGETS)
  def test_corpus_is_small_and_there(self, target):
    files = corpus(target)
    self.assertNotEmpty(files)
    self.assertLessEqual(len(files), 100)
    self.assertLessEqual(sum(p.stat().st_size for p in files), 200_000)

  @parameterized.parameters("container", "png", "npy", "idx", "gzip")
  def test_corpus_replays_clean(self, target):
    function = getattr(fuzz_targets, target)
    for path in corpus(target):
      with self.subTest(path.name):
        function(path.read_bytes())

  @parameterized.parameters("container", "png", "npy", "idx", "gzip")
  def test_empty_and_random_inputs_are_handled(self, target):
    function = fuzz_targets.make(target)
    rng = np.random.default_rng(0)
    function(b"")
    for _ in range(200):
      function(rng.bytes(rng.integers(0, 64)))

  def test_npy_with_an_unclosed_header(self):
    fuzz_targets.npy(NPY_UNCLOSED_HEADER)
    with self.assertRaisesRegex(imageio.InputError,
                                "cannot read the .npy header"):
      imageio.read_bytes(NPY_UNCLOSED_HEADER)


class ContainerTargetTest(tf.test.TestCase):

  def test_valid_and_invalid_files_pass(self):
    target = fuzz_targets.container_target()
    target(container.pack(FINGERPRINT, [b"ab", b"c"]))
    target(container.pack(FINGERPRINT, [b"abc"], container.MODE_STREAMS, 3,
                          3))
    target(b"TMNC\x01")

  def test_an_unexpected_exception_propagates(self):
    with self.assertRaises(Planted):
      fuzz_targets.container_target(raise_planted)(b"TMNC")

  def test_a_wrong_result_fails(self):
    with self.assertRaises(fuzz_targets.ContractError):
      fuzz_targets.container_target(lambda data: "contents")(b"TMNC")

  def test_contents_that_do_not_add_up_fail(self):
    # One string cannot hold two digits in MODE_STRINGS.
    contents = container.Contents(FINGERPRINT, [b"a"], container.MODE_STRINGS,
                                  num_digits=2)
    with self.assertRaises(fuzz_targets.ContractError):
      fuzz_targets.container_target(lambda data: contents)(b"TMNC")

  def test_contents_that_do_not_round_trip_fail(self):
    # MODE_STRINGS files have one digit per string: pack drops the 5.
    contents = container.Contents(FINGERPRINT, [b"a"], container.MODE_STRINGS,
                                  num_digits=1, stream_digits=5)
    with self.assertRaisesRegex(fuzz_targets.ContractError, "packs and"):
      fuzz_targets.container_target(lambda data: contents)(b"TMNC")


class ReaderTargetTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.parameters(*fuzz_targets.READERS)
  def test_forces_the_magic(self, fmt):
    seen = []

    def read(data, name, max_bytes):
      del name, max_bytes
      seen.append(data)
      raise imageio.InputError("no")

    target = fuzz_targets.reader_target(fmt, read)
    target(b"\x01abc")
    target(fuzz_targets.READERS[fmt] + b"\x01xyz")
    self.assertEqual(seen, [fuzz_targets.READERS[fmt] + b"\x01abc",
                            fuzz_targets.READERS[fmt] + b"\x01xyz"])

  def test_gzip_compresses_after_an_even_byte(self):
    seen = []

    def read(data, name, max_bytes):
      del name, max_bytes
      seen.append(data)
      return np.zeros([0, 28, 28, 1], np.uint8)

    fuzz_targets.reader_target("gzip", read)(b"\x00payload")
    self.assertEqual(gzip.decompress(seen[0]), b"payload")

  @parameterized.parameters(*fuzz_targets.READERS)
  def test_an_unexpected_exception_propagates(self, fmt):
    with self.assertRaises(Planted):
      fuzz_targets.reader_target(fmt, raise_planted)(b"\x01")

  @parameterized.named_parameters(
      ("floats", np.zeros([1, 28, 28, 1], np.float32)),
      ("no_channel", np.zeros([1, 28, 28], np.uint8)),
      ("list", [[0]]),
      ("none", None))
  def test_a_wrong_result_fails(self, images):
    with self.assertRaises(fuzz_targets.ContractError):
      fuzz_targets.reader_target("idx", lambda *a, **k: images)(b"\x01")

  def test_the_real_readers_read_valid_files(self):
    images = testing_utils.synthetic_digits(2, seed=3)
    idx = struct.pack(">IIII", 0x0803, 2, 28, 28) + images.tobytes()
    buffer = io.BytesIO()
    np.save(buffer, images)
    seen = []

    def read(data, name, max_bytes):
      seen.append(imageio.read_bytes(data, name, max_bytes))
      return seen[-1]

    fuzz_targets.reader_target("idx", read)(idx)
    fuzz_targets.reader_target("gzip", read)(b"\x00" + idx)
    fuzz_targets.reader_target("npy", read)(buffer.getvalue())
    for decoded in seen:
      self.assertAllEqual(decoded, images)

  def test_unknown_format(self):
    with self.assertRaisesRegex(ValueError, "unknown format"):
      fuzz_targets.reader_target("jpeg")


class DecoderTargetTest(tf.test.TestCase):
  """The decoder targets on stand-ins of the SavedModel and FileCodec."""

  def test_decompress(self):
    calls = []

    def signature(strings):
      calls.append(strings.numpy().tolist())
      if strings[0] == b"bad":
        raise invalid_argument()
      return {"images": tf.zeros([1, 28, 28, 1], tf.uint8)}

    target = fuzz_targets.decompress_target(signature)
    target(b"ok")
    target(b"bad")
    self.assertEqual(calls, [[b"ok"], [b"bad"]])
    with self.assertRaises(Planted):
      fuzz_targets.decompress_target(raise_planted)(b"x")
    with self.assertRaises(fuzz_targets.ContractError):
      fuzz_targets.decompress_target(
          lambda strings: {"images": tf.zeros([2, 28, 28, 1], tf.uint8)})(b"x")

  def test_decompress_stream(self):
    calls = []

    def signature(string, count):
      calls.append((string.numpy(), int(count)))
      return {"images": tf.zeros([int(count), 28, 28, 1], tf.uint8)}

    target = fuzz_targets.decompress_stream_target(signature)
    target(b"\x02abc")
    target(b"\x1f")
    target(b"")
    self.assertEqual(calls, [(b"abc", 3), (b"", 16), (b"", 1)])
    with self.assertRaises(fuzz_targets.ContractError):
      fuzz_targets.decompress_stream_target(
          lambda string, count: {"images": tf.zeros([1, 28, 28, 1],
                                                    tf.float32)})(b"\x00")
    with self.assertRaises(Planted):
      fuzz_targets.decompress_stream_target(raise_planted)(b"\x00")
    fuzz_targets.decompress_stream_target(
        lambda string, count: (_ for _ in ()).throw(invalid_argument()))(b"")

  def test_file_control_byte(self):
    fingerprint = b"F" * 16
    streams = container.pack(FINGERPRINT, [b"abc"], container.MODE_STREAMS,
                             1, 1)

    class Codec:
      seen = []

      def decompress(self, data):
        self.seen.append(data)
        container.unpack(data)  # Raises CodecFileError, a ContainerError.
        return np.zeros([1, 28, 28, 1], np.uint8)

    codec = Codec()
    target = fuzz_targets.file_target(codec, fingerprint)
    target(b"\x00" + streams)
    target(b"\x01" + streams)  # The CRC no longer matches: refused.
    target(b"\x03" + streams)
    target(b"")
    self.assertEqual(codec.seen[0], streams)
    self.assertEqual(codec.seen[1][6:22], fingerprint)
    self.assertEqual(codec.seen[2][:-4], codec.seen[1][:-4])
    self.assertEqual(codec.seen[2][-4:],
                     zlib.crc32(codec.seen[2][:-4]).to_bytes(4, "big"))
    self.assertEqual(codec.seen[3], b"")

  def test_file_failures(self):

    class Planting:
      fingerprint = FINGERPRINT

      def __init__(self, result=None):
        self.result = result

      def decompress(self, data):
        del data
        if self.result is None:
          raise Planted("planted")
        return self.result

    with self.assertRaises(Planted):
      fuzz_targets.file_target(Planting())(b"\x00")
    with self.assertRaises(fuzz_targets.ContractError):
      fuzz_targets.file_target(Planting(np.zeros([1, 28, 28], np.uint8)))(
          b"\x00")

  def test_make(self):
    with self.assertRaisesRegex(ValueError, "unknown fuzz target 'jpeg'"):
      fuzz_targets.make("jpeg")
    for name in fuzz_targets.MODEL_TARGETS:
      with self.assertRaisesRegex(ValueError, "needs a SavedModel"):
        fuzz_targets.make(name)


@pytest.mark.slow
class DecoderCorpusTest(tf.test.TestCase, parameterized.TestCase):
  """The decoder corpora through an exported (untrained, tiny) SavedModel."""

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.model = os.path.join(tf.compat.v1.test.get_temp_dir(), "fuzz_model")
    # The corpus was grown with this same model (tests/fuzz_corpus/README.md).
    export.export_saved_model(model.Codec(latent_dims=10, seed=3), cls.model)

  @parameterized.parameters(*fuzz_targets.MODEL_TARGETS)
  def test_corpus_replays_clean(self, target):
    function = fuzz_targets.make(target, self.model)
    for path in corpus(target):
      with self.subTest(path.name):
        function(path.read_bytes())

  def test_a_valid_file_decodes(self):
    codec = codecfile.FileCodec(self.model)
    data, _ = codec.compress(testing_utils.synthetic_digits(3))
    decoded = []

    class Recording:
      fingerprint = codec.fingerprint

      def decompress(self, data):
        decoded.append(codec.decompress(data))
        return decoded[-1]

    fuzz_targets.file_target(Recording())(b"\x00" + data)
    self.assertEqual(decoded[0].shape, (3, 28, 28, 1))


class ParseLogTest(tf.test.TestCase):

  def test_done(self):
    log = ("#2\tINITED cov: 5 ft: 5 corp: 1/1b exec/s: 0 rss: 42Mb\n"
           "#764\tNEW    cov: 7 ft: 7 corp: 2/12b lim: 11 exec/s: 0\n"
           "#343236\tDONE   cov: 50 ft: 81 corp: 32/882b lim: 3194 exec/s: "
           "57206 rss: 42Mb\n"
           "Done 343236 runs in 6 second(s)\n"
           "stat::number_of_executed_units: 343236\n"
           "stat::new_units_added:          31\n")
    self.assertEqual(fuzz_atheris.parse_log(log), {
        "executions": 343236, "cov": 50, "ft": 81, "seconds": 6.,
        "new_entries": 31})

  def test_crash(self):
    log = ("#3\tINITED cov: 24 ft: 24 corp: 1/912b exec/s: 0 rss: 509Mb\n"
           "#16\tREDUCE cov: 26 ft: 26 corp: 2/1390b lim: 912 exec/s: 0\n"
           " === Uncaught Python exception: ===\nKeyError: 'x'\n"
           "==1456== ERROR: libFuzzer: fuzz target exited\n"
           "SUMMARY: libFuzzer: fuzz target exited\n"
           "artifact_prefix='/a/npy-'; Test unit written to /a/npy-crash-45\n")
    self.assertEqual(fuzz_atheris.parse_log(log), {
        "executions": 16, "cov": 26, "ft": 26,
        "failure": "fuzz target exited", "artifact": "/a/npy-crash-45"})


if __name__ == "__main__":
  tf.test.main()
