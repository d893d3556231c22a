"""Coverage-guided fuzzing of `fuzz_targets` with atheris (libFuzzer).

One target per process, since libFuzzer exits when it is done:

    python -m tfmnistcodec.files.fuzz_atheris TARGET [--model=DIR] \
        -- [libFuzzer flags and corpus folders]

fuzzes TARGET with the project's modules instrumented (and PIL's, for the
`png` target); everything after `--` goes to libFuzzer as it is, so
`-max_total_time=60 NEW SEEDS`, `-merge=1 MERGED CORPUS` or just a crash
file to replay all work. `bin/fuzz.py --engine=atheris` runs this for each
target in turn (`run_target`) and reads libFuzzer's report (`parse_log`).
Only the child imports atheris.
"""

import dataclasses
import os
import pathlib
import re
import shlex
import subprocess
import sys
import time

__all__ = ["ATHERIS_REQUIREMENT", "FuzzResult", "parse_log", "run_target",
           "main"]

ATHERIS_REQUIREMENT = "atheris==3.0.0"
_MODULE = "tfmnistcodec.files.fuzz_atheris"

_DONE = re.compile(r"^#(\d+)\s+DONE\s+(.*)$", re.M)
_COV = re.compile(r"\bcov: (\d+)")
_FT = re.compile(r"\bft: (\d+)")
_RUNS = re.compile(r"^Done (\d+) runs in (\d+) second", re.M)
_STAT = re.compile(r"^stat::(\w+):\s*(\d+)", re.M)
_SUMMARY = re.compile(r"^SUMMARY: libFuzzer: (.+)$", re.M)
_ARTIFACT = re.compile(r"Test unit written to (\S+)")
_STATUS = re.compile(r"^#(\d+)\s+\w+\s+(.*)$", re.M)


@dataclasses.dataclass
class FuzzResult:
  """What one target's run did.

  Attributes:
    target: The target's name.
    executions: Inputs run.
    seconds: libFuzzer's fuzzing time (without the process's start-up).
    cov, ft: libFuzzer's coverage counts at the end: edges (here, Python
      branches of the instrumented modules) and features.
    new_entries: Inputs added to the corpus.
    failure: None, or what went wrong: libFuzzer's summary ("fuzz target
      exited" for an exception, "timeout", "out-of-memory", "deadly
      signal"), or why the process ended without one.
    artifact: The file that reproduces the failure, if libFuzzer wrote one.
    wall_seconds: The process's time, start-up included.
    log: The file with the process's whole output.
  """
  target: str
  executions: int = 0
  seconds: float = 0.
  cov: int = 0
  ft: int = 0
  new_entries: int = 0
  failure: str = None
  artifact: str = None
  wall_seconds: float = 0.
  log: str = None

  @property
  def executions_per_second(self):
    return self.executions / max(self.seconds, 1.)


def parse_log(text):
  """libFuzzer's report in `text`, as a dict of what `FuzzResult` keeps.

  Reads the final `#N DONE cov: X ft: Y ...` and `Done N runs in S second(s)`
  lines, the `stat::` lines of `-print_final_stats=1`, and, after a failure,
  its `SUMMARY:` line and the artifact's name. Keys missing from the text
  are missing from the dict.
  """
  result = {}
  statuses = _STATUS.findall(text)
  if statuses:
    # The last status line, DONE or not, has the latest counts.
    result["executions"] = int(statuses[-1][0])
    for key, pattern in (("cov", _COV), ("ft", _FT)):
      match = pattern.search(statuses[-1][1])
      if match:
        result[key] = int(match.group(1))
  runs = _RUNS.search(text)
  if runs:
    result["executions"] = int(runs.group(1))
    result["seconds"] = float(runs.group(2))
  stats = dict(_STAT.findall(text))
  if "number_of_executed_units" in stats:
    result["executions"] = int(stats["number_of_executed_units"])
  if "new_units_added" in stats:
    result["new_entries"] = int(stats["new_units_added"])
  summary = _SUMMARY.search(text)
  if summary:
    result["failure"] = summary.group(1).strip()
  artifact = _ARTIFACT.search(text)
  if artifact:
    result["artifact"] = artifact.group(1)
  return result


def _count_files(folder):
  return sum(1 for p in pathlib.Path(folder).iterdir() if p.is_file())


def run_target(target, seconds, new_corpus, seeds, artifacts, model=None,
               timeout=10, rss_limit_mb=4096, extra_args=(), python=None):
  """Fuzzes `target` for `seconds` in a child process; returns `FuzzResult`.

  Args:
    target: A name in `fuzz_targets.TARGETS`.
    seconds: libFuzzer's `-max_total_time` (start-up comes on top).
    new_corpus: Folder that receives the inputs that find new coverage.
    seeds: Folders (or files) of inputs to start from; not written to.
    artifacts: Folder for the inputs that crash, time out or run out of
      memory, and for the process's log, `TARGET.log`.
    model: SavedModel folder, for the decoder targets.
    timeout: Seconds one input may take before libFuzzer calls it a hang.
    rss_limit_mb: Memory one process may use before libFuzzer calls it an
      out-of-memory.
    extra_args: More libFuzzer flags.
    python: The interpreter (default this one).
  """
  pathlib.Path(new_corpus).mkdir(parents=True, exist_ok=True)
  pathlib.Path(artifacts).mkdir(parents=True, exist_ok=True)
  log = os.path.join(artifacts, f"{target}.log")
  before = _count_files(new_corpus)
  command = [python or sys.executable, "-m", _MODULE, target]
  if model:
    command.append(f"--model={model}")
  command += [
      "--", f"-max_total_time={max(1, int(seconds))}", f"-timeout={timeout}",
      f"-rss_limit_mb={rss_limit_mb}", "-print_final_stats=1",
      f"-artifact_prefix={os.path.join(artifacts, target)}-", *extra_args,
      str(new_corpus), *[str(s) for s in seeds if os.path.exists(s)]
  ]
  # The child imports this package from where this process found it.
  package_root = str(pathlib.Path(__file__).resolve().parents[2])
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  env["PYTHONPATH"] = os.pathsep.join(
      [package_root] + [p for p in [env.get("PYTHONPATH")] if p])
  start = time.monotonic()
  # Past this, something other than an input hangs (libFuzzer's own -timeout
  # catches those): kill the process and say so.
  limit = seconds + 3 * timeout + 180
  failure = None
  with open(log, "wb") as out:
    try:
      process = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, env=env,
                               timeout=limit, check=False)
      returncode = process.returncode
    except subprocess.TimeoutExpired:
      returncode, failure = None, f"killed after {limit:.0f} s without ending"
  wall = time.monotonic() - start
  with open(log, encoding="utf-8", errors="replace") as f:
    report = parse_log(f.read())
  result = FuzzResult(target=target, wall_seconds=wall, log=log)
  for key, value in report.items():
    setattr(result, key, value)
  if "new_entries" not in report:
    result.new_entries = _count_files(new_corpus) - before
  if failure:
    result.failure = failure
  elif returncode != 0 and not result.failure:
    result.failure = f"exit status {returncode}"
  elif returncode == 0 and "seconds" not in report:
    result.failure = "ended without libFuzzer's final report"
  if result.artifact and not os.path.isabs(result.artifact):
    result.artifact = os.path.abspath(result.artifact)
  return result


def _child(argv):
  """Fuzzes one target under atheris: `TARGET [--model=DIR] -- FLAGS...`."""
  if "--" in argv:
    cut = argv.index("--")
    own, libfuzzer = argv[1:cut], argv[cut + 1:]
  else:
    own, libfuzzer = argv[1:], []
  model = None
  target = None
  for arg in own:
    if arg.startswith("--model="):
      model = arg[len("--model="):]
    elif target is None and not arg.startswith("-"):
      target = arg
    else:
      sys.exit(f"error: unexpected argument {arg!r}; usage: python -m "
               f"{__name__} TARGET [--model=DIR] -- [libFuzzer flags]")
  try:
    import atheris  # pylint: disable=g-import-not-at-top
  except ImportError:
    sys.exit(f"error: atheris is not installed: pip install "
             f"{ATHERIS_REQUIREMENT}")
  # Heavy libraries first, outside the instrumentation: only the project's
  # code (and PIL's PNG decoder) is worth its cost.
  import numpy  # pylint: disable=g-import-not-at-top,unused-import
  if target != "container":
    import tensorflow  # pylint: disable=g-import-not-at-top,unused-import
    import tensorflow_compression  # pylint: disable=g-import-not-at-top,unused-import
  include = ["tfmnistcodec"] + (["PIL"] if target == "png" else [])
  with atheris.instrument_imports(include=include):
    # pylint: disable=g-import-not-at-top
    from tfmnistcodec.files import fuzz_targets
    from tfmnistcodec.files import container  # pylint: disable=unused-import
    if target != "container":
      from tfmnistcodec.files import codecfile  # pylint: disable=unused-import
      from tfmnistcodec.files import imageio  # pylint: disable=unused-import
    if target == "png":
      from PIL import Image
      Image.preinit()  # Its plugins load on first use: load them now.
    # pylint: enable=g-import-not-at-top
  try:
    function = fuzz_targets.make(target, model)
  except ValueError as e:
    sys.exit(f"error: {e}")
  # libFuzzer runs argv[0] (through the shell) for -merge=1 and the like:
  # make it the command that starts this same target.
  own_command = [sys.executable, "-m", _MODULE, target]
  if model:
    own_command.append(f"--model={model}")
  atheris.Setup([shlex.join(own_command) + " --", *libfuzzer], function)
  atheris.Fuzz()


def main():
  _child(sys.argv)


if __name__ == "__main__":
  main()
