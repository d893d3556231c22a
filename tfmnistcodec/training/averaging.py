"""The moving average of a codec's variables that validation and export use.

Where a run keeps one (`TrainConfig.ema_steps`), `trainer.Trainer` updates a
`MovingAverage` every `EVERY` steps and at the end of every epoch, inside its
compiled loop, and checkpoints it as `moving_average`; validation, export and
`controller.restore_codec` use its codec. At a constant learning rate the
variables as trained carry the noise of their last steps; the average does
not (BUILD.md, "Training speed").
"""

import tensorflow as tf

from tfmnistcodec.core import model

__all__ = ["CHECKPOINT_NAME", "EVERY", "MovingAverage"]

# Steps between two updates: cheaper than every step, and still 7.5 updates
# per time constant of `improved`'s 75 steps (of 256 digits).
EVERY = 10
# Its name in a run's checkpoints (`Trainer.checkpoint`, `restore_codec`).
CHECKPOINT_NAME = "moving_average"


class MovingAverage(tf.Module):
  """An exponential moving average of a codec's variables, in a codec.

  `update(codec, step)` moves `codec`'s variables towards those of the codec
  trained: each update is a sample of the variables that stands for the
  steps since the one before, so the average weighs the samples as a
  continuous exponential average over steps with time constant
  `time_constant` would, normalized by the sum of their weights (from the
  first update on, `codec` holds an average, not a blend with its initial
  values). `weight`, that sum, and `step`, the step of the last update, are
  checkpointed with them.
  """

  def __init__(self, config, time_constant, name="moving_average"):
    super().__init__(name=name)
    self._time_constant = float(time_constant)
    # Its variables have the names of the trained codec's, as an export of
    # either would.
    self.codec = model.Codec(
        config.latent_dims, seed=config.seed, architecture=config.architecture,
        analysis_hidden_layers=config.analysis_hidden_layers)
    with self.name_scope:
      self.weight = tf.Variable(0., trainable=False, name="weight")
      self.step = tf.Variable(tf.constant(0, tf.int64), trainable=False,
                              name="step")

  def update(self, codec, step):
    """Adds `codec`'s variables as of `step` (an int64 scalar) to the average."""
    steps = tf.cast(step - self.step, tf.float32)
    decay = tf.exp(-steps / self._time_constant)
    weight = decay * self.weight + (1. - decay)
    fraction = (1. - decay) / weight
    for average, variable in zip(self.codec.variables, codec.variables):
      # The first update (fraction 1) copies exactly.
      average.assign(fraction * variable + (1. - fraction) * average)
    self.weight.assign(weight)
    self.step.assign(step)
