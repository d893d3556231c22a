"""Tests of the SavedModel: signatures, and coding in a separate process."""

import functools
import json
import os
import subprocess
import sys
import textwrap
from unittest import mock

from absl.testing import parameterized
import numpy as np
import pytest
import tensorflow as tf


from tfmnistcodec.core import loss as loss_lib
from tfmnistcodec.core import model
from tfmnistcodec.core import refinement
from tfmnistcodec import export

import testing_utils

# Exports SavedModels and loads them in other processes.
pytestmark = pytest.mark.slow

# The consumer: a program that imports tensorflow only (neither
# tensorflow_compression nor tfmnistcodec), as a user's would.
CONSUMER = textwrap.dedent("""
    import sys
    import numpy as np
    import tensorflow as tf
    assert "tfmnistcodec" not in sys.modules
    assert "tensorflow_compression" not in sys.modules
    path, images_npy, out_npz = sys.argv[1:]
    loaded = tf.saved_model.load(path)
    images = tf.constant(np.load(images_npy))
    coded = loaded.signatures["compress"](images=images)
    decoded = loaded.signatures["decompress"](strings=coded["strings"])
    # The plain functions work too, and agree.
    assert np.array_equal(loaded.compress(images)["strings"].numpy(),
                          coded["strings"].numpy())
    np.savez(out_npz, strings=coded["strings"].numpy(),
             bits=coded["bits"].numpy(), images=decoded["images"].numpy())
""")

# Another consumer: calls every signature with an empty batch (N = 0), as a
# `tf.data` pipeline's filtered last batch would, and prints what comes back.
EMPTY_BATCH_CONSUMER = textwrap.dedent("""
    import json
    import sys
    import numpy as np
    import tensorflow as tf
    assert "tfmnistcodec" not in sys.modules
    assert "tensorflow_compression" not in sys.modules
    loaded = tf.saved_model.load(sys.argv[1])
    outputs = {}
    for name, function in sorted(loaded.signatures.items()):
      inputs = {}
      for key, spec in function.structured_input_signature[1].items():
        if spec.shape.rank:  # A batch: N = 0.
          inputs[key] = tf.zeros([0, *spec.shape[1:]], spec.dtype)
        else:  # decompress_stream's string and count of zero digits.
          inputs[key] = tf.zeros([], spec.dtype)
      outputs[name] = {key: [value.dtype.name, value.shape.as_list()]
                       for key, value in function(**inputs).items()}
    # The stream of zero digits decodes to zero digits; other bytes do not.
    stream = loaded.signatures["compress_stream"](
        images=tf.zeros([0, 28, 28, 1], tf.uint8))["string"]
    outputs["stream_of_zero_digits"] = stream.numpy().hex()
    images = loaded.signatures["decompress_stream"](
        string=stream, count=0)["images"]
    outputs["its_images"] = [images.dtype.name, images.shape.as_list()]
    try:
      loaded.signatures["decompress_stream"](string=b"x", count=0)
      outputs["x_for_zero_digits"] = "decoded"
    except tf.errors.InvalidArgumentError:
      outputs["x_for_zero_digits"] = "InvalidArgumentError"
    print(json.dumps(outputs, sort_keys=True))
""")


# Lists the op types of a SavedModel's graph and function library that a
# TensorFlow without tensorflow_compression does not register (stdout), and
# all op types (stderr).
STOCK_OPS_CHECK = textwrap.dedent("""
    import sys
    import tensorflow as tf
    from tensorflow.core.protobuf import saved_model_pb2
    from tensorflow.python.framework import op_def_registry
    assert "tensorflow_compression" not in sys.modules
    saved = saved_model_pb2.SavedModel()
    with open(sys.argv[1] + "/saved_model.pb", "rb") as f:
      saved.ParseFromString(f.read())
    ops = set()
    for graph in saved.meta_graphs:
      ops.update(node.op for node in graph.graph_def.node)
      for function in graph.graph_def.library.function:
        ops.update(node.op for node in function.node_def)
    print("unregistered:", *sorted(
        op for op in ops if op_def_registry.get(op) is None))
    print(*sorted(ops), file=sys.stderr)
""")


class ExportTest(tf.test.TestCase, parameterized.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.codec = model.Codec(latent_dims=10, seed=4)
    # Make the prior non-trivial, so the tables differ per dimension.
    cls.codec.prior.log_scales.assign(np.linspace(-1., 2., 10))
    cls.images = testing_utils.synthetic_digits(12, seed=5)

  def expected_images(self):
    x = loss_lib.images_to_float(self.images)
    y_hat = tf.round(self.codec.analysis_transform(x))
    return loss_lib.float_to_images(
        self.codec.synthesis_transform(y_hat)).numpy()

  def test_signatures(self):
    path = os.path.join(self.get_temp_dir(), "signatures")
    export.export_saved_model(self.codec, path)
    loaded = tf.saved_model.load(path)
    self.assertCountEqual(loaded.signatures.keys(), export.SIGNATURES)
    compress = loaded.signatures["compress"]
    self.assertEqual(
        compress.structured_input_signature[1],
        {"images": tf.TensorSpec([None, 28, 28, 1], tf.uint8, "images")})
    self.assertEqual(set(compress.structured_outputs), {"strings", "bits"})
    decompress = loaded.signatures["decompress"]
    self.assertEqual(
        decompress.structured_input_signature[1],
        {"strings": tf.TensorSpec([None], tf.string, "strings")})
    self.assertEqual(set(decompress.structured_outputs), {"images"})
    fingerprint = loaded.signatures["fingerprint"]()["fingerprint"].numpy()
    self.assertRegex(fingerprint.decode(), "^[0-9a-f]{32}$")
    self.assertEqual(
        loaded.signatures["compress_stream"].structured_input_signature[1],
        {"images": tf.TensorSpec([None, 28, 28, 1], tf.uint8, "images")})
    self.assertEqual(
        loaded.signatures["decompress_stream"].structured_input_signature[1],
        {"string": tf.TensorSpec([], tf.string, "string"),
         "count": tf.TensorSpec([], tf.int32, "count")})
    self.assertEqual(
        loaded.signatures["decompress_unchecked"].structured_input_signature[1],
        {"strings": tf.TensorSpec([None], tf.string, "strings")})

  def test_stream_round_trip(self):
    module = export.CodecModule(self.codec)
    coded = module.compress_stream(self.images)
    self.assertEqual(coded["string"].shape, ())
    self.assertAllClose(coded["bits"], module.compress(self.images)["bits"])
    images = module.decompress_stream(coded["string"], 12)["images"]
    self.assertAllEqual(images, self.expected_images())
    # One stream costs less than the digits' strings together.
    strings = module.compress(self.images)["strings"].numpy()
    self.assertLess(len(coded["string"].numpy()), sum(map(len, strings)))

  def test_decompress_unchecked(self):
    module = export.CodecModule(self.codec)
    strings = module.compress(self.images)["strings"]
    # Valid strings decode as `decompress` decodes them ...
    self.assertAllEqual(module.decompress_unchecked(strings)["images"],
                        module.decompress(strings)["images"])
    # ... and random bytes decode too, where `decompress` refuses them.
    noise = tf.constant([bytes(range(i, i + 8)) for i in range(0, 64, 8)])
    images = module.decompress_unchecked(noise)["images"]
    self.assertEqual(images.shape, (8, 28, 28, 1))
    self.assertEqual(images.dtype, tf.uint8)
    with self.assertRaisesRegex(tf.errors.InvalidArgumentError,
                                "Sanity check failed"):
      module.decompress(noise)

  def test_improved_architecture_round_trip(self):
    codec = model.Codec(latent_dims=10, seed=4, architecture="improved")
    lmbda = 2000.
    path = os.path.join(self.get_temp_dir(), "improved")
    module = export.export_saved_model(codec, path, lmbda)
    loaded = tf.saved_model.load(path)
    x = loss_lib.images_to_float(self.images)
    rounded = tf.round(codec.analysis_transform(x))
    decompress = loaded.signatures["decompress"]
    # `compress_fast`: exactly the analysis transform's latents, rounded.
    strings = loaded.signatures["compress_fast"](images=self.images)["strings"]
    self.assertAllEqual(strings, module.compress_fast(self.images)["strings"])
    self.assertAllEqual(
        decompress(strings=strings)["images"],
        loss_lib.float_to_images(codec.synthesis_transform(rounded)))
    # `compress`: refined latents, none coding worse than rounding.
    strings = loaded.signatures["compress"](images=self.images)["strings"]
    self.assertAllEqual(strings, module.compress(self.images)["strings"])
    refined = module.entropy_model.decompress(strings, [])
    self.assertAllEqual(
        decompress(strings=strings)["images"],
        loss_lib.float_to_images(codec.synthesis_transform(refined)))
    loss = functools.partial(refinement.quantized_loss,
                             codec.synthesis_transform, codec.prior, x,
                             lmbda=lmbda)
    self.assertAllLessEqual(loss(refined) - loss(rounded), 1e-3)
    # `compress_refined` is `compress`, by its other name.
    self.assertAllEqual(
        loaded.signatures["compress_refined"](images=self.images)["strings"],
        strings)
    # The stream codes the same latents for the same batch; the fast
    # stream, the rounded ones; the refined stream is the stream.
    stream = loaded.signatures["compress_stream"](images=self.images)["string"]
    self.assertAllEqual(
        loaded.signatures["decompress_stream"](
            string=stream, count=len(self.images))["images"],
        decompress(strings=strings)["images"])
    self.assertEqual(
        loaded.signatures["compress_stream_refined"](
            images=self.images)["string"].numpy(), stream.numpy())
    fast_stream = loaded.signatures["compress_stream_fast"](
        images=self.images)
    self.assertAllEqual(
        module.range_coder.decode(fast_stream["string"][None],
                                  10 * len(self.images))[0][0],
        tf.reshape(tf.cast(rounded, tf.int32), [-1]))
    self.assertAllClose(
        fast_stream["bits"],
        loaded.signatures["compress_fast"](images=self.images)["bits"])

  def test_compress_searches_the_latents_of_a_trained_codec(self):
    # On a trained `improved` codec, `compress` codes other latents than the
    # rounded ones for many digits, each at a strictly lower loss as coded,
    # and rounding for the rest: a `compress` that skipped its search, ran
    # it for no step, or kept a worse result fails here.
    codec, lmbda = testing_utils.trained_codec()
    images = testing_utils.synthetic_digits(32, seed=11)
    module = export.CodecModule(codec, lmbda)
    x = loss_lib.images_to_float(images)
    rounded = tf.round(codec.analysis_transform(x))
    strings = module.compress(images)["strings"]
    refined = module.entropy_model.decompress(strings, [])
    loss = functools.partial(refinement.quantized_loss,
                             codec.synthesis_transform, codec.prior, x,
                             lmbda=lmbda)
    gain = (loss(rounded) - loss(refined)).numpy()
    changed = np.any(refined.numpy() != rounded.numpy(), axis=1)
    self.assertGreaterEqual(np.sum(changed), 16)
    self.assertAllGreater(gain[changed], 0.)
    self.assertAllEqual(gain[~changed], np.zeros(np.sum(~changed)))
    # `compress_fast` codes exactly the rounded latents.
    fast = module.compress_fast(images)["strings"]
    self.assertAllEqual(module.entropy_model.decompress(fast, []), rounded)
    self.assertAllEqual(strings.numpy() != fast.numpy(), changed)

  def test_search_in_chunks_codes_one_pass_strings(self):
    # The search goes through the decoder CHUNK_DIGITS digits at a time (its
    # memory); chunks of 5 (a short last one) give one pass's strings, up to
    # kernels that round by batch size.
    codec, lmbda = testing_utils.trained_codec()
    images = testing_utils.synthetic_digits(32, seed=12)
    whole = export.CodecModule(codec, lmbda)
    with mock.patch.object(refinement, "CHUNK_DIGITS", 5):
      chunked = export.CodecModule(codec, lmbda)
    self.assertEqual(chunked.refine_chunk_digits, 5)
    self.assertEqual(whole.refine_chunk_digits, refinement.CHUNK_DIGITS)
    strings = chunked.compress(images)["strings"].numpy()
    stream = chunked.compress_stream(images)["string"].numpy()
    if not testing_utils.onednn_enabled():
      # TensorFlow's own kernels: one pass's bytes.
      self.assertAllEqual(strings, whole.compress(images)["strings"])
      self.assertEqual(stream, whole.compress_stream(images)["string"].numpy())
      return
    # oneDNN's kernels round differently for other batch sizes, and 100
    # steps of search can carry that into a latent (5 of these 32 digits on
    # an Intel Xeon with AVX-512): most strings are the same, and each
    # decodes to latents coded at a loss no higher than rounding's.
    same = strings == whole.compress(images)["strings"].numpy()
    self.assertGreaterEqual(np.mean(same), .75)
    x = loss_lib.images_to_float(images)
    rounded = tf.round(codec.analysis_transform(x))
    loss = functools.partial(refinement.quantized_loss,
                             codec.synthesis_transform, codec.prior, x,
                             lmbda=lmbda)
    refined = chunked.entropy_model.decompress(strings, [])
    self.assertAllLessEqual(loss(refined) - loss(rounded), 0.)
    self.assertAllEqual(
        chunked.decompress_stream(stream, 32)["images"],
        chunked.decompress(strings)["images"])

  def test_refining_architecture_needs_lmbda(self):
    codec = model.Codec(latent_dims=10, seed=4, architecture="improved")
    with self.assertRaisesRegex(ValueError, "needs the lmbda"):
      export.CodecModule(codec)

  def test_compress_fast_is_compress_without_refinement(self):
    module = export.CodecModule(self.codec)
    self.assertAllEqual(module.compress_fast(self.images)["strings"],
                        module.compress(self.images)["strings"])
    self.assertEqual(
        module.compress_stream_fast(self.images)["string"].numpy(),
        module.compress_stream(self.images)["string"].numpy())
    self.assertIs(module.signatures()["compress_refined"], module.compress)
    self.assertIs(module.signatures()["compress_stream_refined"],
                  module.compress_stream)

  def test_round_trip_in_a_separate_process(self):
    tmp = self.get_temp_dir()
    path = os.path.join(tmp, "saved_model")
    module = export.export_saved_model(self.codec, path)
    np.save(os.path.join(tmp, "images.npy"), self.images)
    script = os.path.join(tmp, "consumer.py")
    with open(script, "w") as f:
      f.write(CONSUMER)
    result = testing_utils.run_python(
        [script, path, os.path.join(tmp, "images.npy"),
         os.path.join(tmp, "out.npz")])
    self.assertEqual(result.returncode, 0, result.stderr)
    out = np.load(os.path.join(tmp, "out.npz"), allow_pickle=True)
    # Decoding the strings gives exactly the quantized latents' images.
    self.assertEqual(out["images"].dtype, np.uint8)
    self.assertEqual(out["images"].shape, (12, 28, 28, 1))
    self.assertAllEqual(out["images"], self.expected_images())
    # The strings and bits are those of the module in this process.
    coded = module.compress(self.images)
    self.assertAllEqual(out["strings"], coded["strings"].numpy())
    self.assertAllClose(out["bits"], coded["bits"].numpy())
    self.assertEqual(out["bits"].dtype, np.float32)
    # They are tensorflow-compression's bytes, as its own ops code them.
    y = tf.round(self.codec.analysis_transform(
        loss_lib.images_to_float(self.images)))
    self.assertAllEqual(out["strings"], module.entropy_model.compress(y))

  def test_graph_holds_only_stock_tensorflow_ops(self):
    path = os.path.join(self.get_temp_dir(), "stock_ops")
    export.export_saved_model(
        model.Codec(latent_dims=10, seed=4,
                    architecture=model.DEFAULT_ARCHITECTURE), path,
        lmbda=2000.)
    result = testing_utils.run_python(["-c", STOCK_OPS_CHECK, path])
    self.assertEqual(result.returncode, 0, result.stderr)
    self.assertEqual(result.stdout.split()[0], "unregistered:")
    self.assertEqual(result.stdout.split()[1:], [])
    # The check saw the coder: its string packing and unpacking.
    self.assertIn("SerializeTensor", result.stderr.split())
    self.assertIn("DecodePaddedRaw", result.stderr.split())
    # TensorFlow's own command-line runner runs the signatures.
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    images = os.path.join(self.get_temp_dir(), "nines.npy")
    np.save(images, np.full([2, 28, 28, 1], 9, np.uint8))
    for signature, inputs in [
        ("compress", ["--inputs", f"images={images}"]),
        ("decompress_unchecked", ["--input_exprs", "strings=[b'abc',b'']"])]:
      run = subprocess.run(
          [cli, "run", "--dir", path, "--tag_set", "serve",
           "--signature_def", signature, *inputs],
          capture_output=True, text=True, timeout=300, check=False,
          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
      self.assertEqual(run.returncode, 0, run.stderr)
      self.assertIn("Result for output key", run.stdout)

  @parameterized.parameters(model.DEFAULT_ARCHITECTURE, "tutorial")
  def test_every_signature_takes_an_empty_batch(self, architecture):
    tmp = self.get_temp_dir()
    path = os.path.join(tmp, f"empty_batches_{architecture}")
    export.export_saved_model(
        model.Codec(latent_dims=10, seed=4, architecture=architecture), path,
        lmbda=2000.)
    script = os.path.join(tmp, "empty_batch_consumer.py")
    with open(script, "w") as f:
      f.write(EMPTY_BATCH_CONSUMER)
    result = testing_utils.run_python([script, path])
    self.assertEqual(result.returncode, 0, result.stderr)
    images = ["uint8", [0, 28, 28, 1]]
    no_strings = {"strings": ["string", [0]], "bits": ["float32", [0]]}
    no_stream = {"string": ["string", []], "bits": ["float32", [0]]}
    self.assertEqual(json.loads(result.stdout), {
        "compress": no_strings,
        "compress_fast": no_strings,
        "compress_refined": no_strings,
        "compress_stream": no_stream,
        "compress_stream_fast": no_stream,
        "compress_stream_refined": no_stream,
        "decompress": {"images": images},
        "decompress_stream": {"images": images},
        "decompress_unchecked": {"images": images},
        "fingerprint": {"fingerprint": ["string", []]},
        "stream_of_zero_digits": "",
        "its_images": images,
        "x_for_zero_digits": "InvalidArgumentError",
    })

  def test_tables_are_built_once_as_variables(self):
    module = export.CodecModule(self.codec)
    names = {v.name.split("/")[-1] for v in module.variables}
    self.assertContainsSubset({"cdf:0", "cdf_offset:0"}, names)
    # Later changes to the prior do not reach the exported tables.
    cdf = module.entropy_model.cdf.numpy()
    self.codec.prior.log_scales.assign_add(tf.ones([10]))
    self.assertAllEqual(module.entropy_model.cdf, cdf)
    self.codec.prior.log_scales.assign_sub(tf.ones([10]))

  def test_corrupt_string_fails_the_sanity_check(self):
    module = export.CodecModule(self.codec)
    strings = module.compress(self.images[:1])["strings"].numpy()
    with self.assertRaisesRegex(tf.errors.InvalidArgumentError,
                                "Sanity check failed"):
      module.decompress(tf.constant([strings[0] + b"\x00\x00\x00\x00"]))

  def test_export_replaces_an_existing_saved_model(self):
    path = os.path.join(self.get_temp_dir(), "replace")
    export.export_saved_model(self.codec, path)
    export.export_saved_model(self.codec, path)
    self.assertEqual(sorted(os.listdir(self.get_temp_dir())).count("replace"),
                     1)
    self.assertFalse(
        [n for n in os.listdir(self.get_temp_dir()) if ".tmp-" in n])
    self.assertTrue(tf.saved_model.contains_saved_model(path))


if __name__ == "__main__":
  tf.test.main()
