"""Rate and distortion of a batch of digits: the training objective.

loss = rate (bits per digit) + lmbda * distortion (mean absolute error of
pixels in [0, 1]).
"""

import tensorflow as tf

from tfmnistcodec import contract
from tfmnistcodec.core import entropy

__all__ = [
    "IMAGE_SHAPE", "images_to_float", "float_to_images", "uniform_noise",
    "per_digit_rate_distortion", "rate_distortion", "loss"
]

IMAGE_SHAPE = contract.IMAGE_SHAPE


def images_to_float(images):
  """uint8 images `[N, 28, 28, 1]` -> float32 in [0, 1]."""
  images = tf.convert_to_tensor(images)
  if images.dtype != tf.uint8:
    raise contract.UserTypeError(
        f"images must be uint8, got {images.dtype.name}.")
  if not images.shape[1:].is_compatible_with(IMAGE_SHAPE):
    raise contract.UserValueError(
        f"images must have shape [N, 28, 28, 1], got {images.shape}.")
  return tf.cast(images, tf.float32) / 255.


def float_to_images(x):
  """Floats `[N, 28, 28, 1]` (nominally in [0, 1]) -> uint8, rounded."""
  return tf.saturate_cast(tf.round(x * 255.), tf.uint8)


def uniform_noise(shape, seed):
  """Uniform noise in [-0.5, 0.5) from a stateless `[2]` seed.

  In training, it stands in for quantization (rounding) of the latents.
  """
  return tf.random.stateless_uniform(shape, seed=seed, minval=-.5, maxval=.5)


def per_digit_rate_distortion(codec, images, noise=None):
  """Rate and distortion of each digit of a batch.

  Args:
    codec: A `model.Codec`.
    images: uint8 `[N, 28, 28, 1]`.
    noise: `None` to evaluate: the latents are quantized (rounded) and the
      rate is their information content under the prior, as the range coder
      will spend it, up to its overhead. Else float32 `[N, latent_dims]`
      uniform noise in [-0.5, 0.5) that the caller drew (`uniform_noise`):
      training mode, where the noise stands in for quantization, so rate and
      distortion are differentiable.

  Returns:
    A dict of float32 `[N]`: `rate`, bits per digit, and `distortion`, each
    digit's mean absolute error of pixels in [0, 1].
  """
  x = images_to_float(images)
  y = codec.analysis_transform(x)
  if noise is None:
    y_tilde, bits = entropy.entropy_model(codec.prior)(y, training=False)
  else:
    y_tilde = y + noise
    bits = entropy.noisy_bits(codec.prior, y_tilde)
  x_tilde = codec.synthesis_transform(y_tilde)
  if codec.architecture.clip_distortion:
    x_tilde = tf.clip_by_value(x_tilde, 0., 1.)
  return dict(
      rate=bits, distortion=tf.reduce_mean(tf.abs(x - x_tilde), axis=[1, 2, 3]))


def rate_distortion(codec, images, noise_seed=None):
  """Mean rate and distortion of a batch of digits.

  Args:
    codec: A `model.Codec`.
    images: uint8 `[N, 28, 28, 1]`.
    noise_seed: `None` to evaluate, with quantized latents. Else a `[2]`
      integer seed: training mode, with `uniform_noise` of shape
      `[N, latent_dims]` from this seed in place of quantization (see
      `per_digit_rate_distortion`).

  Returns:
    A dict of float32 scalars: `rate`, the mean bits per digit, and
    `distortion`, the mean absolute error of pixels in [0, 1]. What the
    codec's `architecture` changes in training is described there.
  """
  noise = None
  if noise_seed is not None:
    noise = uniform_noise([tf.shape(images)[0], codec.latent_dims], noise_seed)
  per_digit = per_digit_rate_distortion(codec, images, noise)
  return {key: tf.reduce_mean(value) for key, value in per_digit.items()}


def loss(rate_and_distortion, lmbda):
  """rate + lmbda * distortion, from the dict `rate_distortion` returns."""
  return (rate_and_distortion["rate"] +
          lmbda * rate_and_distortion["distortion"])
