"""Encoder-side refinement: better latents for each digit, same decoder.

The analysis transform is amortized: one network maps every digit to its
latents, and what it finds is not the best choice for each digit (Yang et al.
2020, "Improving Inference for Neural Image Compression", call the difference
the amortization gap). At compression time the encoder knows the digit, the
decoder and the prior, so it can search: starting from the analysis
transform's latents, `refine_latents` descends the digit's own loss,
rate + lmbda * distortion, with the latents as the only variables, then rounds
them. The decoder is untouched: refined strings have the same format, decode
with the same SavedModel signatures and need nothing new from a reader.

Rounding is not differentiable, so the search follows Yang et al.'s
stochastic Gumbel annealing (SGA): each latent is a soft mix of its two
nearest integers, whose weights sharpen towards hard rounding as a
temperature anneals to ~0 over the steps. The mix is drawn with Gumbel noise
from a stateless RNG, so refining the same batch twice gives the same
strings. The search can end worse than plain rounding for some digits, so each
digit keeps whichever of the two costs less, measured as the coder and the
user will see it: information content of the rounded latents plus
lmbda * mean absolute error of the decoded uint8 pixels. Refinement therefore
never makes a digit's loss worse.
"""

import math

import tensorflow as tf

from tfmnistcodec.core import entropy
from tfmnistcodec.core import loss as loss_lib

__all__ = ["quantized_loss", "refine_latents"]

# Adam's constants (Kingma & Ba), for the per-digit search.
_BETA_1, _BETA_2, _EPSILON = .9, .999, 1e-8
# atanh(±1) is infinite: soft-rounding logits are computed a hair inside.
_ATANH_LIMIT = 1. - 1e-5


def quantized_loss(synthesis_transform, prior, images, latents_hat, lmbda):
  """Each digit's loss as coded: bits + lmbda * MAE of uint8 outputs.

  Args:
    synthesis_transform: The decoder's `tf.Module`.
    prior: The codec's prior module (`entropy.Prior`/`DeepFactorizedPrior`).
    images: float32 `[N, 28, 28, 1]` in [0, 1].
    latents_hat: float32 `[N, latent_dims]` integer-valued latents.
    lmbda: Scalar weight of the distortion.

  Returns:
    float32 `[N]`.
  """
  bits = entropy.noisy_bits(prior, latents_hat)
  decoded = tf.cast(loss_lib.float_to_images(
      synthesis_transform(latents_hat)), tf.float32) / 255.
  return bits + lmbda * tf.reduce_mean(tf.abs(images - decoded), [1, 2, 3])


def _soft_round(latents, temperature, seed):
  """SGA's relaxation: floor + a Gumbel-softmax weight on the ceiling."""
  floor = tf.floor(tf.stop_gradient(latents))
  fraction = latents - floor
  # Logits of rounding down / up: -atanh(distance to that integer) / τ, so
  # the nearer integer is preferred, more sharply as τ shrinks.
  logit_down = -tf.atanh(
      tf.clip_by_value(fraction, -_ATANH_LIMIT, _ATANH_LIMIT)) / temperature
  logit_up = -tf.atanh(
      tf.clip_by_value(1. - fraction, -_ATANH_LIMIT, _ATANH_LIMIT)
  ) / temperature
  # Innermost axis of 2: digit i's noise is the same whatever the batch
  # size (a stateless RNG fills the tensor in row-major order).
  uniform = tf.random.stateless_uniform(
      tf.concat([tf.shape(latents), [2]], 0), seed=seed, minval=1e-9,
      maxval=1.)
  gumbel = -tf.math.log(-tf.math.log(uniform))
  return floor + tf.sigmoid(
      logit_up + gumbel[..., 1] - logit_down - gumbel[..., 0])


def refine_latents(synthesis_transform, prior, images, latents, lmbda,
                   steps, learning_rate=1e-2, initial_temperature=.5,
                   final_temperature=.5 * math.exp(-4.), seed=(7, 0)):
  """Rounded latents that code `images` at a lower loss than `round(latents)`.

  Runs `steps` of Adam on the latents of every digit at once (each digit's
  loss depends on its own latents only, so digits do not interact), with
  SGA's temperature annealed exponentially from `initial_temperature` to
  `final_temperature`; then, per digit, keeps the refined rounding or the
  plain one, whichever has the lower `quantized_loss`. Traceable: call it
  inside a `tf.function` (it builds a `tf.while_loop`).

  Args:
    synthesis_transform: The decoder's `tf.Module`.
    prior: The codec's prior module.
    images: float32 `[N, 28, 28, 1]` in [0, 1].
    latents: float32 `[N, latent_dims]`, the analysis transform's output.
    lmbda: The distortion weight the codec was trained for.
    steps: Number of Adam steps; 0 returns `round(latents)`.
    learning_rate: Adam's learning rate, in latent units.
    initial_temperature: SGA's temperature at the first step.
    final_temperature: ... at the last step.
    seed: `[2]` stateless seed of the Gumbel noise.

  Returns:
    float32 `[N, latent_dims]`, integer-valued.
  """
  rounded = tf.round(latents)
  if steps == 0:
    return rounded
  lmbda = tf.cast(lmbda, tf.float32)
  seed = tf.convert_to_tensor(seed, tf.int64)
  decay = math.log(final_temperature / initial_temperature) / max(
      1, steps - 1)

  def body(step, y, m, v):
    temperature = initial_temperature * tf.exp(
        decay * tf.cast(step, tf.float32))
    with tf.GradientTape() as tape:
      tape.watch(y)
      y_soft = _soft_round(
          y, temperature,
          tf.random.experimental.stateless_fold_in(seed, step))
      x_soft = tf.clip_by_value(synthesis_transform(y_soft), 0., 1.)
      # Summed over digits, so each digit's gradient is its own loss's.
      total = tf.reduce_sum(
          entropy.noisy_bits(prior, y_soft) + lmbda * tf.reduce_mean(
              tf.abs(images - x_soft), [1, 2, 3]))
    gradient = tape.gradient(total, y)
    m = _BETA_1 * m + (1. - _BETA_1) * gradient
    v = _BETA_2 * v + (1. - _BETA_2) * tf.square(gradient)
    t = tf.cast(step + 1, tf.float32)
    m_hat = m / (1. - _BETA_1**t)
    v_hat = v / (1. - _BETA_2**t)
    y = y - learning_rate * m_hat / (tf.sqrt(v_hat) + _EPSILON)
    return step + 1, y, m, v

  zeros = tf.zeros_like(latents)
  _, refined, _, _ = tf.while_loop(
      lambda step, *_: step < steps, body,
      (tf.constant(0), latents, zeros, zeros))
  refined = tf.round(refined)
  better = (quantized_loss(synthesis_transform, prior, images, refined, lmbda)
            < quantized_loss(synthesis_transform, prior, images, rounded,
                             lmbda))
  return tf.where(better[:, None], refined, rounded)
