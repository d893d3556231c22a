"""Rate–distortion sweeps: one model per λ, then one report across them.

    run_sweep([2000, 500, 300], "runs/sweep", TrainConfig())
    evaluate_models(["runs/sweep/lmbda_2000", ...], "runs/sweep/report")

Each λ trains in its own model_dir (`lmbda_<λ>`) under the workdir, so a
sweep that is run again reuses the models that are finished and resumes the
one that was interrupted, from its last checkpoint.
"""

import dataclasses
import math
import pathlib
import time

from absl import logging
import tensorflow as tf

from tfmnistcodec import contract
from tfmnistcodec import data
from tfmnistcodec import export
from tfmnistcodec.files import atomic
from tfmnistcodec.study import classical
from tfmnistcodec.study import evaluation
from tfmnistcodec.study import report as report_lib
from tfmnistcodec import training
from tfmnistcodec.training import run_folder

__all__ = ["model_dir_for", "is_finished", "run_sweep", "evaluate_models"]

REPORT_JSON = "report.json"
REPORT_MD = "report.md"
RD_PLOT = "rd.png"


def model_dir_for(workdir, lmbda):
  """The model_dir of λ in a sweep's workdir: `<workdir>/lmbda_<λ>`."""
  return pathlib.Path(workdir) / f"lmbda_{lmbda:g}"


def is_finished(model_dir, config, num_train_digits):
  """Whether model_dir holds this config's run, trained and exported.

  Args:
    model_dir: The run folder.
    config: The `training.TrainConfig` the run should have.
    num_train_digits: Digits per epoch of training.
  """
  folder = run_folder.RunFolder(model_dir)
  if not folder.config_file.exists():
    return False
  saved = folder.load_config()
  config = config.resolve(saved)
  if any(getattr(saved, name) != getattr(config, name)
         for name in training.FIXED_SETTINGS):
    return False
  path = folder.latest_checkpoint()
  if path is None:
    return False
  steps_per_epoch = math.ceil(num_train_digits / config.batch_size)
  return (folder.checkpoint_step(path) >= config.epochs * steps_per_epoch and
          tf.saved_model.contains_saved_model(str(folder.saved_model_dir)))


def run_sweep(lmbdas, workdir, config, dataset="mnist", data_dir=None):
  """Trains (or reuses, or resumes) one model per λ, and exports each.

  Args:
    lmbdas: The λ values, in the order to train them.
    workdir: Folder of the sweep; model `λ` goes to `model_dir_for`.
    config: `training.TrainConfig` for all models; its `lmbda` is replaced.
    dataset: TFDS name of the digits.
    data_dir: TFDS data folder.

  Returns:
    The model_dirs, in the order of `lmbdas`.
  """
  if not lmbdas:
    raise contract.UserValueError("give at least one λ.")
  if len(set(lmbdas)) != len(lmbdas):
    raise contract.UserValueError(f"λ values repeat: {lmbdas}.")
  train_images = data.load_numpy(dataset, "train", data_dir)
  test_images = data.load_numpy(dataset, "test", data_dir)
  model_dirs = [model_dir_for(workdir, lmbda) for lmbda in lmbdas]
  todo = [
      not is_finished(d, dataclasses.replace(config, lmbda=l),
                      len(train_images)) for d, l in zip(model_dirs, lmbdas)
  ]
  started, trained = time.monotonic(), 0
  for i, (lmbda, model_dir) in enumerate(zip(lmbdas, model_dirs)):
    if not todo[i]:
      logging.info("sweep %d/%d: λ=%g is finished in %s; reusing it.", i + 1,
                   len(lmbdas), lmbda, model_dir)
      continue
    left = sum(todo[i:])
    eta = ((time.monotonic() - started) / trained * left
           if trained else float("nan"))
    logging.info("sweep %d/%d: training λ=%g in %s (%d models to train, "
                 "ETA %s).", i + 1, len(lmbdas), lmbda, model_dir, left,
                 "after the first" if math.isnan(eta) else
                 training.format_seconds(eta))
    codec, _ = training.train_and_evaluate(
        dataclasses.replace(config, lmbda=lmbda), model_dir, train_images,
        test_images)
    export.export_saved_model(
        codec, run_folder.RunFolder(model_dir).saved_model_dir, lmbda)
    trained += 1
  return model_dirs


def evaluate_models(models, output_dir, dataset="mnist", split="test",
                    data_dir=None, classical_codecs=True,
                    baseline="tutorial"):
  """Codes a split with every model (and classical codecs); writes a report.

  Writes `report.json`, `report.md` and `rd.png` to `output_dir`.

  Args:
    models: model_dirs of trained runs, or SavedModel folders.
    output_dir: Folder of the report.
    dataset: TFDS name of the digits.
    split: Split to code.
    data_dir: TFDS data folder.
    classical_codecs: Whether to code the digits with PNG, WebP and JPEG too.
    baseline: Architecture the BD-rates are computed against.

  Returns:
    The report in Markdown.
  """
  if not models:
    raise contract.UserValueError("give at least one model.")
  saved_models = [evaluation.find_saved_model(m) for m in models]
  atomic.check_output(output_dir, inputs=saved_models, folder=True)
  images = data.load_numpy(dataset, split, data_dir)
  rows = []
  for i, (name, saved_model) in enumerate(zip(models, saved_models)):
    started = time.monotonic()
    summary, _ = evaluation.evaluate_saved_model(saved_model, images)
    settings = evaluation.model_settings(saved_model)
    summary.update(name=str(name), saved_model=str(saved_model),
                   architecture=settings.get("architecture", "unknown"),
                   lmbda=settings.get("lmbda"),
                   epochs=settings.get("epochs"))
    rows.append(summary)
    logging.info(
        "model %d/%d %s: %.2f string bits/digit, MAE %.4f (%.1f s)", i + 1,
        len(models), name, summary["string_bits"], summary["mae"],
        time.monotonic() - started)
  results = []
  if classical_codecs:
    started = time.monotonic()
    for i, setting in enumerate(classical.DEFAULT_CODECS):
      results += classical.evaluate_classical(images, [setting])
      logging.info("classical %d/%d %s: %.1f bytes/digit, MAE %.4f "
                   "(%.0f s so far)", i + 1, len(classical.DEFAULT_CODECS),
                   setting, results[-1]["bytes_per_digit"],
                   results[-1]["mae"], time.monotonic() - started)
  report = report_lib.build(rows, results, baseline=baseline,
                            dataset=dataset, split=split,
                            digits=int(len(images)))
  output_dir = pathlib.Path(output_dir)
  output_dir.mkdir(parents=True, exist_ok=True)
  atomic.write_json(output_dir / REPORT_JSON, report)
  markdown = report_lib.markdown(report)
  atomic.write_bytes(output_dir / REPORT_MD, markdown.encode())
  report_lib.rd_plot(report, output_dir / RD_PLOT)
  logging.info("wrote %s, %s and %s in %s.", REPORT_JSON, REPORT_MD, RD_PLOT,
               output_dir)
  return markdown
