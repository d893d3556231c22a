"""Writing users' files safely: atomically, and never over one of the inputs.

A reader of an output sees the old content or the new, never half: outputs
are written to a hidden temporary name beside them, synced, and renamed into
place, and a failed or interrupted write removes the temporary file.
`check_output` refuses, before any work starts, an output that would replace
one of the program's own inputs, or that cannot be written at all.
"""

import contextlib
import json
import os
import pathlib
import stat
import tempfile

from tfmnistcodec import contract

__all__ = [
    "OutputError", "check_output", "write_bytes", "write_error", "write_json",
    "make_temp_dir", "writing"
]


class OutputError(contract.UserError, OSError):
  """An output that must not or cannot be written; the message says why."""


_NOT_REGULAR = ("the output {path} is not a regular file (a device, FIFO or "
                "socket), which a file written beside it and renamed would "
                "replace; give a file name.")


def _umask():
  umask = os.umask(0)
  os.umask(umask)
  return umask


def _stat(path):
  """`os.stat(path)` (following symlinks), or `None` if nothing is there."""
  try:
    return os.stat(path)
  except OSError:
    return None


def _folder_stats_up_from(path):
  """`os.stat` of `path` and of every folder above it, once resolved."""
  path = pathlib.Path(os.path.realpath(path))
  stats = (_stat(folder) for folder in (path, *path.parents))
  return [folder_stat for folder_stat in stats if folder_stat is not None]


def check_output(path, inputs=(), folder=False):
  """Raises `OutputError` unless writing `path` is safe and can work.

  Call it before the work that makes the output, so that a wrong path costs
  nothing. Files are compared by device and inode, so an input is found
  whatever the names: `x`, `./x`, a symlink to `x` (as the output or as the
  input), a hard link to `x`.

  Args:
    path: The output: a file, or with `folder=True` a folder to create.
    inputs: The files and folders the program reads. `path` must be none of
      them and must not lie inside one that is a folder.
    folder: Whether the output is a folder (it may exist, as a folder).

  Raises:
    OutputError: `path` is one of the inputs or inside an input folder; or,
      for a file, `path` is a folder, a device, FIFO or socket, or its folder
      is missing or not writable; or, for a folder, it is a file, or the
      first existing folder above it is not writable.
  """
  path = pathlib.Path(path)
  path_stat = _stat(path)
  path_is_dir = path_stat is not None and stat.S_ISDIR(path_stat.st_mode)
  # The output's folder and every folder above it, each a possible input.
  output_folders = _folder_stats_up_from(path.parent)
  for source in inputs:
    source_stat = _stat(source)
    if source_stat is None:
      continue  # Reading it fails on its own, with its own message.
    if path_stat is not None and os.path.samestat(path_stat, source_stat):
      raise OutputError(
          f"the output {path} is the input {source}: writing it would "
          "destroy the input; choose another output.")
    if stat.S_ISDIR(source_stat.st_mode) and any(
        os.path.samestat(folder_stat, source_stat)
        for folder_stat in output_folders):
      raise OutputError(
          f"the output {path} is inside the input folder {source}; "
          "choose an output outside it.")
  parent = path.parent
  if folder:
    if path_stat is not None and not path_is_dir:
      raise OutputError(f"the output {path} exists and is not a folder.")
    # Missing folders above it are created; the first that exists must let
    # us create one in it.
    while not parent.exists() and parent != parent.parent:
      parent = parent.parent
  elif path_is_dir:
    raise OutputError(f"the output {path} is a folder; give a file name.")
  elif path_stat is not None and not stat.S_ISREG(path_stat.st_mode):
    raise OutputError(_NOT_REGULAR.format(path=path))
  if not parent.is_dir():
    raise OutputError(f"cannot write {path}: "
                      + (f"{parent} is not a folder." if parent.exists() else
                         f"the folder {parent} does not exist."))
  if not os.access(parent, os.W_OK):
    raise OutputError(f"cannot write {path}: the folder {parent} is not "
                      "writable (read-only, or no permission).")


def write_json(path, value):
  """Writes `value` as indented JSON to `path` atomically, as `write_bytes`."""
  write_bytes(path, (json.dumps(value, indent=2) + "\n").encode())


def write_bytes(path, data):
  """Writes `data` to `path` via a temporary file in the same folder + rename.

  The temporary file is synced before the rename, so after a crash `path`
  holds the old bytes or the new ones. A failed or interrupted write removes
  the temporary file and leaves `path` as it was.

  Raises:
    OutputError: the file cannot be written (missing or read-only folder,
      full disk, `path` is a folder, a device or a FIFO, ...); the message
      names `path`.
  """
  with writing(path) as f:
    f.write(data)


@contextlib.contextmanager
def writing(path):
  """A binary file to write `path` with, in pieces, renamed into place at the
  end of the `with` block: as `write_bytes`, for outputs too large to hold.

  Its `write` raises `OutputError` naming `path` (a full disk, ...). An
  exception in the block, or an interruption, removes the temporary file,
  leaves `path` as it was, and propagates.
  """
  path = pathlib.Path(path)
  try:
    mode = os.lstat(path).st_mode
  except OSError:
    mode = None  # Nothing there (or it cannot be seen: mkstemp will say).
  if mode is not None and not (stat.S_ISREG(mode) or stat.S_ISLNK(mode) or
                               stat.S_ISDIR(mode)):
    # Renaming over it would replace a device (/dev/null) or FIFO with a file.
    raise OutputError(_NOT_REGULAR.format(path=path))
  try:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp",
                               dir=path.parent)
  except OSError as e:
    raise write_error(path, e) from e
  in_block = False
  try:
    # mkstemp makes the file private (0600); give it the usual permissions.
    os.fchmod(fd, 0o666 & ~_umask())
    f = os.fdopen(fd, "wb")
    try:
      in_block = True
      yield _Output(f, path)
      in_block = False
      f.flush()
      os.fsync(f.fileno())
    finally:
      try:
        f.close()
      except OSError:
        if not in_block:
          raise
        # The block's own error is the one to report (its write may have
        # failed on a full disk, and the close's flush again).
    os.replace(tmp, path)
  except BaseException as e:
    os.unlink(tmp)
    if isinstance(e, OSError) and not in_block:
      raise write_error(path, e) from e
    raise


class _Output:
  """A file being written by `writing`: its writes name the output."""

  def __init__(self, file, path):
    self._file = file
    self._path = path

  def write(self, data):
    try:
      return self._file.write(data)
    except OSError as e:
      raise write_error(self._path, e) from e


def write_error(path, error):
  """An `OutputError` for `error`, an `OSError` from writing `path`."""
  path = pathlib.Path(path)
  if isinstance(error, FileNotFoundError) and not path.parent.is_dir():
    why = f"the folder {path.parent} does not exist"
  elif isinstance(error, IsADirectoryError):
    why = "it is a folder"
  else:
    why = error.strerror or str(error)
  return OutputError(f"cannot write {path}: {why}; nothing was written.")


def make_temp_dir(folder, prefix):
  """A new temporary folder in `folder`, with the usual permissions.

  For outputs that are built in it and then renamed into place (mkdtemp alone
  would leave them private, 0700).
  """
  path = pathlib.Path(tempfile.mkdtemp(prefix=prefix, dir=folder))
  os.chmod(path, 0o777 & ~_umask())
  return path
