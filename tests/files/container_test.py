"""Tests of the file format: exact bytes, round trips, and every refusal."""

import zlib

from absl.testing import parameterized
import tensorflow as tf

from tfmnistcodec.files import container
import testing_utils

FINGERPRINT = bytes(range(16))


def with_crc(data):
  return data + zlib.crc32(data).to_bytes(4, "big")


class ContainerTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.named_parameters(
      ("zero", 0, b"\x00"), ("one_byte", 127, b"\x7f"),
      ("two_bytes", 128, b"\x80\x01"), ("mnist_test", 10000, b"\x90\x4e"),
      ("big", 2**40, b"\x80\x80\x80\x80\x80\x20"))
  def test_varint(self, value, encoded):
    self.assertEqual(container.encode_varint(value), encoded)
    self.assertEqual(container.decode_varint(encoded, 0, "x"),
                     (value, len(encoded)))

  def test_exact_bytes(self):
    # Lengths 2, 4, 3: shortest 2, deltas 0, 2, 1 in 2 bits each:
    # 00 10 01 + 2 zero bits of padding = 0b00100100.
    data = container.pack(FINGERPRINT, [b"ab", b"cdef", b"ghi"])
    self.assertEqual(
        data, b"TMNC\x01\x00" + FINGERPRINT + b"\x03\x02\x02\x24" +
        b"abcdefghi")

  def test_equal_lengths_need_no_length_bits(self):
    data = container.pack(FINGERPRINT, [b"abc"] * 5)
    self.assertEqual(data[22:25], b"\x05\x03\x00")
    self.assertLen(data, 22 + 3 + 15)

  @parameterized.named_parameters(
      ("none", []), ("one", [b"x"]),
      ("varied", [b"a" * n for n in (5, 9, 7, 5, 12, 6)]),
      ("wide", [b"a", b"b" * 300]))
  def test_round_trip(self, strings):
    contents = container.unpack(container.pack(FINGERPRINT, strings))
    self.assertEqual(contents, container.Contents(
        FINGERPRINT, strings, container.MODE_STRINGS, len(strings), 1))

  @parameterized.named_parameters(
      ("none", 0, 5, []), ("one", 1, 1, [b"x"]),
      ("even", 6, 3, [b"abc", b"de"]), ("rest", 7, 3, [b"a", b"bc", b"d"]),
      ("max", 10001, container.MAX_STREAM_DIGITS, [b"x" * 900, b"y"]))
  def test_streams_round_trip(self, num_digits, stream_digits, strings):
    data = container.pack(FINGERPRINT, strings, mode=container.MODE_STREAMS,
                          num_digits=num_digits, stream_digits=stream_digits)
    contents = container.unpack(data)
    self.assertEqual(contents, container.Contents(
        FINGERPRINT, strings, container.MODE_STREAMS, num_digits,
        stream_digits))
    self.assertEqual(sum(contents.digits_per_string()), num_digits)

  def test_streams_exact_bytes(self):
    # 5 digits in streams of 3: 2 strings of lengths 2 and 3; N=5, C=3, L=2,
    # W=1, deltas 0 1 + 6 zero bits = 0b01000000.
    data = container.pack(FINGERPRINT, [b"ab", b"cde"],
                          mode=container.MODE_STREAMS, num_digits=5,
                          stream_digits=3)
    body = (b"TMNC\x01\x01" + FINGERPRINT + b"\x05\x03\x02\x01\x40" +
            b"abcde")
    self.assertEqual(data, body + zlib.crc32(body).to_bytes(4, "big"))

  def test_streams_checksum(self):
    data = container.pack(FINGERPRINT, [b"ab", b"cde"],
                          mode=container.MODE_STREAMS, num_digits=5,
                          stream_digits=3)
    for i in range(len(data)):
      with self.subTest(byte=i):
        damaged = bytearray(data)
        damaged[i] ^= 0x10
        with self.assertRaises(container.ContainerError):
          container.unpack(bytes(damaged))

  def test_overhead_below_one_byte_per_digit(self):
    # MNIST-like: 10,000 strings of 4 to 8 bytes.
    strings = [b"s" * (4 + i % 5) for i in range(10000)]
    data = container.pack(FINGERPRINT, strings)
    overhead = (len(data) - sum(map(len, strings))) / len(strings)
    self.assertLess(overhead, 0.5)

  @parameterized.named_parameters(
      ("empty", b"", "empty file"),
      ("other_magic", b"PK\x03\x04rest", "not a tfmnistcodec file"),
      ("short_magic", b"TM", "truncated file: it ends inside the magic"),
      ("short_header", b"TMNC\x01\x00abc", "shorter than the 22-byte header"),
      ("version", b"TMNC\x02\x00" + FINGERPRINT + b"\x00\x01\x00",
       "unsupported format version 2"),
      ("mode", b"TMNC\x01\x07" + FINGERPRINT + b"\x00\x01\x00",
       "unsupported coding mode 7"),
      ("no_count", b"TMNC\x01\x00" + FINGERPRINT, "ends inside the digit count"),
      ("open_varint", b"TMNC\x01\x00" + FINGERPRINT + b"\x81",
       "ends inside the digit count"),
      ("long_varint", b"TMNC\x01\x00" + FINGERPRINT + b"\x80" * 11,
       "longer than 10 bytes"),
      ("padded_varint", b"TMNC\x01\x00" + FINGERPRINT + b"\x81\x00\x01\x00",
       "not minimally encoded"),
      ("no_width", b"TMNC\x01\x00" + FINGERPRINT + b"\x01\x01",
       "ends before the length width"),
      ("wide", b"TMNC\x01\x00" + FINGERPRINT + b"\x01\x01\x21x",
       "length width of 33 bits"),
      ("zero_length", b"TMNC\x01\x00" + FINGERPRINT + b"\x01\x00\x00",
       "strings of length 0"),
      ("huge_count", b"TMNC\x01\x00" + FINGERPRINT +
       b"\xff\xff\xff\xff\x0f\x01\x00abc", "do not fit"),
      ("past_the_end", b"TMNC\x01\x00" + FINGERPRINT + b"\x02\x02\x02\x40abc",
       "point 2 bytes past the end"),
      ("trailing", b"TMNC\x01\x00" + FINGERPRINT + b"\x01\x02\x00abc",
       "1 trailing bytes"),
      ("padding", b"TMNC\x01\x00" + FINGERPRINT + b"\x01\x02\x01\x01ab",
       "nonzero padding"),
      ("lengths_cut", b"TMNC\x01\x00" + FINGERPRINT + b"\x09\x01\x08",
       "do not fit"),
      ("no_stream_digits", with_crc(b"TMNC\x01\x01" + FINGERPRINT + b"\x05"),
       "ends inside the digits per stream"),
      ("zero_stream_digits",
       with_crc(b"TMNC\x01\x01" + FINGERPRINT + b"\x05\x00"),
       "0 digits per stream"),
      ("huge_stream_digits",
       with_crc(b"TMNC\x01\x01" + FINGERPRINT + b"\x05\x91\x4e"),
       "10001 digits per stream"),
      ("streams_do_not_fit", with_crc(
          b"TMNC\x01\x01" + FINGERPRINT +
          b"\xff\xff\xff\xff\x0f\x01\x01\x00abc"), "4294967295 strings"),
      ("no_checksum", b"TMNC\x01\x01" + FINGERPRINT + b"\x00",
       "too short for its checksum"),
      ("bad_checksum", b"TMNC\x01\x01" + FINGERPRINT + b"\x00\x01\x01\x00" +
       b"\x00\x00\x00\x00", "CRC-32 checksum does not match"),
  )
  def test_refusals(self, data, message):
    with self.assertRaisesRegex(container.ContainerError, message):
      container.unpack(data)

  def test_every_truncation_is_refused(self):
    data = container.pack(FINGERPRINT, [b"abc", b"defgh", b"ij"])
    for n in range(len(data)):
      with self.subTest(n=n):
        with self.assertRaises(container.ContainerError):
          container.unpack(data[:n])

  def test_every_truncation_of_streams_is_refused(self):
    data = container.pack(FINGERPRINT, [b"abc", b"defgh"],
                          mode=container.MODE_STREAMS, num_digits=300,
                          stream_digits=200)
    for n in range(len(data)):
      with self.subTest(n=n):
        with self.assertRaises(container.ContainerError):
          container.unpack(data[:n])

  def test_pack_refuses_bad_arguments(self):
    with self.assertRaisesRegex(ValueError, "16 bytes"):
      container.pack(b"short", [b"a"])
    with self.assertRaisesRegex(ValueError, "empty string"):
      container.pack(FINGERPRINT, [b"a", b""])
    with self.assertRaisesRegex(ValueError, "2 strings hold 2 digits, not 3"):
      container.pack(FINGERPRINT, [b"a", b"b"], num_digits=3)
    with self.assertRaisesRegex(ValueError, "needs num_digits"):
      container.pack(FINGERPRINT, [b"a"], mode=container.MODE_STREAMS)
    with self.assertRaisesRegex(ValueError, "stream_digits must be 1 to"):
      container.pack(FINGERPRINT, [b"a"], mode=container.MODE_STREAMS,
                     num_digits=1, stream_digits=0)
    with self.assertRaisesRegex(ValueError, "make 2 strings, not 1"):
      container.pack(FINGERPRINT, [b"a"], mode=container.MODE_STREAMS,
                     num_digits=4, stream_digits=3)
    with self.assertRaisesRegex(ValueError, "unknown mode 5"):
      container.pack(FINGERPRINT, [b"a"], mode=5)


class LayoutTest(tf.test.TestCase, parameterized.TestCase):
  """The file format and the package import without TensorFlow."""

  # The modules of bin/compress.py and bin/decompress.py too: they refuse
  # bad inputs, outputs and files before TensorFlow's start-up.
  @parameterized.parameters("tfmnistcodec", "tfmnistcodec.files.container",
                            "tfmnistcodec.container", "tfmnistcodec.contract",
                            "tfmnistcodec.cli", "tfmnistcodec.files.atomic",
                            "tfmnistcodec.files.codecfile",
                            "tfmnistcodec.files.imageio",
                            "tfmnistcodec.files.imagewriters")
  def test_imports_without_tensorflow(self, module):
    loaded = testing_utils.modules_loaded_by(module)
    self.assertIn("tfmnistcodec", loaded)
    self.assertNotIn("tensorflow", loaded)

  def test_old_module_paths_are_the_new_modules(self):
    code = ("import tfmnistcodec.container as old\n"
            "from tfmnistcodec.files import container as new\n"
            "from tfmnistcodec import codecfile\n"
            "import tfmnistcodec\n"
            "print(old is new, old.__name__, old.__spec__.name,\n"
            "      codecfile.FileCodec is tfmnistcodec.FileCodec)\n")
    result = testing_utils.run_python(["-c", code])
    self.assertEqual(result.returncode, 0, result.stderr)
    self.assertEqual(result.stdout.split(), [
        "True", "tfmnistcodec.files.container", "tfmnistcodec.files.container",
        "True"])

  def test_unknown_names_raise_attribute_error(self):
    import tfmnistcodec  # pylint: disable=import-outside-toplevel
    with self.assertRaisesRegex(AttributeError, "no attribute 'containr'"):
      tfmnistcodec.containr  # pylint: disable=pointless-statement
    with self.assertRaises(ModuleNotFoundError):
      __import__("tfmnistcodec.containr")


if __name__ == "__main__":
  tf.test.main()
