#!/usr/bin/env python3
"""Decompresses a tfmnistcodec file into PNGs or one .npy array.

  bin/decompress.py --model=runs/mnist/saved_model --output=DIR FILE
  bin/decompress.py --model=runs/mnist/saved_model --output=digits.npy FILE
  bin/decompress.py --model=... --output=some.npy --digits=5000:5010 FILE

With an --output ending in .npy, writes one uint8 array [N, 28, 28, 1];
otherwise a new (or empty) folder of PNGs 000000.png, 000001.png, ...
(--digits: those digits alone, numbered from 000000.png). Nothing is written
unless every digit asked for decodes; outputs are written atomically (to a
temporary name, a chunk at a time, so memory does not grow with them,
renamed at the end), and never over the input: an --output that is FILE (by
any name) or lies inside the model's folder is refused before any work. On a
terminal, a progress bar with an ETA goes to stderr. Prints one line: digits,
bytes, bits per digit.
"""

import time

from absl import app
from absl import flags
from absl import logging

from tfmnistcodec import cli
from tfmnistcodec.files import atomic
from tfmnistcodec.files import codecfile
from tfmnistcodec.files import container
from tfmnistcodec.files import imageio

_MODEL = flags.DEFINE_string(
    "model", None, "SavedModel folder (<model_dir>/saved_model of a run).")
_OUTPUT = flags.DEFINE_string(
    "output", None, "A .npy file, or a folder for one PNG per digit.")
_DIGITS = flags.DEFINE_string(
    "digits", None,
    "START:END: decode only digits START to END - 1 (0-based, as a Python "
    "slice; 10:20 is the eleventh to the twentieth), without decoding the "
    "others (strings mode) or the streams that hold none of them (streams "
    "mode). Default: all.")


def main(argv):
  if len(argv) != 2:
    raise app.UsageError("give exactly one file to decompress.")
  path = argv[1]
  to_npy = _OUTPUT.value.endswith(".npy")
  with cli.user_errors():
    digits = cli.digit_range(_DIGITS.value) if _DIGITS.value else None
    data = imageio.read_file(path)
    atomic.check_output(_OUTPUT.value, inputs=[path, _MODEL.value],
                        folder=not to_npy)
    try:
      # The file's own checks (container, checksum) before TensorFlow starts
      # for the model: a broken file is refused at once.
      container.unpack(data)
      codec = codecfile.FileCodec(_MODEL.value)
      count, chunks = codec.decompress_chunks(data, digits=digits,
                                              call=cli.interruptible)
      writer = (imageio.NpyWriter(_OUTPUT.value, count) if to_npy else
                imageio.PngWriter(_OUTPUT.value))
      logging.info("Decompressing %d digits.", count)
      start = time.perf_counter()
      with writer, cli.Progress(count) as progress:
        for images in chunks:
          writer.write(images)
          progress(len(images))
      cli.log_rate("Decoded", count, time.perf_counter() - start)
    except codecfile.CodecFileError as e:
      raise codecfile.CodecFileError(f"{path}: {e}") from None
    per_digit = (f", {8 * len(data) / count:.2f} bits/digit"
                 if count and digits is None else "")
    print(f"{path} -> {_OUTPUT.value}: {count} digits, {len(data)} "
          "bytes" + per_digit)


if __name__ == "__main__":
  flags.mark_flags_as_required(["model", "output"])
  app.run(main)
