"""Tests of what the binaries share: which errors become one line."""

import io
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

  def test_a_lost_worker_becomes_one_line(self):
    with self.assertRaises(SystemExit) as raised:
      with cli.user_errors():
        raise tf.errors.UnavailableError(None, None, "socket closed")
    self.assertStartsWith(raised.exception.code,
                          "error: lost contact with another worker")
    with self.assertRaises(tf.errors.InternalError):  # Another one: a bug.
      with cli.user_errors():
        raise tf.errors.InternalError(None, None, "a bug")

  def test_library_checks_raise_the_family(self):
    with self.assertRaisesRegex(contract.UserValueError, "--lmbdas: 'x' is"):
      cli.positive_float("x", "--lmbdas")
    with self.assertRaisesRegex(contract.UserValueError, "unknown architecture"):
      model.get_architecture("nope")


class ProgressTest(tf.test.TestCase):

  def test_draws_on_a_terminal_only_with_rate_and_eta(self):
    now = [0.]
    stream = io.StringIO()
    with cli.Progress(1000, stream=stream, enabled=True, interval=1.,
                      clock=lambda: now[0]) as progress:
      now[0] = 0.5
      progress(100)  # Too soon: not drawn.
      now[0] = 2.
      progress(100)
      now[0] = 2.1
      progress(800)  # The end is always drawn.
    self.assertEqual(stream.getvalue().split("\r"), [
        "", "200/1,000 digits (20.0%), 100 digits/s, ETA 0:08",
        "1,000/1,000 digits (100.0%), 476 digits/s, ETA 0:00\n"])
    quiet = io.StringIO()  # Not a terminal: nothing at all.
    with cli.Progress(10, stream=quiet) as progress:
      progress(10)
    self.assertEqual(quiet.getvalue(), "")

  def test_eta_in_hours(self):
    progress = cli.Progress(10**6, enabled=False)
    progress(1000)
    self.assertEqual(progress.line(10.),
                     "1,000/1,000,000 digits (0.1%), 100 digits/s, "
                     "ETA 2:46:30")


class DigitRangeTest(tf.test.TestCase):

  def test_parses_slices(self):
    self.assertEqual(cli.digit_range("10:20"), (10, 20))
    self.assertEqual(cli.digit_range(":5"), (0, 5))
    self.assertEqual(cli.digit_range("5:"), (5, None))
    for text in ("5", "a:b", "1:2:3", "-1:4", "9:3"):
      with self.subTest(text):
        with self.assertRaisesRegex(contract.UserValueError, "--digits="):
          cli.digit_range(text)


if __name__ == "__main__":
  tf.test.main()
