"""The decoder half of `rangecoder`: bytes -> values, and TFC's sanity check.

`_decode_loop` is the compiled integer loop; `rangecoder.RangeCoder.decode`
wraps it in a `tf.function` and turns strings into bytes outside it. The
steps are module-level functions of a `_Stream`, the loop's fixed inputs and
tables: the tensors they hold are made once, in `_decode_loop`, and only
read by the steps, so every step traces the very ops it did as a closure.
"""

import collections
import functools

import tensorflow as tf

from tfmnistcodec.core.range_common import _MASK32

# Elias gamma codes of int32 magnitudes have at most 31 leading zeros.
_MAX_GAMMA_BITS = 32

# The decoder's fixed inputs: each lane's bytes (int64, zero-padded) and
# length, the bytes' width, the lane count, int64 zeros `[lanes]`, and the
# tables (int64 `cdf` and `escape`, their number of rows, the precision).
_Stream = collections.namedtuple(
    "_Stream", "data lengths width lanes zero channels cdf escape precision")


def _lane_shaped(stream, x):
  """`x`, with the static shape of a lane vector (as loop state must be)."""
  return tf.ensure_shape(x, stream.data.shape[:1])


def _read16(stream, value, pos, mask):
  """Shifts in the next two bytes (zeros past the end) where `mask`."""
  for _ in range(2):
    inside = pos < stream.lengths
    byte = tf.gather(
        stream.data, tf.minimum(pos, tf.cast(stream.width, tf.int64) - 1),
        batch_dims=1)
    shifted = tf.bitwise.bitwise_or(
        tf.bitwise.left_shift(value, 8), tf.where(inside, byte, 0))
    value = tf.where(mask, tf.bitwise.bitwise_and(shifted, _MASK32), value)
    pos = tf.where(mask & inside, pos + 1, pos)
  return _lane_shaped(stream, value), _lane_shaped(stream, pos)


def _narrow(stream, base, size1, value, pos, a, b, mask):
  """The interval `[base + a, base + b]`, renormalized, where `mask`."""
  new_base = tf.bitwise.bitwise_and(base + a, _MASK32)
  new_size1 = b - a
  small = mask & (tf.bitwise.right_shift(new_size1, 16) == 0)
  new_base = tf.where(small, tf.bitwise.bitwise_and(
      tf.bitwise.left_shift(new_base, 16), _MASK32), new_base)
  new_size1 = tf.where(small, tf.bitwise.bitwise_and(tf.bitwise.bitwise_or(
      tf.bitwise.left_shift(new_size1, 16), 0xFFFF), _MASK32), new_size1)
  value, pos = _read16(stream, value, pos, small)
  return (tf.where(mask, new_base, base), tf.where(mask, new_size1, size1),
          value, pos)


def _decode_bit(stream, base, size1, value, pos, mask):
  """One binary symbol (CDF 0, 1, 2 at precision 1) where `mask`."""
  size = size1 + 1
  bound = tf.bitwise.left_shift(
      tf.bitwise.bitwise_and(value - base, _MASK32) + 1, 1)
  bit = tf.cast(size < bound, tf.int64)
  half = tf.bitwise.right_shift(size, 1)
  a = bit * half
  b = tf.where(bit == 1, size - 1, half - 1)
  return (bit, *_narrow(stream, base, size1, value, pos, a, b, mask))


def _gamma_step(stream, phase, n, magnitude, sign, base, size1, value, pos,
                failed):
  """One binary event of the overflow codes, in each lane still inside one.

  Phase 0: counting zeros; 1: reading bits; 2: the sign; 3: done. A prefix
  of `_MAX_GAMMA_BITS` zeros (where TFC's decoder would overflow) ends the
  code and fails the lane's sanity check.
  """
  zero = stream.zero
  bit, base, size1, value, pos = _decode_bit(stream, base, size1, value, pos,
                                             phase < 3)
  counting, reading, signing = phase == 0, phase == 1, phase == 2
  ones = counting & (bit == 1)
  too_long = counting & (bit == 0) & (n + 1 >= _MAX_GAMMA_BITS)
  n = tf.where(counting & (bit == 0), n + 1, tf.where(reading, n - 1, n))
  magnitude = tf.where(ones, tf.bitwise.left_shift(tf.ones_like(n), n),
                       magnitude)
  magnitude = tf.where(reading, tf.bitwise.bitwise_or(
      magnitude, tf.bitwise.left_shift(bit, n)), magnitude)
  sign = tf.where(signing, bit, sign)
  phase = tf.where(ones, tf.where(n == 0, zero + 2, zero + 1), phase)
  phase = tf.where(reading & (n == 0), zero + 2, phase)
  phase = tf.where(signing | too_long, zero + 3, phase)
  return tuple(_lane_shaped(stream, x) for x in (
      phase, n, magnitude, sign, base, size1, value, pos, failed | too_long))


def _overflow_code(stream, pending, top, base, size1, value, pos, failed):
  """Decodes the Elias gamma codes and signs of the `pending` lanes.

  An inner loop that runs only while some lane is inside a code: the
  decoder cannot know the overflow codes' events in advance.
  """
  zero = stream.zero
  phase = tf.where(pending, zero, zero + 3)
  state = tf.while_loop(
      lambda phase, *_: tf.reduce_any(phase < 3),
      functools.partial(_gamma_step, stream),
      (phase, zero, zero, zero, base, size1, value, pos, failed))
  _, _, magnitude, sign, base, size1, value, pos, failed = state
  decoded = tf.where(sign == 1, -magnitude, magnitude + top - 1)
  return decoded, base, size1, value, pos, failed


def _decode_step(stream, j, base, size1, value, pos, failed, symbols):
  """Decodes element `j` of every lane, with table `j mod C`."""
  c = j % stream.channels
  row = stream.cdf[c]
  top = stream.escape[c]
  size = size1 + 1
  bound = tf.bitwise.left_shift(
      tf.bitwise.bitwise_and(value - base, _MASK32) + 1, stream.precision)
  symbol = tf.reduce_sum(
      tf.cast(size[:, None] * row[None, 1:] < bound[:, None], tf.int64), 1)
  symbol = tf.minimum(symbol, top)  # Only corrupt states could exceed it.
  a = tf.bitwise.right_shift(size * tf.gather(row, symbol), stream.precision)
  b = tf.bitwise.right_shift(size * tf.gather(row, symbol + 1),
                             stream.precision) - 1
  base, size1, value, pos = _narrow(stream, base, size1, value, pos, a, b,
                                    tf.ones([stream.lanes], tf.bool))
  pending = symbol == top
  decoded, base, size1, value, pos, failed = tf.cond(
      tf.reduce_any(pending),
      lambda: _overflow_code(stream, pending, top, base, size1, value, pos,
                             failed),
      lambda: (symbol, base, size1, value, pos, failed))
  symbol = tf.where(pending, decoded, symbol)
  symbol = tf.clip_by_value(symbol, -2**31, 2**31 - 1)
  return (j + 1, *(_lane_shaped(stream, x) for x in (base, size1, value, pos,
                                                     failed)),
          symbols.write(j, tf.cast(symbol, tf.int32)))


def _finalized(stream, base, size1, value, pos, failed):
  """TFC's sanity check: the string ended exactly where it should."""
  zero = stream.zero
  upper32 = tf.bitwise.bitwise_and(base + size1, _MASK32)
  wide = (base == 0) | (upper32 < base)
  shift = tf.where(tf.bitwise.right_shift(base - 1, 24) <
                   tf.bitwise.right_shift(upper32, 24), 24, 16)
  shift = tf.cast(shift, tf.int64)
  mid = tf.bitwise.right_shift(base - 1, shift) + 1
  expected = tf.where(wide, zero,
                      tf.bitwise.bitwise_and(tf.bitwise.left_shift(mid, shift),
                                             _MASK32))
  return (pos == stream.lengths) & (value == expected) & ~failed


def _decode_loop(data, lengths, capacity, length, cdf, escape, offset,
                 precision):
  """The range decoder: bytes `[lanes, W]` -> `length` values a lane.

  Args:
    data, lengths: Each lane's bytes (uint8, zero-padded) and its length.
    capacity: A tensor `[L]`, `L >= length`, whose shape alone sizes the
      output (XLA needs it static); its values are not read.
    length: Values to decode per lane.
    cdf, escape, offset, precision: The tables.

  Returns:
    int32 values `[lanes, L]` (padding from `length` on) and bool `ok`
    `[lanes]`, TFC's sanity check.
  """
  data, lengths = tf.cast(data, tf.int64), tf.cast(lengths, tf.int64)
  cdf, escape = tf.cast(cdf, tf.int64), tf.cast(escape, tf.int64)
  precision = tf.cast(precision, tf.int64)
  lanes, width = tf.shape(data)[0], tf.shape(data)[1]
  channels = tf.shape(cdf)[0]
  zero = tf.zeros([lanes], tf.int64)
  stream = _Stream(data, lengths, width, lanes, zero, channels, cdf, escape,
                   precision)
  value, pos = _read16(stream, zero, zero, tf.ones([lanes], tf.bool))
  value, pos = _read16(stream, value, pos, tf.ones([lanes], tf.bool))
  symbols = tf.TensorArray(tf.int32, size=tf.shape(capacity)[0],
                           element_shape=[None])
  _, base, size1, value, pos, failed, symbols = tf.while_loop(
      lambda j, *_: j < length, functools.partial(_decode_step, stream),
      (tf.constant(0), zero, zero + _MASK32, value, pos,
       tf.zeros([lanes], tf.bool), symbols))
  ok = _finalized(stream, base, size1, value, pos, failed)
  table = tf.range(tf.shape(capacity)[0]) % tf.shape(offset)[0]
  return tf.transpose(symbols.stack()) + tf.gather(offset, table)[None], ok
