"""A seeded mutation fuzzer for the file reader and decoder.

`fuzz(decode, data, iterations, seed)` feeds mutations of a valid file
(bit flips, byte changes, truncations, insertions, deletions, duplications,
random bytes) to `decode` and checks that each one either decodes to uint8
`[N, 28, 28, 1]` images or raises `CodecFileError`. Anything else, another
exception, a wrong shape or dtype, propagates as a failure. The tests run a
few thousand iterations; `bin/fuzz.py` runs as many as you like.
"""

import collections
import re

import numpy as np

from tfmnistcodec.files import codecfile

__all__ = ["MUTATIONS", "mutate", "fuzz"]


def _flip_bits(data, rng):
  data = bytearray(data)
  for _ in range(rng.integers(1, 4)):
    i = rng.integers(len(data))
    data[i] ^= 1 << rng.integers(8)
  return bytes(data)


def _set_bytes(data, rng):
  data = bytearray(data)
  for _ in range(rng.integers(1, 4)):
    data[rng.integers(len(data))] = rng.integers(256)
  return bytes(data)


def _truncate(data, rng):
  return data[:rng.integers(len(data))]


def _insert(data, rng):
  i = rng.integers(len(data) + 1)
  return data[:i] + rng.bytes(rng.integers(1, 9)) + data[i:]


def _delete(data, rng):
  i = rng.integers(len(data))
  return data[:i] + data[i + rng.integers(1, 9):]


def _duplicate(data, rng):
  i = rng.integers(len(data))
  chunk = data[i:i + rng.integers(1, 17)]
  j = rng.integers(len(data) + 1)
  return data[:j] + chunk + data[j:]


def _append(data, rng):
  return data + rng.bytes(rng.integers(1, 9))


def _random(data, rng):
  # Keep the header now and then, so the random part reaches deeper checks.
  keep = rng.choice([0, 4, 22, 25])
  return data[:keep] + rng.bytes(rng.integers(0, 2 * len(data)))


MUTATIONS = {
    "flip_bits": _flip_bits,
    "set_bytes": _set_bytes,
    "truncate": _truncate,
    "insert": _insert,
    "delete": _delete,
    "duplicate": _duplicate,
    "append": _append,
    "random": _random,
}


def mutate(data, rng):
  """One random mutation of `data`; returns `(name, mutated)`."""
  name = list(MUTATIONS)[rng.integers(len(MUTATIONS))]
  return name, MUTATIONS[name](data, rng)


def fuzz(decode, data, iterations, seed=0):
  """Fuzzes `decode` with `iterations` mutations of the valid file `data`.

  Args:
    decode: Function from file bytes to uint8 images `[N, 28, 28, 1]`, which
      raises `codecfile.CodecFileError` for files it refuses.
    data: A valid file.
    iterations: How many mutated files to try.
    seed: Seed of the mutations.

  Returns:
    A `collections.Counter` of (mutation, outcome) with outcome "decoded",
    "unchanged" (the mutation gave the original bytes) or the error message
    up to its first colon, with numbers replaced by "N".

  Raises:
    AssertionError: a decode gave something other than uint8 `[N, 28, 28, 1]`.
    Any other exception that `decode` raises.
  """
  rng = np.random.default_rng(seed)
  outcomes = collections.Counter()
  for _ in range(iterations):
    name, mutated = mutate(data, rng)
    if mutated == data:
      outcomes[name, "unchanged"] += 1
      continue
    try:
      images = decode(mutated)
    except codecfile.CodecFileError as e:
      # The kind of refusal, without the numbers that vary between files.
      outcomes[name, re.sub(r"\d+", "N", str(e).split(":")[0])] += 1
      continue
    if not (isinstance(images, np.ndarray) and images.dtype == np.uint8 and
            images.ndim == 4 and images.shape[1:] == (28, 28, 1)):
      raise AssertionError(
          f"{name} mutation decoded to {type(images).__name__} "
          f"{getattr(images, 'dtype', '')} {getattr(images, 'shape', '')}: "
          f"{mutated.hex()}")
    outcomes[name, "decoded"] += 1
  return outcomes
