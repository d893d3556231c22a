#!/usr/bin/env python3
"""The main job: train a codec on MNIST, then code the test digits with it.

  bin/main.py --model_dir=runs/mnist

Prepares MNIST if needed, trains (or resumes) with the given settings, exports
the SavedModel, compresses and decompresses every test digit through the
SavedModel's signatures, prints bits per digit (information content and actual
string length), MAE and PSNR, and writes <model_dir>/results.json and a figure
of 16 test digits beside their reconstructions and strings in hex.
"""

# TensorFlow's oneDNN CPU kernels unless the environment says otherwise;
# set before TensorFlow is imported (tfmnistcodec/tfenv.py says why).
from tfmnistcodec import tfenv

tfenv.use_onednn_by_default()

# pylint: disable=g-import-not-at-top,wrong-import-position
import pathlib

from absl import app
from absl import flags

from tfmnistcodec import cli
from tfmnistcodec import data
from tfmnistcodec.files import atomic
from tfmnistcodec.study import evaluation
from tfmnistcodec import training

cli.define_training_flags()
_FIGURE = flags.DEFINE_string(
    "figure", None, "Where to write the PNG figure (default: "
    "<model_dir>/digits.png).")
FLAGS = flags.FLAGS


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  with cli.user_errors():
    model_dir = pathlib.Path(FLAGS.model_dir)
    config = cli.train_config_from_flags()
    _, saved_model, _ = cli.train_and_export(config, model_dir, FLAGS.dataset,
                                             FLAGS.data_dir, FLAGS.strategy)
    if saved_model is None:
      return  # A worker that is not the chief: the chief codes the digits.
    figure = pathlib.Path(_FIGURE.value or model_dir / "digits.png")
    # Never over what the run reads back: its config, checkpoints, model.
    atomic.check_output(figure, inputs=[
        model_dir / training.CONFIG_FILE, model_dir / training.CHECKPOINT_DIR,
        model_dir / training.SUMMARY_DIR, saved_model])
    images = data.load_numpy(FLAGS.dataset, "test", FLAGS.data_dir)
    results = model_dir / "results.json"
    summary = evaluation.evaluate_run(saved_model, images, figure, results,
                                      dataset=FLAGS.dataset, split="test",
                                      lmbda=config.lmbda)
    print(f"{summary['digits']} {FLAGS.dataset} test digits through "
          f"{saved_model}:\n"
          f"  information content  {summary['information_bits']:.2f} "
          "bits/digit\n"
          f"  range-coded strings  {summary['string_bits']:.2f} bits/digit\n"
          f"  MAE                  {summary['mae']:.4f} (uint8 outputs / 255)\n"
          f"  PSNR                 {summary['psnr']:.2f} dB\n"
          f"figure: {figure}\nresults: {results}")


if __name__ == "__main__":
  flags.mark_flag_as_required("model_dir")
  app.run(main)
