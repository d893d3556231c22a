"""FORMAT.md's reader, run as written, against the container's own parser."""

import re

from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from tfmnistcodec.files import container

import testing_utils


def _format_md_reader():
  """The `read` function of FORMAT.md's second Python block, defined anew."""
  text = (testing_utils.REPO / "FORMAT.md").read_text()
  blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
  readers = [b for b in blocks if "def read(data):" in b]
  assert len(readers) == 1, f"{len(readers)} reader blocks in FORMAT.md"
  namespace = {}
  exec(readers[0], namespace)  # pylint: disable=exec-used
  return namespace["read"]


class FormatDocTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.parameters(
      (container.MODE_STRINGS, 1, 1), (container.MODE_STRINGS, 37, 1),
      (container.MODE_STREAMS, 1, 5), (container.MODE_STREAMS, 23, 5),
      (container.MODE_STREAMS, 20, 10))
  def test_reads_what_pack_writes_as_unpack_does(self, mode, digits,
                                                 stream_digits):
    read = _format_md_reader()
    rng = np.random.default_rng(digits)
    fingerprint = rng.bytes(container.FINGERPRINT_BYTES)
    strings = 1 if mode == container.MODE_STRINGS else stream_digits
    count = -(-digits // strings)
    # Lengths from 1 to 300 bytes: widths of several bits, ragged last byte.
    payload = [rng.bytes(int(n)) for n in rng.integers(1, 300, count)]
    data = container.pack(fingerprint, payload, mode=mode, num_digits=digits,
                          stream_digits=stream_digits)
    contents = container.unpack(data)
    got_fingerprint, got_strings, counts = read(data)
    self.assertEqual(got_fingerprint, fingerprint)
    self.assertEqual(got_fingerprint, contents.fingerprint)
    self.assertEqual(got_strings, payload)
    self.assertEqual(got_strings, list(contents.strings))
    self.assertEqual(list(counts), list(contents.digits_per_string()))
    self.assertEqual(sum(counts), digits)


if __name__ == "__main__":
  tf.test.main()
