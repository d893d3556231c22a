"""Training between the compiled calls: restore, saves, validation, logs.

As in Orbit, a `trainer.Trainer` owns the variables and the compiled steps,
and a `Controller` drives it from Python: it restores the latest checkpoint,
runs the epochs in calls of `steps_per_loop` steps, saves after every epoch
and whenever `checkpoint_secs` have passed, validates after every epoch and
writes the summaries and the log. `train_and_evaluate` composes the two.

Under a `tf.distribute.Strategy` on several workers, every worker runs the
same calls in the same order (each one's collective ops wait for the
others'), only the chief writes the run folder, and the decisions that
depend on a worker's own clock are voted on (`distribute.any_worker`).
"""

import time

from absl import logging
import tensorflow as tf

from tfmnistcodec import contract
from tfmnistcodec.core import loss as loss_lib
from tfmnistcodec.core import model
from tfmnistcodec.training import averaging
from tfmnistcodec.training import distribute
from tfmnistcodec.training import run_folder
from tfmnistcodec.training import trainer as trainer_lib

__all__ = [
    "SavePolicy",
    "Progress",
    "Controller",
    "format_seconds",
    "train_and_evaluate",
    "restore_codec",
]


class SavePolicy:
  """Whether a save is due besides each epoch's: `checkpoint_secs` passed.

  By this worker's own clock, from the last save (or from the start).
  """

  def __init__(self, checkpoint_secs, clock=time.monotonic):
    self._checkpoint_secs = checkpoint_secs
    self._clock = clock
    self._last_save = clock()

  def due(self):
    return self._clock() - self._last_save >= self._checkpoint_secs

  def saved(self):
    """Restarts the clock: a checkpoint was just written."""
    self._last_save = self._clock()


class Progress:
  """The time left in this call, from the steps it has trained so far."""

  def __init__(self, start_step, total_steps, clock=time.monotonic):
    self._start_step = start_step
    self._total_steps = total_steps
    self._clock = clock
    self._started = clock()

  def eta(self, step):
    """Seconds until `total_steps`, at this call's pace up to `step`."""
    done = (step - self._start_step) / max(
        1, self._total_steps - self._start_step)
    return (self._clock() - self._started) * (1 - done) / max(done, 1e-9)


def format_seconds(seconds):
  """Seconds as `45s`, `3m05s` or `2h07m`, for progress lines."""
  seconds = int(round(seconds))
  if seconds >= 3600:
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
  if seconds >= 60:
    return f"{seconds // 60}m{seconds % 60:02d}s"
  return f"{seconds}s"


class Controller:
  """Restores, trains, validates, saves and reports a `Trainer`'s run."""

  def __init__(self, trainer, folder, strategy, config):
    """Makes the run's checkpoint manager (this task's, under `strategy`).

    Args:
      trainer: The `trainer.Trainer` of the run.
      folder: Its `run_folder.RunFolder`.
      strategy: The `tf.distribute.Strategy` that `trainer` runs under.
      config: The `TrainConfig` of the run.
    """
    self._trainer = trainer
    self._folder = folder
    self._strategy = strategy
    self._config = config
    self._checkpoint = trainer.checkpoint()
    self._manager = distribute.checkpoint_manager(
        self._checkpoint, folder.checkpoint_dir, strategy, max_to_keep=3,
        step_counter=trainer.step_counter())
    self._save_policy = None  # Its clock starts with `train`.
    # The step of the newest checkpoint this run wrote or resumed from; the
    # same on every worker, which all save together.
    self._saved_step = -1

  def restore(self):
    """Resumes from the latest checkpoint, if any; all workers at one step."""
    # Every task resumes from the chief's checkpoints; variables saved under
    # any strategy restore under any other.
    path = self._folder.latest_checkpoint()
    if path:
      self._checkpoint.restore(path)
      self._saved_step = self._trainer.step
      logging.info("Resumed from %s at step %d.", path, self._trainer.step)
    distribute.check_same_step(self._strategy, self._trainer.step)

  def train(self, test_images):
    """Trains the remaining epochs, validating on `test_images` after each.

    Returns:
      A list with one dict per epoch trained (`train_and_evaluate`).
    """
    writer = self._folder.summary_writer(distribute.is_chief(self._strategy))
    history = []
    step = self._trainer.step
    self._save_policy = SavePolicy(self._config.checkpoint_secs)
    progress = Progress(step, self._trainer.total_steps)
    try:
      while step < self._trainer.total_steps:
        record = self._epoch(step, test_images)
        step = record["step"]
        history.append(record)
        self._write_summaries(writer, record)
        self._log(record, progress.eta(step))
    finally:
      # Also on Ctrl-C or an error: keep every finished step.
      self._save_unsaved()
      writer.close()
    return history

  def _epoch(self, step, test_images):
    # The rest of the epoch of `step`, its validation and its checkpoint.
    epoch, first_step = divmod(step, self._trainer.steps_per_epoch)
    epoch_start = time.monotonic()
    sums, digits, step = self._train_epoch(epoch, first_step, step)
    train_seconds = time.monotonic() - epoch_start
    # Validation runs outside `strategy.run`, on each task's copy of the
    # variables, which all replicas keep identical: the same numbers under
    # any strategy, with no collective ops, so no worker can wait on
    # another here. It is small next to an epoch of training.
    eval_metrics = self._trainer.evaluate(test_images)
    self._save(step)
    seconds = time.monotonic() - epoch_start
    record = dict(epoch=epoch + 1, step=step, seconds=seconds,
                  train_seconds=train_seconds)
    record.update({f"train/{k}": v / digits for k, v in sums.items()})
    record.update({f"eval/{k}": v for k, v in eval_metrics.items()})
    return record

  def _train_epoch(self, epoch, first_step, step):
    # Sums over the digits of the epoch's steps from `step` on, their count,
    # and the step reached.
    iterator = self._trainer.epoch_batches(epoch, first_step)
    sums = dict(loss=0., rate=0., distortion=0.)
    digits = 0
    end = (epoch + 1) * self._trainer.steps_per_epoch
    while step < end:
      num_steps = min(self._config.steps_per_loop, end - step)
      chunk, chunk_digits = self._trainer.train(iterator, step, num_steps)
      for key in sums:
        sums[key] += float(chunk[key])
      digits += float(chunk_digits)
      step = self._trainer.step
      self._save_if_due(step)
    return sums, digits, step

  def _save_if_due(self, step):
    # All workers save together, when any one's clock says so.
    if distribute.any_worker(self._strategy, self._save_policy.due()):
      self._save(step)

  def _save(self, step):
    self._save_once(step)
    self._save_policy.saved()

  def _save_unsaved(self):
    self._save_once(self._trainer.step)

  def _save_once(self, step):
    # Each step is saved once. An epoch whose last call ends when a save is
    # due would otherwise save its step twice, and the second save rewrites
    # that checkpoint's files in place: killed in between, the run would
    # leave its newest checkpoint unreadable (a checksum error on resume).
    if step > self._saved_step:
      self._manager.save(checkpoint_number=step)
      self._saved_step = step

  def _write_summaries(self, writer, record):
    with writer.as_default(step=record["step"]):
      for key, value in record.items():
        if key.startswith(("train/", "eval/")):
          tf.summary.scalar(key, value)
      tf.summary.scalar("train/seconds_per_epoch", record["seconds"])
    writer.flush()

  def _log(self, record, eta):
    logging.info(
        "epoch %d/%d (step %d): train loss %.2f rate %.2f bits "
        "distortion %.4f | test loss %.2f rate %.2f bits distortion %.4f | "
        "%.1f s (train %.1f s), ETA %s", record["epoch"], self._config.epochs,
        record["step"], record["train/loss"], record["train/rate"],
        record["train/distortion"], record["eval/loss"], record["eval/rate"],
        record["eval/distortion"], record["seconds"], record["train_seconds"],
        format_seconds(eta))


def _check_images(**images_by_name):
  for name, images in images_by_name.items():
    if (images.dtype != tf.uint8 or
        images.shape[1:] != loss_lib.IMAGE_SHAPE or not images.shape[0]):
      raise contract.UserValueError(
          f"{name} must be uint8 [N, 28, 28, 1] with N > 0, "
          f"got {images.dtype.name} {images.shape}.")


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
    `(codec, history)`: the trained `model.Codec` (`Trainer.result_codec`:
    the moving average of the variables where the run keeps one), with plain
    (not distributed) variables, and a list with one dict per epoch completed in
    this call (`epoch`, `step`, `train/...`, `eval/...`, `seconds`).
  """
  train_images = tf.convert_to_tensor(train_images)
  test_images = tf.convert_to_tensor(test_images)
  _check_images(train_images=train_images, test_images=test_images)
  strategy = strategy or tf.distribute.get_strategy()
  folder = run_folder.RunFolder(model_dir)
  # Checked before anything is written; the batch may be the resumed run's.
  config = folder.resolve(config)
  distribute.per_replica_batch_size(config.batch_size, strategy)
  config = folder.start(config, write=distribute.is_chief(strategy))
  logging.info("Training under %s.", distribute.describe(strategy))
  trainer = trainer_lib.Trainer(config, strategy, train_images)
  controller = Controller(trainer, folder, strategy, config)
  controller.restore()
  history = controller.train(test_images)
  if strategy is not tf.distribute.get_strategy():
    return trainer.plain_codec(), history
  return trainer.result_codec, history


def restore_codec(model_dir):
  """The codec of the latest checkpoint in model_dir, and its config.

  The codec that validation measured: the moving average of the variables
  where the run keeps one (`TrainConfig.ema_steps`).
  """
  config = run_folder.load_config(model_dir)
  codec = model.Codec(config.latent_dims, seed=config.seed,
                      architecture=config.architecture,
                      analysis_hidden_layers=config.analysis_hidden_layers)
  folder = run_folder.RunFolder(model_dir)
  path = folder.latest_checkpoint()
  if path is None:
    raise FileNotFoundError(f"no checkpoint in {folder.checkpoint_dir}.")
  # Only the codec is needed: the optimizer's state is left unread.
  if config.ema_steps:
    # `Trainer.checkpoint` holds it in its `MovingAverage`.
    checkpoint = tf.train.Checkpoint(
        **{averaging.CHECKPOINT_NAME: tf.train.Checkpoint(codec=codec)})
  else:
    checkpoint = tf.train.Checkpoint(codec=codec)
  checkpoint.read(path).expect_partial()
  return codec, config
