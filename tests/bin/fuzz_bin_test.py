"""End-to-end tests of bin/fuzz.py --engine=atheris (coverage-guided)."""

import importlib.util
import re
import tempfile

import pytest
import tensorflow as tf

import testing_utils

# Each test starts bin/fuzz.py, which starts a process per target.
pytestmark = pytest.mark.slow

BIN = testing_utils.REPO / "bin"


@pytest.mark.skipif(importlib.util.find_spec("atheris") is None,
                    reason="needs atheris (the test extra)")
class FuzzBinTest(tf.test.TestCase):

  def run_fuzz(self, *args):
    return testing_utils.run_python(
        [str(BIN / "fuzz.py"), "--engine=atheris", *args])

  def test_short_run(self):
    artifacts = tempfile.mkdtemp(dir=self.get_temp_dir())
    corpus_out = tempfile.mkdtemp(dir=self.get_temp_dir())
    # idx, not npy: the npy target finds a known imageio bug within seconds
    # (fuzz_targets_test.NPY_UNCLOSED_HEADER).
    result = self.run_fuzz("--seconds=10", "--targets=container,idx",
                           f"--artifacts={artifacts}",
                           f"--corpus_out={corpus_out}")
    self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
    lines = result.stdout.splitlines()
    header = next(i for i, l in enumerate(lines) if l.startswith("target "))
    for name, line in zip(("container", "idx"), lines[header + 1:]):
      fields = line.split()
      self.assertEqual(fields[0], name)
      executions, cov = int(fields[1]), int(fields[3])
      self.assertGreater(executions, 0)
      self.assertGreater(cov, 0)
      self.assertEqual(fields[-1], "ok")
    total = re.search(r"^(\d+) executions$", result.stdout, re.M)
    self.assertIsNotNone(total, result.stdout)
    self.assertGreater(int(total.group(1)), 0)
    self.assertIn("2 targets: no crash, no hang, no out-of-memory.",
                  result.stdout)

  def test_unknown_target(self):
    result = self.run_fuzz("--seconds=1", "--targets=container,jpeg")
    self.assertEqual(result.returncode, 1)
    self.assertNotIn("Traceback", result.stderr)
    self.assertEqual(
        result.stderr.strip().splitlines()[-1],
        "error: --targets: unknown target 'jpeg'; the targets are "
        "container,png,npy,idx,gzip,decompress,decompress_stream,file.")


if __name__ == "__main__":
  tf.test.main()
