"""Writing files so that a reader sees the old content or the new, never half."""

import os
import pathlib
import tempfile

__all__ = ["write_bytes", "make_temp_dir"]


def _umask():
  umask = os.umask(0)
  os.umask(umask)
  return umask


def write_bytes(path, data):
  """Writes `data` to `path` via a temporary file in the same folder + rename.

  An interrupted write leaves at most a hidden `.NAME.*.tmp` file, never a
  partial `path`.
  """
  path = pathlib.Path(path)
  fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp",
                             dir=path.parent)
  try:
    # mkstemp makes the file private (0600); give it the usual permissions.
    os.fchmod(fd, 0o666 & ~_umask())
    with os.fdopen(fd, "wb") as f:
      f.write(data)
    os.replace(tmp, path)
  except BaseException:
    os.unlink(tmp)
    raise


def make_temp_dir(folder, prefix):
  """A new temporary folder in `folder`, with the usual permissions.

  For outputs that are built in it and then renamed into place (mkdtemp alone
  would leave them private, 0700).
  """
  path = pathlib.Path(tempfile.mkdtemp(prefix=prefix, dir=folder))
  os.chmod(path, 0o777 & ~_umask())
  return path
