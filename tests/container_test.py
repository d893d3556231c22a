"""Tests of the file format: exact bytes, round trips, and every refusal."""

from absl.testing import parameterized
import tensorflow as tf

from tfmnistcodec import container

FINGERPRINT = bytes(range(16))


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
    fingerprint, unpacked = container.unpack(
        container.pack(FINGERPRINT, strings))
    self.assertEqual(fingerprint, FINGERPRINT)
    self.assertEqual(unpacked, strings)

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

  def test_pack_refuses_bad_arguments(self):
    with self.assertRaisesRegex(ValueError, "16 bytes"):
      container.pack(b"short", [b"a"])
    with self.assertRaisesRegex(ValueError, "empty string"):
      container.pack(FINGERPRINT, [b"a", b""])


if __name__ == "__main__":
  tf.test.main()
