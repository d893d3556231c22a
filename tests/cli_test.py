"""Tests of what the binaries share: which errors become one line."""

import signal

from absl.testing import parameterized
import tensorflow as tf

from tfmnistcodec import cli
from tfmnistcodec import contract
from tfmnistcodec import data
from tfmnistcodec.core import model
from tfmnistcodec.files import atomic
from tfmnistcodec.files import codecfile
from tfmnistcodec.files import container
from tfmnistcodec.files import imageio


class UserErrorsTest(tf.test.TestCase, parameterized.TestCase):

  def setUp(self):
    super().setUp()
    # `user_errors` installs the binaries' SIGINT/SIGTERM handlers: keep the
    # test runner's.
    for signum in (signal.SIGINT, signal.SIGTERM):
      self.addCleanup(signal.signal, signum, signal.getsignal(signum))

  @parameterized.parameters(
      (contract.UserValueError, ValueError), (contract.UserTypeError, TypeError),
      (data.DatasetError, ValueError), (container.ContainerError, ValueError),
      (codecfile.CodecFileError, ValueError), (imageio.InputError, ValueError),
      (atomic.OutputError, OSError))
  def test_the_library_family_is_also_the_builtin(self, error, builtin):
    self.assertTrue(issubclass(error, contract.UserError))
    self.assertTrue(issubclass(error, builtin))

  @parameterized.parameters(
      contract.UserValueError, data.DatasetError, atomic.OutputError,
      FileNotFoundError, PermissionError)
  def test_user_and_machine_errors_become_one_line(self, error):
    with self.assertRaises(SystemExit) as raised:
      with cli.user_errors():
        raise error("what is wrong")
    self.assertEqual(raised.exception.code, "error: what is wrong")

  @parameterized.parameters(ValueError, TypeError, KeyError, ZeroDivisionError)
  def test_a_bug_keeps_its_traceback(self, error):
    with self.assertRaises(error):
      with cli.user_errors():
        raise error("a bug")

  def test_library_checks_raise_the_family(self):
    with self.assertRaisesRegex(contract.UserValueError, "--lmbdas: 'x' is"):
      cli.positive_float("x", "--lmbdas")
    with self.assertRaisesRegex(contract.UserValueError, "unknown architecture"):
      model.get_architecture("nope")


if __name__ == "__main__":
  tf.test.main()
