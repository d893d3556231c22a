"""Tests of the Bjøntegaard delta: published reference values, properties,
refusals."""

from absl.testing import parameterized
import numpy as np
import tensorflow as tf

import testing_utils
from tfmnistcodec.study import bdrate

# Each reference case: (anchor rates, anchor PSNR, test rates, test PSNR,
# method, published BD-rate in %, published BD-PSNR in dB or None).
#
# VCEG-M33's own example: the sheet "copied from the original M33 Excel
# example. The numbers are static (original VBA code removed)" in
# github.com/tbr/bjontegaard_etro, bjontegaard_etro_standalone_example.xlsm
# (sheet 3, cells A5:D8 and E4:F4); tbr/bjontegaard_cpp example.cpp asserts
# the same two numbers to 6 decimals as "VCEG-M33 numbers".
M33 = ([90.33, 181.03, 332.99, 547.79], [27.95, 31.17, 34.44, 38.11],
       [127.1719, 186.14, 307.2924, 481.5588],
       [29.9286, 32.4165, 34.7013, 37.4561],
       "cubic", -13.261772993093556, 0.80071318397395785)
# Nine points a curve (a least-squares cubic): "barb512", computed by ETRO's
# VBA in Excel, same workbook, sheet 2 (D3:G11, I3:J3); also asserted to 6
# decimals in tbr/bjontegaard_cpp example.cpp.
ETRO_BARB512 = (
    [2.99899, 1.99884, 1.49673, 0.99707, 0.745941, 0.596436, 0.495148,
     0.29425, 0.244049],
    [48.6681, 43.8357, 41.3982, 38.0124, 35.5122, 33.8673, 32.6658, 29.4505,
     28.484],
    [2.997253, 1.968292, 1.472565, 0.994965, 0.748871, 0.58902, 0.499176,
     0.296753, 0.249634],
    [48.5637, 43.7318, 41.2727, 38.0001, 35.6375, 33.9057, 32.8318, 29.6851,
     28.8244],
    "cubic", -0.90345048358024815, 0.072296844856407055)
# pchip as in the JCT-VC BD-rate sheet: data "from JCTVC-E137", expected
# values as fractions (here times 100), in github.com/Netflix/vmaf,
# python/test/bd_rate_calculator_test.py, class BDrateCalculatorJCTVCTest,
# whose BDrateCalculator (python/vmaf/tools/bd_rate_calculator.py) is the
# sheet's piecewise-exact pchip integration, "validated against JCTVC-E137".
JCTVC_E137_1 = (
    [108048.8736, 61279.976, 33905.6656, 18883.6928],
    [43.6471, 40.3953, 37.247, 34.2911],
    [108061.2784, 61299.9936, 33928.7472, 18910.912],
    [43.6768, 40.4232, 37.2761, 34.3147],
    "pchip", -0.465215420752807, None)
JCTVC_E137_2 = (
    [40433.8848, 7622.7456, 2394.488, 1017.6184],
    [37.5761, 35.3756, 33.8977, 32.0603],
    [40370.12, 7587.0024, 2390.0944, 1017.0984],
    [37.5982, 35.4025, 33.9194, 32.0822],
    "pchip", -1.8779823450567612, None)

# pchip through many points (99 and 45; VMAF, not PSNR, as quality): same
# file, BDrateCalculatorTest.test_bd_rate_calculator_different, expected
# 0.08267113720900943 (a fraction). Columns: rate, quality.
NETFLIX_SET_A = np.array([
    (35.99646889759373, 21.955645250419696),
    (37.99471487409067, 25.51236452853944),
    (39.970621712367105, 28.044365039171787),
    (42.346972697257975, 30.479270893956333),
    (44.7457131337437, 32.55129509653048),
    (47.154365304980416, 34.35170492445439),
    (49.85285605484052, 36.159880512031336),
    (52.668811762730826, 37.817858687744824),
    (55.623246648013435, 39.4236739227756),
    (58.709821225517615, 40.97726075825405),
    (61.95339030218243, 42.47586071628426),
    (65.39086712367096, 43.94792672076104),
    (69.07053575825405, 45.38187315332959),
    (72.92296374930051, 46.7512838066592),
    (77.04220356463348, 48.12043552042529),
    (81.27714736989365, 49.42854125629547),
    (85.80023587017347, 50.72125632344712),
    (90.70151323447116, 52.02140726776721),
    (95.61377568550643, 53.247009597090084),
    (101.18490854504753, 54.54781877448235),
    (106.70571125909345, 55.77207227895914),
    (112.80107593732511, 57.05675384023505),
    (118.71002956351424, 58.22286424174595),
    (125.49624718522664, 59.4644650601567),
    (132.55080280358143, 60.67429805540012),
    (140.1958864969222, 61.90510035674314),
    (147.88641993844433, 63.041928063794046),
    (156.33494113598206, 64.22106624930048),
    (164.76788195858984, 65.33567544767766),
    (173.94668501398993, 66.48116736149971),
    (184.07738357022944, 67.64570549104643),
    (194.3000549748181, 68.7236593242865),
    (205.02014116955786, 69.79909077364297),
    (216.48558646334627, 70.86179997202017),
    (228.6963740850587, 71.91020905148292),
    (241.1654202574147, 72.91811104504754),
    (254.97357365976498, 73.96942905008393),
    (269.34394547845557, 74.9730472439843),
    (284.15034977056513, 75.93786445159483),
    (300.33591073866813, 76.91376459149411),
    (317.0971573363177, 77.86057887520982),
    (334.6360977616115, 78.78165542809175),
    (353.52509696138776, 79.69565129406824),
    (373.29134338556247, 80.57908869613874),
    (393.9552307218803, 81.44409020705092),
    (415.95752090095135, 82.30904120733068),
    (438.74847322327906, 83.13002760212642),
    (463.7617672915498, 83.97161655008395),
    (490.0063805707889, 84.77690864577501),
    (516.9553140067148, 85.5381991116396),
    (544.9439733240066, 86.28044596390599),
    (576.3607511751537, 87.049304036094),
    (607.7912813486286, 87.75004198377168),
    (642.9993396698372, 88.46859445998881),
    (678.4288774650249, 89.13938649272522),
    (716.0146116899828, 89.79232830861778),
    (757.1422397593731, 90.43804418019025),
    (799.5379996586456, 91.04304998601005),
    (843.7057127476214, 91.61936168158924),
    (891.0241835086737, 92.18129753777283),
    (941.0654296082818, 92.7274914871293),
    (992.0100858869608, 93.22531138080583),
    (1049.361345377728, 93.72490778539446),
    (1106.0225737101287, 94.16627750419697),
    (1169.031521835478, 94.61364252937885),
    (1234.2873478623392, 95.02554775461667),
    (1303.8650088919974, 95.42153838836039),
    (1377.1698176105203, 95.788557491606),
    (1453.2463230386118, 96.12595161583663),
    (1532.4943320201453, 96.43917551762732),
    (1621.3588033296023, 96.747294998601),
    (1705.825332271964, 97.00223929071069),
    (1807.3925386066035, 97.27276210128707),
    (1908.5000484107447, 97.50972255875773),
    (2014.398598975937, 97.72906203133745),
    (2127.9466272691657, 97.92876842473417),
    (2245.784021667598, 98.10873614297704),
    (2371.8831237045324, 98.2783919418019),
    (2505.2980083995526, 98.43403286233912),
    (2644.597092540571, 98.57010871572473),
    (2790.9417932904316, 98.69238183407946),
    (2948.672410660327, 98.80515458869611),
    (3107.1893589871306, 98.90337104085056),
    (3288.155564739787, 98.99696463346388),
    (3470.8710826636825, 99.07321914521543),
    (3665.2945898880803, 99.14012702853941),
    (3869.5733634862895, 99.19701270285395),
    (4071.5218731505315, 99.24300500839394),
    (4311.484267084497, 99.28674711807501),
    (4558.244802909904, 99.31946469641859),
    (4806.482321382206, 99.34378444320092),
    (5079.722132064913, 99.36144804141017),
    (5361.911769636264, 99.37290286793508),
    (5665.047368091774, 99.38022224398433),
    (5973.631636653609, 99.38404458589815),
    (6315.611591936206, 99.38606273782877),
    (6667.651857364297, 99.3870162283156),
    (7037.4516035086735, 99.3875896334639),
    (7434.023280637938, 99.38792124370454),
])
NETFLIX_SET_B = np.array([
    (49.87328328483493, 28.61330510632344),
    (52.38326659205375, 32.39771999160604),
    (55.48787012870734, 35.43877945579183),
    (58.73340142697256, 37.81863505176273),
    (61.38781766088415, 39.45287702853945),
    (65.24973810856183, 41.51289594991606),
    (68.91803592053719, 43.25002306939003),
    (72.90461613878006, 44.95657251678791),
    (76.50681894795746, 46.343293172915494),
    (81.22743775601566, 48.06086461947399),
    (85.8963679574706, 49.55961627728036),
    (90.6221019585898, 50.90070572887522),
    (95.65390898712923, 52.23381047146056),
    (101.13434360380525, 53.61339359960829),
    (106.40240546726353, 54.8475233841634),
    (112.42335666480132, 56.18486674594291),
    (118.79365039171795, 57.459968270844996),
    (125.05231551203133, 58.63419768466705),
    (132.43335461667598, 59.89586900531618),
    (139.88996440962507, 61.0835185996083),
    (146.16949280917734, 62.04168247761612),
    (155.7417632232793, 63.3899363878008),
    (163.313640956911, 64.36612914101849),
    (173.5439432232792, 65.58913973139342),
    (182.53828067711245, 66.58945198656969),
    (193.15859545047564, 67.70600593172915),
    (204.38533732512593, 68.81500302182431),
    (215.95536735310577, 69.90734120033578),
    (227.63617066032455, 70.90756786513711),
    (241.31498514829323, 71.9597451385003),
    (253.7268753273643, 72.82036908925575),
    (267.2595965472859, 73.70446921516509),
    (283.9250800223839, 74.66681882344713),
    (294.27475915500827, 75.23454667039732),
    (316.458982495803, 76.38518377867935),
    (334.1048723838837, 77.20506813094572),
    (352.4061945998881, 77.96106693480695),
    (369.71439789031893, 78.57269429910465),
    (388.71730656966986, 79.09373393956353),
    (416.22584212646893, 79.73839594292109),
    (431.8296127756015, 80.04573062395076),
    (456.8111591046446, 80.4380911723559),
    (489.9550944711808, 80.81746619334079),
    (505.8411566927812, 80.9060061345831),
    (531.839469233352, 81.04617807078903),
])
NETFLIX_MANY_POINTS = (NETFLIX_SET_A[:, 0], NETFLIX_SET_A[:, 1],
                       NETFLIX_SET_B[:, 0], NETFLIX_SET_B[:, 1], "pchip",
                       8.267113720900943, None)

# A smooth anchor: log rate linear-ish in PSNR, as real codecs give.
RATES = np.array([100., 180., 330., 600., 1000.])
PSNR = np.array([28., 31., 34.5, 37.5, 40.])


class BdRateTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.named_parameters(
      ("vceg_m33_excel", M33), ("etro_barb512_nine_points", ETRO_BARB512),
      ("jctvc_e137_1", JCTVC_E137_1), ("jctvc_e137_2", JCTVC_E137_2),
      ("netflix_many_points", NETFLIX_MANY_POINTS))
  def test_published_values(self, case):
    (anchor_rates, anchor_psnr, test_rates, test_psnr, method, rate,
     psnr) = case
    # The published values carry 15 to 17 digits; another least-squares
    # solver or order of summation moves the last few, so 10 decimals.
    self.assertAlmostEqual(
        bdrate.bd_rate(anchor_rates, anchor_psnr, test_rates, test_psnr,
                       method), rate, delta=1e-10)
    if psnr is not None:
      self.assertAlmostEqual(
          bdrate.bd_quality(anchor_rates, anchor_psnr, test_rates, test_psnr,
                            method), psnr, delta=1e-10)

  @parameterized.parameters("cubic", "pchip")
  def test_identical_curves_are_zero(self, method):
    self.assertEqual(bdrate.bd_rate(RATES, PSNR, RATES, PSNR, method), 0.)
    self.assertEqual(bdrate.bd_quality(RATES, PSNR, RATES, PSNR, method), 0.)

  @parameterized.parameters("cubic", "pchip")
  def test_scaled_rates(self, method):
    self.assertAlmostEqual(
        bdrate.bd_rate(RATES, PSNR, RATES * .8, PSNR, method), -20.,
        delta=1e-12)
    self.assertAlmostEqual(
        bdrate.bd_rate(RATES, PSNR, RATES * 1.5, PSNR, method), 50.,
        delta=1e-12)

  @parameterized.parameters("cubic", "pchip")
  def test_shifted_quality(self, method):
    self.assertAlmostEqual(
        bdrate.bd_quality(RATES, PSNR, RATES, PSNR + .5, method), .5,
        delta=1e-12)

  @parameterized.parameters("cubic", "pchip")
  def test_swapping_inverts(self, method):
    test_rates = RATES * [.9, .8, .85, .7, .75]
    test_psnr = PSNR + [.3, 0., .2, .1, -.1]
    forward = bdrate.bd_rate(RATES, PSNR, test_rates, test_psnr, method)
    backward = bdrate.bd_rate(test_rates, test_psnr, RATES, PSNR, method)
    self.assertLess(forward, -10.)
    self.assertAlmostEqual((1 + forward / 100) * (1 + backward / 100), 1.,
                           delta=1e-12)
    self.assertAlmostEqual(
        bdrate.bd_quality(RATES, PSNR, test_rates, test_psnr, method),
        -bdrate.bd_quality(test_rates, test_psnr, RATES, PSNR, method),
        delta=1e-12)

  @parameterized.parameters("cubic", "pchip")
  def test_order_of_points_does_not_matter(self, method):
    order = [3, 0, 4, 1, 2]
    self.assertAlmostEqual(
        bdrate.bd_rate(RATES, PSNR, RATES[order] * .9, PSNR[order] + .1,
                       method),
        bdrate.bd_rate(RATES, PSNR, RATES * .9, PSNR + .1, method),
        delta=1e-12)

  def test_pchip_two_points_is_a_line(self):
    # log rate = q for the anchor, 2q for the test, on q in [0, 2]: the mean
    # of the difference q is 1, so the test needs e - 1 times more rate.
    self.assertAlmostEqual(
        bdrate.bd_rate([1., np.e**2], [0., 2.], [1., np.e**4], [0., 2.],
                       "pchip"), (np.e - 1) * 100, delta=1e-12)

  def test_pchip_matches_scipy_on_a_curve_that_turns(self):
    try:
      from scipy import interpolate  # pylint: disable=g-import-not-at-top
    except ImportError:
      self.skipTest("scipy is not installed")
    # Not monotone (a dominated point at 33 dB), uneven steps: every branch
    # of the slope rules is taken.
    psnr = np.array([28., 29., 33., 34., 38., 40.])
    rates = np.exp([1., 2., 1.5, 1.5, 3., 2.5])
    reference = interpolate.PchipInterpolator(psnr, np.log(rates))
    expected = (reference.integrate(29.5, 39.) - 9.5 * np.log(2.)) / 9.5
    got = bdrate.bd_rate(
        [2., 2., 2.], [29.5, 30., 39.], rates, psnr, "pchip")
    self.assertAlmostEqual(np.log1p(got / 100), expected, delta=1e-12)

  @parameterized.parameters("cubic", "pchip")
  def test_distortion_is_a_log_quality(self, method):
    mae = np.array([.1, .06, .04, .025, .015])
    test_mae = mae * [1.1, .9, .95, 1., .8]
    got = bdrate.bd_rate_distortion(RATES, mae, RATES * .8, test_mae, method)
    self.assertAlmostEqual(
        got,
        bdrate.bd_rate(RATES, -10 * np.log10(mae), RATES * .8,
                       -10 * np.log10(test_mae), method), delta=1e-12)
    # Any dB convention gives the same: PSNR-like 20 log10(255 / MAE).
    self.assertAlmostEqual(
        got,
        bdrate.bd_rate(RATES, 20 * np.log10(255 / mae), RATES * .8,
                       20 * np.log10(255 / test_mae), method), delta=1e-9)
    self.assertAlmostEqual(
        bdrate.bd_rate_distortion(RATES, mae, RATES * .8, mae, method), -20.,
        delta=1e-12)
    self.assertAllClose(bdrate.distortion_to_quality([1., .1, .01]),
                        [0., 10., 20.], atol=1e-12, rtol=0)

  @parameterized.named_parameters(
      ("method", dict(method="linear"), "method must be one of"),
      ("lengths", dict(anchor_quality=PSNR[:4]),
       "anchor curve has 5 rates but 4 quality values"),
      ("two_d", dict(test_rates=RATES[None]), "test rates must be a 1-D"),
      ("cubic_points", dict(anchor_rates=RATES[:3], anchor_quality=PSNR[:3]),
       "cubic method needs at least 4 points per curve; the anchor curve "
       "has 3"),
      ("pchip_points", dict(test_rates=RATES[:1], test_quality=PSNR[:1],
                            method="pchip"),
       "pchip method needs at least 2 points per curve; the test curve has 1"),
      ("zero_rate", dict(test_rates=[100., 0., 300., 600., 1000.]),
       "test rates must be positive .* value 1 is 0.0"),
      ("nan", dict(anchor_quality=[28., 31., np.nan, 37.5, 40.]),
       "anchor quality must be finite, but value 2 is nan"),
      ("inf", dict(test_quality=[28., 31., 34., 37.5, np.inf]),
       "test quality must be finite, but value 4 is inf"),
      ("no_overlap", dict(test_quality=PSNR + 20.),
       "quality ranges do not overlap"),
      ("touching", dict(test_quality=PSNR + 12.),
       "quality ranges do not overlap"),
      ("pchip_repeat", dict(test_quality=[28., 31., 31., 37.5, 40.],
                            method="pchip"),
       "test curve has repeated quality values"),
      ("cubic_repeats", dict(anchor_quality=[28., 31., 31., 40., 40.]),
       "cubic method needs 4 distinct quality values per curve; the anchor "
       "curve has 3"),
  )
  def test_refusals(self, changes, message):
    args = dict(anchor_rates=RATES, anchor_quality=PSNR, test_rates=RATES,
                test_quality=PSNR + .2, method="cubic")
    args.update(changes)
    with self.assertRaisesRegex(ValueError, message):
      bdrate.bd_rate(**args)

  def test_refusals_of_bd_quality_name_rates(self):
    with self.assertRaisesRegex(ValueError, "repeated rate values"):
      bdrate.bd_quality([1., 2., 2.], [30., 31., 32.], [1., 2.], [30., 31.],
                        "pchip")
    with self.assertRaisesRegex(ValueError, "rate ranges do not overlap"):
      bdrate.bd_quality(RATES, PSNR, RATES * 100, PSNR, "pchip")

  @parameterized.named_parameters(("zero", 0.), ("negative", -.1),
                                  ("nan", np.nan))
  def test_refuses_distortions(self, bad):
    mae = np.array([.1, .06, .04, .025, bad])
    with self.assertRaisesRegex(ValueError, "test distortions must be "):
      bdrate.bd_rate_distortion(RATES, mae[:4].tolist() + [.01], RATES, mae)

  def test_imports_neither_tensorflow_nor_scipy(self):
    loaded = testing_utils.modules_loaded_by(
        "tfmnistcodec.study.bdrate")
    self.assertIn("numpy", loaded)
    self.assertNoCommonElements(["tensorflow", "scipy"], loaded)


if __name__ == "__main__":
  tf.test.main()
