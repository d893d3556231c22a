#!/usr/bin/env python3
"""Speed and memory of training and of coding through the SavedModel.

  bin/benchmark.py [--repeats=3 --epochs=2 --model=runs/mnist]

Training: --repeats fresh runs of --epochs epochs on MNIST each (bin/train.py's
loop: default settings, oneDNN kernels as bin/train.py sets them); reports the
median seconds per epoch (training and validation) and training steps per
second, over every epoch but each run's first, which also traces and
compiles. Coding: the SavedModel of --model (default: the benchmark's own
last run) compresses and decompresses test digits at batch sizes 1, 128 and
10,000; reports the median time per call and digits per second. Coders: the
range coder alone, tensorflow-compression's ops against the SavedModel's
stock-op coder on the same latents and tables, side by side (best of 5
alternating rounds, bits per digit, whether the bytes are identical). Then
the peak resident memory of the process. Prints one JSON object (also written to
--output when given). The machine is shared and noisy: compare numbers from
one run, side by side.
"""

import os

# As bin/train.py: the training numbers are those of the training binaries.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

# pylint: disable=g-import-not-at-top,wrong-import-position
import json
import platform
import resource
import statistics
import tempfile
import time

from absl import app
from absl import flags
from absl import logging
import tensorflow as tf
# SavedModels exported before the stock-op coder need TFC's ops registered.
import tensorflow_compression  # pylint: disable=unused-import

from tfmnistcodec import cli
from tfmnistcodec.core import rangecoder
from tfmnistcodec import data
from tfmnistcodec import export
from tfmnistcodec.files import atomic
from tfmnistcodec.study import evaluation
from tfmnistcodec import training

_REPEATS = flags.DEFINE_integer("repeats", 3, "Training runs.", lower_bound=1)
_EPOCHS = flags.DEFINE_integer(
    "epochs", 2, "Epochs per training run (the first is warm-up).",
    lower_bound=1)
_MODEL = flags.DEFINE_string(
    "model", None, "SavedModel (or model_dir) for the coding benchmark; "
    "default: the model of the benchmark's last training run.")
_CALLS = flags.DEFINE_list(
    "batch_calls", ["1:200", "128:50", "10000:5"],
    "Coding batch sizes and how many timed calls of each, as SIZE:CALLS.")
_DATA_DIR = flags.DEFINE_string("data_dir", None, "TFDS data folder.")
_OUTPUT = flags.DEFINE_string("output", None, "Also write the JSON here.")


def peak_rss_mib():
  # Linux reports ru_maxrss in KiB.
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def benchmark_training(train_images, test_images, workdir):
  """Median s/epoch and steps/s over the epochs after each run's first."""
  config = training.TrainConfig(epochs=_EPOCHS.value)
  epochs, first = [], []
  for run in range(_REPEATS.value):
    model_dir = os.path.join(workdir, f"run_{run}")
    _, history = training.train_and_evaluate(config, model_dir, train_images,
                                             test_images)
    steps = history[0]["step"]
    for i, record in enumerate(history):
      entry = dict(seconds=record["seconds"],
                   steps_per_second=steps / record["train_seconds"])
      (first if i == 0 else epochs).append(entry)
    logging.info("training run %d/%d: %s s per epoch", run + 1,
                 _REPEATS.value,
                 ", ".join(f"{r['seconds']:.1f}" for r in history))
  timed = epochs or first  # With --epochs=1 only first epochs exist.
  return dict(
      runs=_REPEATS.value, epochs_per_run=_EPOCHS.value,
      steps_per_epoch=steps,
      seconds_per_epoch=statistics.median(e["seconds"] for e in timed),
      steps_per_second=statistics.median(e["steps_per_second"]
                                         for e in timed),
      first_epoch_seconds=statistics.median(e["seconds"] for e in first),
      epoch_seconds=[round(e["seconds"], 2) for e in epochs],
      timed_epochs="after the first of each run" if epochs else "first")


def _median_seconds(function, calls):
  function()  # Warm-up: the first call of a signature traces and loads.
  times = []
  for _ in range(calls):
    start = time.perf_counter()
    function()
    times.append(time.perf_counter() - start)
  return statistics.median(times)


def benchmark_coding(saved_model, images):
  """Median seconds per call and digits/s of each coding signature."""
  loaded = tf.saved_model.load(str(saved_model))
  compress = loaded.signatures["compress"]
  decompress = loaded.signatures["decompress"]
  results = []
  for spec in _CALLS.value:
    size, calls = (int(v) for v in spec.split(":"))
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
      seconds = _median_seconds(function, calls)
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


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  with cli.user_errors():
    for spec in _CALLS.value:
      parts = spec.split(":")
      if len(parts) != 2 or not all(p.isdigit() and int(p) > 0
                                    for p in parts):
        raise ValueError(f"--batch_calls: {spec!r} is not SIZE:CALLS.")
    if _OUTPUT.value:
      atomic.check_output(_OUTPUT.value,
                          inputs=[_MODEL.value] if _MODEL.value else [])
    train_images = data.load_numpy("mnist", "train", _DATA_DIR.value)
    test_images = data.load_numpy("mnist", "test", _DATA_DIR.value)
    result = dict(
        machine=dict(processor=platform.processor() or platform.machine(),
                     cpus=os.cpu_count(),
                     onednn=os.environ.get("TF_ENABLE_ONEDNN_OPTS"),
                     tensorflow=tf.__version__))
    with tempfile.TemporaryDirectory() as workdir:
      result["training"] = benchmark_training(train_images, test_images,
                                              workdir)
      result["peak_rss_mib_after_training"] = peak_rss_mib()
      if _MODEL.value:
        saved_model = evaluation.find_saved_model(_MODEL.value)
      else:
        saved_model = os.path.join(workdir, "saved_model")
        codec, config = training.restore_codec(
            os.path.join(workdir, f"run_{_REPEATS.value - 1}"))
        export.export_saved_model(codec, saved_model, config.lmbda)
      result["coding"] = benchmark_coding(saved_model, test_images)
      result["coders"] = benchmark_coders(saved_model, test_images)
      result["coding_model"] = str(_MODEL.value or "this benchmark's model")
    result["peak_rss_mib"] = peak_rss_mib()
    text = json.dumps(result, indent=2)
    if _OUTPUT.value:
      atomic.write_bytes(_OUTPUT.value, (text + "\n").encode())
    print(text)


if __name__ == "__main__":
  app.run(main)
