"""Tests of `training.controller`: save policy, ETA, and a run's Python side.

The `Controller` drives a fake trainer here, which counts steps and digits
without compiling anything: what is saved, written and returned, and when.
"""

import os

import tensorflow as tf

from tfmnistcodec import training
from tfmnistcodec.training import controller as controller_lib
from tfmnistcodec.training import run_folder


class FakeClock:

  def __init__(self):
    self.now = 100.

  def __call__(self):
    return self.now


class SavePolicyTest(tf.test.TestCase):

  def test_due_after_checkpoint_secs_since_the_last_save(self):
    clock = FakeClock()
    policy = controller_lib.SavePolicy(60., clock=clock)
    clock.now = 159.5
    self.assertFalse(policy.due())
    clock.now = 160.
    self.assertTrue(policy.due())
    policy.saved()
    self.assertFalse(policy.due())
    clock.now = 220.
    self.assertTrue(policy.due())

  def test_zero_seconds_is_always_due(self):
    self.assertTrue(controller_lib.SavePolicy(0., clock=FakeClock()).due())


class ProgressTest(tf.test.TestCase):

  def test_eta_at_this_calls_pace(self):
    clock = FakeClock()
    progress = controller_lib.Progress(10, 110, clock=clock)
    clock.now += 50.
    # A quarter of the 100 steps of this call in 50 s: 150 s to go.
    self.assertEqual(progress.eta(35), 150.)
    self.assertEqual(progress.eta(110), 0.)

  def test_nothing_to_do(self):
    self.assertEqual(controller_lib.Progress(5, 5, clock=FakeClock()).eta(5),
                     0.)

  def test_format_seconds(self):
    for seconds, text in ((0, "0s"), (45, "45s"), (59.5, "1m00s"),
                          (185, "3m05s"), (3599.6, "1h00m"),
                          (7620, "2h07m")):
      self.assertEqual(controller_lib.format_seconds(seconds), text)


class FakeTrainer:
  """Steps of 10 digits (the last of an epoch 5) and losses of 1 per digit."""

  steps_per_epoch = 3

  def __init__(self, epochs, fail_evaluation=False):
    self.total_steps = epochs * self.steps_per_epoch
    self.iterations = tf.Variable(0, dtype=tf.int64)
    self.calls = []
    self._fail_evaluation = fail_evaluation

  @property
  def step(self):
    return int(self.iterations.numpy())

  def step_counter(self):
    return self.iterations

  def checkpoint(self):
    self.saved = tf.train.Checkpoint(iterations=self.iterations)
    return self.saved

  def epoch_batches(self, epoch, first_step):
    self.calls.append(("epoch_batches", epoch, first_step))
    return iter(())

  def train(self, iterator, step, num_steps):
    del iterator  # Unused.
    self.calls.append(("train", step, num_steps))
    digits = 0.
    for _ in range(num_steps):
      self.iterations.assign_add(1)
      digits += 5. if self.step % self.steps_per_epoch == 0 else 10.
    return dict(loss=digits, rate=2 * digits, distortion=digits / 10), digits

  def evaluate(self, images):
    del images  # Unused.
    if self._fail_evaluation:
      raise RuntimeError("evaluation failed")
    return dict(loss=3., rate=1., distortion=.25)


class ControllerTest(tf.test.TestCase):

  def _controller(self, name, trainer, **settings):
    config = training.TrainConfig(**dict(epochs=2, steps_per_loop=2,
                                         **settings))
    folder = run_folder.RunFolder(os.path.join(self.get_temp_dir(), name))
    folder.start(config)
    return controller_lib.Controller(trainer, folder,
                                     tf.distribute.get_strategy(),
                                     config), folder

  def _checkpoint_steps(self, folder):
    state = tf.train.get_checkpoint_state(str(folder.checkpoint_dir))
    return [folder.checkpoint_step(p)
            for p in state.all_model_checkpoint_paths]

  def test_trains_in_calls_of_steps_per_loop_within_each_epoch(self):
    trainer = FakeTrainer(epochs=2)
    controller, folder = self._controller("calls", trainer)
    controller.restore()
    history = controller.train(None)
    self.assertEqual(trainer.calls, [
        ("epoch_batches", 0, 0), ("train", 0, 2), ("train", 2, 1),
        ("epoch_batches", 1, 0), ("train", 3, 2), ("train", 5, 1)])
    # One checkpoint per epoch, as checkpoint_secs has not passed.
    self.assertEqual(self._checkpoint_steps(folder), [3, 6])
    self.assertEqual([(h["epoch"], h["step"]) for h in history],
                     [(1, 3), (2, 6)])
    self.assertEqual(
        {k: v for k, v in history[0].items() if "seconds" not in k},
        {"epoch": 1, "step": 3, "train/loss": 1., "train/rate": 2.,
         "train/distortion": .1, "eval/loss": 3., "eval/rate": 1.,
         "eval/distortion": .25})
    self.assertNotEmpty(os.listdir(folder.summary_dir))

  def test_saves_after_every_call_when_checkpoint_secs_is_zero(self):
    trainer = FakeTrainer(epochs=2)
    controller, folder = self._controller("often", trainer,
                                          checkpoint_secs=0.)
    controller.train(None)
    # max_to_keep=3 of the saves at 2, 3, 5 and 6.
    self.assertEqual(self._checkpoint_steps(folder), [3, 5, 6])
    # Each written once: the epoch ends (3, 6) where a call's save was due,
    # and a second save would rewrite that checkpoint's files in place.
    self.assertEqual(int(trainer.saved.save_counter), 4)

  def test_restore_resumes_mid_epoch(self):
    first = FakeTrainer(epochs=2)
    controller, folder = self._controller("resume", first, checkpoint_secs=0.)
    controller.train(None)
    tf.train.Checkpoint(iterations=tf.Variable(4, dtype=tf.int64)).write(
        str(folder.checkpoint_dir / "ckpt-4"))
    with open(folder.checkpoint_dir / "checkpoint", "w") as f:
      f.write('model_checkpoint_path: "ckpt-4"\n')
    second = FakeTrainer(epochs=2)
    controller, _ = self._controller("resume", second)
    controller.restore()
    self.assertEqual(second.step, 4)
    history = controller.train(None)
    self.assertEqual(second.calls, [("epoch_batches", 1, 1), ("train", 4, 2)])
    self.assertEqual([h["step"] for h in history], [6])

  def test_an_error_still_saves_the_steps_trained(self):
    trainer = FakeTrainer(epochs=2, fail_evaluation=True)
    controller, folder = self._controller("error", trainer)
    with self.assertRaisesRegex(RuntimeError, "evaluation failed"):
      controller.train(None)
    self.assertEqual(self._checkpoint_steps(folder), [3])


if __name__ == "__main__":
  tf.test.main()
