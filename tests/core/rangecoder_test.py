"""Tests of the stock-op range coder against tensorflow-compression's ops."""

import functools

from absl.testing import parameterized
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_compression as tfc
from tensorflow_compression.python.ops import gen_ops

from tfmnistcodec.core import range_encoder
from tfmnistcodec.core import rangecoder


def tfc_coders(scales):
  """TFC's coders (rank 1: a string per row; rank 2: one stream) for scales."""
  strings = tfc.ContinuousBatchedEntropyModel(
      tfc.NoisyLogistic(loc=0., scale=np.asarray(scales, np.float32)),
      coding_rank=1, compression=True, offset_heuristic=False)
  stream = tfc.ContinuousBatchedEntropyModel(
      prior_shape=strings.prior_shape, coding_rank=2, compression=True,
      stateless=True, cdf=strings.cdf, cdf_offset=strings.cdf_offset,
      offset_heuristic=False)
  return strings, stream


def tfc_decode(strings, cdf, length):
  """TFC's channel decoder: symbols (before offsets) and its sanity check."""
  handle = gen_ops.create_range_decoder(tf.constant(strings), cdf)
  handle, symbols = gen_ops.entropy_decode_channel(handle, [length], tf.int32)
  return symbols.numpy(), gen_ops.entropy_decode_finalize(handle).numpy()


def latents(rng, num, scales):
  """Rounded latents, with some far outside the tables (overflow codes)."""
  y = rng.logistic(0., np.asarray(scales) * 1.5, size=(num, len(scales)))
  far = rng.random(y.shape) < 0.03
  y[far] *= rng.choice([30., -30., 3000.], size=far.sum())
  y[0, 0], y[-1, -1] = 70000., -3e6  # Long Elias gamma codes.
  return np.round(y).astype(np.int32)


class RangeCoderTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.parameters(
      (1, True), (7, True), (50, True), (3, False))
  @pytest.mark.slow  # Compiles the coder for many shapes.
  def test_tfc_bytes_both_ways(self, channels, jit_compile):
    rng = np.random.default_rng(channels)
    scales = rng.uniform(0.05, 8., channels)
    strings_model, stream_model = tfc_coders(scales)
    coder = rangecoder.RangeCoder(strings_model.cdf, strings_model.cdf_offset,
                                  jit_compile=jit_compile)
    y = latents(rng, 200, scales)
    want = strings_model.compress(tf.cast(y, tf.float32)).numpy()
    self.assertAllEqual(coder.encode(y), want)
    values, ok = coder.decode(want, channels)
    self.assertAllEqual(values, y)
    self.assertAllEqual(ok, np.ones(200, bool))
    # One stream of all the rows, as compress_stream codes them.
    stream = stream_model.compress(tf.cast(y, tf.float32)).numpy()
    self.assertEqual(coder.encode(y.reshape(1, -1))[0].numpy(), stream)
    values, ok = coder.decode([stream], y.size)
    self.assertAllEqual(values, y.reshape(1, -1))
    self.assertAllEqual(ok, [True])

  @pytest.mark.slow  # Compiles the coder for many shapes.
  def test_runs_of_a_delayed_carry(self):
    # A flat table of 256 symbols at precision 16: each symbol is 8 bits,
    # and now and then the interval straddles 2^32 across two
    # renormalizations, so the carry is written late, followed by a run of
    # 0x00 or 0xFF bytes. Those lanes code as TFC's both alone and 16 at a
    # time (bytes laid out in XLA) and with all the others (packed outside).
    cdf = np.append(np.arange(0, 65536, 256), [65535, 65536])
    flat = np.concatenate([[-16], cdf]).astype(np.int32)
    coder = rangecoder.RangeCoder(flat, np.zeros([1], np.int32))
    values = np.random.default_rng(1).integers(
        0, 256, (2000, 1000)).astype(np.int32)
    handle = gen_ops.create_range_encoder([2000], flat[None])
    handle = gen_ops.entropy_encode_channel(handle, values)
    want = gen_ops.entropy_encode_finalize(handle).numpy()
    tables = coder.cdf, coder.escape, coder.offset
    pieces, counts, _ = tf.function(functools.partial(
        range_encoder._encode_values,  # pylint: disable=protected-access
        precision=coder.precision), jit_compile=True)(values, 1000, *tables)
    runs = counts.numpy()[:, 2:-2:5]
    of_ff = runs * (pieces.numpy()[:, 2:-2:5] == 0xFF)
    lanes = np.flatnonzero(runs.max(1))
    self.assertGreater(of_ff.max(), 0)  # Runs of either byte occur.
    self.assertGreater((runs - of_ff).max(), 0)
    # The 16-bit-word form flags exactly those lanes, to code them again.
    flagged = coder._encode_many(  # pylint: disable=protected-access
        values, 1000, *tables)[2]
    self.assertAllEqual(np.flatnonzero(flagged), lanes)
    self.assertAllEqual(coder.encode(values), want)
    self.assertAllEqual(coder.encode(values[lanes[:16]]), want[lanes[:16]])
    for lane in lanes:
      self.assertEqual(coder.encode(values[lane:lane + 1])[0], want[lane])
    decoded, ok = coder.decode(want[lanes], 1000)
    self.assertAllEqual(decoded, values[lanes])
    self.assertTrue(np.all(ok))

  def test_any_bytes_decode_as_tfc_decodes_them(self):
    rng = np.random.default_rng(2)
    scales = rng.uniform(0.05, 8., 7)
    strings_model, _ = tfc_coders(scales)
    coder = rangecoder.RangeCoder(strings_model.cdf, strings_model.cdf_offset)
    noise = [rng.integers(0, 256, rng.integers(0, 40)).astype(np.uint8)
             .tobytes() for _ in range(500)]
    values, ok = coder.decode(noise, 7)
    symbols, sane = tfc_decode(noise, strings_model.cdf, 7)
    self.assertAllEqual(values, symbols + strings_model.cdf_offset.numpy())
    self.assertAllEqual(ok, sane)
    self.assertTrue(0 < np.mean(sane) < 1)  # Both kinds occur.

  def test_endless_overflow_code_terminates(self):
    # The first symbol decodes to the overflow symbol with the decoder's
    # value exactly at its interval's base, so every bit after it (the
    # zeros past the end) reads 0: an Elias gamma prefix without end, on
    # which TFC's decoder would not return. This one stops and fails.
    strings_model, _ = tfc_coders([1.])
    coder = rangecoder.RangeCoder(strings_model.cdf, strings_model.cdf_offset)
    escape_low = int(coder.cdf[0, int(coder.escape[0])])
    value = escape_low << (32 - coder.precision)
    values, ok = coder.decode([value.to_bytes(4, "big")], 3)
    self.assertAllEqual(ok, [False])
    self.assertEqual(values.shape, (1, 3))

  @pytest.mark.slow  # Compiles the coder for many shapes.
  def test_batch_shapes(self):
    strings_model, _ = tfc_coders([0.5, 2.])
    coder = rangecoder.RangeCoder(strings_model.cdf, strings_model.cdf_offset)
    for lanes in (1, 2, 17, 300, 2100):  # 2100: two calls of 1536 lanes.
      y = np.arange(lanes * 2, dtype=np.int32).reshape(lanes, 2) % 5 - 2
      strings = coder.encode(y)
      self.assertEqual(strings.shape, (lanes,))
      self.assertAllEqual(
          strings, strings_model.compress(tf.cast(y, tf.float32)))
      values, ok = coder.decode(strings, 2)
      self.assertAllEqual(values, y)
      self.assertTrue(np.all(ok))

  def test_tables(self):
    strings_model, _ = tfc_coders([0.5, 4.])
    tables = rangecoder.tables_from_tfc(strings_model.cdf,
                                        strings_model.cdf_offset)
    self.assertEqual(tables["precision"], 12)  # TFC's default.
    cdf = tables["cdf"]
    self.assertEqual(cdf.shape[0], 2)
    self.assertAllEqual(cdf[:, 0], [0, 0])
    self.assertAllEqual(cdf[:, -1], [4096, 4096])
    # Each row: escape + 2 entries (0 and 2^precision) before the padding.
    for row, escape in zip(cdf, tables["escape"]):
      self.assertEqual(row[escape + 1], 4096)
      self.assertLess(row[escape], 4096)
    self.assertAllEqual(tables["offset"], strings_model.cdf_offset)

  @parameterized.named_parameters(
      ("positive_precision", [12, 0, 4096], [0], "negative precision"),
      ("unterminated", [-12, 0, 5, 9], [0], "does not end"),
      ("not_increasing", [-12, 0, 9, 5, 4096], [0], "strictly increasing"),
      ("offsets", [-12, 0, 5, 4096], [0, 1], "2 offsets"),
      ("precisions", [-12, 0, 5, 4096, -11, 0, 5, 2048], [0, 0],
       "several precisions"))
  def test_malformed_tables(self, cdf, offset, message):
    with self.assertRaisesRegex(ValueError, message):
      rangecoder.tables_from_tfc(np.array(cdf), np.array(offset))


if __name__ == "__main__":
  tf.test.main()
