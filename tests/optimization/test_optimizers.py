"""AdagradMomentum against the update equations written out in NumPy; get_optimizer."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo.optimization.optimizers import AdagradMomentum, get_optimizer

LR, MOMENTUM, EPSILON = 0.1, 0.5, 1e-6


def np_step(param, acc, vel, grad, lr=LR, momentum=MOMENTUM, eps=EPSILON):
    """acc += g^2;  v = m v - lr g / sqrt(acc + eps);  p += v   (float64)."""
    acc = acc + grad ** 2
    vel = momentum * vel - lr * grad / np.sqrt(acc + eps)
    return param + vel, acc, vel


def state(opt):
    return opt._accumulators[0].numpy(), opt._velocities[0].numpy()


def test_dense_three_steps_match_numpy():
    start = np.array([0.5, -1.0, 2.0, 0.0])
    grads = [np.array([1.0, -2.0, 0.5, 0.0]), np.array([0.3, 0.3, -1.0, 2.0]), np.array([-1.0, 0.0, 0.2, 0.1])]
    var = keras.Variable(start.astype(np.float32))
    opt = AdagradMomentum(learning_rate=LR, momentum=MOMENTUM, epsilon=EPSILON)
    p, acc, vel = start, np.zeros(4), np.zeros(4)
    for g in grads:
        opt.apply([tf.constant(g, tf.float32)], [var])
        p, acc, vel = np_step(p, acc, vel, g)
        np.testing.assert_allclose(var.numpy(), p, rtol=1e-5, atol=1e-6)
        got_acc, got_vel = state(opt)
        np.testing.assert_allclose(got_acc, acc, rtol=1e-6)
        np.testing.assert_allclose(got_vel, vel, rtol=1e-5, atol=1e-7)


def test_first_dense_step_by_hand():
    # g = 2: acc = 4, v = -0.1 * 2 / sqrt(4 + 1e-6) ~ -0.1, p = 1 - 0.1 = 0.9 (momentum has no v yet).
    var = keras.Variable(np.array([1.0], np.float32))
    AdagradMomentum(learning_rate=0.1, momentum=0.9).apply([tf.constant([2.0])], [var])
    assert float(var.numpy()[0]) == pytest.approx(0.9, abs=1e-6)


def test_zero_momentum_is_plain_adagrad():
    var = keras.Variable(np.array([1.0, 1.0], np.float32))
    opt = AdagradMomentum(learning_rate=0.2, momentum=0.0)
    total = np.zeros(2)
    expected = np.array([1.0, 1.0])
    for g in (np.array([1.0, 3.0]), np.array([2.0, -1.0])):
        opt.apply([tf.constant(g, tf.float32)], [var])
        total += g ** 2
        expected = expected - 0.2 * g / np.sqrt(total + 1e-6)
    np.testing.assert_allclose(var.numpy(), expected, rtol=1e-5)


def sparse_gradient(var, indices, weights):
    """Gradient of sum(gather(var, indices) * weights): IndexedSlices with the indices as given."""
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.gather(var, indices) * tf.constant(weights, tf.float32))
    grad = tape.gradient(loss, var)
    assert isinstance(grad, tf.IndexedSlices)
    return grad


def test_sparse_updates_only_touched_rows_and_sums_duplicates():
    start = np.arange(10, dtype=np.float64).reshape(5, 2)
    var = keras.Variable(start.astype(np.float32))
    opt = AdagradMomentum(learning_rate=LR, momentum=MOMENTUM, epsilon=EPSILON)
    w1 = [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]
    opt.apply([sparse_gradient(var, [1, 3, 1], w1)], [var])
    # Row 1 appears twice: its gradient is [1 + 5, 2 + 6] = [6, 8], applied once.
    p, acc, vel = start.copy(), np.zeros((5, 2)), np.zeros((5, 2))
    dense1 = np.zeros((5, 2))
    dense1[1] = [6.0, 8.0]
    dense1[3] = [3.0, 4.0]
    touched = [1, 3]
    p[touched], acc[touched], vel[touched] = np_step(p[touched], acc[touched], vel[touched], dense1[touched])
    np.testing.assert_allclose(var.numpy(), p, rtol=1e-5, atol=1e-6)
    got_acc, got_vel = state(opt)
    np.testing.assert_allclose(got_acc, acc, rtol=1e-6)
    assert got_acc[1].tolist() == [36.0, 64.0]  # (1+5)^2, (2+6)^2, not 1+25, 4+36
    np.testing.assert_allclose(got_vel, vel, rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(var.numpy()[[0, 2, 4]], start[[0, 2, 4]].astype(np.float32))

    # Step 2 touches row 0 only: rows 1 and 3 keep their velocity (no decay) and do not move,
    # unlike a dense step, which would add momentum * v to them.
    before = var.numpy().copy()
    acc_before, vel_before = state(opt)
    opt.apply([sparse_gradient(var, [0], [[0.5, -0.5]])], [var])
    p0, acc0, vel0 = np_step(start[0], np.zeros(2), np.zeros(2), np.array([0.5, -0.5]))
    np.testing.assert_allclose(var.numpy()[0], p0, rtol=1e-5)
    np.testing.assert_array_equal(var.numpy()[1:], before[1:])
    got_acc, got_vel = state(opt)
    np.testing.assert_array_equal(got_vel[1:], vel_before[1:])
    np.testing.assert_array_equal(got_acc[1:], acc_before[1:])
    np.testing.assert_allclose(got_acc[0], acc0, rtol=1e-6)
    np.testing.assert_allclose(got_vel[0], vel0, rtol=1e-5)

    # Step 3 touches row 1 again: its stale velocity is decayed once by momentum now.
    opt.apply([sparse_gradient(var, [1], [[1.0, 1.0]])], [var])
    p1, _, _ = np_step(before[1].astype(np.float64), acc_before[1], vel_before[1], np.array([1.0, 1.0]))
    np.testing.assert_allclose(var.numpy()[1], p1, rtol=1e-5)


def test_sparse_and_dense_agree_when_every_row_is_touched():
    start = np.array([[1.0, -1.0], [0.5, 2.0], [0.0, 0.25]], np.float32)
    weights = np.array([[0.3, -0.7], [1.5, 0.2], [-0.4, 0.9]], np.float32)
    sparse_var, dense_var = keras.Variable(start), keras.Variable(start)
    sparse_opt, dense_opt = AdagradMomentum(0.1, momentum=0.3), AdagradMomentum(0.1, momentum=0.3)
    for _ in range(2):
        sparse_opt.apply([sparse_gradient(sparse_var, [2, 0, 1], weights[[2, 0, 1]])], [sparse_var])
        dense_opt.apply([tf.constant(weights)], [dense_var])
    np.testing.assert_allclose(sparse_var.numpy(), dense_var.numpy(), rtol=1e-6)


def test_get_config_round_trip():
    opt = AdagradMomentum(learning_rate=0.25, momentum=0.3, epsilon=1e-5)
    config = opt.get_config()
    assert config["momentum"] == 0.3 and config["epsilon"] == 1e-5
    assert config["learning_rate"] == pytest.approx(0.25)
    clone = AdagradMomentum.from_config(config)
    assert isinstance(clone, AdagradMomentum)
    assert (clone.momentum, clone.epsilon, clone.name) == (0.3, 1e-5, opt.name)
    assert float(clone.learning_rate) == pytest.approx(0.25)
    assert clone.get_config() == config


@pytest.mark.parametrize("momentum", [-0.1, 1.0, 1.5])
def test_momentum_out_of_range(momentum):
    with pytest.raises(ValueError, match="momentum"):
        AdagradMomentum(momentum=momentum)


def test_get_optimizer_keras_by_name():
    adam = get_optimizer("adam", 0.01)
    assert isinstance(adam, keras.optimizers.Adam)
    assert float(adam.learning_rate) == pytest.approx(0.01)
    sgd = get_optimizer("sgd", 0.5, momentum=0.9)
    assert isinstance(sgd, keras.optimizers.SGD)
    assert float(sgd.learning_rate) == pytest.approx(0.5) and sgd.momentum == 0.9


@pytest.mark.parametrize("name", ["adagrad_momentum", "adagradm"])
def test_get_optimizer_reference(name):
    opt = get_optimizer(name, 0.2, momentum=0.1)
    assert isinstance(opt, AdagradMomentum)
    assert float(opt.learning_rate) == pytest.approx(0.2) and opt.momentum == 0.1
