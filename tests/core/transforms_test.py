"""Tests of the transforms: shapes, names, initialization, Keras equivalence."""

import math

from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from tfmnistcodec.core import transforms


class TransformsTest(tf.test.TestCase, parameterized.TestCase):

  def test_analysis_variable_names_and_shapes(self):
    analysis = transforms.AnalysisTransform(latent_dims=50)
    shapes = {v.name: tuple(v.shape) for v in analysis.trainable_variables}
    self.assertEqual(shapes, {
        "analysis_transform/conv_1/kernel:0": (5, 5, 1, 20),
        "analysis_transform/conv_1/bias:0": (20,),
        "analysis_transform/conv_2/kernel:0": (5, 5, 20, 50),
        "analysis_transform/conv_2/bias:0": (50,),
        "analysis_transform/fc_1/kernel:0": (2450, 500),
        "analysis_transform/fc_1/bias:0": (500,),
        "analysis_transform/fc_2/kernel:0": (500, 50),
        "analysis_transform/fc_2/bias:0": (50,),
    })

  def test_analysis_hidden_layers_add_dense_layers_of_500(self):
    one = transforms.AnalysisTransform(latent_dims=50, seed=3)
    three = transforms.AnalysisTransform(latent_dims=50, seed=3,
                                         hidden_layers=3)
    shapes = {v.name: tuple(v.shape) for v in three.trainable_variables}
    self.assertEqual(
        {name: shape for name, shape in shapes.items()
         if "extra_fc" in name},
        {"analysis_transform/extra_fc_1/kernel:0": (500, 500),
         "analysis_transform/extra_fc_1/bias:0": (500,),
         "analysis_transform/extra_fc_2/kernel:0": (500, 500),
         "analysis_transform/extra_fc_2/bias:0": (500,)})
    self.assertLen(shapes, 12)
    # The tutorial's layers start where they did without the extra ones ...
    for layer in ("conv_1", "conv_2", "fc_1", "fc_2"):
      self.assertAllEqual(getattr(one, layer).kernel,
                          getattr(three, layer).kernel)
    # ... and the extra ones each from their own seed.
    self.assertNotAllClose(three.extra_fc[0].kernel, three.extra_fc[1].kernel)
    self.assertEqual(three(tf.zeros([2, 28, 28, 1])).shape, (2, 50))
    x = tf.random.stateless_uniform([2, 28, 28, 1], seed=[0, 2])
    hidden = three.fc_1(tf.reshape(three.conv_2(three.conv_1(x)), [2, -1]))
    for layer in three.extra_fc:
      hidden = tf.nn.leaky_relu(hidden @ layer.kernel + layer.bias,
                                alpha=transforms.LEAKY_RELU_ALPHA)
    self.assertAllClose(three(x), hidden @ three.fc_2.kernel + three.fc_2.bias)

  def test_rejects_bad_hidden_layers(self):
    for bad in (0, -1, 1.5, "2"):
      with self.subTest(bad), self.assertRaisesRegex(
          ValueError, "`hidden_layers` must be an int of at least 1"):
        transforms.AnalysisTransform(latent_dims=5, hidden_layers=bad)

  def test_synthesis_variable_names_and_shapes(self):
    synthesis = transforms.SynthesisTransform(latent_dims=7)
    shapes = {v.name: tuple(v.shape) for v in synthesis.trainable_variables}
    self.assertEqual(shapes, {
        "synthesis_transform/fc_1/kernel:0": (7, 500),
        "synthesis_transform/fc_1/bias:0": (500,),
        "synthesis_transform/fc_2/kernel:0": (500, 2450),
        "synthesis_transform/fc_2/bias:0": (2450,),
        "synthesis_transform/conv_1/kernel:0": (5, 5, 20, 50),
        "synthesis_transform/conv_1/bias:0": (20,),
        "synthesis_transform/conv_2/kernel:0": (5, 5, 1, 20),
        "synthesis_transform/conv_2/bias:0": (1,),
    })

  def test_output_shapes(self):
    analysis = transforms.AnalysisTransform(latent_dims=12)
    synthesis = transforms.SynthesisTransform(latent_dims=12)
    y = analysis(tf.zeros([3, 28, 28, 1]))
    self.assertEqual(y.shape, (3, 12))
    self.assertEqual(synthesis(y).shape, (3, 28, 28, 1))

  def test_initialization_is_glorot_uniform_and_zero_bias(self):
    analysis = transforms.AnalysisTransform(latent_dims=50, seed=3)
    for layer, fan_in, fan_out in ((analysis.conv_2, 25 * 20, 25 * 50),
                                   (analysis.fc_1, 2450, 500)):
      limit = math.sqrt(6 / (fan_in + fan_out))
      kernel = layer.kernel.numpy()
      self.assertLessEqual(np.abs(kernel).max(), limit)
      # A uniform distribution's standard deviation is limit / sqrt(3).
      self.assertAllClose(kernel.std(), limit / math.sqrt(3), rtol=0.05)
      self.assertAllEqual(layer.bias.numpy(), np.zeros(layer.bias.shape))

  def test_seed_fixes_the_initialization(self):
    a = transforms.SynthesisTransform(10, seed=1)
    b = transforms.SynthesisTransform(10, seed=1)
    c = transforms.SynthesisTransform(10, seed=2)
    for va, vb in zip(a.trainable_variables, b.trainable_variables):
      self.assertAllEqual(va, vb)
    self.assertNotAllClose(a.fc_1.kernel, c.fc_1.kernel)
    # Layers of one transform draw from different seeds.
    self.assertNotAllClose(a.conv_1.kernel[..., :20], a.conv_2.kernel[0, 0])

  def test_eager_equals_tf_function(self):
    analysis = transforms.AnalysisTransform(latent_dims=9)
    synthesis = transforms.SynthesisTransform(latent_dims=9)
    x = tf.random.stateless_uniform([4, 28, 28, 1], seed=[0, 1])
    eager = synthesis(analysis(x))
    graph = tf.function(lambda x: synthesis(analysis(x)))(x)
    self.assertAllClose(eager, graph, rtol=1e-5, atol=1e-6)

  @parameterized.named_parameters(
      ("conv", "conv"), ("conv_transpose", "conv_transpose"),
      ("conv_transpose_subpixel", "conv_transpose_subpixel"),
      ("dense", "dense"))
  def test_layer_equals_keras_layer(self, kind):
    # Our layers compute what the tutorial's Keras layers compute, given the
    # same weights (Keras is used here only as the reference).
    activation = transforms.leaky_relu
    if kind == "conv":
      ours = transforms.Conv2D(20, 50, 5, 2, activation)
      keras = tf.keras.layers.Conv2D(50, 5, strides=2, padding="same",
                                     activation="leaky_relu")
      x = tf.random.stateless_normal([2, 14, 14, 20], seed=[1, 2])
    elif kind.startswith("conv_transpose"):
      ours = transforms.Conv2DTranspose(50, 20, 5, 2, activation,
                                        subpixel=kind.endswith("subpixel"))
      keras = tf.keras.layers.Conv2DTranspose(
          20, 5, strides=2, padding="same", activation="leaky_relu")
      x = tf.random.stateless_normal([2, 7, 7, 50], seed=[1, 2])
    else:
      ours = transforms.Dense(30, 8, activation)
      keras = tf.keras.layers.Dense(8, activation="leaky_relu")
      x = tf.random.stateless_normal([2, 30], seed=[1, 2])
    keras.build(x.shape)
    self.assertEqual(keras.kernel.shape, ours.kernel.shape)
    ours.bias.assign(tf.random.stateless_normal(ours.bias.shape, seed=[3, 4]))
    keras.set_weights([ours.kernel.numpy(), ours.bias.numpy()])
    self.assertAllClose(ours(x), keras(x), rtol=1e-5, atol=1e-5)

  @parameterized.parameters((5, 2, 7), (5, 2, 14), (3, 2, 5), (4, 2, 6),
                            (7, 3, 5), (2, 2, 4), (1, 2, 3), (3, 1, 6))
  def test_subpixel_equals_transposed_convolution(self, kernel_size, stride,
                                                  size):
    # The same variables give the same outputs and gradients, whichever form
    # computes them.
    plain = transforms.Conv2DTranspose(3, 4, kernel_size, stride, seed=1)
    subpixel = transforms.Conv2DTranspose(3, 4, kernel_size, stride, seed=1,
                                          subpixel=True)
    self.assertAllEqual(plain.kernel, subpixel.kernel)
    for layer in (plain, subpixel):
      layer.bias.assign(tf.random.stateless_normal([4], seed=[5, 6]))
    x = tf.random.stateless_normal([2, size, size, 3], seed=[1, 2])
    results = []
    for layer in (plain, subpixel):
      with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
        # A smooth function of every output, each weighted differently.
        loss = tf.reduce_sum(tf.sin(y) * tf.random.stateless_normal(
            tf.shape(y), seed=[7, 8]))
      results.append((y, *tape.gradient(loss, [x, layer.kernel, layer.bias])))
    self.assertEqual(results[1][0].shape,
                     (2, size * stride, size * stride, 4))
    for a, b in zip(*results):
      self.assertAllClose(a, b, rtol=1e-5, atol=1e-5)

  def test_subpixel_kernel_places_each_tap_once(self):
    # A kernel of distinct values: every tap lands in exactly one phase and
    # offset, and the rest of the gathered kernel is zeros.
    kernel = tf.reshape(tf.range(1, 5 * 5 * 2 * 3 + 1, dtype=tf.float32),
                        [5, 5, 2, 3])
    gathered, padding = transforms.subpixel_kernel(kernel, 2)
    self.assertEqual(gathered.shape, (3, 3, 3, 8))
    self.assertEqual(padding, (1, 1))
    values = gathered.numpy().ravel()
    self.assertCountEqual(values[values != 0], kernel.numpy().ravel())
    # Phase (0, 0), channel 0 of input 0: taps 1 and 3 of each axis.
    self.assertAllEqual(gathered[:, :, 0, 0],
                        [[kernel[3, 3, 0, 0], kernel[3, 1, 0, 0], 0],
                         [kernel[1, 3, 0, 0], kernel[1, 1, 0, 0], 0],
                         [0, 0, 0]])

  def test_rejects_bad_latent_dims(self):
    with self.assertRaisesRegex(ValueError, "latent_dims"):
      transforms.AnalysisTransform(latent_dims=0)


if __name__ == "__main__":
  tf.test.main()
