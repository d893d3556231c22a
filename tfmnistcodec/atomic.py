"""Writing files so that a reader sees the old content or the new, never half."""

import os
import pathlib
import tempfile

__all__ = ["write_bytes"]


def write_bytes(path, data):
  """Writes `data` to `path` via a temporary file in the same folder + rename.

  An interrupted write leaves at most a hidden `.NAME.*.tmp` file, never a
  partial `path`.
  """
  path = pathlib.Path(path)
  fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp",
                             dir=path.parent)
  try:
    with os.fdopen(fd, "wb") as f:
      f.write(data)
    os.replace(tmp, path)
  except BaseException:
    os.unlink(tmp)
    raise
