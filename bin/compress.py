#!/usr/bin/env python3
"""Compresses digits into one tfmnistcodec file.

  bin/compress.py --model=runs/mnist/saved_model --output=digits.tmnc INPUT...
  bin/compress.py --encoder=fast ...   # no per-digit latent search

Each INPUT is a 28x28 grayscale PNG (or a folder of them, taken in name
order), a .npy uint8 array [N, 28, 28] or
[N, 28, 28, 1], or an MNIST idx image file (raw or gzipped); the digits are
coded in the order given; --mode chooses one stream per 10,000 digits
(default, smallest) or one string per digit (random access); --encoder
chooses the latents: the model's default, `fast` (the analysis transform's,
rounded: for an `improved` model, about 60 times faster in large batches, at
more error) or `refined` (the per-digit search). The file is
written atomically, and never over an input: an --output that is one of the
INPUTs (by any name: ./X, a symlink, a hard link), or lies inside an input
folder or the model's, is refused before any work. An empty input (an .npy of
zero digits) gives a valid file of zero digits. Inputs of any size take
bounded memory: their digits are read and coded a chunk (a stream) at a
time. On a terminal, a progress bar with an ETA goes to stderr. Prints one
line: digits, bytes, bits per digit.
"""

import itertools
import time

from absl import app
from absl import flags
from absl import logging
import numpy as np

from tfmnistcodec import cli
from tfmnistcodec.files import atomic
from tfmnistcodec.files import codecfile
from tfmnistcodec.files import imageio

_MODEL = flags.DEFINE_string(
    "model", None, "SavedModel folder (<model_dir>/saved_model of a run).")
_OUTPUT = flags.DEFINE_string("output", None, "The file to write.")
_MODE = flags.DEFINE_enum(
    "mode", codecfile.STREAMS, list(codecfile.MODES),
    "streams: up to 10,000 digits per range-coded stream, the smallest "
    "files; strings: one string per digit, for random access, a few bits "
    "more per digit (FORMAT.md).")
_ENCODER = flags.DEFINE_enum(
    "encoder", "default", list(codecfile.ENCODERS),
    "Which latents to code: default, the model's own choice (for an "
    "improved model, a search per digit); fast, the analysis transform's, "
    "rounded (no search: about 60 times faster in large batches, more "
    "error); refined, the search, whatever the model's default. Files "
    "decode the same whichever made them.")


def main(argv):
  inputs = argv[1:]
  if not inputs:
    raise app.UsageError("give at least one input file.")
  with cli.user_errors():
    # Every input's header is checked before any work; the digits are read
    # a chunk at a time as the coding goes, so memory does not grow with them.
    sources = [imageio.open_images(path) for path in inputs]
    count = sum(source.count for source in sources)
    atomic.check_output(_OUTPUT.value, inputs=[*inputs, _MODEL.value])
    codec = codecfile.FileCodec(_MODEL.value)
    logging.info("Compressing %d digits (%s mode, %s encoder).", count,
                 _MODE.value, _ENCODER.value)
    chunks = itertools.chain.from_iterable(
        source.chunks() for source in sources)
    start = time.perf_counter()
    with cli.Progress(count) as progress:
      data, bits = codec.compress_chunks(
          chunks, mode=_MODE.value, call=cli.interruptible, progress=progress,
          encoder=_ENCODER.value)
    cli.log_rate("Coded", len(bits), time.perf_counter() - start)
    atomic.write_bytes(_OUTPUT.value, data)
    per_digit = (f", {8 * len(data) / len(bits):.2f} bits/digit "
                 f"(information content {np.mean(bits):.2f})"
                 if len(bits) else "")
    print(f"{len(bits)} digits -> {_OUTPUT.value}: {len(data)} bytes"
          + per_digit)


if __name__ == "__main__":
  flags.mark_flags_as_required(["model", "output"])
  app.run(main)
