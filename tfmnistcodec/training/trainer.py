"""The compiled inner steps of training and validation, and their optimizers.

Only the inner steps are compiled (`Trainer.train` runs up to
`steps_per_loop` steps per call, looping with `tf.range` inside one
`tf.function`); logging, summaries and checkpoints stay in Python, between
calls (`controller`).

Everything random is stateless and keyed by the seed: the initial variables, the
order of the digits in each epoch (keyed by epoch) and the training noise
(keyed by step, and by each digit's position in the step's batch). So a run
that resumes from a checkpoint, after a clean exit or a `kill -9`, continues the
very sequence of steps it would have taken.

The steps run under a `tf.distribute.Strategy` (`distribute.make_strategy`):
each step is `strategy.run` on every replica's share of the global batch, and
since a digit's noise depends on its position in the global batch, not on the
replica that holds it, a step gives the same result on one device as on
several, up to the order of floating-point sums.
"""

import math

import tensorflow as tf

from tfmnistcodec import contract
from tfmnistcodec.core import loss as loss_lib
from tfmnistcodec.core import model
from tfmnistcodec.training import averaging

__all__ = [
    "make_optimizer",
    "make_prior_optimizer",
    "optimizer_groups",
    "learning_rate",
    "train_step",
    "evaluate",
    "Trainer",
]


def make_optimizer(learning_rate):
  """Adam, as TensorFlow ships it: the one stock piece we reuse."""
  return tf.keras.optimizers.Adam(learning_rate=learning_rate)


def make_prior_optimizer(config):
  """The prior's own Adam, or `None` where the architecture has none.

  Only runs whose prior learns faster than the transforms
  (`config.prior_learning_rate_factor`, by default the architecture's, other
  than 1) have one; otherwise one Adam updates every variable, as in the
  tutorial.
  """
  config = config.resolve()
  if config.prior_learning_rate_factor == 1:
    return None
  return make_optimizer(config.learning_rate *
                        config.prior_learning_rate_factor)


def optimizer_groups(codec, optimizer, prior_optimizer=None):
  """`[(optimizer, variables), ...]`: which optimizer updates which variables.

  `optimizer` updates all trainable variables of `codec`, or, given a
  `prior_optimizer`, those of the transforms, and `prior_optimizer` the
  prior's.
  """
  if prior_optimizer is None:
    return [(optimizer, codec.trainable_variables)]
  prior = list(codec.prior.trainable_variables)
  refs = {v.ref() for v in prior}
  transforms = [v for v in codec.trainable_variables if v.ref() not in refs]
  return [(optimizer, transforms), (prior_optimizer, prior)]


def learning_rate(config, step, total_steps):
  """The learning rate of `step` of `total_steps`, by `config.architecture`.

  Constant, unless the architecture decays it: then constant for the first
  70% of the steps, and from there exponentially down to a tenth at the
  last step.
  """
  config = config.resolve()
  if not model.get_architecture(config.architecture).decay_learning_rate:
    return config.learning_rate
  start = .7 * total_steps
  progress = max(0., (step - start) / max(1., total_steps - start))
  return config.learning_rate * .1**min(1., progress)


def train_step(codec, optimizer, images, lmbda, noise, num_digits=None,
               prior_optimizer=None):
  """One gradient step; under `tf.distribute`, one replica's part of it.

  Args:
    codec: A `model.Codec`.
    optimizer: Its optimizer (of the transforms only, when `prior_optimizer`
      is given). Under a strategy, it sums the replicas' gradients before
      applying them.
    images: uint8 `[n, 28, 28, 1]`: the step's digits, or this replica's share.
    lmbda: Weight of the distortion in the loss.
    noise: float32 `[n, latent_dims]`, uniform in [-0.5, 0.5): the stand-in
      for quantization of each digit's latents.
    num_digits: Digits in the whole step, over all replicas; `n` if `None`.
      The loss is a mean over them, so the replicas' gradients sum to the
      gradient of the global batch's mean loss.
    prior_optimizer: The prior's own optimizer (`make_prior_optimizer`), or
      `None`: `optimizer` updates the prior too.

  Returns:
    A dict of float32 scalars, sums over `images`: `loss`, `rate` (bits) and
    `distortion`; divide by `num_digits` for the step's means.
  """
  if num_digits is None:
    num_digits = tf.cast(tf.shape(images)[0], tf.float32)
  with tf.GradientTape() as tape:
    per_digit = loss_lib.per_digit_rate_distortion(codec, images, noise)
    sums = {key: tf.reduce_sum(value) for key, value in per_digit.items()}
    sums["loss"] = loss_lib.loss(sums, lmbda)
    mean_loss = sums["loss"] / num_digits
  groups = optimizer_groups(codec, optimizer, prior_optimizer)
  gradients = tape.gradient(mean_loss, [variables for _, variables in groups])
  for (group_optimizer, variables), group_gradients in zip(groups, gradients):
    group_optimizer.apply_gradients(zip(group_gradients, variables))
  return sums


def evaluate(codec, images, lmbda, batch_size=1000):
  """Mean loss, rate and distortion of quantized latents over all `images`.

  Compiles its step once per call; a `Trainer` keeps its own for every epoch.

  Args:
    codec: A `model.Codec`.
    images: uint8 `[N, 28, 28, 1]` array or tensor.
    lmbda: Weight of the distortion in the loss.
    batch_size: Digits per compiled step.

  Returns:
    A dict of Python floats: `loss`, `rate` (bits per digit), `distortion`.
  """
  return _mean_metrics(_eval_step(codec), images, lmbda, batch_size)


def _eval_step(codec):
  # One signature for every batch size: retracing per batch would cost more
  # than validation itself.
  return tf.function(
      lambda images: loss_lib.rate_distortion(codec, images),
      input_signature=[tf.TensorSpec([None, *loss_lib.IMAGE_SHAPE], tf.uint8)],
      autograph=False)


def _mean_metrics(step, images, lmbda, batch_size):
  sums = dict(rate=0., distortion=0.)
  count = 0
  for start in range(0, len(images), batch_size):
    batch = images[start:start + batch_size]
    metrics = step(batch)
    for key in sums:
      sums[key] += float(metrics[key]) * len(batch)
    count += len(batch)
  if not count:
    raise contract.UserValueError("evaluate needs at least one image.")
  means = {key: value / count for key, value in sums.items()}
  means["loss"] = loss_lib.loss(means, lmbda)
  return means


class Trainer:
  """A codec, its optimizers, and the compiled steps that train and test it.

  The variables are made under `strategy`'s scope, the optimizers' slots
  and the moving average included, so that a checkpoint restores into all
  of them. `train` and `evaluate` are the only compiled calls; the
  `Controller` calls them.
  """

  def __init__(self, config, strategy, train_images):
    """Makes the variables, the optimizers' slots and the steps.

    Args:
      config: A `TrainConfig`.
      strategy: The `tf.distribute.Strategy` to train under.
      train_images: uint8 `[N, 28, 28, 1]` tensor of the training digits.
    """
    config = config.resolve()
    self._config = config
    self._strategy = strategy
    self._train_images = train_images
    with strategy.scope():
      self._codec = model.Codec(
          config.latent_dims, seed=config.seed,
          architecture=config.architecture,
          analysis_hidden_layers=config.analysis_hidden_layers)
      self._optimizer = make_optimizer(config.learning_rate)
      self._prior_optimizer = make_prior_optimizer(config)
      # Create the optimizers' slots now, outside tf.function and before
      # restoring.
      for group_optimizer, variables in optimizer_groups(
          self._codec, self._optimizer, self._prior_optimizer):
        group_optimizer.build(variables)
      self._average = (averaging.MovingAverage(config, config.ema_steps)
                       if config.ema_steps else None)
    self._steps_per_epoch = math.ceil(
        int(train_images.shape[0]) / config.batch_size)
    self._lmbda = tf.constant(config.lmbda, tf.float32)
    self._noise_key = tf.constant([2, config.seed], tf.int64)
    self._order_key = tf.constant([3, config.seed], tf.int64)
    self._train_steps = tf.function(self._compiled_steps)
    self._eval_step = _eval_step(self.result_codec)

  @property
  def codec(self):
    """The `model.Codec` trained, with the strategy's variables."""
    return self._codec

  @property
  def result_codec(self):
    """The codec that validation measures and export writes.

    The moving average of `codec`'s variables where the run keeps one
    (`TrainConfig.ema_steps`), else `codec` itself.
    """
    return self._codec if self._average is None else self._average.codec

  @property
  def step(self):
    """Steps trained so far, as a Python int: the optimizer's count."""
    return int(self._optimizer.iterations.numpy())

  @property
  def steps_per_epoch(self):
    return self._steps_per_epoch

  @property
  def total_steps(self):
    return self._config.epochs * self._steps_per_epoch

  def checkpoint(self):
    """A `tf.train.Checkpoint` of the codec and the optimizers' states."""
    # Runs without a prior optimizer or an average keep the checkpoint
    # layout they had.
    extra = {} if self._prior_optimizer is None else dict(
        prior_optimizer=self._prior_optimizer)
    if self._average is not None:
      extra[averaging.CHECKPOINT_NAME] = self._average
    return tf.train.Checkpoint(codec=self._codec, optimizer=self._optimizer,
                               **extra)

  def step_counter(self):
    """The variable that counts the steps, for `tf.train.CheckpointManager`."""
    return self._optimizer.iterations

  def epoch_batches(self, epoch, first_step):
    """A distributed iterator over the batches of `epoch`, from `first_step`."""
    return iter(self._strategy.experimental_distribute_dataset(
        self.epoch_dataset(epoch, first_step)))

  def epoch_dataset(self, epoch, first_step):
    """The `tf.data.Dataset` of `epoch_batches`: global batches of dicts.

    Each batch holds `images`, uint8 `[n, 28, 28, 1]`, and `positions`, their
    places in the batch, `[0, n)`.
    """
    # The epoch's order depends on (seed, epoch) alone, so a resumed epoch
    # skips exactly the batches that were already trained on.
    order = tf.random.experimental.stateless_shuffle(
        tf.range(int(self._train_images.shape[0])),
        seed=tf.random.experimental.stateless_fold_in(self._order_key, epoch))
    batches = tf.data.Dataset.from_tensor_slices(order).batch(
        self._config.batch_size).skip(first_step)
    images = self._train_images
    batches = batches.map(lambda idx: dict(
        images=tf.gather(images, idx), positions=tf.range(tf.size(idx))))
    # Workers build the same global batches; TensorFlow splits each across
    # all replicas of all workers (policy DATA: our data are not files).
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA)
    # No autotuning: nothing here has a tunable knob, and deleting an
    # iterator waits for the autotuner's sleep to end (its period doubles from
    # 10 ms: every epoch ended at 20.5 or 41.0 s, whatever its steps took).
    options.autotune.enabled = False
    return batches.prefetch(2).with_options(options)

  def train(self, iterator, step, num_steps):
    """Trains `num_steps` steps from `step`, at the schedule's rate for `step`.

    Returns:
      `(sums, digits)`: float32 scalars, `loss`, `rate` and `distortion`
      summed over the steps' digits, and how many digits there were.
    """
    self._set_learning_rate(step)
    return self._train_steps(iterator, tf.constant(num_steps))

  def evaluate(self, images):
    """`evaluate` of the codec on `images`, with the compiled step kept here."""
    return _mean_metrics(self._eval_step, images, self._config.lmbda,
                         self._config.eval_batch_size)

  def plain_codec(self):
    """A copy of `result_codec` with ordinary (not distributed) variables."""
    # Export, evaluation and callers get ordinary variables, whatever the
    # strategy; reading a distributed variable here gives its (one) value.
    config = self._config
    copy = model.Codec(config.latent_dims, seed=config.seed,
                       architecture=config.architecture,
                       analysis_hidden_layers=config.analysis_hidden_layers)
    for target, source in zip(copy.variables, self.result_codec.variables):
      target.assign(source.read_value())
    return copy

  def _set_learning_rate(self, step):
    # Set per compiled call: the schedule moves in steps of `steps_per_loop`,
    # and a resumed run sets the same rates.
    rate = learning_rate(self._config, step, self.total_steps)
    self._optimizer.learning_rate.assign(rate)
    if self._prior_optimizer is not None:
      self._prior_optimizer.learning_rate.assign(
          rate * self._config.prior_learning_rate_factor)

  def _compiled_steps(self, iterator, num_steps):
    # Sums over digits (the last batch of an epoch is smaller).
    totals = tf.zeros([4])
    for _ in tf.range(num_steps):
      noise_seed = tf.random.experimental.stateless_fold_in(
          self._noise_key, self._optimizer.iterations)
      # Only this loop needs autograph: the step has no Python control flow
      # on tensors, and converting it and all it calls took a second.
      per_replica = self._strategy.run(
          tf.autograph.experimental.do_not_convert(self._replica_step),
          args=(next(iterator), noise_seed))
      totals += self._strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica,
                                      axis=None)
      if self._average is not None:
        # Every `averaging.EVERY` steps and at each epoch's end; keyed by the
        # step count, so a resumed run updates at the same steps.
        step = self._optimizer.iterations
        if tf.logical_or(step % averaging.EVERY == 0,
                         step % self._steps_per_epoch == 0):
          self._average.update(self._codec, step)
    return dict(loss=totals[0], rate=totals[1], distortion=totals[2]), totals[3]

  def _replica_step(self, batch, noise_seed):
    # The noise of the whole global batch, keyed by the step; each replica
    # takes the rows of its digits' positions in that batch.
    noise = tf.gather(
        loss_lib.uniform_noise([self._config.batch_size,
                                self._codec.latent_dims], noise_seed),
        batch["positions"])
    digits = tf.cast(tf.shape(batch["images"])[0], tf.float32)
    # The last batch of an epoch is smaller: count its digits.
    num_digits = tf.distribute.get_replica_context().all_reduce(
        tf.distribute.ReduceOp.SUM, digits)
    sums = train_step(self._codec, self._optimizer, batch["images"],
                      self._lmbda, noise, num_digits, self._prior_optimizer)
    # One vector, so that one all-reduce sums it over the replicas.
    return tf.stack([sums["loss"], sums["rate"], sums["distortion"], digits])
