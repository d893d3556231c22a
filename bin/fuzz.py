#!/usr/bin/env python3
"""Fuzzes the file readers and decoders: the long run, for use before releases.

Two engines. The default, seeded, mutates one valid file:

  bin/fuzz.py --model=runs/mnist/saved_model --file=digits.tmnc \
      --iterations=100000 --seed=1

feeds mutated copies of FILE (a valid file made with this model) to the
decoder, and fails on anything but a decoded uint8 [N, 28, 28, 1] array or a
clean CodecFileError. Prints a table of outcomes.

The atheris engine is coverage-guided (libFuzzer, through atheris):

  bin/fuzz.py --engine=atheris --seconds=300 [--targets=container,png,...] \
      [--model=runs/mnist/saved_model] [--corpus=tests/fuzz_corpus]

fuzzes each target of tfmnistcodec/files/fuzz_targets.py in its own process
for its share of the seconds, starting from the corpus, and prints a table per
target (executions, executions/s, coverage, new corpus entries), the total
number of executions and a verdict. It exits nonzero on any crash, hang or
out-of-memory, naming the target and the input that reproduces it (written
under --artifacts). The decoder targets need --model; without one they are
skipped. Needs `pip install atheris==3.0.0`.
"""

import importlib.util
import os
import pathlib
import tempfile
import time

from absl import app
from absl import flags

from tfmnistcodec import cli
from tfmnistcodec import contract
from tfmnistcodec.files import fuzz_atheris
from tfmnistcodec.files import fuzz_targets

_ENGINE = flags.DEFINE_enum("engine", "seeded", ["seeded", "atheris"],
                            "seeded: mutations of --file; atheris: "
                            "coverage-guided, of every target.")
_MODEL = flags.DEFINE_string("model", None, "SavedModel folder.")
# The seeded engine.
_FILE = flags.DEFINE_string("file", None,
                            "seeded: a valid file made by --model.")
_ITERATIONS = flags.DEFINE_integer("iterations", 100000,
                                   "seeded: mutated files.", lower_bound=1)
_SEED = flags.DEFINE_integer("seed", 0, "seeded: seed of the mutations.")
# The atheris engine.
_SECONDS = flags.DEFINE_integer(
    "seconds", 300, "atheris: seconds for all targets together, processes' "
    "start-up included.", lower_bound=1)
_TARGETS = flags.DEFINE_list(
    "targets", list(fuzz_targets.TARGETS),
    f"atheris: targets to fuzz, of {','.join(fuzz_targets.TARGETS)}.")
_CORPUS = flags.DEFINE_string(
    "corpus", str(pathlib.Path(__file__).resolve().parent.parent / "tests" /
                  "fuzz_corpus"),
    "atheris: folder of seed inputs, one subfolder per target; read only.")
_CORPUS_OUT = flags.DEFINE_string(
    "corpus_out", None, "atheris: folder for the new inputs that the run "
    "finds, one subfolder per target (default: a new temporary folder).")
_ARTIFACTS = flags.DEFINE_string(
    "artifacts", None, "atheris: folder for inputs that crash, hang or run "
    "out of memory, and each target's log (default: a new temporary folder).")
_TIMEOUT = flags.DEFINE_integer(
    "timeout", 10, "atheris: seconds one input may take before it counts as "
    "a hang.", lower_bound=1)
_RSS_LIMIT_MB = flags.DEFINE_integer(
    "rss_limit_mb", 4096, "atheris: memory (MB) a target's process may use "
    "before it counts as out-of-memory.", lower_bound=1)

# Relative shares of the time: the cheap parsers run tens of thousands of
# inputs a second, the decoders a few hundred, and PNG decoding through PIL
# has the most code to cover.
_WEIGHTS = {
    "container": 2.,
    "png": 1.5,
    "npy": 1.,
    "idx": .5,
    "gzip": 1.,
    "decompress": 1.,
    "decompress_stream": 1.,
    "file": 1.,
}
# Expected start-up of a target's process, in seconds, until one is measured:
# the readers import TensorFlow (through imageio), the decoders also load the
# SavedModel.
_STARTUP = {"container": 2., "reader": 12., "model": 20.}


def _kind(target):
  if target == "container":
    return "container"
  return "model" if target in fuzz_targets.MODEL_TARGETS else "reader"


def _seeded():
  # pylint: disable=g-import-not-at-top
  from tfmnistcodec.files import codecfile
  from tfmnistcodec.files import fuzzing
  from tfmnistcodec.files import imageio
  # pylint: enable=g-import-not-at-top
  for flag in ("model", "file"):
    if flags.FLAGS[flag].value is None:
      raise contract.UserValueError(f"--engine=seeded needs --{flag}.")
  with cli.user_errors():
    codec = codecfile.FileCodec(_MODEL.value)
    data = imageio.read_file(_FILE.value)
    codec.decompress(data)  # The starting point must be valid.
    outcomes = fuzzing.fuzz(codec.decompress, data, _ITERATIONS.value,
                            _SEED.value)
  for (mutation, outcome), count in sorted(outcomes.items()):
    print(f"{mutation:10s} {outcome:40s} {count}")
  print(f"{_ITERATIONS.value} mutated files: no crash, no hang, no "
        "undocumented error.")


def _targets():
  """The targets to run, after checking the flags."""
  targets = [t.strip() for t in _TARGETS.value if t.strip()]
  unknown = [t for t in targets if t not in fuzz_targets.TARGETS]
  if unknown:
    raise contract.UserValueError(
        f"--targets: unknown target {unknown[0]!r}; the targets are "
        f"{','.join(fuzz_targets.TARGETS)}.")
  if not targets:
    raise contract.UserValueError("--targets: no target.")
  if importlib.util.find_spec("atheris") is None:
    raise contract.UserValueError(
        "--engine=atheris needs atheris, which is not installed: pip "
        f"install {fuzz_atheris.ATHERIS_REQUIREMENT}")
  if _MODEL.value is not None and not os.path.isdir(_MODEL.value):
    raise contract.UserValueError(f"--model: {_MODEL.value} is not a folder.")
  if _MODEL.value is None:
    skipped = [t for t in targets if t in fuzz_targets.MODEL_TARGETS]
    if skipped:
      print(f"note: no --model, so the decoder targets {', '.join(skipped)} "
            "are skipped.")
    targets = [t for t in targets if t not in fuzz_targets.MODEL_TARGETS]
  return list(dict.fromkeys(targets))


def _atheris():
  deadline = time.monotonic() + _SECONDS.value
  targets = _targets()
  artifacts = _ARTIFACTS.value or tempfile.mkdtemp(prefix="fuzz-artifacts-")
  corpus_out = _CORPUS_OUT.value or tempfile.mkdtemp(prefix="fuzz-corpus-")
  startup = dict(_STARTUP)
  results = []
  for i, target in enumerate(targets):
    left = targets[i:]
    # Share what is left after the start-ups still to come by the weights.
    budget = deadline - time.monotonic() - sum(
        startup[_kind(t)] for t in left)
    seconds = max(1, int(budget * _WEIGHTS[target] /
                         sum(_WEIGHTS[t] for t in left)))
    print(f"fuzzing {target} for {seconds} s ...", flush=True)
    result = fuzz_atheris.run_target(
        target, seconds, os.path.join(corpus_out, target),
        [os.path.join(_CORPUS.value, target)], artifacts, model=_MODEL.value,
        timeout=_TIMEOUT.value, rss_limit_mb=_RSS_LIMIT_MB.value)
    if result.seconds:
      startup[_kind(target)] = max(0., result.wall_seconds - result.seconds)
    results.append(result)

  print(f"{'target':18s} {'executions':>11s} {'exec/s':>8s} {'cov':>6s} "
        f"{'ft':>6s} {'new':>5s} {'seconds':>8s}  outcome")
  for r in results:
    print(f"{r.target:18s} {r.executions:11d} "
          f"{r.executions_per_second:8.0f} {r.cov:6d} {r.ft:6d} "
          f"{r.new_entries:5d} {r.seconds:8.0f}  {r.failure or 'ok'}")
  print(f"{sum(r.executions for r in results)} executions")
  print(f"new corpus entries in {corpus_out}; logs in {artifacts}")
  failed = [r for r in results if r.failure]
  if not failed:
    print(f"{len(results)} targets: no crash, no hang, no out-of-memory.")
    return 0
  for r in failed:
    where = (f"reproduce with: python -m tfmnistcodec.files.fuzz_atheris "
             f"{r.target}{' --model=' + _MODEL.value if _MODEL.value else ''}"
             f" -- {r.artifact}" if r.artifact else f"see {r.log}")
    print(f"FAILED: {r.target}: {r.failure}; {where}")
  return 1


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  with cli.user_errors():
    if _ENGINE.value == "seeded":
      return _seeded()
    return _atheris()


if __name__ == "__main__":
  app.run(main)
