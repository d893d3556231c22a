#!/usr/bin/env python3
"""Decompresses a tfmnistcodec file into PNGs or one .npy array.

  bin/decompress.py --model=runs/mnist/saved_model --output=DIR FILE
  bin/decompress.py --model=runs/mnist/saved_model --output=digits.npy FILE

With an --output ending in .npy, writes one uint8 array [N, 28, 28, 1];
otherwise a new (or empty) folder of PNGs 000000.png, 000001.png, ... Nothing
is written unless the whole file decodes; outputs are written atomically.
Prints one line: digits, bytes, bits per digit.
"""

from absl import app
from absl import flags

from tfmnistcodec import cli
from tfmnistcodec import codecfile
from tfmnistcodec import imageio

_MODEL = flags.DEFINE_string(
    "model", None, "SavedModel folder (<model_dir>/saved_model of a run).")
_OUTPUT = flags.DEFINE_string(
    "output", None, "A .npy file, or a folder for one PNG per digit.")


def main(argv):
  if len(argv) != 2:
    raise app.UsageError("give exactly one file to decompress.")
  path = argv[1]
  with cli.user_errors():
    data = imageio.read_file(path)
    codec = codecfile.FileCodec(_MODEL.value)
    try:
      images = codec.decompress(data)
    except codecfile.CodecFileError as e:
      raise codecfile.CodecFileError(f"{path}: {e}") from None
    if _OUTPUT.value.endswith(".npy"):
      imageio.write_npy(_OUTPUT.value, images)
    else:
      imageio.write_pngs(_OUTPUT.value, images)
    print(f"{path} -> {_OUTPUT.value}: {len(images)} digits, {len(data)} "
          f"bytes, {8 * len(data) / max(1, len(images)):.2f} bits/digit")


if __name__ == "__main__":
  flags.mark_flags_as_required(["model", "output"])
  app.run(main)
