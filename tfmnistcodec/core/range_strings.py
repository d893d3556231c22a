"""Bytes -> strings, outside the compiled code (`rangecoder`'s encoder).

All three forms of `range_encoder`'s output end here: `_strings` (bytes laid
out a lane a row), `_words_to_strings` (16-bit words) and `_pack` (pieces
with run lengths). Each puts all lanes' bytes into one string and cuts the
lanes' strings out of it (`_substrings`).
"""

import tensorflow as tf


def _words_to_strings(words, lengths):
  """`range_encoder._encoder_words` -> one string a lane.

  All lanes' words go into one byte string, in order; each lane's string is
  cut out of it.
  """
  valid = words >= 0
  flat = tf.boolean_mask(words, valid)
  data = tf.reshape(tf.stack([tf.bitwise.right_shift(flat, 8),
                              tf.bitwise.bitwise_and(flat, 0xFF)], 1), [-1])
  starts = 2 * tf.cumsum(tf.reduce_sum(tf.cast(valid, tf.int32), 1),
                         exclusive=True)
  return _substrings(data, starts, lengths)


def _pack(values, counts):
  """Pieces (`values[i]` repeated `counts[i]` times) -> one string a lane."""
  lengths = tf.reduce_sum(counts, axis=1)
  data = tf.repeat(tf.reshape(values, [-1]), tf.reshape(counts, [-1]))
  return _substrings(data, tf.cumsum(lengths, exclusive=True), lengths)


def _substrings(data, starts, lengths):
  """Bytes (any shape) -> the strings of `lengths` bytes from `starts`.

  `serialize_tensor` of a uint8 tensor holds its bytes, in order, at the end
  of the string (a `TensorProto`'s `tensor_content`, its last field): one
  broadcast `substr` of it cuts out every string, several times faster than
  joining one-byte strings. `starts` count from the first byte of `data`.
  """
  data = tf.cast(data, tf.uint8)
  whole = tf.io.serialize_tensor(data)
  first = tf.strings.length(whole) - tf.size(data)
  return tf.strings.substr(whole, first + starts, lengths)


def _strings(data, lengths):
  """Bytes `[lanes, W]` (int32) and lengths -> one string a lane."""
  rows = tf.range(tf.shape(data)[0]) * tf.shape(data)[1]
  return _substrings(data, rows, lengths)
