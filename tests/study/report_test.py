"""Tests of the rate–distortion report: comparisons, BD-rates, table, plot."""

import os

import tensorflow as tf

from tfmnistcodec.study import bdrate
from tfmnistcodec.study import report


def model_row(name, architecture, lmbda, string_bits, mae):
  return dict(name=name, architecture=architecture, lmbda=lmbda,
              information_bits=string_bits - 2.5, string_bits=string_bits,
              streams_file_bytes=(string_bits - 2.4) / 8,
              strings_file_bytes=string_bits / 8 + .4, mae=mae, psnr=18.,
              psnr_per_digit=19., digits=100)


TUTORIAL = [
    model_row(f"t{l}", "tutorial", l, bits, mae)
    for l, bits, mae in ((2000, 42.7, .0343), (1000, 28., .045),
                         (500, 16.6, .0608), (300, 11.2, .0750))
]
# The same curve at 80% of the bits: a BD-rate of exactly -20%.
IMPROVED = [
    model_row(f"i{r['lmbda']}", "improved", r["lmbda"], .8 * r["string_bits"],
              r["mae"]) for r in TUTORIAL
]
CLASSICAL = [
    dict(codec="png", quality=None, bytes_per_digit=274., bits_per_digit=2192.,
         mae=0., psnr=float("inf"), digits=100),
    dict(codec="webp", quality=0, bytes_per_digit=96.6, bits_per_digit=772.8,
         mae=.0302, psnr=22.6, digits=100),
    dict(codec="jpeg", quality=1, bytes_per_digit=200., bits_per_digit=1600.,
         mae=.0507, psnr=18.9, digits=100),
]


class ReportTest(tf.test.TestCase):

  def test_best_classical_at_equal_or_lower_mae(self):
    built = report.build(TUTORIAL, CLASSICAL, dataset="mnist", split="test",
                         digits=100)
    by_name = {row["name"]: row for row in built["models"]}
    # MAE .0343 and .045: only PNG and WebP q0 are at or below; WebP wins.
    self.assertEqual(by_name["t2000"]["best_classical"]["codec"], "webp")
    self.assertAllClose(by_name["t2000"]["classical_ratio"],
                        96.6 / (42.7 / 8 + .4))
    self.assertEqual(by_name["t300"]["best_classical"]["codec"], "webp")
    self.assertEqual(built["dataset"], "mnist")

  def test_no_classical_codec_at_or_below(self):
    built = report.build(TUTORIAL, CLASSICAL[2:])
    row = [r for r in built["models"] if r["name"] == "t2000"][0]
    self.assertIsNone(row["best_classical"])
    self.assertIsNone(row["classical_ratio"])

  def test_bd_rate_against_the_baseline(self):
    rates = report.bd_rates(TUTORIAL + IMPROVED)
    self.assertEqual(list(rates), ["improved"])
    entry = rates["improved"]
    self.assertEqual(entry["against"], "tutorial")
    self.assertEqual((entry["points"], entry["anchor_points"]), (4, 4))
    self.assertAllClose(entry["cubic"], -20.)
    self.assertAllClose(entry["pchip"], -20.)
    self.assertAllClose(
        entry["cubic"],
        bdrate.bd_rate_distortion([r["string_bits"] for r in TUTORIAL],
                                  [r["mae"] for r in TUTORIAL],
                                  [r["string_bits"] for r in IMPROVED],
                                  [r["mae"] for r in IMPROVED]))

  def test_bd_rate_with_three_points_is_pchip_only(self):
    entry = report.bd_rates(TUTORIAL[:3] + IMPROVED[:3])["improved"]
    self.assertNotIn("cubic", entry)
    self.assertNotIn("error", entry)
    self.assertAllClose(entry["pchip"], -20.)

  def test_bd_rate_without_a_baseline(self):
    entry = report.bd_rates(IMPROVED)["improved"]
    self.assertEqual(entry["error"], "no tutorial models to compare against.")

  def test_bd_rate_of_curves_that_do_not_overlap(self):
    far = [dict(r, mae=r["mae"] * 10) for r in IMPROVED]
    entry = report.bd_rates(TUTORIAL + far)["improved"]
    self.assertRegex(entry["error"], "overlap")

  def test_markdown_and_plot(self):
    built = report.build(TUTORIAL + IMPROVED, CLASSICAL, dataset="mnist",
                         split="test", digits=100)
    text = report.markdown(built)
    self.assertIn("| t2000 | tutorial | 2000 | 40.20 | 42.70 | 40.30 |", text)
    # With the streams file's own information content, when measured.
    row = dict(TUTORIAL[0], streams_information_bits=40.25)
    self.assertIn("| t2000 | tutorial | 2000 | 40.20 | 42.70 | 40.30 (40.25) |",
                  report.markdown(report.build([row], CLASSICAL)))
    self.assertIn("| improved | tutorial | -20.0% | -20.0% | 4 vs 4 |", text)
    self.assertIn("| webp q0 | 96.6 | 773 | 0.0302 | 22.60 |", text)
    self.assertIn("| png | 274.0 | 2192 | 0.0000 | ∞ |", text)
    path = os.path.join(self.get_temp_dir(), "rd.png")
    report.rd_plot(built, path)
    with open(path, "rb") as f:
      self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")


if __name__ == "__main__":
  tf.test.main()
