"""Speed and memory of training and of coding through the SavedModel.

The logic behind bin/benchmark.py, which passes its flags here as plain
values. Training: fresh runs with the default settings (oneDNN kernels as the
binary sets them); the median seconds per epoch (training and validation) and
training steps per second, over every epoch but each run's first, which also
traces and compiles. Coding: median time per call and digits per second of
each coding signature at a few batch sizes, and beside each compress
signature's, the string bits per digit and MAE of what it coded. Coders: the
range coder alone, tensorflow-compression's ops against the SavedModel's
stock-op coder on the same latents and tables, side by side (best of
alternating rounds, bits per digit, whether the bytes are identical). The machine is shared and noisy:
compare numbers from one run, side by side.
"""

import os
import platform
import resource
import statistics
import tempfile
import time

from absl import logging
import numpy as np
import tensorflow as tf
# SavedModels exported before the stock-op coder need TFC's ops registered.
import tensorflow_compression  # pylint: disable=unused-import

from tfmnistcodec import contract
from tfmnistcodec import export
from tfmnistcodec import training
from tfmnistcodec.core import rangecoder
from tfmnistcodec.study import benchmark_files as files_lib
from tfmnistcodec.study import evaluation

__all__ = ["benchmark", "benchmark_coders", "benchmark_coding",
           "benchmark_training", "coding_batches", "median_seconds_over",
           "parse_batch_calls", "parse_sizes", "peak_rss_mib"]



def parse_batch_calls(specs):
  """`["SIZE:CALLS", ...]` as `[(size, calls), ...]`, or a `ValueError`."""
  pairs = []
  for spec in specs:
    parts = spec.split(":")
    if len(parts) != 2 or not all(p.isdigit() and int(p) > 0 for p in parts):
      raise contract.UserValueError(
          f"--batch_calls: {spec!r} is not SIZE:CALLS.")
    pairs.append((int(parts[0]), int(parts[1])))
  return pairs


def parse_sizes(texts, what):
  """`["10000", ...]` as positive ints, or a `ValueError` naming `what`."""
  if not all(text.isdigit() and int(text) > 0 for text in texts):
    raise contract.UserValueError(
        f"{what}: {','.join(texts)!r} is not a list of positive integers.")
  return [int(text) for text in texts]


def peak_rss_mib():
  """The process's peak resident memory so far, in MiB (Linux: KiB units)."""
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def benchmark_training(train_images, test_images, workdir, repeats, epochs):
  """Median s/epoch and steps/s over the epochs after each run's first.

  Trains `repeats` fresh runs of `epochs` epochs each in `workdir`, with the
  default settings, as bin/train.py would.
  """
  config = training.TrainConfig(epochs=epochs)
  epochs, first = [], []
  for run in range(repeats):
    model_dir = os.path.join(workdir, f"run_{run}")
    _, history = training.train_and_evaluate(config, model_dir, train_images,
                                             test_images)
    steps = history[0]["step"]
    for i, record in enumerate(history):
      entry = dict(seconds=record["seconds"],
                   steps_per_second=steps / record["train_seconds"])
      (first if i == 0 else epochs).append(entry)
    logging.info("training run %d/%d: %s s per epoch", run + 1,
                 repeats,
                 ", ".join(f"{r['seconds']:.1f}" for r in history))
  timed = epochs or first  # With --epochs=1 only first epochs exist.
  return dict(
      runs=repeats, epochs_per_run=epochs,
      steps_per_epoch=steps,
      seconds_per_epoch=statistics.median(e["seconds"] for e in timed),
      steps_per_second=statistics.median(e["steps_per_second"]
                                         for e in timed),
      first_epoch_seconds=statistics.median(e["seconds"] for e in first),
      epoch_seconds=[round(e["seconds"], 2) for e in epochs],
      timed_epochs="after the first of each run" if epochs else "first")


def median_seconds_over(function, arguments):
  """Median seconds of `function(a)` over `arguments`, after a warm-up call.

  The warm-up (the first call of a signature traces and loads) is
  `function(arguments[0])`, untimed.
  """
  function(arguments[0])
  times = []
  for argument in arguments:
    start = time.perf_counter()
    function(argument)
    times.append(time.perf_counter() - start)
  return statistics.median(times)


def coding_batches(images, size, calls):
  """The batches that `calls` timed calls of `size` digits code.

  Call `i` codes digits `i * size` to `(i + 1) * size - 1`, wrapping around
  `images`, so that an encoder whose cost depends on the digit (the flip
  search stops early on digits it cannot improve) is timed over many digits,
  not one digit over and over.

  Returns:
    `(batches, order)`: the distinct batches (uint8 tensors), and for each
    call, in order, the index of its batch.
  """
  starts = [(i * size) % len(images) for i in range(calls)]
  distinct = list(dict.fromkeys(starts))
  batches = [tf.constant(np.take(images, np.arange(start, start + size) %
                                 len(images), axis=0)) for start in distinct]
  return batches, [distinct.index(start) for start in starts]


def _rate_and_error(strings, decompress, images):
  """Mean string bits per digit, and MAE of `strings` decoded, in [0, 1]."""
  decoded = decompress(strings=strings)["images"].numpy()
  return dict(
      string_bits_per_digit=8 * float(
          tf.reduce_mean(tf.cast(tf.strings.length(strings), tf.float64))),
      mae=float(np.mean(np.abs(decoded.astype(np.float64) -
                               np.asarray(images, np.float64)))) / 255)


def benchmark_coding(saved_model, images, batch_calls):
  """Median seconds per call and digits/s of each coding signature.

  Call `i` of a batch size codes digits `i * size` to `(i + 1) * size - 1`
  (`coding_batches`), so that a median over calls is a median over digits.
  Each compress signature's entry also has what it coded: the mean string
  bits per digit over the distinct digits of those batches and the MAE of
  their decoded uint8 digits (/255).

  Args:
    saved_model: Path of the SavedModel.
    images: uint8 test digits `[N, 28, 28, 1]`.
    batch_calls: `(batch size, timed calls)` pairs, as `parse_batch_calls`
      returns them.
  """
  loaded = tf.saved_model.load(str(saved_model))
  decompress = loaded.signatures["decompress"]
  # Models exported before latent refinement have no compress_fast.
  compressors = {name: loaded.signatures[name]
                 for name in ("compress", "compress_fast")
                 if name in loaded.signatures}
  results = []
  for size, calls in batch_calls:
    batches, order = coding_batches(images, size, calls)
    # What each compress signature codes (deterministic), once, untimed.
    coded = {name: [compressor(images=batch)["strings"] for batch in batches]
             for name, compressor in compressors.items()}
    timed = {
        "compress": (lambda i: compressors["compress"](
            images=batches[i])["strings"].numpy()),
        "decompress": (lambda i: decompress(
            strings=coded["compress"][i])["images"].numpy()),
    }
    if "compress_fast" in compressors:
      timed["compress_fast"] = (lambda i: compressors["compress_fast"](
          images=batches[i])["strings"].numpy())
    for name, function in timed.items():
      seconds = median_seconds_over(function, order)
      results.append(dict(signature=name, batch_size=size, calls=calls,
                          digits=min(len(batches) * size, len(images)),
                          median_ms_per_call=1000 * seconds,
                          digits_per_second=size / seconds))
      if name in coded:
        # Over the distinct digits: where batches wrap, each digit once.
        results[-1].update(_rate_and_error(
            tf.concat(coded[name], 0)[:len(images)], decompress,
            tf.concat(batches, 0)[:len(images)]))
      logging.info("%s, batch %d: %.2f ms per call, %.0f digits/s", name,
                   size, 1000 * seconds, size / seconds)
  return results


def benchmark_coders(saved_model, images, rounds=5):
  """The range coder alone: tensorflow-compression's ops against the stock.

  Both code the same latents (those `compress_fast` codes, decoded) with
  the SavedModel's tables (the stock coder as this checkout builds it), 1,
  128 and 10,000 digits per call, in alternating rounds; reports the best of
  `rounds` calls of each, digits/s, bits per digit and whether the bytes are
  identical.
  """
  import tensorflow_compression as tfc  # pylint: disable=g-import-not-at-top
  loaded = tf.saved_model.load(str(saved_model))
  tables = loaded.entropy_model
  cdf, cdf_offset = tables._cdf, tables._cdf_offset  # pylint: disable=protected-access
  ours = rangecoder.RangeCoder(cdf, cdf_offset)
  latent_dims = int(ours.offset.shape[0])
  theirs = tfc.ContinuousBatchedEntropyModel(
      prior_shape=[latent_dims], coding_rank=1, compression=True,
      stateless=True, cdf=cdf, cdf_offset=cdf_offset, offset_heuristic=False)
  strings = loaded.signatures["compress_fast"](
      images=tf.constant(images[:10000]))["strings"]
  latents = tf.cast(theirs.decompress(strings, []), tf.int32)
  values_spec = [tf.TensorSpec([None, latent_dims], tf.int32)]
  strings_spec = [tf.TensorSpec([None], tf.string)]
  coders = dict(
      tensorflow_compression=(
          tf.function(lambda v: theirs.compress(tf.cast(v, tf.float32)),
                      input_signature=values_spec),
          tf.function(lambda s: theirs.decompress(s, []),
                      input_signature=strings_spec)),
      stock_ops=(
          tf.function(ours.encode, input_signature=values_spec),
          tf.function(lambda s: ours.decode(s, latent_dims),
                      input_signature=strings_spec)))
  results = []
  for size in (1, 128, 10000):
    values, coded = latents[:size], strings[:size]
    best = {}
    for name, (encode, decode) in coders.items():
      same = bool(tf.reduce_all(encode(values) == coded))  # And warm-up.
      decode(coded)
      best[name] = dict(identical_bytes=same, encode=[], decode=[])
    for _ in range(rounds):
      for name, (encode, decode) in coders.items():
        for what, function, argument in (("encode", encode, values),
                                         ("decode", decode, coded)):
          start = time.perf_counter()
          tf.nest.map_structure(lambda t: t.numpy(), function(argument))
          best[name][what].append(time.perf_counter() - start)
    bits = 8 * float(tf.reduce_mean(tf.cast(tf.strings.length(coded),
                                            tf.float32)))
    for name, timing in best.items():
      entry = dict(coder=name, batch_size=int(values.shape[0]),
                   bits_per_digit=bits,
                   identical_bytes=timing["identical_bytes"])
      for what in ("encode", "decode"):
        seconds = min(timing[what])
        entry[f"{what}_best_ms"] = 1000 * seconds
        entry[f"{what}_digits_per_second"] = values.shape[0] / seconds
      results.append(entry)
      logging.info("coder %s, batch %d: encode %.0f, decode %.0f digits/s",
                   name, values.shape[0], entry["encode_digits_per_second"],
                   entry["decode_digits_per_second"])
  return results


def benchmark(train_images, test_images, repeats, epochs, batch_calls,
              model=None, file_digits=(), coders=True):
  """Everything bin/benchmark.py reports, as one JSON-ready dict.

  Args:
    train_images: uint8 training digits `[N, 28, 28, 1]`.
    test_images: uint8 test digits.
    repeats: Training runs (0: none; then `model` is needed).
    epochs: Epochs per training run (the first is warm-up).
    batch_calls: `(batch size, timed calls)` pairs for the coding benchmark.
    model: SavedModel or run folder to time coding with; None for the model
      of the last training run.
    file_digits: Input sizes for `benchmark_files` (none: skipped).
    coders: Whether to time the range coders alone (`benchmark_coders`).
  """
  # A wrong `model` is refused before minutes of training.
  saved_model = evaluation.find_saved_model(model) if model else None
  result = dict(
      machine=dict(processor=platform.processor() or platform.machine(),
                   cpus=os.cpu_count(),
                   onednn=os.environ.get("TF_ENABLE_ONEDNN_OPTS"),
                   tensorflow=tf.__version__))
  with tempfile.TemporaryDirectory() as workdir:
    if repeats:
      result["training"] = benchmark_training(train_images, test_images,
                                              workdir, repeats, epochs)
      result["peak_rss_mib_after_training"] = peak_rss_mib()
    if not model:
      saved_model = os.path.join(workdir, contract.SAVED_MODEL_DIR)
      codec, config = training.restore_codec(
          os.path.join(workdir, f"run_{repeats - 1}"))
      export.export_saved_model(codec, saved_model, config.lmbda)
    result["coding"] = benchmark_coding(saved_model, test_images, batch_calls)
    if coders:
      result["coders"] = benchmark_coders(saved_model, test_images)
    if file_digits:
      result["files"] = files_lib.benchmark_files(saved_model, test_images,
                                                  file_digits)
    result["coding_model"] = str(model or "this benchmark's model")
  result["peak_rss_mib"] = peak_rss_mib()
  return result
