"""Export: a SavedModel with `compress` and `decompress` signatures.

The exported module holds only what coding needs: the two transforms and an
entropy model whose range-coding tables (CDFs) were computed once, eagerly, from
the trained prior, and are stored as variables in the SavedModel. It codes
with `rangecoder`, tensorflow-compression's range coder rewritten in stock
TensorFlow ops (the same bytes), so a consumer needs only `tensorflow`, of any
version that loads the SavedModel, neither tensorflow_compression nor this
package:

    import tensorflow as tf
    codec = tf.saved_model.load("model_dir/saved_model")
    out = codec.signatures["compress"](images=images)   # uint8 [N, 28, 28, 1]
    strings, bits = out["strings"], out["bits"]          # string [N], float [N]
    images = codec.signatures["decompress"](strings=strings)["images"]
    fingerprint = codec.signatures["fingerprint"]()["fingerprint"]  # hex

If the codec's architecture refines latents (`refinement`), `compress` and
`compress_stream` search each digit's latents for a lower rate + lmbda *
distortion before coding them: `improved` with a greedy search of
`Architecture.flip_rounds` rounds, each moving at most one latent by one
(`refinement.flip_latents`), an architecture with `refine_steps` with that
many steps of SGA (`refinement.refine_latents`), both through the decoder
`refinement.CHUNK_DIGITS` digits at a time (so memory does not grow with the
batch); `compress_fast(images)` skips the search (same outputs as
`compress`, from the analysis transform's latents alone: fewer milliseconds,
more bits or error). Strings decode the same way
whichever made them.

`compress_refined` is `compress` under a name that always means the search
(the same function); for an architecture without one, it codes the rounded
latents, as `compress_fast` does.

More signatures code the same digits in other ways:
`compress_stream(images)` -> `string` (one range-coded stream for the whole
batch, which pays the coder's per-string overhead of a few bits once), with
`compress_stream_fast` and `compress_stream_refined` as above, and
`decompress_stream(string, count)`; and `decompress_unchecked(strings)` decodes
without the sanity check, so that any bytes decode to a digit: the decoder as
a generative model (bin/sample.py).

Every signature takes an empty batch (N = 0: a `tf.data` pipeline's filtered
last batch) and returns empty outputs of its dtype and shape, without calling
the range coder, which fails or crashes on one: `compress_stream` of no
digits is the empty string, which `decompress_stream(string, 0)` decodes.

The fingerprint identifies what decoding depends on (the range-coding tables
and the synthesis transform's weights); files made with `container` carry it,
so a file is never decoded by a model that did not make it.
"""

import hashlib
import os
import pathlib
import shutil
import tempfile

import tensorflow as tf

from tfmnistcodec import contract
from tfmnistcodec.core import entropy
from tfmnistcodec.core import loss as loss_lib
from tfmnistcodec.core import rangecoder
from tfmnistcodec.core import refinement

__all__ = ["FINGERPRINT_BYTES", "SIGNATURES", "CodecModule",
           "export_saved_model", "fingerprint"]

FINGERPRINT_BYTES = contract.FINGERPRINT_BYTES
SIGNATURES = contract.SIGNATURES


def fingerprint(entropy_model, synthesis_transform):
  """Fingerprint of a decoder: a truncated SHA-256, as `FINGERPRINT_BYTES`.

  It hashes every variable that decoding reads, the range-coding tables and
  the synthesis weights, each with its dtype and shape, in `tf.Module`'s
  order (by attribute path, independent of name scopes), plus the coder's
  settings. Equal fingerprints mean identical decoders, up to hash
  collisions; a model retrained, even from the same seed on other hardware,
  gets another one.

  Args:
    entropy_model: A `ContinuousBatchedEntropyModel` with `compression=True`.
    synthesis_transform: The synthesis `tf.Module`.

  Returns:
    `bytes` of length `FINGERPRINT_BYTES`.
  """
  digest = hashlib.sha256(b"tfmnistcodec decoder v1\0")
  digest.update(
      f"coding_rank={entropy_model.coding_rank};"
      f"precision={int(entropy_model.range_coder_precision)};"
      f"dtype={entropy_model.bottleneck_dtype.name}\0".encode())
  for variable in (*entropy_model.variables, *synthesis_transform.variables):
    value = variable.numpy()
    digest.update(f"{value.dtype.str};{value.shape}\0".encode())
    digest.update(value.tobytes())
  return digest.digest()[:FINGERPRINT_BYTES]


class CodecModule(tf.Module):
  """The exported codec: transforms plus a range coder with fixed tables.

  Args:
    codec: A trained `model.Codec`.
    lmbda: The distortion weight it was trained for; needed (and only used)
      if its architecture refines latents when compressing.
    name: Module name.
  """

  def __init__(self, codec, lmbda=None, name="tfmnistcodec"):
    super().__init__(name=name)
    if not tf.executing_eagerly():
      raise RuntimeError("Build CodecModule eagerly: its range-coding tables "
                         "are computed once, here, not in a graph.")
    self.refine_steps = codec.architecture.refine_steps
    self.flip_rounds = codec.architecture.flip_rounds
    self.flip_candidates = codec.architecture.flip_candidates
    if (self.refine_steps or self.flip_rounds) and lmbda is None:
      raise contract.UserValueError(
          f"architecture {codec.architecture.name!r} refines latents when "
          "compressing, which needs the lmbda the codec was trained for.")
    self.lmbda = None if lmbda is None else float(lmbda)
    # The search's digits per pass through the decoder: its memory (and, with
    # oneDNN's kernels, a few digits' latents: `refinement.refine_latents`).
    self.refine_chunk_digits = refinement.CHUNK_DIGITS
    self.analysis_transform = codec.analysis_transform
    self.synthesis_transform = codec.synthesis_transform
    self.prior = codec.prior
    self.entropy_model = entropy.entropy_model(codec.prior, compression=True)
    # TFC's tables, coded with stock TensorFlow ops, byte for byte as TFC's.
    self.range_coder = rangecoder.RangeCoder(self.entropy_model.cdf,
                                             self.entropy_model.cdf_offset)
    self.latent_dims = tf.constant(codec.latent_dims, tf.int32)
    # Computed once, here; held as a constant of the `fingerprint` function.
    self.fingerprint_hex = fingerprint(self.entropy_model,
                                       self.synthesis_transform).hex()

  # The signatures trace without autograph: they hold no Python control flow
  # on tensors (loops are `tf.while_loop`s), and converting them and all
  # they call took 2.4 s of each export.
  @tf.function(input_signature=[
      tf.TensorSpec([None, *loss_lib.IMAGE_SHAPE], tf.uint8, name="images")
  ], autograph=False)
  def compress(self, images):
    """uint8 images `[N, 28, 28, 1]` -> one string per digit, and its bits.

    Returns:
      A dict: `strings`, string `[N]`, the range-coded digits, and `bits`,
      float32 `[N]`, each digit's information content under the prior (the
      ideal length of its string, which the coder exceeds by a few bits).
    """
    return _unless_empty(tf.shape(images)[0],
                         lambda: self._compress(images, refine=True),
                         _no_strings)

  @tf.function(input_signature=[
      tf.TensorSpec([None, *loss_lib.IMAGE_SHAPE], tf.uint8, name="images")
  ], autograph=False)
  def compress_fast(self, images):
    """Like `compress`, with no latent refinement: the fast path.

    The analysis transform's latents, rounded. For an architecture that does
    not refine, the same as `compress`.
    """
    return _unless_empty(tf.shape(images)[0],
                         lambda: self._compress(images, refine=False),
                         _no_strings)

  def _compress(self, images, refine):
    """`compress` or `compress_fast` of a batch of at least one digit."""
    y = self._latents(images, refine=refine)
    _, bits = self.entropy_model(y, training=False)
    return dict(strings=self.range_coder.encode(_symbols(y)), bits=bits)

  def _latents(self, images, refine):
    """Integer-valued latents `[N, latent_dims]` to code for `images`."""
    x = loss_lib.images_to_float(images)
    y = self.analysis_transform(x)
    if refine and self.flip_rounds:
      return refinement.flip_latents(
          self.synthesis_transform, self.prior, x, y, self.lmbda,
          self.flip_rounds, self.flip_candidates,
          chunk_size=self.refine_chunk_digits)
    if refine and self.refine_steps:
      return refinement.refine_latents(
          self.synthesis_transform, self.prior, x, y, self.lmbda,
          self.refine_steps, chunk_size=self.refine_chunk_digits)
    return tf.round(y)

  @tf.function(input_signature=[
      tf.TensorSpec([None], tf.string, name="strings")
  ], autograph=False)
  def decompress(self, strings):
    """Strings `[N]` from `compress` -> uint8 images `[N, 28, 28, 1]`.

    Fails with "Sanity check failed" if a string does not decode completely,
    as corrupt strings usually do not.
    """
    def decode():
      return dict(images=self._images(self._decode(strings, check=True)))

    return _unless_empty(tf.shape(strings)[0], decode, _no_images)

  @tf.function(input_signature=[
      tf.TensorSpec([None], tf.string, name="strings")
  ], autograph=False)
  def decompress_unchecked(self, strings):
    """Like `decompress`, but any bytes decode: no sanity check.

    Random strings decode to random points of the latent space, so this
    samples the decoder as a generative model. Never use it on files: a
    corrupt string decodes to a wrong digit without an error.
    """
    def decode():
      return dict(images=self._images(self._decode(strings, check=False)))

    return _unless_empty(tf.shape(strings)[0], decode, _no_images)

  @tf.function(input_signature=[
      tf.TensorSpec([None, *loss_lib.IMAGE_SHAPE], tf.uint8, name="images")
  ], autograph=False)
  def compress_stream(self, images):
    """uint8 images `[N, 28, 28, 1]` -> one range-coded string for all.

    Latents chosen as by `compress` and its tables, coded as one stream
    (coding rank 2): its length is within a few bytes of the summed
    information content, where `compress` pays a few bits per digit.

    Returns:
      A dict: `string`, a scalar string, and `bits`, float32 `[N]`, each
      digit's information content.
    """
    return self._compress_stream(images, refine=True)

  @tf.function(input_signature=[
      tf.TensorSpec([None, *loss_lib.IMAGE_SHAPE], tf.uint8, name="images")
  ], autograph=False)
  def compress_stream_fast(self, images):
    """Like `compress_stream`, with no latent refinement: the fast path.

    The latents `compress_fast` codes, in one stream. For an architecture
    that does not refine, the same as `compress_stream`.
    """
    return self._compress_stream(images, refine=False)

  def _compress_stream(self, images, refine):
    """`compress_stream` or `compress_stream_fast` of `images`."""
    def code():
      y = self._latents(images, refine=refine)
      _, bits = self.entropy_model(y, training=False)
      string = self.range_coder.encode(tf.reshape(_symbols(y), [1, -1]))[0]
      return dict(string=string, bits=bits)

    def no_digits():
      return dict(string=tf.constant(b""), bits=tf.zeros([0], tf.float32))

    return _unless_empty(tf.shape(images)[0], code, no_digits)

  @tf.function(input_signature=[
      tf.TensorSpec([], tf.string, name="string"),
      tf.TensorSpec([], tf.int32, name="count"),
  ], autograph=False)
  def decompress_stream(self, string, count):
    """A string from `compress_stream` and its digit count -> `[count, ...]`.

    Fails with "Sanity check failed" if the string does not decode completely
    into `count` digits; for `count` 0, unless the string is empty.
    """
    def decode():
      with tf.control_dependencies([
          tf.debugging.assert_non_negative(
              count, message="decompress_stream: count is negative"),
          tf.debugging.assert_less_equal(
              tf.cast(count, tf.int64) * tf.cast(self.latent_dims, tf.int64),
              tf.constant(2**31 - 1, tf.int64),
              message="decompress_stream: count is too large")]):
        symbols = tf.cast(count, tf.int32) * self.latent_dims
      y_hat = self._decode(string[None], check=True, symbols=symbols)
      return dict(images=self._images(
          tf.reshape(y_hat, [count, self.latent_dims])))

    def no_digits():
      with tf.control_dependencies([tf.debugging.assert_equal(
          tf.strings.length(string), 0,
          message="decompress_stream: count is 0, so the string must be "
          "empty")]):
        return _no_images()

    return _unless_empty(count, decode, no_digits)

  def _decode(self, strings, check, symbols=None):
    """Strings `[N]` -> float latents `[N, symbols]` (default: latent_dims).

    With `check`, fails with "Sanity check failed." (TFC's message) unless
    every string decodes completely.
    """
    values, ok = self.range_coder.decode(
        strings, self.latent_dims if symbols is None else symbols)
    if check:
      with tf.control_dependencies([tf.debugging.assert_equal(
          ok, True, message="Sanity check failed.")]):
        values = tf.identity(values)
    return tf.cast(values, tf.float32)

  def _images(self, y_hat):
    """Decoded latents `[N, latent_dims]` -> uint8 images `[N, 28, 28, 1]`."""
    return loss_lib.float_to_images(self.synthesis_transform(y_hat))

  def signatures(self):
    """The SavedModel's signatures, by name.

    `compress_refined` and `compress_stream_refined` are `compress` and
    `compress_stream`, one function under two names: an architecture that
    searches latents does so by default. They name the search for callers
    that want it whatever the default becomes.
    """
    aliases = dict(compress_refined="compress",
                   compress_stream_refined="compress_stream")
    return {name: getattr(self, aliases.get(name, name))
            for name in SIGNATURES}

  @tf.function(input_signature=[], autograph=False)
  def fingerprint(self):
    """The decoder's fingerprint, in hex (`FINGERPRINT_BYTES` bytes)."""
    return dict(fingerprint=tf.constant(self.fingerprint_hex))


def _symbols(y):
  """Integer-valued float latents -> int32, as TFC's coder casts them."""
  return tf.cast(tf.round(y), tf.int32)


def _unless_empty(count, make, empty):
  """`make()` for a batch of `count` digits, `empty()` if `count` is 0.

  The range coder's loops need at least one lane and one symbol (and TFC's
  ops, which coded before, failed on zero strings and crashed on zero
  latent vectors), so an empty batch never reaches them; `tf.cond` runs one
  branch.
  """
  return tf.cond(tf.not_equal(count, 0), make, empty)


def _no_strings():
  return dict(strings=tf.zeros([0], tf.string), bits=tf.zeros([0], tf.float32))


def _no_images():
  return dict(images=tf.zeros([0, *loss_lib.IMAGE_SHAPE], tf.uint8))


def export_saved_model(codec, path, lmbda=None):
  """Writes the SavedModel of `codec` to `path`, replacing what is there.

  The SavedModel is written to a temporary folder beside `path` and renamed
  into place, so `path` never holds a half-written model.

  Args:
    codec: A trained `model.Codec`.
    path: Folder of the SavedModel.
    lmbda: The distortion weight `codec` was trained for (`CodecModule`).

  Returns:
    The `CodecModule` that was saved.
  """
  path = pathlib.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  module = CodecModule(codec, lmbda)
  tmp = pathlib.Path(
      tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
  try:
    tf.saved_model.save(
        module, str(tmp / "model"),
        signatures=module.signatures())
    if path.exists():
      path.rename(tmp / "old")
    os.rename(tmp / "model", path)
  finally:
    shutil.rmtree(tmp, ignore_errors=True)
  return module
