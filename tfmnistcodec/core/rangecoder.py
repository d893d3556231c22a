"""A range coder written in TensorFlow's own ops, byte-compatible with TFC's.

tensorflow-compression (TFC) codes with custom C++ ops (`CreateRangeEncoder`,
`EntropyEncodeChannel`, ...), so a SavedModel that calls them loads only on
the one TensorFlow that TFC was built for, after `import
tensorflow_compression`. This module re-implements the same coder with stock
ops only (integer arithmetic on int64, `tf.while_loop`, gathers, and string
ops to pack and unpack bytes), so a SavedModel that codes with it loads on any
TensorFlow, and writes and reads the very bytes TFC's ops do:

- the range coder of TFC's `cc/lib/range_coder.cc` (G. N. N. Martin's, 32-bit
  state, 16-bit renormalization, a carry "delay" for the case where the
  interval straddles a 2^32 boundary, and the shortest finalization), and
- the channel coder of `cc/kernels/range_coder_kernels.cc`: element `j` of a
  coded row uses CDF `j mod C`; a symbol outside its table is sent as the
  table's last ("overflow") symbol and then as an Elias gamma code and a sign,
  in binary symbols of precision 1.

Both were read, not copied; the tests compare bytes with TFC's ops.

Coding is vectorized over lanes (one string per lane): each loop step codes
one symbol of every lane with a few dozen integer ops. The encoder first
expands each lane's symbols into coding events (the overflow symbols become
their binary events), so every lane runs the same loop; the decoder cannot
know the events in advance and decodes overflow codes in an inner loop that
runs only while some lane is inside one. The integer loops can be compiled
with XLA (`jit_compile`), which is part of every TensorFlow build.

The decoder terminates on any bytes: it reads zeros past a string's end (as
TFC does) and bounds the Elias gamma prefix at 31 zeros (where TFC's would
overflow), which it reports as a failed sanity check.

This module holds the tables and the `tf.function`s, and chooses the shapes
to compile for; the encoder's integer loop and byte layout are in
`range_encoder`, its strings are made in `range_strings`, the decoder's loop
is in `range_decoder`.
"""

import functools

import numpy as np
import tensorflow as tf

from tfmnistcodec import contract
from tfmnistcodec.core.range_decoder import _decode_loop
from tfmnistcodec.core.range_encoder import _encode_events
from tfmnistcodec.core.range_encoder import _encode_values
from tfmnistcodec.core.range_encoder import _events
from tfmnistcodec.core.range_strings import _pack
from tfmnistcodec.core.range_strings import _strings
from tfmnistcodec.core.range_strings import _words_to_strings

__all__ = ["RangeCoder", "tables_from_tfc"]

# `encode` lays out the bytes in XLA for up to 16 lanes of this many values.
_FEW_SYMBOLS = 1024
# Powers of two that `_size_bucket` rounds to.
_POWERS = [1 << i for i in range(31)]


def tables_from_tfc(cdf, cdf_offset):
  """TFC's flat range-coding tables -> dense tables for `RangeCoder`.

  Args:
    cdf: int32 `[sum of row sizes]`, the rows of a `ContinuousBatchedEntropy
      Model` one after the other, each `[-precision, 0, c_1, ..., 2^precision]`
      (negative precision: the row's last interval is the overflow symbol).
    cdf_offset: int32 `[C]`, the value of each row's symbol 0.

  Returns:
    A dict of numpy arrays: `cdf` int32 `[C, K]` (rows padded with
    2^precision), `escape` int32 `[C]` (each row's overflow symbol, which is
    also its number of ordinary symbols), `offset` int32 `[C]`, and
    `precision`, a Python int.

  Raises:
    ValueError: if the tables are not TFC's overflow-mode CDFs of one
      precision, or are malformed.
  """
  flat = np.asarray(cdf, np.int64).reshape(-1)
  offset = np.asarray(cdf_offset, np.int64).reshape(-1)
  rows, i = [], 0
  while i < flat.size:
    precision = -int(flat[i])
    if not 1 <= precision <= 16:
      raise contract.UserValueError(
          f"range-coding table row {len(rows)} does not start "
          "with a negative precision in [-16, -1] (overflow "
          f"mode); it starts with {int(flat[i])}.")
    top = 1 << precision
    end = i + 1
    while end < flat.size and flat[end] != top:
      end += 1
    if end == flat.size:
      raise contract.UserValueError(
          f"range-coding table row {len(rows)} does not end with "
          f"2^{precision}.")
    row = flat[i + 1:end + 1]
    if row[0] != 0 or np.any(np.diff(row) <= 0) or row.size < 3:
      raise contract.UserValueError(
          f"range-coding table row {len(rows)} is not a strictly "
          "increasing CDF from 0 with at least two intervals.")
    rows.append((precision, row))
    i = end + 1
    while i < flat.size and flat[i] == top:  # TFC skips padding like this.
      i += 1
  if not rows or len(rows) != offset.size:
    raise contract.UserValueError(f"{len(rows)} range-coding table rows but "
                                  f"{offset.size} offsets.")
  precisions = {p for p, _ in rows}
  if len(precisions) != 1:
    raise contract.UserValueError(f"range-coding tables of several precisions: "
                                  f"{sorted(precisions)}.")
  precision = precisions.pop()
  width = max(row.size for _, row in rows)
  dense = np.full([len(rows), width], 1 << precision, np.int32)
  for c, (_, row) in enumerate(rows):
    dense[c, :row.size] = row
  escape = np.array([row.size - 2 for _, row in rows], np.int32)
  return dict(cdf=dense, escape=escape, offset=offset.astype(np.int32),
              precision=precision)


class RangeCoder(tf.Module):
  """Codes int32 rows of symbols into strings with fixed tables.

  The tables are the module's state (non-trainable variables `cdf`, `escape`,
  `offset`), so a SavedModel that holds a `RangeCoder` carries them.

  Args:
    cdf, cdf_offset: TFC's flat tables (`tables_from_tfc`).
    jit_compile: Whether to compile the integer loops with XLA.
    name: Module name.
  """

  def __init__(self, cdf, cdf_offset, jit_compile=True, name="range_coder"):
    super().__init__(name=name)
    tables = tables_from_tfc(cdf, cdf_offset)
    self.precision = tables["precision"]
    self.jit_compile = bool(jit_compile)
    with self.name_scope:
      self.cdf = tf.Variable(tables["cdf"], trainable=False, name="cdf")
      self.escape = tf.Variable(tables["escape"], trainable=False,
                                name="escape")
      self.offset = tf.Variable(tables["offset"], trainable=False,
                                name="offset")
    # One concrete function each, whichever signature calls them.
    matrix, vector, scalar = ([None, None], [None], [])
    # The precision is a constant of the compiled code, not an argument.
    values = ((matrix, tf.int32), (scalar, tf.int32), (matrix, tf.int32),
              (vector, tf.int32), (vector, tf.int32))
    self._encode_few = self._compiled(functools.partial(
        _encode_values, precision=self.precision, layout=True), *values)
    self._encode_many = self._compiled(functools.partial(
        _encode_values, precision=self.precision, words=True), *values)
    self._encode_events = self._compiled(
        _encode_events, (matrix, tf.int64), (matrix, tf.int64),
        (matrix, tf.int64), (vector, tf.int32), (scalar, tf.int32))
    self._decode_loop = self._compiled(
        functools.partial(_decode_loop, precision=self.precision),
        (matrix, tf.uint8), (vector, tf.int32), (vector, tf.int8),
        (scalar, tf.int32), (matrix, tf.int32), (vector, tf.int32),
        (vector, tf.int32))

  def _compiled(self, function, *specs):
    return tf.function(
        function, jit_compile=self.jit_compile, autograph=False,
        input_signature=[tf.TensorSpec(shape, dtype) for shape, dtype in specs])

  @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32)],
               autograph=False)
  def encode(self, values):
    """int32 `[lanes, M]` values -> string `[lanes]`, TFC's bytes exactly.

    Element `j` of a row is coded with table `j mod C`; values outside a
    table's range are coded with the overflow code. `M` must be at least 1.

    `encode` and `decode` are one function each, whichever signature of a
    SavedModel calls them: copies in each would load slower.
    """
    lanes, m = tf.shape(values)[0], tf.shape(values)[1]
    padded = _pad_to(values, tf.stack([_lanes_bucket(lanes),
                                       _size_bucket(m, exact=1024)]))
    tables = (m, self.cdf, self.escape, self.offset)

    def few():
      """Up to 16 short lanes: the bytes are laid out in the compiled code."""
      data, lengths, overflow = self._encode_few(padded, *tables)
      return _strings(data[:lanes], lengths[:lanes]), overflow[:lanes]

    def many():
      """More: 16-bit words, packed outside it, where it costs no time per
      byte. Lanes whose delayed carry wrote a run are coded again, below."""
      words, lengths, runs, overflow = _in_halves(
          lambda half: self._encode_many(half, *tables), padded)
      return (_words_to_strings(words[:lanes], lengths[:lanes]),
              overflow[:lanes] | runs[:lanes])

    strings, again = tf.cond((lanes <= 16) & (m <= _FEW_SYMBOLS), few, many)
    # Lanes with a value outside its table were coded clipped (and a few
    # others wrote a run of carry bytes): they are coded again, from their
    # events (the overflow codes' too), and put in place.
    rows = tf.cast(tf.where(again)[:, 0], tf.int32)

    def with_overflow():
      lower, upper, precision, total = _events(
          tf.gather(values, rows), self.cdf, self.escape, self.offset,
          self.precision)
      r, e = tf.shape(rows)[0], tf.shape(lower)[1]
      shape = [_lanes_bucket(r), _size_bucket(e, minimum=64)]
      pieces, counts = self._encode_events(
          _pad_to(lower, shape), _pad_to(upper, shape),
          _pad_to(precision, shape), _pad_to(total, shape[:1]), e)
      fixed = _pack(pieces[:r], counts[:r])
      return tf.dynamic_stitch([tf.range(lanes), rows], [strings, fixed])

    return tf.cond(tf.size(rows) > 0, with_overflow, lambda: strings)

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string),
                                tf.TensorSpec([], tf.int32)],
               autograph=False)
  def decode(self, strings, length):
    """string `[lanes]` -> (int32 values `[lanes, length]`, bool ok `[lanes]`).

    `ok` is TFC's sanity check: the string decoded completely, to its last
    byte and its final interval. Any bytes decode without error.
    """
    lanes = tf.size(strings)
    # Empty strings pad the lanes; `decode_raw` pads each string with zeros.
    strings = _pad_to(strings, _lanes_bucket(lanes)[None])
    lengths = tf.strings.length(strings)
    data = tf.io.decode_raw(
        strings, tf.uint8,
        fixed_length=_size_bucket(tf.reduce_max(lengths), minimum=16))
    capacity = tf.zeros([_size_bucket(length, exact=1024)], tf.int8)
    symbols, ok = _in_halves(
        lambda data, lengths: self._decode_loop(
            data, lengths, capacity, length, self.cdf, self.escape,
            self.offset),
        data, lengths)
    return symbols[:lanes, :length], ok[:lanes]


def _in_halves(function, *lanes):
  """`function(*lanes)`, in two calls of half the lanes each when many.

  The integer loops run on one core each; TensorFlow runs the two calls at
  once, on two. Lane counts above 1024 are multiples of 1024, so the halves
  are of equal, few shapes.
  """
  def two():
    half = tf.shape(lanes[0])[0] // 2
    first = function(*(x[:half] for x in lanes))
    second = function(*(x[half:] for x in lanes))
    return tf.nest.map_structure(lambda a, b: tf.concat([a, b], 0), first,
                                 second)

  return tf.cond(tf.shape(lanes[0])[0] >= 2048, two,
                 lambda: function(*lanes))


def _lanes_bucket(n):
  """Lanes to compile for: 1, 16, 256, then multiples of 1024.

  XLA compiles once per shape, for a few hundred milliseconds, so shapes
  come from a small set; padding small batches costs little, since a few
  lanes cost about as much as one.
  """
  n = tf.cast(n, tf.int32)
  return tf.where(n <= 1, 1, tf.where(n <= 16, 16, tf.where(
      n <= 256, 256, (n + 1023) // 1024 * 1024)))


def _size_bucket(n, exact=0, minimum=1):
  """A length to compile for: `n` up to `exact`, then a power of two."""
  n = tf.maximum(tf.cast(n, tf.int32), minimum)
  power = tf.gather(_POWERS, tf.minimum(
      tf.searchsorted(_POWERS, n[None]), len(_POWERS) - 1))[0]
  return tf.where(n <= exact, n, power)


def _pad_to(x, shape):
  """Pads `x` with zeros (or empty strings) at the end of each dimension."""
  return tf.pad(x, tf.stack([tf.zeros_like(shape), shape - tf.shape(x)], 1))

