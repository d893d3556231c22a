"""The file tools at scale: bin/compress.py and bin/decompress.py on large inputs.

Part of bin/benchmark.py (`--file_digits`): each binary runs in its own
process, timed from start to exit and by its own log of the coding, with its
own peak resident memory; the round trip is checked against the SavedModel's.
"""

import os
import pathlib
import re
import subprocess
import sys
import tempfile
import time

from absl import logging
import numpy as np

from tfmnistcodec.files import codecfile
from tfmnistcodec.files import container
from tfmnistcodec.files import imageio

__all__ = ["BIN", "benchmark_files", "run_measured"]

# The binaries, beside the package in a checkout (or an editable install).
BIN = pathlib.Path(__file__).resolve().parents[2] / "bin"
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
