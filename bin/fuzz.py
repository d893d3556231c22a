#!/usr/bin/env python3
"""Fuzzes the file reader and decoder: the long run, for use before releases.

  bin/fuzz.py --model=runs/mnist/saved_model --file=digits.tmnc \
      --iterations=100000 --seed=1

Feeds mutated copies of FILE (a valid file made with this model) to the
decoder, and fails on anything but a decoded uint8 [N, 28, 28, 1] array or a
clean CodecFileError. Prints a table of outcomes.
"""

from absl import app
from absl import flags


from tfmnistcodec import cli
from tfmnistcodec.files import codecfile
from tfmnistcodec.files import fuzzing
from tfmnistcodec.files import imageio

_MODEL = flags.DEFINE_string("model", None, "SavedModel folder.")
_FILE = flags.DEFINE_string("file", None, "A valid file made by --model.")
_ITERATIONS = flags.DEFINE_integer("iterations", 100000, "Mutated files.",
                                   lower_bound=1)
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the mutations.")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
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


if __name__ == "__main__":
  flags.mark_flags_as_required(["model", "file"])
  app.run(main)
