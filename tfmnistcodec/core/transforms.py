"""Analysis and synthesis transforms: `tf.Module`s with explicit variables.

Layer for layer, these are the transforms of the TensorFlow Compression tutorial
"Learned data compression" on MNIST, written without Keras: each layer owns a
`kernel` and a `bias` variable, created once in `__init__` with the same
initialization as the Keras defaults (Glorot-uniform kernels, zero biases), and
the math is plain `tf.nn` (the transposed convolutions in an equivalent, faster
form: up to the order of float sums, each layer computes what its Keras layer
computes).

Shapes: images are `[batch, 28, 28, 1]` float32 in [0, 1]; latents are
`[batch, latent_dims]` float32.
"""

import math

import tensorflow as tf

from tfmnistcodec import contract

__all__ = [
    "LEAKY_RELU_ALPHA",
    "Dense",
    "Conv2D",
    "Conv2DTranspose",
    "subpixel_kernel",
    "AnalysisTransform",
    "SynthesisTransform",
    "glorot_uniform",
]

# Keras' "leaky_relu" activation string resolves to `tf.nn.leaky_relu` with its
# default slope; spelled out so that a change of defaults cannot move us.
LEAKY_RELU_ALPHA = 0.2


def leaky_relu(x):
  return tf.nn.leaky_relu(x, alpha=LEAKY_RELU_ALPHA)


def glorot_uniform(shape, fan_in, fan_out, seed):
  """Glorot-uniform values, drawn from a stateless RNG so `seed` fixes them.

  Args:
    shape: Shape of the result.
    fan_in: Number of inputs that each output unit sees.
    fan_out: Number of outputs that each input unit feeds.
    seed: Shape `[2]` integer seed of `tf.random.stateless_uniform`.

  Returns:
    A float32 tensor of `shape`, uniform in [-limit, limit] with
    limit = sqrt(6 / (fan_in + fan_out)).
  """
  limit = math.sqrt(6. / (fan_in + fan_out))
  return tf.random.stateless_uniform(
      shape, seed=seed, minval=-limit, maxval=limit, dtype=tf.float32)


def _split_seed(seed, num):
  """Derives `num` independent stateless seeds from an int or a `[2]` seed."""
  if isinstance(seed, int):
    seed = [0, seed]
  return tf.unstack(tf.random.experimental.stateless_split(seed, num=num))


class Dense(tf.Module):
  """Fully connected layer: `activation(x @ kernel + bias)`."""

  def __init__(self, in_features, out_features, activation=None, seed=0,
               name=None):
    super().__init__(name=name)
    if in_features < 1 or out_features < 1:
      raise contract.UserValueError(
          "`in_features` and `out_features` must be positive.")
    self._activation = activation
    with self.name_scope:
      self.kernel = tf.Variable(
          glorot_uniform([in_features, out_features], in_features,
                         out_features, _split_seed(seed, 1)[0]),
          name="kernel")
      self.bias = tf.Variable(tf.zeros([out_features]), name="bias")

  @tf.Module.with_name_scope
  def __call__(self, x):
    y = tf.nn.bias_add(tf.linalg.matmul(x, self.kernel), self.bias)
    return y if self._activation is None else self._activation(y)


class Conv2D(tf.Module):
  """2D convolution with "same" padding; kernel `[k, k, in, out]`."""

  def __init__(self, in_channels, out_channels, kernel_size, stride,
               activation=None, seed=0, name=None):
    super().__init__(name=name)
    self._stride = stride
    self._activation = activation
    receptive_field = kernel_size * kernel_size
    with self.name_scope:
      self.kernel = tf.Variable(
          glorot_uniform(
              [kernel_size, kernel_size, in_channels, out_channels],
              in_channels * receptive_field, out_channels * receptive_field,
              _split_seed(seed, 1)[0]),
          name="kernel")
      self.bias = tf.Variable(tf.zeros([out_channels]), name="bias")

  @tf.Module.with_name_scope
  def __call__(self, x):
    y = tf.nn.conv2d(x, self.kernel, strides=self._stride, padding="SAME")
    y = tf.nn.bias_add(y, self.bias)
    return y if self._activation is None else self._activation(y)


def _subpixel_taps(kernel_size, stride):
  """Which kernel tap feeds each output phase from each input offset.

  A "same" transposed convolution is the gradient of a "same" convolution
  of stride `stride`, whose input is padded by `p = (k - s) // 2` before:
  output pixel `s * u + a` (phase `a`) sums input pixels `u + d` times tap
  `t = a + p - s * d`, for the `t` in `[0, k)`.

  Returns:
    `(index, (before, after))`: int array `[stride, window]`, the tap of
    phase `a` at offset `d = index_column - before` (`kernel_size` where no
    tap applies), and the input's padding that makes every offset valid.
  """
  before = max(kernel_size - stride, 0) // 2
  taps = {(a, (a + before - t) // stride): t
          for a in range(stride) for t in range(kernel_size)
          if (a + before - t) % stride == 0}
  low = min(d for _, d in taps)
  high = max(d for _, d in taps)
  index = [[kernel_size] * (high - low + 1) for _ in range(stride)]
  for (a, d), t in taps.items():
    index[a][d - low] = t
  return index, (-low, high)


def subpixel_kernel(kernel, stride):
  """A transposed convolution's kernel as one stride-1 convolution's.

  Args:
    kernel: `[k, k, out, in]`, a `Conv2DTranspose` kernel.
    stride: Its stride.

  Returns:
    `(kernel, (before, after))`: `[w, w, in, stride**2 * out]`, whose output
    channel `(a * stride + b) * out + o` is output phase `(a, b)`'s channel
    `o` (the order of `tf.nn.depth_to_space`), and the padding of each
    spatial side of the input before a "valid" convolution with it.
  """
  kernel_size, _, out_channels, in_channels = kernel.shape
  index, padding = _subpixel_taps(kernel_size, stride)
  window = len(index[0])
  flat = [t for row in index for t in row]
  # One zero tap past the end stands for "no tap".
  padded = tf.pad(kernel, [[0, 1], [0, 1], [0, 0], [0, 0]])
  gathered = tf.gather(tf.gather(padded, flat, axis=0), flat, axis=1)
  gathered = tf.reshape(
      gathered, [stride, window, stride, window, out_channels, in_channels])
  gathered = tf.transpose(gathered, [1, 3, 5, 0, 2, 4])
  return tf.reshape(gathered, [window, window, in_channels,
                               stride * stride * out_channels]), padding


def _subpixel_conv2d_transpose(x, kernel, stride):
  """`tf.nn.conv2d_transpose(padding="SAME")` in its sub-pixel form.

  Only the forward pass differs: the gradients are the ones TensorFlow
  registers for `conv2d_transpose` (a strided convolution for the input, a
  filter gradient for the kernel), which are faster on a CPU than the
  gradients of the sub-pixel form's ops.
  """

  @tf.custom_gradient
  def forward(x, kernel):
    gathered, (before, after) = subpixel_kernel(kernel, stride)
    padded = tf.pad(x, [[0, 0], [before, after], [before, after], [0, 0]])
    y = tf.nn.conv2d(padded, gathered, strides=1, padding="VALID")
    if stride > 1:
      y = tf.nn.depth_to_space(y, stride)

    def gradient(dy):
      strides = [1, stride, stride, 1]
      dx = tf.nn.conv2d(dy, kernel, strides=strides, padding="SAME")
      dkernel = tf.raw_ops.Conv2DBackpropFilter(
          input=dy, filter_sizes=tf.shape(kernel), out_backprop=x,
          strides=strides, padding="SAME")
      return dx, dkernel

    return y, gradient

  return forward(x, kernel)


class Conv2DTranspose(tf.Module):
  """Transposed 2D convolution with "same" padding; kernel `[k, k, out, in]`.

  The output is `stride` times larger in each spatial dimension, as with Keras'
  `Conv2DTranspose(padding="same")`.

  `subpixel=True` computes the same function as `stride**2` convolutions of
  the input at stride 1, one per output phase, in one `tf.nn.conv2d` whose
  kernel is gathered from `kernel` (`subpixel_kernel`), followed by
  `tf.nn.depth_to_space`: the same variables and the same outputs up to the
  order of float sums, and the gradients of `tf.nn.conv2d_transpose`
  (`_subpixel_conv2d_transpose`). On a CPU it is the faster form (BUILD.md,
  "Training speed").
  """

  def __init__(self, in_channels, out_channels, kernel_size, stride,
               activation=None, seed=0, subpixel=False, name=None):
    super().__init__(name=name)
    self._stride = stride
    self._subpixel = subpixel
    self._out_channels = out_channels
    self._activation = activation
    receptive_field = kernel_size * kernel_size
    with self.name_scope:
      # Keras computes the fans of this kernel shape the same way as for a
      # convolution (from the last two axes); Glorot's limit is symmetric in
      # them, so the initialization matches.
      self.kernel = tf.Variable(
          glorot_uniform(
              [kernel_size, kernel_size, out_channels, in_channels],
              out_channels * receptive_field, in_channels * receptive_field,
              _split_seed(seed, 1)[0]),
          name="kernel")
      self.bias = tf.Variable(tf.zeros([out_channels]), name="bias")

  @tf.Module.with_name_scope
  def __call__(self, x):
    if self._subpixel:
      y = _subpixel_conv2d_transpose(x, self.kernel, self._stride)
    else:
      shape = tf.shape(x)
      output_shape = tf.stack([
          shape[0], shape[1] * self._stride, shape[2] * self._stride,
          self._out_channels
      ])
      y = tf.nn.conv2d_transpose(
          x, self.kernel, output_shape, strides=self._stride, padding="SAME")
    y = tf.nn.bias_add(y, self.bias)
    return y if self._activation is None else self._activation(y)


class AnalysisTransform(tf.Module):
  """Images `[N, 28, 28, 1]` in [0, 1] -> latents `[N, latent_dims]`.

  conv 20@5x5/2, conv 50@5x5/2, dense 500 (`hidden_layers` of them), dense
  `latent_dims`; leaky ReLU on all but the last layer. The tutorial's has one
  hidden layer; `improved`'s more (`model.Architecture.analysis_hidden_layers`).
  """

  def __init__(self, latent_dims, seed=0, hidden_layers=1,
               name="analysis_transform"):
    super().__init__(name=name)
    if latent_dims < 1:
      raise contract.UserValueError("`latent_dims` must be at least 1.")
    if not isinstance(hidden_layers, int) or hidden_layers < 1:
      raise contract.UserValueError(
          f"`hidden_layers` must be an int of at least 1, not "
          f"{hidden_layers!r}.")
    self._latent_dims = latent_dims
    seeds = _split_seed(seed, 4)
    with self.name_scope:
      self.conv_1 = Conv2D(1, 20, 5, 2, leaky_relu, seeds[0], name="conv_1")
      self.conv_2 = Conv2D(20, 50, 5, 2, leaky_relu, seeds[1], name="conv_2")
      self.fc_1 = Dense(7 * 7 * 50, 500, leaky_relu, seeds[2], name="fc_1")
      # The layers after the tutorial's hidden one (none in the tutorial's:
      # its variables and their initial values are as they were).
      self.extra_fc = [
          Dense(500, 500, leaky_relu, extra_seed, name=f"extra_fc_{i}")
          for i, extra_seed in enumerate(
              _split_seed(seeds[2], hidden_layers)[1:], start=1)]
      self.fc_2 = Dense(500, latent_dims, None, seeds[3], name="fc_2")

  @property
  def latent_dims(self):
    return self._latent_dims

  @tf.Module.with_name_scope
  def __call__(self, x):
    x = self.conv_2(self.conv_1(x))
    x = self.fc_1(tf.reshape(x, [-1, 7 * 7 * 50]))
    for layer in self.extra_fc:
      x = layer(x)
    return self.fc_2(x)


class SynthesisTransform(tf.Module):
  """Latents `[N, latent_dims]` -> images `[N, 28, 28, 1]` (unclipped floats).

  dense 500, dense 2450, reshape 7x7x50, transposed conv 20@5x5/2, transposed
  conv 1@5x5/2; leaky ReLU on every layer, the last one included, as in the
  tutorial. The transposed convolutions compute in their sub-pixel form
  (`Conv2DTranspose`): the same functions of the same variables.
  """

  def __init__(self, latent_dims, seed=0, name="synthesis_transform"):
    super().__init__(name=name)
    if latent_dims < 1:
      raise contract.UserValueError("`latent_dims` must be at least 1.")
    self._latent_dims = latent_dims
    seeds = _split_seed(seed, 4)
    with self.name_scope:
      self.fc_1 = Dense(latent_dims, 500, leaky_relu, seeds[0], name="fc_1")
      self.fc_2 = Dense(500, 7 * 7 * 50, leaky_relu, seeds[1], name="fc_2")
      # Both in the sub-pixel form (`Conv2DTranspose`): on a CPU, decoding
      # takes 30% less time, and a training step about 12% less.
      self.conv_1 = Conv2DTranspose(
          50, 20, 5, 2, leaky_relu, seeds[2], subpixel=True, name="conv_1")
      self.conv_2 = Conv2DTranspose(
          20, 1, 5, 2, leaky_relu, seeds[3], subpixel=True, name="conv_2")

  @property
  def latent_dims(self):
    return self._latent_dims

  @tf.Module.with_name_scope
  def __call__(self, y):
    x = self.fc_2(self.fc_1(y))
    x = tf.reshape(x, [-1, 7, 7, 50])
    return self.conv_2(self.conv_1(x))
