"""Speed and memory of training and of coding through the SavedModel.

The logic behind bin/benchmark.py, which passes its flags here as plain
values. Training: fresh runs with the default settings (oneDNN kernels as the
binary sets them); the median seconds per epoch (training and validation) and
training steps per second, over every epoch but each run's first, which also
traces and compiles. Coding: median time per call and digits per second of
each coding signature at a few batch sizes. Coders: the range coder alone,
tensorflow-compression's ops against the SavedModel's stock-op coder on the
same latents and tables, side by side (best of alternating rounds, bits per
digit, whether the bytes are identical). The machine is shared and noisy:
compare numbers from one run, side by side.
"""

import os
import pathlib
import platform
import re
import resource
import statistics
import subprocess
import sys
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
from tfmnistcodec.files import codecfile
from tfmnistcodec.files import container
from tfmnistcodec.files import imageio
from tfmnistcodec.study import evaluation

__all__ = ["benchmark", "benchmark_coders", "benchmark_coding",
           "benchmark_files", "benchmark_training", "median_seconds",
           "parse_batch_calls", "parse_sizes", "peak_rss_mib", "run_measured"]

# The binaries, beside the package in a checkout (or an editable install).
BIN = pathlib.Path(__file__).resolve().parents[2] / "bin"


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


def median_seconds(function, calls):
  function()  # Warm-up: the first call of a signature traces and loads.
  times = []
  for _ in range(calls):
    start = time.perf_counter()
    function()
    times.append(time.perf_counter() - start)
  return statistics.median(times)


def benchmark_coding(saved_model, images, batch_calls):
  """Median seconds per call and digits/s of each coding signature.

  Args:
    saved_model: Path of the SavedModel.
    images: uint8 test digits `[N, 28, 28, 1]`.
    batch_calls: `(batch size, timed calls)` pairs, as `parse_batch_calls`
      returns them.
  """
  loaded = tf.saved_model.load(str(saved_model))
  compress = loaded.signatures["compress"]
  decompress = loaded.signatures["decompress"]
  results = []
  for size, calls in batch_calls:
    batch = tf.constant(images[:size])
    strings = compress(images=batch)["strings"]
    calls_by_name = {
        "compress": lambda: compress(images=batch)["strings"].numpy(),
        "decompress": lambda: decompress(strings=strings)["images"].numpy(),
    }
    # Models exported before latent refinement have no compress_fast.
    if "compress_fast" in loaded.signatures:
      compress_fast = loaded.signatures["compress_fast"]
      calls_by_name["compress_fast"] = (
          lambda: compress_fast(images=batch)["strings"].numpy())
    for name, function in calls_by_name.items():
      seconds = median_seconds(function, calls)
      results.append(dict(signature=name, batch_size=len(batch), calls=calls,
                          median_ms_per_call=1000 * seconds,
                          digits_per_second=len(batch) / seconds))
      logging.info("%s, batch %d: %.2f ms per call, %.0f digits/s", name,
                   len(batch), 1000 * seconds, len(batch) / seconds)
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


# Runs a Python script and writes its peak resident memory (VmHWM, KiB) to
# the file named by argv[1] when it exits. Not `wait4`'s ru_maxrss: a child's
# counts the parent's memory at the fork, which here is a loaded TensorFlow.
_PEAK_RSS_WRAPPER = """
import atexit, runpy, sys
def report(path=sys.argv[1]):
  with open("/proc/self/status") as f:
    peak = [line.split()[1] for line in f if line.startswith("VmHWM:")]
  with open(path, "w") as f:
    f.write(peak[0])
atexit.register(report)
sys.argv = sys.argv[2:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""
# What bin/compress.py and bin/decompress.py log when done (`cli.log_rate`).
_RATE_LOG = re.compile(r"(?:Coded|Decoded) (\d+) digits in ([\d.]+) s")


def run_measured(script, args, env=None):
  """Runs the Python `script` with `args` in a child process.

  Returns:
    `(seconds, peak RSS in MiB, stderr)`: from start to exit, and the
    child's own peak resident memory.

  Raises:
    RuntimeError: the child exited nonzero (the message has its stderr's
      last lines).
  """
  with tempfile.TemporaryDirectory() as workdir:
    peak_file = os.path.join(workdir, "peak_rss_kib")
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", _PEAK_RSS_WRAPPER, peak_file, str(script),
         *map(str, args)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True, env=env, check=False)
    seconds = time.perf_counter() - start
    if result.returncode:
      raise RuntimeError(f"{script} {' '.join(map(str, args))} exited with "
                         f"{result.returncode}:\n" +
                         "\n".join(result.stderr.splitlines()[-10:]))
    with open(peak_file) as f:
      peak_mib = int(f.read()) / 1024
  return seconds, peak_mib, result.stderr


def benchmark_files(saved_model, images, sizes, mode=codecfile.STREAMS):
  """bin/compress.py and bin/decompress.py on inputs of `sizes` digits.

  Each input is an .npy of `images` repeated to its size; each binary runs
  in its own process, timed from start to exit (loading TensorFlow and the
  SavedModel included) with its peak resident memory. The round trip is
  checked against the SavedModel's own `decompress(compress(...))` of the
  same digits, here, a stream (or batch) at a time.

  Returns:
    A list of dicts, one per size and binary: digits, seconds,
    digits_per_second (the whole process, TensorFlow's start included),
    coding_seconds and coding_digits_per_second (the coding alone, as the
    binary logs it), peak_rss_mib, and the file's bytes.
  """
  codec = codecfile.FileCodec(saved_model)
  # The binaries code a stream (or, in strings mode, a batch) per call, and
  # a refining encoder's result depends on a digit's place in its call: so
  # the reference codes the same calls.
  unit = container.MAX_STREAM_DIGITS if mode == codecfile.STREAMS else 1000
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  results = []
  with tempfile.TemporaryDirectory() as workdir:
    for size in sizes:
      source = os.path.join(workdir, f"digits_{size}.npy")
      coded = os.path.join(workdir, f"digits_{size}.tmnc")
      decoded = os.path.join(workdir, f"decoded_{size}.npy")
      with imageio.NpyWriter(source, size) as writer:
        for start in range(0, size, unit):
          writer.write(_repeated(images, start, min(start + unit, size)))
      runs = (("compress", BIN / "compress.py",
               [f"--model={saved_model}", f"--output={coded}",
                f"--mode={mode}", source]),
              ("decompress", BIN / "decompress.py",
               [f"--model={saved_model}", f"--output={decoded}", coded]))
      for name, script, args in runs:
        seconds, rss, log = run_measured(script, args, env=env)
        coding = _RATE_LOG.search(log)
        coding_seconds = float(coding.group(2)) if coding else float("nan")
        results.append(dict(
            binary=name, digits=size, seconds=seconds,
            digits_per_second=size / seconds, coding_seconds=coding_seconds,
            coding_digits_per_second=size / coding_seconds,
            peak_rss_mib=rss, file_bytes=os.path.getsize(coded)))
        logging.info("bin/%s.py, %d digits: %.1f s (%.1f s coding, %.0f "
                     "digits/s), peak RSS %.0f MiB", name, size, seconds,
                     coding_seconds, size / coding_seconds, rss)
      _check_round_trip(codec, mode, images, unit, decoded, size)
      for path in (source, coded, decoded):
        os.remove(path)
  return results


def _repeated(images, start, stop):
  """Digits `start` to `stop - 1` of `images` repeated without end."""
  return images[np.arange(start, stop) % len(images)]


def _check_round_trip(codec, mode, images, unit, decoded, size):
  """Raises `AssertionError` unless the .npy `decoded` holds the round trip
  of the `size` repeated `images`, call by call of `unit` digits."""
  back = np.load(decoded, mmap_mode="r")
  if back.shape != (size, 28, 28, 1):
    raise AssertionError(f"{size} digits: bin/decompress.py wrote "
                         f"{back.shape}.")
  expected = {}  # The calls repeat when `unit` is a multiple of the digits.
  for start in range(0, size, unit):
    digits = _repeated(images, start, min(start + unit, size))
    key = digits.tobytes()
    if key not in expected:
      expected = {key: codec.decompress(codec.compress(digits, mode=mode)[0])}
    if not np.array_equal(back[start:start + len(digits)], expected[key]):
      raise AssertionError(
          f"{size} digits: bin/decompress.py's digits {start} to "
          f"{start + len(digits) - 1} differ from the SavedModel's own round "
          "trip.")


def benchmark(train_images, test_images, repeats, epochs, batch_calls,
              model=None, file_digits=()):
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
  """
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
    if model:
      saved_model = evaluation.find_saved_model(model)
    else:
      saved_model = os.path.join(workdir, contract.SAVED_MODEL_DIR)
      codec, config = training.restore_codec(
          os.path.join(workdir, f"run_{repeats - 1}"))
      export.export_saved_model(codec, saved_model, config.lmbda)
    result["coding"] = benchmark_coding(saved_model, test_images, batch_calls)
    result["coders"] = benchmark_coders(saved_model, test_images)
    if file_digits:
      result["files"] = benchmark_files(saved_model, test_images, file_digits)
    result["coding_model"] = str(model or "this benchmark's model")
  result["peak_rss_mib"] = peak_rss_mib()
  return result
