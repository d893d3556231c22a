"""What the absl binaries in bin/ share: training flags and error handling.

Binaries stay thin: they define flags here, turn them into plain values, and
call the library. Library modules never read flags. Importing this module
does not import TensorFlow (the training helpers import it when called), so
`bin/compress.py` and `bin/decompress.py` refuse a bad input, output or file
in a fraction of a second instead of after TensorFlow's start-up.
"""

import contextlib
import os
import signal
import sys
import threading
import time

from absl import flags
from absl import logging

from tfmnistcodec import contract

__all__ = [
    "SAVED_MODEL_DIR", "define_training_flags", "train_config_from_flags",
    "positive_float", "train_and_export", "user_errors", "interruptible",
    "Interrupted", "Progress", "digit_range", "log_rate"
]

# Where a run keeps its SavedModel, inside --model_dir.
SAVED_MODEL_DIR = contract.SAVED_MODEL_DIR

# Errors that come from what the user asked for (the library's
# `contract.UserError` family) or from the machine (a full disk, a read-only
# folder: every `OSError`), shown as one line, no trace. Any other exception
# is a bug and keeps its traceback.
USER_ERRORS = (contract.UserError, OSError)


def define_training_flags(single_run=True):
  """Defines the training flags (call once, at the top of a binary).

  Args:
    single_run: Whether to define --model_dir and --lmbda, which a sweep
      (many runs) sets per run instead.
  """
  # pylint: disable=g-import-not-at-top  # TensorFlow, when training.
  from tfmnistcodec import training
  from tfmnistcodec.core import model
  defaults = training.TrainConfig()
  if single_run:
    flags.DEFINE_string(
        "model_dir", None,
        "Folder for the run: config, checkpoints, TensorBoard summaries and "
        "the SavedModel. A rerun with the same folder resumes where it "
        "stopped.")
    flags.DEFINE_float(
        "lmbda", defaults.lmbda,
        "Weight of the distortion in the loss rate + lmbda * distortion; "
        "larger means better digits and more bits.", lower_bound=1e-9)
  flags.DEFINE_string(
      "dataset", "mnist",
      "TFDS name of a dataset of 28x28x1 uint8 images with 'train' and "
      "'test' splits.")
  flags.DEFINE_string(
      "data_dir", None,
      "TFDS data folder (default: TFDS' own, ~/tensorflow_datasets). MNIST is "
      "prepared there if it is missing.")
  flags.DEFINE_enum(
      "architecture", defaults.architecture, list(model.ARCHITECTURES),
      "tutorial: the TensorFlow Compression tutorial's model; improved: "
      "a deep factorized prior, clipped outputs, a decaying rate, a moving "
      "average, a latent search when compressing (README).")
  flags.DEFINE_integer("latent_dims", defaults.latent_dims,
                       "Number of latent dimensions.", lower_bound=1)
  flags.DEFINE_integer("epochs", defaults.epochs,
                       "Passes over the training digits.", lower_bound=1)
  flags.DEFINE_integer("batch_size", None, "Digits per training step "
                       "(default: the architecture's: tutorial 128, improved "
                       "256).", lower_bound=1)
  flags.DEFINE_float("learning_rate", None, "Adam's learning rate (default: "
                     "the architecture's: tutorial 1e-3, improved 2e-3).",
                     lower_bound=1e-12)
  flags.DEFINE_float(
      "ema_steps", None, "Time constant, in steps, of the moving average of "
      "the variables that validation and export use; 0: none (default: the "
      "architecture's: tutorial 0, improved 75).", lower_bound=0.)
  flags.DEFINE_integer(
      "analysis_hidden_layers", None, "Dense layers of 500 in the analysis "
      "transform before its latents (default: the architecture's: tutorial "
      "1, improved 3).", lower_bound=1)
  flags.DEFINE_integer(
      "seed", defaults.seed,
      "Seed of the initial variables, the order of the digits and the "
      "training noise.", lower_bound=0)
  flags.DEFINE_float(
      "checkpoint_secs", defaults.checkpoint_secs,
      "Besides after every epoch, write a checkpoint when this many seconds "
      "have passed since the last one.", lower_bound=0.)
  # A string, not an enum, so that a wrong name is one `error: ...` line.
  flags.DEFINE_string(
      "strategy", "default",
      "How to distribute training (tf.distribute): 'default' (one device), "
      "'mirrored' (all GPUs of this machine, or its logical CPUs) or "
      "'multi_worker' (MultiWorkerMirroredStrategy over the machines that the "
      "environment variable TF_CONFIG lists; start the same command on each). "
      "--batch_size is the global batch, split evenly across the replicas.")


def train_config_from_flags():
  from tfmnistcodec import training  # pylint: disable=g-import-not-at-top
  f = flags.FLAGS
  return training.TrainConfig(
      lmbda=f["lmbda"].value if "lmbda" in f else training.TrainConfig.lmbda,
      architecture=f.architecture, latent_dims=f.latent_dims, epochs=f.epochs,
      batch_size=f.batch_size, learning_rate=f.learning_rate, seed=f.seed,
      checkpoint_secs=f.checkpoint_secs, ema_steps=f.ema_steps,
      analysis_hidden_layers=f.analysis_hidden_layers)


def positive_float(text, what):
  """`text` as a positive float, or a `ValueError` that names `what`."""
  try:
    value = float(text)
  except ValueError:
    raise contract.UserValueError(
        f"{what}: {text!r} is not a number.") from None
  if not value > 0 or value == float("inf"):
    raise contract.UserValueError(
        f"{what}: {text!r} is not a positive, finite number.")
  return value


def train_and_export(config, model_dir, dataset="mnist", data_dir=None,
                     strategy="default"):
  """Loads the data, trains (or resumes), and exports the SavedModel.

  Args:
    config: A `training.TrainConfig`.
    model_dir: The run folder.
    dataset: TFDS name of the digits.
    data_dir: TFDS data folder, or `None`.
    strategy: Name of a `tf.distribute` strategy (`distribute.STRATEGIES`).

  Returns:
    `(codec, saved_model_path, history)`; `saved_model_path` is `None` on a
    worker that is not the chief, which exports nothing.
  """
  # pylint: disable=g-import-not-at-top  # TensorFlow, when training.
  from tfmnistcodec import data
  from tfmnistcodec import export
  from tfmnistcodec import training
  from tfmnistcodec.training import distribute
  from tfmnistcodec.training import run_folder
  # First: MultiWorkerMirroredStrategy must configure TensorFlow's runtime
  # before anything else uses it.
  strategy = distribute.make_strategy(strategy)
  train_images = data.load_numpy(dataset, "train", data_dir)
  test_images = data.load_numpy(dataset, "test", data_dir)
  logging.info("Training on %d digits of %s, validating on %d.",
               len(train_images), dataset, len(test_images))
  codec, history = training.train_and_evaluate(
      config, model_dir, train_images, test_images, strategy=strategy)
  if not distribute.is_chief(strategy):
    return codec, None, history
  path = run_folder.RunFolder(model_dir).saved_model_dir
  export.export_saved_model(codec, path, config.lmbda)
  logging.info("Exported the SavedModel to %s.", path)
  return codec, path, history


class Interrupted(KeyboardInterrupt):
  """SIGINT or SIGTERM arrived; `signum` says which."""

  def __init__(self, signum):
    super().__init__(signal.Signals(signum).name)
    self.signum = signum


def _raise_interrupted(signum, frame):
  del frame
  raise Interrupted(signum)


# Calls of `interruptible` whose worker thread has not finished. (Not
# `Thread.is_alive()`: after a signal interrupts `join()`, Python marks the
# thread stopped although it still runs.)
_running = set()


def interruptible(fn, *args, **kwargs):
  """`fn(*args, **kwargs)`, run so that SIGINT and SIGTERM stop it at once.

  Python runs signal handlers in the main thread only, between bytecodes, so
  a signal that arrives during one long TensorFlow call (a batch of 10,000
  digits can take minutes to refine) would wait for the call to return.
  Here the call runs in a worker thread while the main thread waits, and the
  wait is what the signal interrupts: `user_errors` then stops the program
  without waiting for the worker. `fn` should compute, not write files (the
  main thread writes them, atomically, after it returns).

  Returns:
    What `fn` returns; what it raises is raised here.
  """
  outcome = {}
  token = object()

  def work():
    try:
      outcome["value"] = fn(*args, **kwargs)
    except BaseException as e:  # pylint: disable=broad-except  # Raised below.
      outcome["error"] = e
    finally:
      _running.discard(token)

  _running.add(token)
  worker = threading.Thread(target=work, name="tfmnistcodec-work", daemon=True)
  worker.start()
  worker.join()
  if "error" in outcome:
    raise outcome["error"]
  return outcome["value"]


@contextlib.contextmanager
def user_errors():
  """Turns user errors and SIGINT/SIGTERM into one `error:` line on stderr.

  The exit status is 1 for an error and 128 + the signal's number for a
  signal, as a shell reports a program killed by it. Files being written are
  removed as the interruption unwinds (`atomic`), before the program exits.
  """
  signal.signal(signal.SIGTERM, _raise_interrupted)
  signal.signal(signal.SIGINT, _raise_interrupted)
  try:
    yield
  except USER_ERRORS as e:
    sys.exit(f"error: {e}")
  except Exception as e:  # pylint: disable=broad-except  # Re-raised below.
    if not _lost_a_worker(e):
      raise
    # Under multi_worker: a worker died or cannot be reached, and TensorFlow
    # aborted the collective ops; its log above names the worker.
    sys.exit("error: lost contact with another worker (see TensorFlow's log "
             "above); start every worker again to resume from the last "
             "checkpoint.")
  except KeyboardInterrupt as e:
    signum = getattr(e, "signum", signal.SIGINT)
    print(f"error: interrupted by {signal.Signals(signum).name}; no output "
          "was left half-written.", file=sys.stderr)
    if _running:
      # A worker is still inside TensorFlow; exiting normally would wait for
      # it, or tear TensorFlow down under it.
      sys.stdout.flush()
      sys.stderr.flush()
      os._exit(128 + signum)  # pylint: disable=protected-access
    sys.exit(128 + signum)


def _lost_a_worker(error):
  # Only TensorFlow raises it, so only a program that imported it can.
  tf = sys.modules.get("tensorflow")
  return tf is not None and isinstance(error, tf.errors.UnavailableError)


class Progress:
  """A progress bar with an ETA, one line on stderr, for long jobs.

      with Progress(total=len(digits)) as progress:
        for chunk in chunks:
          ...
          progress(len(chunk))

  Drawn only where the stream is a terminal (so logs and pipes get nothing),
  at most every `interval` seconds, and ended with a newline.
  """

  def __init__(self, total, what="digits", stream=None, enabled=None,
               interval=0.5, clock=time.monotonic):
    self._stream = sys.stderr if stream is None else stream
    if enabled is None:
      enabled = hasattr(self._stream, "isatty") and self._stream.isatty()
    self._enabled = enabled
    self._total = total
    self._what = what
    self._interval = interval
    self._clock = clock
    self._start = self._last = clock()
    self._drawn = False
    self.done = 0

  def __enter__(self):
    return self

  def __call__(self, count):
    self.done += count
    now = self._clock()
    if self._enabled and (now - self._last >= self._interval or
                          self.done >= self._total):
      self._last = now
      self._stream.write("\r" + self.line(now - self._start))
      self._stream.flush()
      self._drawn = True

  def line(self, elapsed):
    """The bar's text after `elapsed` seconds."""
    total = max(self._total, 1)
    text = (f"{self.done:,}/{self._total:,} {self._what} "
            f"({100 * self.done / total:.1f}%)")
    if elapsed > 0 and self.done:
      rate = self.done / elapsed
      left = max(self._total - self.done, 0) / rate
      text += f", {rate:,.0f} {self._what}/s, ETA {_duration(left)}"
    return text

  def __exit__(self, *exc_info):
    if self._drawn:
      self._stream.write("\n")
      self._stream.flush()
    return False


def _duration(seconds):
  seconds = round(seconds)
  hours, seconds = divmod(seconds, 3600)
  minutes, seconds = divmod(seconds, 60)
  return (f"{hours}:{minutes:02d}:{seconds:02d}" if hours else
          f"{minutes}:{seconds:02d}")


def digit_range(text):
  """`(start, stop)` from a `--digits` value `START:END` (either may be
  empty: the file's first digit, its end), or a `ValueError` that says why.

  `stop` is `None` where END is empty: the caller knows the file's length.
  """
  parts = text.split(":")
  try:
    if len(parts) != 2:
      raise ValueError
    start = int(parts[0]) if parts[0].strip() else 0
    stop = int(parts[1]) if parts[1].strip() else None
  except ValueError:
    raise contract.UserValueError(
        f"--digits={text!r}: give START:END, digits START to END - 1 "
        "(0-based, as a Python slice; either may be left out).") from None
  if start < 0 or (stop is not None and stop < start):
    raise contract.UserValueError(
        f"--digits={text!r}: need 0 <= START <= END.")
  return start, stop


def log_rate(what, count, seconds):
  """Logs `what count digits in seconds` with digits/s (bin/benchmark.py
  reads this line)."""
  logging.info("%s %d digits in %.3f s (%.0f digits/s).", what, count, seconds,
               count / seconds if seconds > 0 else 0.)
