"""The tfmnistcodec file format: range-coded digits with a model fingerprint.

Pure bytes in, bytes out; no TensorFlow. FORMAT.md documents the layout byte
by byte. In short (version 1):

    magic "TMNC" | version 1 | mode | fingerprint (16 bytes) | N (varint)
    | mode 1 only: C, digits per stream (varint)
    | shortest string length L (varint) | W (1 byte)
    | S lengths minus L, W bits each, packed MSB-first, zero-padded to a byte
    | the S strings, concatenated | mode 1 only: CRC-32 of all bytes before

Mode 0 (`MODE_STRINGS`) holds S = N strings, one per digit, for random access.
Mode 1 (`MODE_STREAMS`) holds S = ceil(N / C) range-coded streams of C digits
each (the last one holds the rest), which pay the range coder's per-string
overhead once per stream instead of once per digit. Mode 1 ends with a
CRC-32 because the range decoder's sanity check does not catch every damaged
stream: decoding more digits than a stream holds passes it, so a damaged
digit count would otherwise decode to wrong digits without an error.

Lengths are stored as fixed-width deltas from the shortest one, not one varint
each: a varint costs a whole byte per digit, and the strings of a codec's
digits differ in length by a few bytes at most, so W is 2 to 4 bits.

`unpack` trusts nothing: every field is bounds-checked, the sizes must add up
exactly, and every problem raises `ContainerError` with a message that names
it.
"""

import dataclasses
import zlib

from tfmnistcodec import contract

__all__ = [
    "MAGIC", "VERSION", "MODE_STRINGS", "MODE_STREAMS", "MAX_STREAM_DIGITS",
    "FINGERPRINT_BYTES", "ContainerError", "Contents", "pack", "unpack",
    "encode_varint", "decode_varint"
]

MAGIC = b"TMNC"
VERSION = 1
MODE_STRINGS = 0
MODE_STREAMS = 1
# A reader decodes a whole stream at once; this bounds what a forged digit
# count can make it allocate (10,000 digits decode in ~150 MB).
MAX_STREAM_DIGITS = 10000
FINGERPRINT_BYTES = contract.FINGERPRINT_BYTES
_CRC_BYTES = 4
_HEADER = len(MAGIC) + 2 + FINGERPRINT_BYTES
# No count or length that this format admits needs more than 64 bits.
_MAX_VARINT_BYTES = 10
_MAX_WIDTH = 32


class ContainerError(contract.UserValueError):
  """A file that is not a valid tfmnistcodec file, with what is wrong."""


@dataclasses.dataclass(frozen=True)
class Contents:
  """What a file holds.

  Attributes:
    fingerprint: The coding model's fingerprint, `FINGERPRINT_BYTES` bytes.
    strings: The range-coded strings: one per digit (`MODE_STRINGS`) or one
      per stream of `stream_digits` digits (`MODE_STREAMS`).
    mode: `MODE_STRINGS` or `MODE_STREAMS`.
    num_digits: N, the number of digits.
    stream_digits: C, digits per stream (1 in `MODE_STRINGS`); the last
      stream holds the rest.
  """
  fingerprint: bytes
  strings: list
  mode: int = MODE_STRINGS
  num_digits: int = 0
  stream_digits: int = 1

  def digits_per_string(self):
    """How many digits each string decodes to, in order."""
    c, n = self.stream_digits, self.num_digits
    return [min(c, n - start) for start in range(0, n, c)]


def encode_varint(value):
  """Unsigned LEB128: 7 bits a byte, low bits first, high bit = more."""
  if value < 0:
    raise contract.UserValueError(f"varint of a negative number: {value}")
  out = bytearray()
  while True:
    byte, value = value & 0x7f, value >> 7
    out.append(byte | (0x80 if value else 0))
    if not value:
      return bytes(out)


def decode_varint(data, pos, what):
  """Decodes a varint at `data[pos:]`; returns `(value, next_pos)`."""
  value = shift = 0
  for i in range(_MAX_VARINT_BYTES):
    if pos + i >= len(data):
      raise ContainerError(f"truncated file: it ends inside the {what}.")
    byte = data[pos + i]
    value |= (byte & 0x7f) << shift
    shift += 7
    if not byte & 0x80:
      if byte == 0 and i > 0:
        raise ContainerError(f"corrupt file: the {what} is not minimally "
                             "encoded.")
      return value, pos + i + 1
  raise ContainerError(f"corrupt file: the {what} is longer than "
                       f"{_MAX_VARINT_BYTES} bytes.")


def pack(fingerprint, strings, mode=MODE_STRINGS, num_digits=None,
         stream_digits=1):
  """Packs strings made by the model with `fingerprint` into file bytes.

  Args:
    fingerprint: `bytes` of length `FINGERPRINT_BYTES`.
    strings: Sequence of non-empty `bytes`: one per digit (`MODE_STRINGS`), or
      one per stream of `stream_digits` digits (`MODE_STREAMS`).
    mode: `MODE_STRINGS` or `MODE_STREAMS`.
    num_digits: N; required for `MODE_STREAMS` (in `MODE_STRINGS` it is the
      number of strings).
    stream_digits: C, digits per stream, 1 to `MAX_STREAM_DIGITS`
      (`MODE_STREAMS` only).

  Returns:
    The file's bytes.
  """
  if len(fingerprint) != FINGERPRINT_BYTES:
    raise contract.UserValueError(
        f"a fingerprint has {FINGERPRINT_BYTES} bytes, not "
        f"{len(fingerprint)}.")
  strings = [bytes(s) for s in strings]
  if any(not s for s in strings):
    raise contract.UserValueError("cannot pack an empty string.")
  if mode == MODE_STRINGS:
    if num_digits not in (None, len(strings)):
      raise contract.UserValueError(
          f"{len(strings)} strings hold {len(strings)} digits, "
          f"not {num_digits}.")
    counts = encode_varint(len(strings))
  elif mode == MODE_STREAMS:
    if num_digits is None:
      raise contract.UserValueError("MODE_STREAMS needs num_digits.")
    if not 1 <= stream_digits <= MAX_STREAM_DIGITS:
      raise contract.UserValueError(
          f"stream_digits must be 1 to {MAX_STREAM_DIGITS}, got "
          f"{stream_digits}.")
    if len(strings) != -(-num_digits // stream_digits):
      raise contract.UserValueError(
          f"{num_digits} digits in streams of {stream_digits} make "
          f"{-(-num_digits // stream_digits)} strings, not {len(strings)}.")
    counts = encode_varint(num_digits) + encode_varint(stream_digits)
  else:
    raise contract.UserValueError(f"unknown mode {mode}.")
  lengths = [len(s) for s in strings]
  shortest = min(lengths, default=1)
  width = max((l - shortest for l in lengths), default=0).bit_length()
  bits = 0
  for length in lengths:
    bits = (bits << width) | (length - shortest)
  num_bits = width * len(lengths)
  padding = -num_bits % 8
  packed = (bits << padding).to_bytes((num_bits + padding) // 8, "big")
  data = b"".join([
      MAGIC, bytes([VERSION, mode]), fingerprint, counts,
      encode_varint(shortest), bytes([width]), packed, *strings
  ])
  if mode == MODE_STREAMS:
    data += zlib.crc32(data).to_bytes(_CRC_BYTES, "big")
  return data


def unpack(data):
  """Reads file bytes; returns their `Contents`.

  Raises:
    ContainerError: the bytes are not a valid tfmnistcodec file; the message
      says what is wrong (empty, wrong magic or version, truncated, a length
      past the end, trailing bytes, ...).
  """
  data = memoryview(bytes(data))
  if not data:
    raise ContainerError("empty file: not a tfmnistcodec file.")
  start = bytes(data[:len(MAGIC)])
  if start != MAGIC:
    if len(data) < len(MAGIC) and MAGIC.startswith(start):
      raise ContainerError("truncated file: it ends inside the magic bytes.")
    raise ContainerError(f"not a tfmnistcodec file: it starts with {start!r}, "
                         f"not {MAGIC!r}.")
  if len(data) < _HEADER:
    raise ContainerError(f"truncated file: {len(data)} bytes, shorter than "
                         f"the {_HEADER}-byte header.")
  version, mode = data[4], data[5]
  if version != VERSION:
    raise ContainerError(f"unsupported format version {version}; this "
                         f"reader knows version {VERSION}.")
  if mode not in (MODE_STRINGS, MODE_STREAMS):
    raise ContainerError(f"unsupported coding mode {mode} in a version "
                         f"{VERSION} file.")
  if mode == MODE_STREAMS:
    if len(data) < _HEADER + _CRC_BYTES:
      raise ContainerError("truncated file: too short for its checksum.")
    crc = int.from_bytes(data[-_CRC_BYTES:], "big")
    data = data[:-_CRC_BYTES]
    if zlib.crc32(data) != crc:
      raise ContainerError("corrupt or truncated file: its CRC-32 checksum "
                           "does not match.")
  fingerprint = bytes(data[6:_HEADER])
  num_digits, pos = decode_varint(data, _HEADER, "digit count")
  stream_digits = 1
  if mode == MODE_STREAMS:
    stream_digits, pos = decode_varint(data, pos, "digits per stream")
    if not 1 <= stream_digits <= MAX_STREAM_DIGITS:
      raise ContainerError(
          f"corrupt file: {stream_digits} digits per stream (1 to "
          f"{MAX_STREAM_DIGITS}).")
  count = -(-num_digits // stream_digits)  # Strings in the file.
  shortest, pos = decode_varint(data, pos, "shortest string length")
  if pos >= len(data):
    raise ContainerError("truncated file: it ends before the length width.")
  width = data[pos]
  pos += 1
  if width > _MAX_WIDTH:
    raise ContainerError(f"corrupt file: length width of {width} bits (at "
                         f"most {_MAX_WIDTH}).")
  if count and shortest < 1:
    raise ContainerError("corrupt file: strings of length 0.")
  # Every string has at least `shortest` >= 1 bytes, so a count larger than
  # the file cannot be true; checking first keeps a forged count from making
  # us allocate or loop for nothing.
  if count * shortest > len(data) - pos:
    raise ContainerError(
        f"truncated file: {count} strings of at least {shortest} bytes do "
        f"not fit in the {len(data) - pos} bytes left.")
  num_bits = width * count
  packed_bytes = (num_bits + 7) // 8
  if pos + packed_bytes > len(data):
    raise ContainerError("truncated file: it ends inside the string lengths.")
  bits = int.from_bytes(data[pos:pos + packed_bytes], "big")
  pos += packed_bytes
  padding = packed_bytes * 8 - num_bits
  if bits & ((1 << padding) - 1):
    raise ContainerError("corrupt file: nonzero padding after the lengths.")
  bits >>= padding
  mask = (1 << width) - 1
  lengths = [
      shortest + ((bits >> (width * (count - 1 - i))) & mask)
      for i in range(count)
  ]
  total = sum(lengths)
  left = len(data) - pos
  if total > left:
    raise ContainerError(
        f"truncated file: the lengths point {total - left} bytes past the "
        f"end ({total} bytes of strings, {left} left).")
  if total < left:
    raise ContainerError(
        f"corrupt file: {left - total} trailing bytes after the last digit.")
  strings = []
  for length in lengths:
    strings.append(bytes(data[pos:pos + length]))
    pos += length
  return Contents(fingerprint, strings, mode, num_digits, stream_digits)
