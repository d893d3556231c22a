"""The TensorFlow Compression tutorial's Keras MNIST codec: our baseline.

This is the model of the tutorial "Learned data compression" (Keras layers,
`Model.fit`), kept outside the package and `bin/` so that the benchmarks can
measure the reference on the same machine, side by side with tfmnistcodec. It
is not part of the library, which uses no Keras models or layers.

Run by `bin/benchmark_training.py` in a subprocess, and by hand for the
quality baseline (`--evaluate`, the default); prints one JSON line.
"""

import json
import sys
import time

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf
import tensorflow_compression as tfc

from tfmnistcodec import data
from tfmnistcodec import evaluation

_DATA_DIR = flags.DEFINE_string("data_dir", None, "TFDS data folder.")
_LMBDA = flags.DEFINE_float("lmbda", 2000., "Distortion weight.")
_EPOCHS = flags.DEFINE_integer("epochs", 15, "Epochs.", lower_bound=1)
_SEED = flags.DEFINE_integer("seed", 0, "Seed of tf.random.set_seed.")
_EVALUATE = flags.DEFINE_bool(
    "evaluate", True, "Also compress and decompress the test digits.")


def make_analysis_transform(latent_dims):
  return tf.keras.Sequential([
      tf.keras.layers.Conv2D(20, 5, use_bias=True, strides=2, padding="same",
                             activation="leaky_relu", name="conv_1"),
      tf.keras.layers.Conv2D(50, 5, use_bias=True, strides=2, padding="same",
                             activation="leaky_relu", name="conv_2"),
      tf.keras.layers.Flatten(),
      tf.keras.layers.Dense(500, use_bias=True, activation="leaky_relu",
                            name="fc_1"),
      tf.keras.layers.Dense(latent_dims, use_bias=True, activation=None,
                            name="fc_2"),
  ], name="analysis_transform")


def make_synthesis_transform():
  return tf.keras.Sequential([
      tf.keras.layers.Dense(500, use_bias=True, activation="leaky_relu",
                            name="fc_1"),
      tf.keras.layers.Dense(2450, use_bias=True, activation="leaky_relu",
                            name="fc_2"),
      tf.keras.layers.Reshape((7, 7, 50)),
      tf.keras.layers.Conv2DTranspose(20, 5, use_bias=True, strides=2,
                                      padding="same", activation="leaky_relu",
                                      name="conv_1"),
      tf.keras.layers.Conv2DTranspose(1, 5, use_bias=True, strides=2,
                                      padding="same", activation="leaky_relu",
                                      name="conv_2"),
  ], name="synthesis_transform")


class MNISTCompressionTrainer(tf.keras.Model):

  def __init__(self, latent_dims):
    super().__init__()
    self.analysis_transform = make_analysis_transform(latent_dims)
    self.synthesis_transform = make_synthesis_transform()
    self.prior_log_scales = tf.Variable(tf.zeros((latent_dims,)))

  @property
  def prior(self):
    return tfc.NoisyLogistic(loc=0., scale=tf.exp(self.prior_log_scales))

  def call(self, x, training):
    x = tf.cast(x, self.compute_dtype) / 255.
    x = tf.reshape(x, (-1, 28, 28, 1))
    y = self.analysis_transform(x)
    entropy_model = tfc.ContinuousBatchedEntropyModel(
        self.prior, coding_rank=1, compression=False)
    y_tilde, rate = entropy_model(y, training=training)
    x_tilde = self.synthesis_transform(y_tilde)
    rate = tf.reduce_mean(rate)
    distortion = tf.reduce_mean(abs(x - x_tilde))
    return dict(rate=rate, distortion=distortion)


def pass_through_loss(_, x):
  return x


class EpochTimer(tf.keras.callbacks.Callback):

  def __init__(self):
    super().__init__()
    self.seconds = []

  def on_epoch_begin(self, epoch, logs=None):
    self._start = time.perf_counter()

  def on_epoch_end(self, epoch, logs=None):
    self.seconds.append(time.perf_counter() - self._start)


def main(argv):
  del argv
  tf.random.set_seed(_SEED.value)
  train = data.load_images("mnist", "train", _DATA_DIR.value)
  test = data.load_images("mnist", "test", _DATA_DIR.value)
  add_targets = lambda image: (image, dict(rate=0., distortion=0.))
  trainer = MNISTCompressionTrainer(50)
  trainer.compile(
      optimizer=tf.keras.optimizers.Adam(learning_rate=1e-3),
      loss=dict(rate=pass_through_loss, distortion=pass_through_loss),
      metrics=dict(rate=pass_through_loss, distortion=pass_through_loss),
      loss_weights=dict(rate=1., distortion=_LMBDA.value),
  )
  timer = EpochTimer()
  trainer.fit(
      train.map(add_targets).batch(128).prefetch(8),
      epochs=_EPOCHS.value,
      validation_data=test.map(add_targets).batch(128).cache(),
      validation_freq=1,
      verbose=2,
      callbacks=[timer],
  )
  result = dict(epoch_seconds=timer.seconds)
  if _EVALUATE.value:
    entropy_model = tfc.ContinuousBatchedEntropyModel(
        trainer.prior, coding_rank=1, compression=True)
    images = data.load_numpy("mnist", "test", _DATA_DIR.value)
    x = tf.cast(images, tf.float32) / 255.
    y = trainer.analysis_transform(x)
    strings = entropy_model.compress(y)
    _, bits = entropy_model(y, training=False)
    x_hat = trainer.synthesis_transform(entropy_model.decompress(strings, ()))
    decoded = tf.saturate_cast(tf.round(x_hat * 255.), tf.uint8).numpy()
    # The same metrics as bin/main.py, from the same function.
    result.update(evaluation.summarize(
        images, evaluation.CodingResult(strings.numpy(), bits.numpy(),
                                        decoded)))
  print(json.dumps(result))
  sys.stdout.flush()


if __name__ == "__main__":
  app.run(main)
