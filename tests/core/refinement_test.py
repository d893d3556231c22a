"""Tests of encoder-side latent refinement."""

import functools

import numpy as np
import tensorflow as tf

from tfmnistcodec.core import entropy
from tfmnistcodec.core import loss as loss_lib
from tfmnistcodec.core import model
from tfmnistcodec.core import refinement
from tfmnistcodec import training

import testing_utils


class _TrainedCodecTestCase(tf.test.TestCase):
  """A briefly trained `improved` codec and 64 synthetic digits."""

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    # A briefly trained codec, so that the latents carry information and the
    # search has something to trade.
    cls.images = testing_utils.synthetic_digits(64, seed=1)
    cls.codec = model.Codec(8, seed=0, architecture="improved")
    optimizer = training.make_optimizer(1e-2)
    for step in range(30):
      training.train_step(
          cls.codec, optimizer, cls.images, tf.constant(500.),
          loss_lib.uniform_noise([64, 8], [step, 1]))
    cls.x = loss_lib.images_to_float(cls.images)
    cls.y = cls.codec.analysis_transform(cls.x)

  def quantized_loss(self, y_hat, lmbda=500.):
    return refinement.quantized_loss(
        self.codec.synthesis_transform, self.codec.prior, self.x, y_hat,
        lmbda).numpy()


class RefinementTest(_TrainedCodecTestCase):

  def refine(self, steps, x=None, y=None, lmbda=500., **kwargs):
    x = self.x if x is None else x
    y = self.y if y is None else y
    return refinement.refine_latents(
        self.codec.synthesis_transform, self.codec.prior, x, y, lmbda, steps,
        **kwargs)

  def test_zero_steps_rounds(self):
    self.assertAllEqual(self.refine(0), tf.round(self.y))

  def test_integer_latents_never_worse_than_rounding(self):
    refined = self.refine(20)
    self.assertEqual(refined.shape, self.y.shape)
    self.assertAllEqual(refined, tf.round(refined))
    before = self.quantized_loss(tf.round(self.y))
    after = self.quantized_loss(refined)
    self.assertAllLessEqual(after - before, 0.)
    # And it finds something: some digits are coded strictly cheaper.
    self.assertGreater(np.sum(after < before), 0)
    self.assertLess(after.mean(), before.mean())

  def test_deterministic(self):
    self.assertAllEqual(self.refine(5), self.refine(5))

  def test_in_a_tf_function(self):
    refine = tf.function(lambda x, y: self.refine(5, x, y))
    self.assertAllEqual(refine(self.x, self.y), self.refine(5))

  def test_quantized_loss_is_bits_plus_lmbda_mae_of_uint8_outputs(self):
    y_hat = tf.round(self.y)
    decoded = loss_lib.float_to_images(self.codec.synthesis_transform(y_hat))
    mae = np.mean(np.abs(self.images.astype(np.float64) -
                         decoded.numpy().astype(np.float64)) / 255.,
                  axis=(1, 2, 3))
    bits = -np.sum(self.codec.prior.distribution().log_prob(y_hat).numpy(),
                   axis=-1) / np.log(2.)
    self.assertAllClose(self.quantized_loss(y_hat, lmbda=100.),
                        bits + 100. * mae, rtol=1e-5)

  def test_noise_of_a_digit_does_not_depend_on_the_batch_size(self):
    seed = tf.constant([3, 4], tf.int64)
    y = tf.random.stateless_normal([9, 8], seed=[1, 2])
    whole = refinement._uniform_noise(y, seed)  # pylint: disable=protected-access
    part = refinement._uniform_noise(y[:4], seed)  # pylint: disable=protected-access
    self.assertEqual(whole.shape, [9, 8, 2])
    self.assertAllEqual(whole[:4], part)
    # Soft rounding stays between each latent's two nearest integers.
    soft = refinement._soft_round(y, .3, whole)  # pylint: disable=protected-access
    self.assertAllInRange(soft - tf.floor(y), 0., 1.)

  def test_gradient_in_chunks_is_the_gradient_of_one_pass(self):
    # `_by_chunks` on rows of 1, 5 (a short last chunk), 64 and 1000 digits.
    y = self.y

    def gradient_of(x, y):
      with tf.GradientTape() as tape:
        tape.watch(y)
        loss = tf.reduce_sum(entropy.noisy_bits(self.codec.prior, y)) + (
            500. * tf.reduce_sum(
                tf.abs(x - self.codec.synthesis_transform(y))))
      return tape.gradient(loss, y)

    whole = gradient_of(self.x, y)
    self.assertGreater(np.sum(np.abs(whole.numpy())), 0.)
    for chunk_size in (1, 5, 64, 1000, None):
      with self.subTest(chunk_size=chunk_size):
        chunked = refinement._by_chunks(  # pylint: disable=protected-access
            gradient_of, chunk_size, self.x, y)
        self.assertEqual(chunked.shape, whole.shape)
        # Each entry sums terms as large as the largest entries (about 1e5
        # here), which kernels round by batch size: float32's rounding of
        # those, not of the entry itself, bounds the difference.
        self.assertAllClose(chunked, whole, rtol=1e-5,
                            atol=1e-6 * np.abs(whole.numpy()).max())

  def test_chunks_give_the_latents_of_one_pass(self):
    whole = self.refine(10, chunk_size=None)
    rounded = tf.round(self.y).numpy()
    self.assertGreater(np.sum(np.any(whole.numpy() != rounded, axis=1)), 0)
    # Chunks of one digit run traced: eagerly, each of their hundreds of
    # passes is a Python step (26 s of the suite, beside another worker).
    for chunk_size, traced in [(1, True), (5, False), (64, False),
                               (1000, False), (5, True)]:
      with self.subTest(chunk_size=chunk_size, traced=traced):
        refine = functools.partial(self.refine, 10, chunk_size=chunk_size)
        chunked = (tf.function(refine)(self.x, self.y) if traced else
                   refine(self.x, self.y))
        if not testing_utils.onednn_enabled():
          # TensorFlow's own kernels: the same latents, bit for bit.
          self.assertAllEqual(chunked, whole)
          continue
        # oneDNN's kernels round differently for other batch sizes, which
        # can move a searched latent; still integer, never worse than
        # rounding, and the same for most digits.
        same = np.all(chunked.numpy() == whole.numpy(), axis=1)
        self.assertGreaterEqual(np.mean(same), .75)
        self.assertAllEqual(chunked, tf.round(chunked))
        self.assertAllLessEqual(
            self.quantized_loss(chunked) - self.quantized_loss(rounded), 0.)

  def test_a_chunk_of_the_batch_keeps_its_latents(self):
    # Noise follows a digit's position: digits 0..19 searched alone (in
    # chunks of 7) get the noise they get at 0..19 of the batch.
    whole = self.refine(10)
    first = self.refine(10, x=self.x[:20], y=self.y[:20], chunk_size=7)
    same = np.all(first.numpy() == whole[:20].numpy(), axis=1)
    self.assertGreaterEqual(np.mean(same),
                            .75 if testing_utils.onednn_enabled() else 1.)

  def test_rejects_a_bad_chunk_size(self):
    for chunk_size in (0, -3, 2.5):
      with self.subTest(chunk_size=chunk_size):
        with self.assertRaisesRegex(ValueError, "chunk_size must be"):
          self.refine(3, chunk_size=chunk_size)


class FlipSearchTest(_TrainedCodecTestCase):
  """`flip_latents` on the same codec and digits as `refine_latents`."""

  def flip(self, rounds=6, candidates=4, x=None, y=None, lmbda=500.,
           **kwargs):
    x = self.x if x is None else x
    y = self.y if y is None else y
    return refinement.flip_latents(
        self.codec.synthesis_transform, self.codec.prior, x, y, lmbda, rounds,
        candidates, **kwargs)

  def test_zero_rounds_rounds(self):
    self.assertAllEqual(self.flip(rounds=0), tf.round(self.y))

  def test_moves_latents_by_one_each_at_a_lower_loss(self):
    rounded = tf.round(self.y).numpy()
    before = self.quantized_loss(rounded)
    one = self.flip(rounds=1).numpy()
    # One round: at most one latent of a digit moves, by one, to the other
    # integer next to the analysis transform's value, and only where that
    # codes the digit strictly cheaper.
    moved = one != rounded
    self.assertAllLessEqual(np.sum(moved, axis=1), 1)
    self.assertAllEqual(np.abs(one - rounded)[moved], np.ones(np.sum(moved)))
    self.assertAllEqual(
        np.sign(one - rounded)[moved],
        np.where(self.y.numpy() >= rounded, 1., -1.)[moved])
    changed = np.any(moved, axis=1)
    self.assertGreater(np.sum(changed), 0)
    after = self.quantized_loss(one)
    self.assertAllLess(after[changed] - before[changed], 0.)
    self.assertAllEqual(after[~changed], before[~changed])
    # More rounds: at most one more latent per round, never higher.
    six = self.flip(rounds=6).numpy()
    self.assertAllEqual(six, np.round(six))
    self.assertAllLessEqual(np.sum(six != rounded, axis=1), 6)
    self.assertAllLessEqual(self.quantized_loss(six) - after, 0.)

  def test_each_round_keeps_the_best_candidate(self):
    # One round, every latent a candidate: each digit gets the best single
    # flip there is, or rounding where none is cheaper.
    latent_dims = self.y.shape[1]
    rounded = tf.round(self.y).numpy()
    other = np.where(self.y.numpy() >= rounded, rounded + 1., rounded - 1.)
    costs = np.stack([
        self.quantized_loss(np.where(np.arange(latent_dims) == i, other,
                                     rounded).astype(np.float32))
        for i in range(latent_dims)], axis=1)
    best = np.where((costs.min(axis=1) < self.quantized_loss(rounded))[:, None],
                    np.where(np.arange(latent_dims) == costs.argmin(axis=1)[
                        :, None], other, rounded), rounded)
    self.assertAllEqual(self.flip(rounds=1, candidates=latent_dims), best)

  def test_a_digit_keeps_its_latents_in_any_batch(self):
    whole = self.flip(chunk_size=None).numpy()
    traced = tf.function(lambda x, y: self.flip(x=x, y=y, chunk_size=5))
    for name, got in [("first 20 alone", self.flip(x=self.x[:20],
                                                   y=self.y[:20])),
                      ("chunks of 1", self.flip(chunk_size=1)),
                      ("chunks of 5", traced(self.x, self.y)),
                      ("chunks of 7", self.flip(chunk_size=7))]:
      with self.subTest(name):
        got = got.numpy()
        same = np.all(got == whole[:len(got)], axis=1)
        # oneDNN's kernels round differently for other batch sizes, which
        # can tip an exact comparison; TensorFlow's own give the same bits.
        self.assertGreaterEqual(
            np.mean(same), .75 if testing_utils.onednn_enabled() else 1.)

  def test_more_candidates_than_latents_tries_them_all(self):
    # As `improved` exported with fewer latents than its 8 candidates.
    self.assertAllEqual(self.flip(rounds=2, candidates=50),
                        self.flip(rounds=2, candidates=self.y.shape[1]))

  def test_rejects_bad_settings(self):
    for candidates in (0, -1, 2.5):
      with self.subTest(candidates=candidates):
        with self.assertRaisesRegex(ValueError,
                                    "candidates must be a positive int"):
          self.flip(candidates=candidates)
    with self.assertRaisesRegex(ValueError, "chunk_size must be"):
      self.flip(chunk_size=0)


if __name__ == "__main__":
  tf.test.main()
