#!/usr/bin/env python3
"""Decompresses a tfmnistcodec file into PNGs or one .npy array.

  bin/decompress.py --model=runs/mnist/saved_model --output=DIR FILE
  bin/decompress.py --model=runs/mnist/saved_model --output=digits.npy FILE

With an --output ending in .npy, writes one uint8 array [N, 28, 28, 1];
otherwise a new (or empty) folder of PNGs 000000.png, 000001.png, ... Nothing
is written unless the whole file decodes; outputs are written atomically, and
never over the input: an --output that is FILE (by any name) or lies inside
the model's folder is refused before any work. Prints one line: digits,
bytes, bits per digit.
"""

from absl import app
from absl import flags

from tfmnistcodec import cli
from tfmnistcodec.files import atomic
from tfmnistcodec.files import codecfile
from tfmnistcodec.files import imageio

_MODEL = flags.DEFINE_string(
    "model", None, "SavedModel folder (<model_dir>/saved_model of a run).")
_OUTPUT = flags.DEFINE_string(
    "output", None, "A .npy file, or a folder for one PNG per digit.")


def main(argv):
  if len(argv) != 2:
    raise app.UsageError("give exactly one file to decompress.")
  path = argv[1]
  to_npy = _OUTPUT.value.endswith(".npy")
  with cli.user_errors():
    data = imageio.read_file(path)
    atomic.check_output(_OUTPUT.value, inputs=[path, _MODEL.value],
                        folder=not to_npy)
    codec = codecfile.FileCodec(_MODEL.value)
    try:
      images = cli.interruptible(codec.decompress, data)
    except codecfile.CodecFileError as e:
      raise codecfile.CodecFileError(f"{path}: {e}") from None
    if to_npy:
      imageio.write_npy(_OUTPUT.value, images)
    else:
      imageio.write_pngs(_OUTPUT.value, images)
    per_digit = (f", {8 * len(data) / len(images):.2f} bits/digit"
                 if len(images) else "")
    print(f"{path} -> {_OUTPUT.value}: {len(images)} digits, {len(data)} "
          "bytes" + per_digit)


if __name__ == "__main__":
  flags.mark_flags_as_required(["model", "output"])
  app.run(main)
