"""The encoder half of `rangecoder`: values -> coding events -> bytes.

The integer loops (`_encode_values`, `_encode_events`) run in the compiled
code; `_layout` lays out bytes there too for few short lanes, and
`_encoder_words` turns many lanes' writes into 16-bit words; `range_strings`
turns bytes into strings outside it. `rangecoder.RangeCoder` wraps them in
`tf.function`s and chooses between them.
"""

import tensorflow as tf

from tfmnistcodec.core.range_common import _MASK32


def _bit_length(x):
  """Bits of non-negative int64 `x` (0 for 0): floor(log2(x)) + 1."""
  powers = tf.bitwise.left_shift(tf.constant(1, tf.int64),
                                 tf.range(63, dtype=tf.int64))
  return tf.reduce_sum(tf.cast(x[..., None] >= powers, tf.int64), axis=-1)


def _events(values, cdf, escape, offset, precision):
  """Values `[lanes, M]` -> coding events `(lower, upper, precision)`.

  Each value is one event with its table's precision; a value outside its
  table is the overflow symbol followed by `2 * bits(gamma)` binary events
  (precision 1): bits - 1 zeros, gamma's bits from the top, and the sign.

  Returns:
    int64 `lower`, `upper`, `precision`, each `[lanes, E]` (the events of a
    lane in order, then padding), and int32 `total` `[lanes]`, each lane's
    number of events.
  """
  lanes, m = tf.shape(values)[0], tf.shape(values)[1]
  channels = tf.range(m) % tf.shape(cdf)[0]
  s = tf.cast(values - tf.gather(offset, channels)[None], tf.int64)
  top = tf.cast(tf.gather(escape, channels)[None], tf.int64)
  overflow = (s < 0) | (s >= top)
  symbol = tf.where(overflow, top, s)
  width = tf.cast(tf.shape(cdf)[1], tf.int64)
  flat_cdf = tf.cast(tf.reshape(cdf, [-1]), tf.int64)
  row = tf.cast(channels, tf.int64)[None] * width
  lower = tf.gather(flat_cdf, row + symbol)
  upper = tf.gather(flat_cdf, row + symbol + 1)
  # Each overflow code's binary events go right after its symbol: a scatter
  # into `[lanes, E]` (`encode` calls this for the few lanes with one).
  where = tf.where(overflow)  # [n, 2]: lane, element.
  s_over = tf.gather_nd(s, where)
  gamma = tf.where(s_over < 0, -s_over,
                   s_over - tf.gather(top[0], where[:, 1]) + 1)
  bits = _bit_length(gamma)
  counts = 1 + 2 * tf.scatter_nd(where, bits, tf.shape(s, tf.int64))
  starts = tf.cumsum(counts, axis=1, exclusive=True)
  total = tf.reduce_sum(counts, axis=1)
  lane = tf.broadcast_to(tf.range(lanes, dtype=tf.int64)[:, None],
                         tf.shape(s))
  index = tf.reshape(tf.stack([lane, starts], -1), [-1, 2])
  g, nb = gamma[:, None], bits[:, None]
  sign = tf.cast(s_over < 0, tf.int64)[:, None]
  k = tf.range(1, 2 * tf.reduce_max(tf.concat([[0], bits], 0)) + 1,
               dtype=tf.int64)[None]
  # Event k (from 1) of a code: bits - 1 zeros, the bits, the sign.
  bit = tf.where(
      k < nb, tf.zeros_like(k),
      tf.where(k < 2 * nb,
               tf.bitwise.bitwise_and(
                   tf.bitwise.right_shift(g, tf.maximum(2 * nb - 1 - k, 0)),
                   1),
               sign))
  valid = k <= 2 * nb
  position = tf.gather_nd(starts, where)[:, None] + k
  extra_index = tf.boolean_mask(
      tf.stack([tf.broadcast_to(where[:, :1], tf.shape(position)), position],
               -1), valid)
  extra_bit = tf.boolean_mask(bit, valid)
  shape = tf.stack([tf.cast(lanes, tf.int64), tf.reduce_max(total)])

  def events(plain, extra):
    """The values' own events and the codes' events, in order."""
    return tf.scatter_nd(
        tf.concat([index, extra_index], 0),
        tf.concat([tf.reshape(plain, [-1]), extra], 0), shape)

  lower = events(lower, extra_bit)
  upper = events(upper, extra_bit + 1)
  precs = events(tf.fill(tf.shape(s), tf.constant(precision, tf.int64)),
                 tf.ones_like(extra_bit))
  return lower, upper, precs, tf.cast(total, tf.int32)


def _encoder_step(base, size1, delay, lo, hi, p):
  """Codes the interval `[lo, hi) / 2^p` into each lane's encoder state.

  Returns:
    The next `(base, size - 1, delay)` and what the step writes: the
    flushed carry (its run length above bit 17, whether the run is of 0xFF
    bytes in bit 0), and the top 16 bits of the interval; -1 for nothing.
  """
  size = size1 + 1
  a = tf.bitwise.right_shift(size * lo, p)
  b = tf.bitwise.right_shift(size * hi, p) - 1
  new_base = tf.bitwise.bitwise_and(base + a, _MASK32)
  carried = new_base < a
  new_size1 = b - a
  small = tf.bitwise.right_shift(new_size1, 16) == 0
  straddles = new_base + new_size1 > _MASK32  # State 1: across 2^32.
  shifted_base = tf.bitwise.bitwise_and(
      tf.bitwise.left_shift(new_base, 16), _MASK32)
  shifted_size1 = tf.bitwise.bitwise_and(
      tf.bitwise.bitwise_or(tf.bitwise.left_shift(new_size1, 16), 0xFFFF),
      _MASK32)
  # State 1 stays in state 1; renormalizing adds two bytes to the delay.
  grow = straddles & small
  # Back in state 0 from state 1: write the delayed carry, resolved.
  flush = ~straddles & (delay != 0)
  flushed = tf.where(carried, delay, delay - 1)
  # State 0, renormalizing: write the top 16 bits, unless the interval now
  # straddles 2^32: then delay them.
  renorm = ~straddles & small
  top = tf.bitwise.right_shift(new_base, 16)
  still = shifted_base + shifted_size1 <= _MASK32
  carry_word = tf.where(flush, flushed * 2 + tf.cast(~carried, tf.int64), -1)
  top_word = tf.where(renorm & still, top, -1)
  next_delay = tf.where(
      grow, delay + 0x20000,
      tf.where(renorm & ~still, top + 1,
               tf.where(flush, tf.zeros_like(delay), delay)))
  resize = grow | renorm
  return (tf.where(resize, shifted_base, new_base),
          tf.where(resize, shifted_size1, new_size1), next_delay,
          carry_word, top_word)


def _written(writes, steps):
  """The loop's writes `[E, lanes, 2]` -> `[lanes, E, 2]`, -1 from `steps`."""
  writes = writes.stack()
  done = tf.range(tf.shape(writes)[0]) < steps
  return tf.transpose(tf.where(done[:, None, None], writes, -1), [1, 0, 2])


def _encoder_pieces(writes, base, size1, delay):
  """The encoder's writes `[lanes, E, 2]` and final state -> pieces.

  Returns:
    int32 `values` and `counts`, `[lanes, 5 E + 2]`: the bytes of each lane
    are `values[i]` repeated `counts[i]` times, in order. A step writes at
    most a delayed carry (two bytes and a run of 0x00 or 0xFF) and the top
    16 bits of the interval, so five pieces a step; then the two bytes (at
    most) that finalize the string.
  """
  lanes = tf.shape(writes)[0]
  carry, top = writes[:, :, 0], writes[:, :, 1]
  flushed = tf.bitwise.right_shift(carry, 1)
  flush = tf.cast(carry >= 0, tf.int64)
  write_top = tf.cast(top >= 0, tf.int64)
  values = tf.reshape(tf.stack([
      tf.bitwise.right_shift(flushed, 8), flushed,
      tf.bitwise.bitwise_and(carry, 1) * 0xFF,
      tf.bitwise.right_shift(top, 8), top], axis=2), [lanes, -1])
  counts = tf.reshape(tf.stack([
      flush, flush, flush * tf.bitwise.right_shift(flushed, 16),
      write_top, write_top], axis=2), [lanes, -1])
  first, second, count = _final_bytes(base, size1, delay)
  values = tf.bitwise.bitwise_and(
      tf.concat([values, tf.stack([first, second], 1)], 1), 0xFF)
  counts = tf.concat([counts, tf.cast(
      tf.stack([count > 0, count > 1], 1), tf.int64)], 1)
  return tf.cast(values, tf.int32), tf.cast(counts, tf.int32)


def _final_bytes(base, size1, delay):
  """The shortest bytes (at most two) that lie in the final interval.

  Returns int64 `first`, `second` (bytes in their low 8 bits) and int32
  `count` (0, 1 or 2), each `[lanes]`.
  """
  upper32 = base + size1
  mid24 = tf.bitwise.right_shift(base - 1, 24) + 1
  use24 = mid24 <= tf.bitwise.right_shift(upper32, 24)
  mid16 = tf.bitwise.right_shift(base - 1, 16) + 1
  delayed = delay != 0
  first = tf.where(delayed, tf.bitwise.right_shift(delay, 8),
                   tf.where(use24, mid24, tf.bitwise.right_shift(mid16, 8)))
  second = tf.where(delayed, delay, mid16)
  second_count = tf.where(
      delayed, tf.bitwise.bitwise_and(delay, 0xFF) != 0,
      (base != 0) & ~use24 & (tf.bitwise.bitwise_and(mid16, 0xFF) != 0))
  count = (tf.cast(delayed | (base != 0), tf.int32) +
           tf.cast(second_count, tf.int32))
  return first, second, count


def _encoder_words(writes, steps, base, size1, delay):
  """The loop's words `[E, lanes, 2]` (-1: none) and final state -> words.

  In this form a step writes at most two 16-bit words, a delayed carry's
  two bytes and the top of the interval; the finalization's bytes (at most
  two) are one more word, cut to its length.

  Returns:
    int32 `words` `[lanes, 2 E + 1]`, a lane's in order among -1s, and int32
    `lengths` `[lanes]` in bytes.
  """
  done = (tf.range(tf.shape(writes)[0]) < steps)[:, None, None]
  lanes = tf.shape(writes)[1]
  words = tf.reshape(tf.transpose(tf.where(done, writes, -1), [1, 0, 2]),
                     [lanes, -1])
  first, second, count = _final_bytes(base, size1, delay)
  final = tf.cast(tf.bitwise.bitwise_or(
      tf.bitwise.left_shift(tf.bitwise.bitwise_and(first, 0xFF), 8),
      tf.bitwise.bitwise_and(second, 0xFF)), tf.int32)
  lengths = 2 * tf.reduce_sum(tf.cast(words >= 0, tf.int32), 1) + count
  words = tf.concat([words, tf.where(count > 0, final, -1)[:, None]], 1)
  return words, lengths


def _layout(values, counts):
  """Pieces (`_encoder_pieces`) -> int32 bytes `[lanes, 2 E + 2]`, lengths.

  Each lane's bytes, then zeros. A step that renormalizes owes two bytes,
  written at once (the top 16 bits of the interval) or later (a delayed
  carry: two bytes and a run of 0x00 or 0xFF, two bytes for each step it
  waited); the finalization writes at most two: so `2 E + 2` bytes hold any
  lane. Single bytes are scattered to their offsets; runs of 0xFF, as +1 at
  their start and -1 at their end, summed up along the lane. XLA's scatter
  costs time per lane and byte, so `RangeCoder.encode` lays out few lanes of
  at most `rangecoder._FEW_SYMBOLS` values this way (`5 E + 2 <= 8192`
  pieces) and packs the others outside the compiled code.
  """
  lanes, pieces = tf.shape(values)[0], tf.shape(values)[1]
  width = 2 * (pieces - 2) // 5 + 2
  start = _cumsum(counts) - counts
  piece = tf.range(pieces)
  run = ((piece % 5 == 2) & (piece < pieces - 2))[None]
  lane = tf.broadcast_to(tf.range(lanes)[:, None], tf.shape(start))
  at = lambda offset: tf.stack([lane, offset], -1)
  zeros = tf.zeros(tf.stack([lanes, width + 1]), tf.int32)
  singles = tf.tensor_scatter_nd_add(
      zeros, at(start), tf.where(run, tf.zeros_like(values), values * counts))
  ff = tf.where(run & (values == 0xFF), tf.minimum(counts, 1),
                tf.zeros_like(counts))
  edges = tf.tensor_scatter_nd_add(
      zeros, tf.concat([at(start), at(start + counts)], 1),
      tf.concat([ff, -ff], 1))
  data = singles + 0xFF * _cumsum(edges)
  return data[:, :width], tf.reduce_sum(counts, axis=1)


def _cumsum(x):
  """`tf.cumsum(x, axis=1)` for rows of up to 8192 (`_layout`'s, at most).

  In 13 shifted adds: XLA on CPU sums a window for each element of
  `tf.cumsum`, work quadratic in the length of the row.
  """
  n = tf.shape(x)[1]
  for k in range(13):
    x += tf.pad(x, [[0, 0], [1 << k, 0]])[:, :n]
  return x


def _encode_values(values, steps, cdf, escape, offset, precision,
                   layout=False, words=False):
  """The range encoder over int32 values `[lanes, M]`, clipped to its tables.

  Element `j < steps` of a lane is coded with table `j mod C`; the rest is
  padding. A value outside its table is coded as the nearest one in it, and
  its lane flagged: `encode` codes those lanes again, with overflow codes.

  Returns:
    `_encoder_pieces`, `_layout` of them if `layout`, or `_encoder_words`
    and bool `runs` `[lanes]` (lanes whose delayed carry wrote a run of
    bytes, which words cannot hold) if `words`; and bool `overflow`
    `[lanes]`.
  """
  lanes, capacity = tf.shape(values)[0], tf.shape(values)[1]
  channels, width = tf.shape(cdf)[0], tf.shape(cdf)[1]
  table = tf.range(capacity) % channels
  symbols = tf.cast(values - tf.gather(offset, table)[None], tf.int64)
  top = tf.cast(tf.gather(escape, table), tf.int64)[None]
  overflow = tf.reduce_any(
      ((symbols < 0) | (symbols >= top)) & (tf.range(capacity) < steps)[None],
      axis=1)
  index = tf.transpose(tf.cast(table * width, tf.int64)[None] +
                       tf.clip_by_value(symbols, 0, top - 1))
  flat_cdf = tf.reshape(tf.cast(cdf, tf.int64), [-1])
  precision = tf.cast(precision, tf.int64)
  zero = tf.zeros([lanes], tf.int64)
  writes = tf.TensorArray(tf.int32 if words else tf.int64, size=capacity,
                          element_shape=[None, 2])

  def body(t, base, size1, delay, runs, writes):
    base, size1, delay, carry, top = _encoder_step(
        base, size1, delay, tf.gather(flat_cdf, index[t]),
        tf.gather(flat_cdf, index[t] + 1), precision)
    if words:  # The carry's two bytes; a run of carry bytes flags the lane.
      flushed = tf.bitwise.right_shift(carry, 1)
      runs |= (carry >= 0) & (tf.bitwise.right_shift(flushed, 16) > 0)
      carry = tf.where(carry >= 0, tf.bitwise.bitwise_and(flushed, 0xFFFF),
                       -1)
    return t + 1, base, size1, delay, runs, writes.write(
        t, tf.cast(tf.stack([carry, top], 1), writes.dtype))

  _, base, size1, delay, runs, writes = tf.while_loop(
      lambda t, *_: t < steps, body,
      (tf.constant(0), zero, zero + _MASK32, zero,
       tf.zeros([lanes], tf.bool), writes))
  if words:
    return (*_encoder_words(writes.stack(), steps, base, size1, delay), runs,
            overflow)
  pieces = _encoder_pieces(_written(writes, steps), base, size1, delay)
  return (*(_layout(*pieces) if layout else pieces), overflow)


def _encode_events(lower, upper, precision, total, steps):
  """The range encoder over events `[lanes, E]` (`_events`).

  Lane `i` codes its first `total[i]` events; `steps` is the largest
  `total`, the rest is padding. Returns `_encoder_pieces`.
  """
  lanes, capacity = tf.shape(lower)[0], tf.shape(lower)[1]
  zero = tf.zeros([lanes], tf.int64)
  writes = tf.TensorArray(tf.int64, size=capacity, element_shape=[None, 2])

  def body(t, base, size1, delay, writes):
    active = t < total
    new_base, new_size1, new_delay, carry, top = _encoder_step(
        base, size1, delay, lower[:, t], upper[:, t], precision[:, t])
    return (t + 1, tf.where(active, new_base, base),
            tf.where(active, new_size1, size1),
            tf.where(active, new_delay, delay),
            writes.write(t, tf.where(active[:, None],
                                     tf.stack([carry, top], 1), -1)))

  _, base, size1, delay, writes = tf.while_loop(
      lambda t, *_: t < steps, body,
      (tf.constant(0), zero, zero + _MASK32, zero, writes))
  return _encoder_pieces(_written(writes, steps), base, size1, delay)
