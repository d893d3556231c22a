"""Which `tf.distribute` strategy trains, and what each worker may write.

The training loop (`training.train_and_evaluate`) is written once, against
`tf.distribute.Strategy`; this module makes the strategy from its name and
holds the rules of a run on several workers:

* `default`: TensorFlow's default strategy, one device, no distribution.
* `mirrored`: `tf.distribute.MirroredStrategy` over this machine's GPUs, or
  over its logical CPU devices where there are no GPUs.
* `multi_worker`: `tf.distribute.MultiWorkerMirroredStrategy`, the cluster read
  from the environment variable `TF_CONFIG`, which is checked here first so
  that a mistake in it is one clear error instead of a hang or a trace.

On several workers only the chief (TensorFlow's own choice, from `TF_CONFIG`)
writes into the run folder. TensorFlow asks every worker to take part in
each checkpoint save, so the others save to a temporary folder of their own,
deleted right after each save.
"""

import json
import os
import shutil
import tempfile

from absl import logging
import tensorflow as tf

from tfmnistcodec import contract

__all__ = [
    "STRATEGIES",
    "make_strategy",
    "read_tf_config",
    "is_chief",
    "describe",
    "per_replica_batch_size",
    "checkpoint_manager",
    "any_worker",
    "check_same_step",
]

STRATEGIES = ("default", "mirrored", "multi_worker")
# MultiWorkerMirroredStrategy runs these jobs; parameter servers and a side-car
# evaluator belong to other strategies or loops.
_JOBS = ("chief", "worker")
_TF_CONFIG_EXAMPLE = (
    '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
    '"task": {"type": "worker", "index": 0}}')


def read_tf_config(environ=None):
  """The cluster and task of `TF_CONFIG`, checked.

  Args:
    environ: Mapping to read `TF_CONFIG` from; `os.environ` if `None`.

  Returns:
    The parsed `TF_CONFIG`: a dict with `cluster` (job name -> list of
    "host:port") and `task` (`type` and `index`).

  Raises:
    ValueError: `TF_CONFIG` is missing, not JSON, or not a cluster of `chief`
      and `worker` jobs with this task in it.
  """
  environ = os.environ if environ is None else environ
  text = environ.get("TF_CONFIG", "").strip()
  if not text:
    raise contract.UserValueError(
        "the multi_worker strategy reads its cluster from the environment "
        "variable TF_CONFIG, which is not set; set it on every worker, e.g. "
        f"TF_CONFIG='{_TF_CONFIG_EXAMPLE}'.")
  try:
    config = json.loads(text)
  except json.JSONDecodeError as e:
    raise contract.UserValueError(
        f"TF_CONFIG is not valid JSON ({e}); expected e.g. "
        f"'{_TF_CONFIG_EXAMPLE}'.") from None
  if not isinstance(config, dict) or not isinstance(
      config.get("cluster"), dict) or not isinstance(config.get("task"), dict):
    raise contract.UserValueError(
        "TF_CONFIG must be a JSON object with a 'cluster' object "
        f"and a 'task' object, e.g. '{_TF_CONFIG_EXAMPLE}'.")
  cluster, task = config["cluster"], config["task"]
  for job, addresses in cluster.items():
    if job not in _JOBS:
      raise contract.UserValueError(
          f"TF_CONFIG has a job {job!r}; the multi_worker "
          "strategy runs only 'chief' and 'worker' jobs.")
    if (not isinstance(addresses, list) or not addresses or
        not all(_is_address(a) for a in addresses)):
      raise contract.UserValueError(
          f"TF_CONFIG's job {job!r} must be a non-empty list of "
          f"'host:port' strings, got {addresses!r}.")
  if len(cluster.get("chief", [])) > 1:
    raise contract.UserValueError("TF_CONFIG may have one 'chief' at most, got "
                                  f"{len(cluster['chief'])}.")
  if "worker" not in cluster and "chief" not in cluster:
    raise contract.UserValueError("TF_CONFIG's cluster has no 'worker' job.")
  addresses = [a for job in cluster.values() for a in job]
  if len(set(addresses)) != len(addresses):
    raise contract.UserValueError(
        f"TF_CONFIG's cluster lists an address twice: {addresses}.")
  task_type, index = task.get("type"), task.get("index")
  if task_type not in cluster:
    raise contract.UserValueError(
        f"TF_CONFIG's task type {task_type!r} is not a job of "
        f"its cluster ({', '.join(sorted(cluster))}).")
  if (not isinstance(index, int) or isinstance(index, bool) or
      not 0 <= index < len(cluster[task_type])):
    raise contract.UserValueError(
        f"TF_CONFIG's task index {index!r} is not one of the "
        f"{len(cluster[task_type])} tasks of job {task_type!r}.")
  return config


def _is_address(address):
  if not isinstance(address, str):
    return False
  host, _, port = address.rpartition(":")
  return bool(host) and port.isdigit() and 0 < int(port) < 65536


def make_strategy(name, environ=None):
  """The `tf.distribute.Strategy` called `name`.

  Call it before anything else runs on TensorFlow: MultiWorkerMirroredStrategy
  configures the runtime's collective ops, which is possible only at start-up.

  Args:
    name: One of `STRATEGIES`.
    environ: Mapping to read `TF_CONFIG` from; `os.environ` if `None`.
      `MultiWorkerMirroredStrategy` itself reads `os.environ`.

  Returns:
    A `tf.distribute.Strategy`.

  Raises:
    ValueError: an unknown name, or a missing or malformed `TF_CONFIG`.
  """
  if name not in STRATEGIES:
    raise contract.UserValueError(f"unknown strategy {name!r}; choose one of "
                                  f"{', '.join(STRATEGIES)}.")
  if name == "default":
    return tf.distribute.get_strategy()
  if name == "mirrored":
    # MirroredStrategy() alone takes the GPUs or else only the first CPU;
    # naming the logical CPUs lets a CPU split into several replicas
    # (`tf.config.set_logical_device_configuration`), as the tests do.
    devices = (tf.config.list_logical_devices("GPU") or
               tf.config.list_logical_devices("CPU"))
    return tf.distribute.MirroredStrategy([d.name for d in devices])
  read_tf_config(environ)
  return tf.distribute.MultiWorkerMirroredStrategy()


def is_chief(strategy):
  """Whether this process writes the run's checkpoints, summaries and export.

  TensorFlow decides: the `chief` task, or else worker 0; the one process of a
  single-machine strategy.
  """
  return strategy.extended.should_checkpoint


def _task(strategy):
  resolver = strategy.cluster_resolver
  if resolver is None or resolver.task_type is None:
    return None
  return resolver.task_type, resolver.task_id


def _name(strategy):
  # By their public names: TensorFlow 2.14's classes are called
  # CollectiveAllReduceStrategy and _DefaultDistributionStrategy.
  if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
    return "MultiWorkerMirroredStrategy"
  if isinstance(strategy, tf.distribute.MirroredStrategy):
    return "MirroredStrategy"
  if strategy is tf.distribute.get_strategy():
    return "the default strategy"
  return type(strategy).__name__


def describe(strategy):
  """A few words on the strategy, its replicas and this task, for the log."""
  words = f"{_name(strategy)} with {strategy.num_replicas_in_sync} replica(s)"
  task = _task(strategy)
  if task is not None:
    role = "chief" if is_chief(strategy) else "not the chief"
    words += f", this task {task[0]} {task[1]} ({role})"
  return words


def per_replica_batch_size(global_batch_size, strategy):
  """Digits per replica in a step of `global_batch_size` digits.

  Raises:
    ValueError: `global_batch_size` is not divisible by the replicas.
  """
  replicas = strategy.num_replicas_in_sync
  if global_batch_size % replicas:
    raise contract.UserValueError(
        f"batch_size {global_batch_size} is not divisible by the {replicas} "
        f"replicas of {_name(strategy)}; the global batch is split "
        "evenly across them.")
  return global_batch_size // replicas


class _TemporaryCheckpointManager(tf.train.CheckpointManager):
  """Saves like `CheckpointManager` and deletes what it saved at once.

  For the workers that are not the chief: they must take part in every save,
  but their copies are never read.
  """

  def save(self, checkpoint_number=None, check_interval=True, options=None):
    try:
      return super().save(checkpoint_number, check_interval, options)
    finally:
      shutil.rmtree(self.directory, ignore_errors=True)


def checkpoint_manager(checkpoint, directory, strategy, **kwargs):
  """A `tf.train.CheckpointManager` saving where this task may write.

  Args:
    checkpoint: The `tf.train.Checkpoint` to save.
    directory: The run's checkpoint folder, written by the chief only.
    strategy: The `tf.distribute.Strategy` of the run.
    **kwargs: More arguments of `tf.train.CheckpointManager`.

  Returns:
    The chief's manager saves into `directory`. Any other task's saves into a
    temporary folder of its own, removed after each save; so all tasks save
    together, and only the chief's checkpoints remain.
  """
  if is_chief(strategy):
    return tf.train.CheckpointManager(checkpoint, str(directory), **kwargs)
  task_type, task_id = _task(strategy)
  folder = tempfile.mkdtemp(prefix=f"tfmnistcodec-{task_type}{task_id}-")
  # Each save makes the folder again: nothing is left if no save comes.
  os.rmdir(folder)
  logging.info("This task is not the chief: its checkpoints go to %s and are "
               "deleted after each save.", folder)
  return _TemporaryCheckpointManager(checkpoint, folder, **kwargs)


def _is_multi_worker(strategy):
  return _task(strategy) is not None


def any_worker(strategy, flag):
  """Whether `flag` is true on any worker; every worker gets the same answer.

  For decisions that all workers must take together, such as a checkpoint save
  due by each worker's own clock. One scalar all-reduce across workers; no
  communication on a single machine.
  """
  if not _is_multi_worker(strategy):
    return bool(flag)
  votes = strategy.experimental_distribute_values_from_function(
      lambda _: tf.constant(1. if flag else 0.))
  return float(strategy.reduce(tf.distribute.ReduceOp.SUM, votes,
                               axis=None)) > 0


def check_same_step(strategy, step):
  """Raises `ValueError` unless every worker restored the same step.

  All workers read the chief's checkpoints, so the run folder must be one that
  every worker can read (a shared file system). A worker that sees another
  folder would silently train other variables; this makes it an error.
  """
  if not _is_multi_worker(strategy):
    return
  # The mean of the steps and of their squares: equal steps exactly when the
  # variance is 0; every worker computes the same values, so all decide alike.
  values = strategy.experimental_distribute_values_from_function(
      lambda _: tf.constant([step, step * step], tf.float64))
  mean, mean_square = strategy.reduce(
      tf.distribute.ReduceOp.MEAN, values, axis=None).numpy()
  if mean_square != mean * mean:
    raise contract.UserValueError(
        f"the workers restored different checkpoints (this one step {step}, "
        f"their mean step {mean:g}): every worker must read the chief's "
        "--model_dir, so on several machines it must be a shared folder.")
