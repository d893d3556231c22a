"""Rate–distortion reports: learned models beside classical codecs.

`build` gathers what `bin/evaluate.py` measured (one summary per model, one
per classical codec setting) into one JSON-ready dict, adds how each model
compares with the best classical codec at equal or lower error, and the
Bjøntegaard delta rate of each architecture against a baseline one;
`markdown` turns that into tables and `rd_plot` into a figure.
"""

import math

import numpy as np

from tfmnistcodec.study import bdrate
from tfmnistcodec.study import classical
from tfmnistcodec.study import evaluation

__all__ = ["build", "bd_rates", "markdown", "rd_plot", "sample_figure"]


def build(models, classical_results, baseline="tutorial", **context):
  """The report of one evaluation.

  Args:
    models: A list of dicts, one per model: `evaluation.evaluate_saved_model`'s
      summary plus `name`, `architecture` and `lmbda` (`None` if unknown).
    classical_results: `classical.evaluate_classical`'s list, on the same
      digits (may be empty).
    baseline: Architecture the BD-rates are computed against.
    **context: Added to the report as they are (dataset, split, ...).

  Returns:
    A dict: `context` items, `models` (each with `best_classical`, the
    smallest classical setting at equal or lower MAE, and `classical_ratio`,
    its bytes per digit over the model's one-string-per-digit file's),
    `classical` and `bd_rate` (see `bd_rates`).
  """
  rows = []
  for summary in models:
    row = dict(summary)
    best = classical.best_at_or_below(classical_results, row["mae"])
    row["best_classical"] = best
    row["classical_ratio"] = (
        best["bytes_per_digit"] / row["strings_file_bytes"] if best else None)
    rows.append(row)
  rows.sort(key=lambda r: (r["architecture"], r["string_bits"]))
  return dict(context, models=rows, classical=list(classical_results),
              bd_rate=bd_rates(rows, baseline))


def bd_rates(models, baseline="tutorial"):
  """BD-rate of each architecture's curve against the baseline's.

  Rate is the actual string bits per digit, distortion the MAE of the uint8
  outputs (`bdrate.bd_rate_distortion`). The cubic fit (VCEG-M33) is used
  when both curves have four or more points, else pchip; both are given when
  both apply.

  Args:
    models: Model rows as in `build`.
    baseline: The anchor architecture.

  Returns:
    A dict by architecture (baseline excluded) of dicts: `against`, `points`
    (of the test curve), `anchor_points`, and `cubic` and/or `pchip` (percent;
    negative = fewer bits for the same MAE); or `error` when the curves
    cannot be compared (too few points, MAE ranges that do not overlap).
  """
  curves = {}
  for row in models:
    curves.setdefault(row["architecture"], []).append(
        (row["string_bits"], row["mae"]))
  anchor = curves.get(baseline)
  results = {}
  for architecture, points in sorted(curves.items()):
    if architecture == baseline:
      continue
    entry = dict(against=baseline, points=len(points),
                 anchor_points=len(anchor or []))
    if not anchor:
      entry["error"] = f"no {baseline} models to compare against."
    else:
      for method in bdrate.METHODS:
        try:
          entry[method] = bdrate.bd_rate_distortion(
              *zip(*anchor), *zip(*points), method=method)
        except ValueError as e:
          entry.setdefault("error", str(e))
      if "cubic" in entry or "pchip" in entry:
        entry.pop("error", None)
    results[architecture] = entry
  return results


def _number(value, digits):
  if value is None or (isinstance(value, float) and math.isnan(value)):
    return "–"
  if isinstance(value, float) and math.isinf(value):
    return "∞"
  return f"{value:.{digits}f}"


def _streams_information(row):
  bits = row.get("streams_information_bits")
  return "" if bits is None else f" ({bits:.2f})"


def markdown(report):
  """The report as Markdown: a table of models, BD-rates, classical codecs."""
  lines = [
      f"{report.get('digits', '?')} {report.get('dataset', '')} "
      f"{report.get('split', '')} digits.", "",
      "| model | architecture | λ | information bits/digit | string "
      "bits/digit | streams file bits/digit (its information) | strings "
      "file bytes/digit | MAE "
      "| PSNR dB | best classical at ≤ MAE | its bytes/digit | × smaller |",
      "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|",
  ]
  for row in report["models"]:
    best = row["best_classical"]
    lines.append(
        f"| {row['name']} | {row['architecture']} | "
        f"{_number(row.get('lmbda'), 0)} | "
        f"{row['information_bits']:.2f} | {row['string_bits']:.2f} | "
        f"{8 * row['streams_file_bytes']:.2f}"
        f"{_streams_information(row)} | "
        f"{row['strings_file_bytes']:.3f} | {row['mae']:.4f} | "
        f"{_number(row['psnr'], 2)} | "
        f"{_setting(best) if best else 'none'} | "
        f"{_number(best and best['bytes_per_digit'], 1)} | "
        f"{_number(row['classical_ratio'], 1)} |")
  if report["bd_rate"]:
    lines += ["", "| architecture | BD-rate vs | cubic | pchip | points |",
              "|---|---|---:|---:|---:|"]
    for architecture, entry in report["bd_rate"].items():
      lines.append(
          f"| {architecture} | {entry['against']} | "
          f"{_percent(entry.get('cubic'))} | {_percent(entry.get('pchip'))} "
          f"| {entry['points']} vs {entry['anchor_points']} |"
          + (f" {entry['error']}" if "error" in entry else ""))
  if report["classical"]:
    lines += ["", "| classical codec | bytes/digit | bits/digit | MAE | "
              "PSNR dB |", "|---|---:|---:|---:|---:|"]
    for result in report["classical"]:
      lines.append(
          f"| {_setting(result)} | {result['bytes_per_digit']:.1f} | "
          f"{result['bits_per_digit']:.0f} | {result['mae']:.4f} | "
          f"{_number(result['psnr'], 2)} |")
  return "\n".join(lines) + "\n"


def _percent(value):
  return "–" if value is None else f"{value:+.1f}%"


def _setting(result):
  if result.get("quality") is None:
    return result["codec"]
  return f"{result['codec']} q{result['quality']}"


def rd_plot(report, path):
  """Writes the rate–distortion plot (PNG): every model and codec setting.

  Bits per digit on a log axis, since classical files of single digits are
  tens of times larger than the learned codec's strings; MAE of uint8
  outputs on the other. Models are drawn per architecture, by their string
  bits; classical codecs per codec, one point per quality.
  """
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  from matplotlib import pyplot as plt  # pylint: disable=g-import-not-at-top

  fig, axis = plt.subplots(figsize=(8, 5.5))
  by_architecture = {}
  for row in report["models"]:
    by_architecture.setdefault(row["architecture"], []).append(row)
  for architecture, rows in sorted(by_architecture.items()):
    rows = sorted(rows, key=lambda r: r["string_bits"])
    line, = axis.plot([r["string_bits"] for r in rows],
                      [r["mae"] for r in rows], "o-",
                      label=f"tfmnistcodec {architecture} (string bits)")
    axis.plot([8 * r["streams_file_bytes"] for r in rows],
              [r["mae"] for r in rows], "x:", color=line.get_color(),
              label=f"tfmnistcodec {architecture} (streams file bits)")
    for r in rows:
      if r.get("lmbda") is not None:
        axis.annotate(f"λ={r['lmbda']:g}", (r["string_bits"], r["mae"]),
                      textcoords="offset points", xytext=(4, 4), fontsize=7)
  by_codec = {}
  for result in report["classical"]:
    by_codec.setdefault(result["codec"], []).append(result)
  for codec, results in sorted(by_codec.items()):
    results = sorted(results, key=lambda r: r["bits_per_digit"])
    axis.plot([r["bits_per_digit"] for r in results],
              [r["mae"] for r in results], "s--", markersize=4,
              label=f"{codec} (one file per digit)")
  axis.set_xscale("log")
  axis.set_xlabel("bits per digit (log scale)")
  axis.set_ylabel("MAE of uint8 outputs (/255)")
  axis.set_title(f"Rate–distortion on {report.get('digits', '?')} "
                 f"{report.get('dataset', '')} {report.get('split', '')} "
                 "digits")
  axis.grid(True, which="both", alpha=.3)
  axis.legend(fontsize=7)
  fig.tight_layout()
  evaluation.save_figure(fig, path)


def sample_figure(images, strings, path, columns=4):
  """Writes a grid of decoded digits, each titled with its string in hex."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  from matplotlib import pyplot as plt  # pylint: disable=g-import-not-at-top

  images = np.asarray(images)
  rows = max(1, -(-len(images) // columns))
  fig, axes = plt.subplots(rows, columns, figsize=(2 * columns, 2.2 * rows),
                           squeeze=False)
  for axis in axes.flat:
    axis.axis("off")
  for axis, image, string in zip(axes.flat, images, strings):
    axis.imshow(image[..., 0], cmap="gray", vmin=0, vmax=255)
    axis.set_title(bytes(string).hex(), fontsize=7, family="monospace")
  fig.suptitle("Random strings through the decoder (no sanity check)")
  fig.tight_layout()
  evaluation.save_figure(fig, path)
