"""Training: a hand-written `tf.GradientTape` loop, checkpointed and resumable.

Only the inner steps are compiled (`train_steps` runs up to `steps_per_loop`
steps per call, looping with `tf.range` inside one `tf.function`); logging,
summaries and checkpoints stay in Python, between calls.

Everything random is stateless and keyed by the seed: the initial variables, the
order of the digits in each epoch (keyed by epoch) and the training noise
(keyed by step, and by each digit's position in the step's batch). So a run
that resumes from a checkpoint, after a clean exit or a `kill -9`, continues the
very sequence of steps it would have taken.

The loop runs under a `tf.distribute.Strategy` (`distribute.make_strategy`):
each step is `strategy.run` on every replica's share of the global batch, and
since a digit's noise depends on its position in the global batch, not on the
replica that holds it, a step gives the same result on one device as on
several, up to the order of floating-point sums.
"""

import dataclasses
import json
import math
import pathlib
import time

from absl import logging
import tensorflow as tf

from tfmnistcodec.core import loss as loss_lib
from tfmnistcodec.core import model
from tfmnistcodec.files import atomic
from tfmnistcodec.training import distribute

__all__ = [
    "TrainConfig",
    "make_optimizer",
    "make_prior_optimizer",
    "optimizer_groups",
    "learning_rate",
    "train_step",
    "evaluate",
    "train_and_evaluate",
    "load_config",
    "restore_codec",
    "write_json",
    "format_seconds",
]

CONFIG_FILE = "config.json"
CHECKPOINT_DIR = "checkpoints"
SUMMARY_DIR = "summaries"
# Settings that a run resumed in the same model_dir may not change.
FIXED_SETTINGS = ("architecture", "lmbda", "latent_dims", "batch_size",
                  "learning_rate", "seed")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
  """What a training run does.

  Attributes:
    architecture: Name of a `model.Architecture` (prior, training and
      encoder changes); `"tutorial"` is the TensorFlow Compression tutorial's
      model, the default (`model.DEFAULT_ARCHITECTURE`) is `"improved"`.
    lmbda: Weight of the distortion in the loss, rate + lmbda * distortion.
    latent_dims: Number of latent dimensions.
    epochs: Passes over the training digits.
    batch_size: Digits per step.
    learning_rate: Adam's learning rate.
    seed: Seed of the initial variables, the digits' order and the noise.
    steps_per_loop: Steps per compiled call; checkpoints and logs happen only
      between calls.
    checkpoint_secs: Besides after every epoch, a checkpoint is written when
      this many seconds have passed since the last one.
    eval_batch_size: Digits per step of validation.
  """
  architecture: str = model.DEFAULT_ARCHITECTURE
  lmbda: float = 2000.
  latent_dims: int = 50
  epochs: int = 15
  batch_size: int = 128
  learning_rate: float = 1e-3
  seed: int = 0
  steps_per_loop: int = 100
  checkpoint_secs: float = 60.
  eval_batch_size: int = 1000

  def __post_init__(self):
    model.get_architecture(self.architecture)  # Raises for unknown names.
    if not self.lmbda > 0:
      raise ValueError(f"lmbda must be positive, got {self.lmbda}.")
    if not self.learning_rate > 0:
      raise ValueError(
          f"learning_rate must be positive, got {self.learning_rate}.")
    for name in ("latent_dims", "epochs", "batch_size", "steps_per_loop",
                 "eval_batch_size"):
      if getattr(self, name) < 1:
        raise ValueError(f"{name} must be at least 1, got "
                         f"{getattr(self, name)}.")


def make_optimizer(learning_rate):
  """Adam, as TensorFlow ships it: the one stock piece we reuse."""
  return tf.keras.optimizers.Adam(learning_rate=learning_rate)


def make_prior_optimizer(config):
  """The prior's own Adam, or `None` where the architecture has none.

  Only architectures whose prior learns faster than the transforms
  (`prior_learning_rate_factor` other than 1) have one; otherwise one Adam
  updates every variable, as in the tutorial.
  """
  factor = model.get_architecture(config.architecture).prior_learning_rate_factor
  if factor == 1:
    return None
  return make_optimizer(config.learning_rate * factor)


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

  Args:
    codec: A `model.Codec`.
    images: uint8 `[N, 28, 28, 1]` array or tensor.
    lmbda: Weight of the distortion in the loss.
    batch_size: Digits per compiled step.

  Returns:
    A dict of Python floats: `loss`, `rate` (bits per digit), `distortion`.
  """
  step = _compiled_eval_step(codec)
  sums = dict(rate=0., distortion=0.)
  count = 0
  for start in range(0, len(images), batch_size):
    batch = images[start:start + batch_size]
    metrics = step(batch)
    for key in sums:
      sums[key] += float(metrics[key]) * len(batch)
    count += len(batch)
  if not count:
    raise ValueError("evaluate needs at least one image.")
  means = {key: value / count for key, value in sums.items()}
  means["loss"] = loss_lib.loss(means, lmbda)
  return means


def _compiled_eval_step(codec):
  # One compiled function per codec, made once: retracing per call would cost
  # more than validation itself.
  step = getattr(codec, "_eval_step", None)
  if step is None:
    step = tf.function(
        lambda images: loss_lib.rate_distortion(codec, images),
        input_signature=[
            tf.TensorSpec([None, *loss_lib.IMAGE_SHAPE], tf.uint8)
        ])
    codec._eval_step = step  # pylint: disable=protected-access
  return step


def write_json(path, value):
  """Writes `value` as JSON to `path` atomically (temporary file, rename)."""
  atomic.write_bytes(path, (json.dumps(value, indent=2) + "\n").encode())


def load_config(model_dir):
  """The `TrainConfig` a model_dir was trained with."""
  path = pathlib.Path(model_dir) / CONFIG_FILE
  try:
    values = json.loads(path.read_text())
  except FileNotFoundError:
    raise FileNotFoundError(
        f"{path} does not exist: {model_dir} holds no trained model.") from None
  fields = {f.name for f in dataclasses.fields(TrainConfig)}
  # Runs from before architectures existed trained the tutorial's.
  values.setdefault("architecture", "tutorial")
  return TrainConfig(**{k: v for k, v in values.items() if k in fields})


def _check_or_write_config(model_dir, config, write=True):
  path = pathlib.Path(model_dir) / CONFIG_FILE
  if path.exists():
    saved = load_config(model_dir)
    changed = [
        f"{name}={getattr(saved, name)!r} (now {getattr(config, name)!r})"
        for name in FIXED_SETTINGS
        if getattr(saved, name) != getattr(config, name)
    ]
    if changed:
      raise ValueError(
          f"{model_dir} holds a run with other settings: "
          f"{', '.join(changed)}. Use another model_dir or the same settings.")
  if write:
    write_json(path, dataclasses.asdict(config))


def _checkpoint(codec, optimizer, prior_optimizer=None):
  # Runs without a prior optimizer keep the checkpoint layout they had.
  extra = {} if prior_optimizer is None else dict(
      prior_optimizer=prior_optimizer)
  return tf.train.Checkpoint(codec=codec, optimizer=optimizer, **extra)


def restore_codec(model_dir):
  """The codec of the latest checkpoint in model_dir, and its config."""
  config = load_config(model_dir)
  codec = model.Codec(config.latent_dims, seed=config.seed,
                      architecture=config.architecture)
  directory = pathlib.Path(model_dir) / CHECKPOINT_DIR
  path = tf.train.latest_checkpoint(str(directory))
  if path is None:
    raise FileNotFoundError(f"no checkpoint in {directory}.")
  # Only the codec is needed: the optimizer's state is left unread.
  tf.train.Checkpoint(codec=codec).read(path).expect_partial()
  return codec, config


def format_seconds(seconds):
  """Seconds as `45s`, `3m05s` or `2h07m`, for progress lines."""
  seconds = int(round(seconds))
  if seconds >= 3600:
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
  if seconds >= 60:
    return f"{seconds // 60}m{seconds % 60:02d}s"
  return f"{seconds}s"


def train_and_evaluate(config, model_dir, train_images, test_images,
                       strategy=None):
  """Trains a codec, validating after every epoch; resumes from model_dir.

  Args:
    config: A `TrainConfig`.
    model_dir: Folder for `config.json`, `checkpoints/` and `summaries/`. If it
      holds a checkpoint, training resumes from it (same settings required,
      `epochs` excepted), whatever strategy wrote it. On several workers, only
      the chief writes here, and every worker reads the chief's checkpoints.
    train_images: uint8 `[N, 28, 28, 1]` training digits.
    test_images: uint8 `[M, 28, 28, 1]` validation digits.
    strategy: The `tf.distribute.Strategy` to train under; TensorFlow's
      default strategy if `None`. `config.batch_size` is the global batch,
      split evenly across its replicas.

  Returns:
    `(codec, history)`: the trained `model.Codec`, with plain (not
    distributed) variables, and a list with one dict per epoch completed in
    this call (`epoch`, `step`, `train/...`, `eval/...`, `seconds`).
  """
  train_images = tf.convert_to_tensor(train_images)
  test_images = tf.convert_to_tensor(test_images)
  for name, images in (("train_images", train_images),
                       ("test_images", test_images)):
    if (images.dtype != tf.uint8 or
        images.shape[1:] != loss_lib.IMAGE_SHAPE or not images.shape[0]):
      raise ValueError(f"{name} must be uint8 [N, 28, 28, 1] with N > 0, "
                       f"got {images.dtype.name} {images.shape}.")
  strategy = strategy or tf.distribute.get_strategy()
  distribute.per_replica_batch_size(config.batch_size, strategy)
  chief = distribute.is_chief(strategy)
  model_dir = pathlib.Path(model_dir)
  if chief:
    model_dir.mkdir(parents=True, exist_ok=True)
  _check_or_write_config(model_dir, config, write=chief)
  logging.info("Training under %s.", distribute.describe(strategy))

  with strategy.scope():
    codec = model.Codec(config.latent_dims, seed=config.seed,
                        architecture=config.architecture)
    optimizer = make_optimizer(config.learning_rate)
    prior_optimizer = make_prior_optimizer(config)
    # Create the optimizers' slots now, outside tf.function and before
    # restoring.
    for group_optimizer, variables in optimizer_groups(codec, optimizer,
                                                       prior_optimizer):
      group_optimizer.build(variables)
  checkpoint = _checkpoint(codec, optimizer, prior_optimizer)
  manager = distribute.checkpoint_manager(
      checkpoint, model_dir / CHECKPOINT_DIR, strategy, max_to_keep=3,
      step_counter=optimizer.iterations)
  # Every task resumes from the chief's checkpoints; variables saved under
  # any strategy restore under any other.
  restored = tf.train.latest_checkpoint(str(model_dir / CHECKPOINT_DIR))
  if restored:
    checkpoint.restore(restored)
    logging.info("Resumed from %s at step %d.", restored,
                 int(optimizer.iterations.numpy()))
  distribute.check_same_step(strategy, int(optimizer.iterations.numpy()))

  num_train = int(train_images.shape[0])
  steps_per_epoch = math.ceil(num_train / config.batch_size)
  total_steps = config.epochs * steps_per_epoch
  lmbda = tf.constant(config.lmbda, tf.float32)
  noise_key = tf.constant([2, config.seed], tf.int64)
  order_key = tf.constant([3, config.seed], tf.int64)

  def replica_step(batch, noise_seed):
    # The noise of the whole global batch, keyed by the step; each replica
    # takes the rows of its digits' positions in that batch.
    noise = tf.gather(
        loss_lib.uniform_noise([config.batch_size, codec.latent_dims],
                               noise_seed), batch["positions"])
    digits = tf.cast(tf.shape(batch["images"])[0], tf.float32)
    # The last batch of an epoch is smaller: count its digits.
    num_digits = tf.distribute.get_replica_context().all_reduce(
        tf.distribute.ReduceOp.SUM, digits)
    sums = train_step(codec, optimizer, batch["images"], lmbda, noise,
                      num_digits, prior_optimizer)
    # One vector, so that one all-reduce sums it over the replicas.
    return tf.stack([sums["loss"], sums["rate"], sums["distortion"], digits])

  @tf.function
  def train_steps(iterator, num_steps):
    # Sums over digits (the last batch of an epoch is smaller).
    totals = tf.zeros([4])
    for _ in tf.range(num_steps):
      noise_seed = tf.random.experimental.stateless_fold_in(
          noise_key, optimizer.iterations)
      per_replica = strategy.run(replica_step,
                                 args=(next(iterator), noise_seed))
      totals += strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica,
                                axis=None)
    return dict(loss=totals[0], rate=totals[1], distortion=totals[2]), totals[3]

  def epoch_batches(epoch, first_step):
    # The epoch's order depends on (seed, epoch) alone, so a resumed epoch
    # skips exactly the batches that were already trained on.
    order = tf.random.experimental.stateless_shuffle(
        tf.range(num_train),
        seed=tf.random.experimental.stateless_fold_in(order_key, epoch))
    batches = tf.data.Dataset.from_tensor_slices(order).batch(
        config.batch_size).skip(first_step)
    batches = batches.map(lambda idx: dict(
        images=tf.gather(train_images, idx), positions=tf.range(tf.size(idx))))
    # Workers build the same global batches; TensorFlow splits each across
    # all replicas of all workers (policy DATA: our data are not files).
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA)
    return iter(strategy.experimental_distribute_dataset(
        batches.prefetch(2).with_options(options)))

  if chief:
    writer = tf.summary.create_file_writer(str(model_dir / SUMMARY_DIR))
  else:
    writer = tf.summary.create_noop_writer()
  history = []
  step = int(optimizer.iterations.numpy())
  last_save = time.monotonic()
  started = time.monotonic()
  start_step = step
  try:
    while step < total_steps:
      epoch, first_step = divmod(step, steps_per_epoch)
      epoch_start = time.monotonic()
      iterator = epoch_batches(epoch, first_step)
      sums = dict(loss=0., rate=0., distortion=0.)
      digits = 0
      while step < (epoch + 1) * steps_per_epoch:
        num_steps = min(config.steps_per_loop,
                        (epoch + 1) * steps_per_epoch - step)
        # Set per compiled call: the schedule moves in steps of
        # `steps_per_loop`, and a resumed run sets the same rates.
        step_rate = learning_rate(config, step, total_steps)
        optimizer.learning_rate.assign(step_rate)
        if prior_optimizer is not None:
          prior_optimizer.learning_rate.assign(
              step_rate * codec.architecture.prior_learning_rate_factor)
        chunk, chunk_digits = train_steps(iterator, tf.constant(num_steps))
        for key in sums:
          sums[key] += float(chunk[key])
        digits += float(chunk_digits)
        step = int(optimizer.iterations.numpy())
        # All workers save together, when any one's clock says so.
        if distribute.any_worker(
            strategy, time.monotonic() - last_save >= config.checkpoint_secs):
          manager.save(checkpoint_number=step)
          last_save = time.monotonic()
      train_seconds = time.monotonic() - epoch_start
      # Validation runs outside `strategy.run`, on each task's copy of the
      # variables, which all replicas keep identical: the same numbers under
      # any strategy, with no collective ops, so no worker can wait on
      # another here. It is small next to an epoch of training.
      eval_metrics = evaluate(codec, test_images, config.lmbda,
                              config.eval_batch_size)
      manager.save(checkpoint_number=step)
      last_save = time.monotonic()
      seconds = time.monotonic() - epoch_start
      record = dict(epoch=epoch + 1, step=step, seconds=seconds,
                    train_seconds=train_seconds)
      record.update({f"train/{k}": v / digits for k, v in sums.items()})
      record.update({f"eval/{k}": v for k, v in eval_metrics.items()})
      history.append(record)
      with writer.as_default(step=step):
        for key, value in record.items():
          if key.startswith(("train/", "eval/")):
            tf.summary.scalar(key, value)
        tf.summary.scalar("train/seconds_per_epoch", seconds)
      writer.flush()
      done = (step - start_step) / max(1, total_steps - start_step)
      eta = (time.monotonic() - started) * (1 - done) / max(done, 1e-9)
      logging.info(
          "epoch %d/%d (step %d): train loss %.2f rate %.2f bits "
          "distortion %.4f | test loss %.2f rate %.2f bits distortion %.4f | "
          "%.1f s (train %.1f s), ETA %s", epoch + 1, config.epochs, step,
          record["train/loss"], record["train/rate"],
          record["train/distortion"], record["eval/loss"],
          record["eval/rate"], record["eval/distortion"], seconds,
          train_seconds, format_seconds(eta))
  finally:
    # Also on Ctrl-C or an error: keep every finished step.
    if int(optimizer.iterations.numpy()) > _checkpoint_step(manager):
      manager.save(checkpoint_number=int(optimizer.iterations.numpy()))
    writer.close()
  if strategy is not tf.distribute.get_strategy():
    codec = _plain_copy(codec, config)
  return codec, history


def _plain_copy(codec, config):
  # Export, evaluation and callers get ordinary variables, whatever the
  # strategy; reading a distributed variable here gives its (one) value.
  copy = model.Codec(config.latent_dims, seed=config.seed,
                     architecture=config.architecture)
  for target, source in zip(copy.variables, codec.variables):
    target.assign(source.read_value())
  return copy


def _checkpoint_step(manager):
  path = manager.latest_checkpoint
  return -1 if path is None else int(path.rsplit("-", 1)[1])
