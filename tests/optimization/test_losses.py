"""zoo.optimization.losses against plain NumPy versions of the docstring formulas.

Layout of every score matrix here: B rows, C = B + n_sampled columns; row i's target is column i
(the diagonal), every other column whose `col_mask` is True is a negative of row i.
"""
import numpy as np
import pytest
import tensorflow as tf

from zoo.optimization import losses

EPS = 1e-24
B, C = 3, 5  # 3 in-batch targets + 2 shared sampled negatives


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def negatives(i, col_mask):
    """Indices j of the negatives of row i: valid columns other than i."""
    return [j for j in range(len(col_mask)) if j != i and col_mask[j]]


def softmax(x):
    e = np.exp(x - np.max(x))
    return e / e.sum()


# --- NumPy versions of the docstring formulas, one row at a time -------------------------------
def np_cross_entropy(s, col_mask, log_q=None, logq=0.0):
    z = s - logq * log_q[None, :] if log_q is not None else s
    out = []
    for i in range(s.shape[0]):
        cands = [j for j in range(s.shape[1]) if col_mask[j] or j == i]
        zi = z[i, cands]
        p_target = np.exp(z[i, i] - zi.max()) / np.exp(zi - zi.max()).sum()
        out.append(-np.log(p_target + EPS))
    return np.array(out)


def np_bpr(s, col_mask):
    return np.array([np.mean([-np.log(sigmoid(s[i, i] - s[i, j]) + EPS) for j in negatives(i, col_mask)])
                     for i in range(s.shape[0])])


def np_bpr_max(s, col_mask, bpreg=0.0):
    out = []
    for i in range(s.shape[0]):
        neg = negatives(i, col_mask)
        w = softmax(s[i, neg])
        out.append(-np.log(np.sum(w * sigmoid(s[i, i] - s[i, neg])) + EPS) + bpreg * np.sum(w * s[i, neg] ** 2))
    return np.array(out)


def np_top1(s, col_mask):
    """The reference's TOP1: the mean runs over every candidate, the target's own column included,
    less the target's sigma(r_i^2) term: (sum_{j != i} [...] + sigma(0)) / (negatives + 1)."""
    out = []
    for i in range(s.shape[0]):
        cands = negatives(i, col_mask) + [i]
        terms = [sigmoid(s[i, j] - s[i, i]) + sigmoid(s[i, j] ** 2) for j in cands]
        out.append(np.mean(terms) - sigmoid(s[i, i] ** 2) / len(cands))
    return np.array(out)


def np_top1_max(s, col_mask):
    out = []
    for i in range(s.shape[0]):
        neg = negatives(i, col_mask)
        w = softmax(s[i, neg])
        out.append(np.sum(w * (sigmoid(s[i, neg] - s[i, i]) + sigmoid(s[i, neg] ** 2))))
    return np.array(out)


LOG_Q = np.log(np.array([5.0, 2.0, 9.0, 3.0, 1.0]))

# (name, zoo function with its options, NumPy reference with the same options)
CASES = [
    ("cross-entropy", lambda s, m: losses.cross_entropy(s, m), lambda s, m: np_cross_entropy(s, m)),
    ("cross-entropy-logq",
     lambda s, m: losses.cross_entropy(s, m, col_log_q=tf.constant(LOG_Q, tf.float32), logq=0.7),
     lambda s, m: np_cross_entropy(s, m, LOG_Q, 0.7)),
    ("bpr", losses.bpr, np_bpr),
    ("bpr-max", lambda s, m: losses.bpr_max(s, m), lambda s, m: np_bpr_max(s, m)),
    ("bpr-max-bpreg", lambda s, m: losses.bpr_max(s, m, bpreg=0.5), lambda s, m: np_bpr_max(s, m, 0.5)),
    ("top1", losses.top1, np_top1),
    ("top1-max", losses.top1_max, np_top1_max),
]
IDS = [c[0] for c in CASES]


def run(fn, scores, col_mask):
    return fn(tf.constant(scores, tf.float32), tf.constant(col_mask)).numpy()


@pytest.fixture
def scores():
    return np.random.default_rng(7).normal(0.0, 1.5, size=(B, C))


@pytest.mark.parametrize("name, fn, ref", CASES, ids=IDS)
def test_matches_numpy_formula(name, fn, ref, scores):
    col_mask = np.ones(C, bool)
    got = run(fn, scores, col_mask)
    assert got.shape == (B,)
    np.testing.assert_allclose(got, ref(scores, col_mask), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name, fn, ref", CASES, ids=IDS)
def test_matches_numpy_formula_with_idle_column(name, fn, ref, scores):
    col_mask = np.array([True, False, True, True, True])  # slot 1 idle: its target is no candidate
    np.testing.assert_allclose(run(fn, scores, col_mask), ref(scores, col_mask), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name, fn, ref", CASES, ids=IDS)
def test_idle_column_does_not_affect_any_loss(name, fn, ref, scores):
    col_mask = np.array([True, False, True, True, True])
    base = run(fn, scores, col_mask)
    off_diagonal = scores.copy()
    off_diagonal[[0, 2], 1] = [40.0, -25.0]  # column 1 seen by rows 0 and 2
    np.testing.assert_allclose(run(fn, off_diagonal, col_mask), base, rtol=1e-6)
    whole = scores.copy()
    whole[:, 1] = 30.0  # also the idle row's own target
    changed = run(fn, whole, col_mask)
    np.testing.assert_allclose(changed[[0, 2]], base[[0, 2]], rtol=1e-6)
    row_mask = tf.constant([True, False, True])
    assert float(losses.reduce_loss(tf.constant(changed), row_mask)) == pytest.approx(
        float(losses.reduce_loss(tf.constant(base), row_mask)), rel=1e-6)


def test_cross_entropy_logq_is_a_column_shift():
    # logq * log Q_j subtracted from column j: with Q = 1 everywhere (log Q = 0) nothing changes, and
    # a column shift of +c on the target's column makes the target c less likely (in logits).
    s = np.array([[1.0, 0.0], [0.0, 1.0]])
    mask = tf.constant([True, True])
    plain = losses.cross_entropy(tf.constant(s, tf.float32), mask).numpy()
    zero_q = losses.cross_entropy(tf.constant(s, tf.float32), mask, col_log_q=tf.zeros(2), logq=1.0).numpy()
    np.testing.assert_allclose(zero_q, plain, rtol=1e-6)
    # By hand: row 0 logits after correction [1 - 1, 0 - 0] = [0, 0] -> L = log 2.
    shifted = losses.cross_entropy(tf.constant(s, tf.float32), mask, col_log_q=tf.constant([1.0, 0.0]), logq=1.0)
    assert float(shifted[0]) == pytest.approx(np.log(2.0), rel=1e-6)
    # logq = 0 disables the correction even with col_log_q given.
    off = losses.cross_entropy(tf.constant(s, tf.float32), mask, col_log_q=tf.constant([5.0, -3.0]), logq=0.0)
    np.testing.assert_allclose(off.numpy(), plain, rtol=1e-6)


def test_bpr_worked_example():
    # Row 0: r = 2, negatives 0.5, -1:  (-log sig(1.5) - log sig(3)) / 2
    # Row 1: r = 1, negatives 0.1, 0.3: (-log sig(0.9) - log sig(0.7)) / 2
    s = tf.constant([[2.0, 0.5, -1.0], [0.1, 1.0, 0.3]])
    got = losses.bpr(s, tf.constant([True, True, True])).numpy()
    sp = lambda x: np.log1p(np.exp(-x))  # -log sigmoid(x)
    np.testing.assert_allclose(got, [(sp(1.5) + sp(3.0)) / 2, (sp(0.9) + sp(0.7)) / 2], rtol=1e-6)


@pytest.mark.parametrize("name, fn, ref", CASES, ids=IDS)
def test_large_scores_stay_finite(name, fn, ref):
    # Scores of magnitude 1e3: every loss and its gradient must stay finite (no exp overflow).
    s = np.array([[1e3, -1e3, 5e2, 0.0, 2e2],
                  [-1e3, 1e3, 1e3, -5e2, 0.0],
                  [3e2, 1e3, -1e3, 7e2, -2e2]])
    col_mask = np.ones(C, bool)
    x = tf.Variable(s, dtype=tf.float32)
    with tf.GradientTape() as tape:
        per_row = fn(x, tf.constant(col_mask))
        total = losses.reduce_loss(per_row, tf.constant([True] * B))
    grad = tape.gradient(total, x).numpy()
    assert np.all(np.isfinite(per_row.numpy())) and np.all(np.isfinite(grad))
    with np.errstate(over="ignore"):
        np.testing.assert_allclose(per_row.numpy(), ref(s, col_mask), rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("name, fn, ref", CASES, ids=IDS)
def test_raising_the_target_score_lowers_the_loss(name, fn, ref, scores):
    x = tf.Variable(scores, dtype=tf.float32)
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(fn(x, tf.constant(np.ones(C, bool))))
    grad = tape.gradient(total, x).numpy()
    assert np.all(np.diag(grad) < 0)  # only row i reads scores[i, i], so this is dL_i / dr_i


def test_bpr_target_gradient_matches_hand_derivative(scores):
    # d/dr_i mean_j -log sigma(r_i - r_j) = -mean_j (1 - sigma(r_i - r_j))
    x = tf.Variable(scores, dtype=tf.float32)
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(losses.bpr(x, tf.constant(np.ones(C, bool))))
    grad = tape.gradient(total, x).numpy()
    expected = [-np.mean([1 - sigmoid(scores[i, i] - scores[i, j]) for j in range(C) if j != i]) for i in range(B)]
    np.testing.assert_allclose(np.diag(grad), expected, rtol=1e-4)
    assert np.all(np.diag(grad) < 0)


def test_reduce_loss_sums_active_rows_and_divides_by_batch_size():
    per_row = tf.constant([1.0, 2.0, 4.0, 8.0])
    # (1 + 4) / 4: the masked rows 2.0 and 8.0 do not count, but B stays 4.
    assert float(losses.reduce_loss(per_row, tf.constant([True, False, True, False]))) == pytest.approx(1.25)
    assert float(losses.reduce_loss(per_row, tf.constant([True] * 4))) == pytest.approx(15 / 4)
    assert float(losses.reduce_loss(per_row, tf.constant([False] * 4))) == 0.0


@pytest.mark.parametrize("bad", [np.nan, np.inf, 1e30])
def test_reduce_loss_ignores_masked_rows_whatever_their_value(bad):
    per_row = tf.constant([3.0, bad, 1.0], tf.float32)
    assert float(losses.reduce_loss(per_row, tf.constant([True, False, True]))) == pytest.approx(4 / 3)


def test_loss_table_names_every_function():
    assert losses.LOSSES == {"cross-entropy": losses.cross_entropy, "bpr": losses.bpr, "bpr-max": losses.bpr_max,
                             "top1": losses.top1, "top1-max": losses.top1_max}


def expand_and_merge(rng, logq):
    """One step's candidates both ways: the reference's columns (targets, then samples, repeats
    kept) and the distinct items with their counts, scored from the same item scores."""
    items = rng.normal(0.0, 1.5, size=(4, 9))  # row i's score of item k
    targets, row_mask = np.array([3, 1, 3, 5]), np.array([True, True, False, True])
    samples = np.array([1, 7, 7, 3, 2, 3])
    log_count = np.log(rng.integers(1, 50, size=9)).astype(np.float32)
    columns = np.concatenate([targets, samples])
    col_mask = np.concatenate([row_mask, np.ones(len(samples), bool)])
    col_log_q = np.concatenate([log_count[targets], 0.5 * log_count[samples]])
    distinct = np.array([3, 1, 5, 7, 2, 8])  # 8: an input only, no candidate column
    positive = np.array([list(distinct).index(t) for t in targets])
    merged = losses.merged_columns(
        tf.constant(positive), tf.constant(row_mask),
        [np.sum((targets == d) & row_mask) for d in distinct], [np.sum(samples == d) for d in distinct],
        tf.constant(log_count[distinct]), tf.constant(0.5 * log_count[distinct]), logq)
    return items, columns, col_mask, col_log_q, distinct, merged, row_mask


@pytest.mark.parametrize("name", list(losses.LOSSES))
def test_merged_columns_give_the_reference_layout_loss_and_gradient(name):
    # Equal items merged into one counted column: the same per-row loss and the same gradient
    # on every item's score as the reference's layout with the repeats spelled out.
    logq = 0.7 if name == "cross-entropy" else 0.0
    items, columns, col_mask, col_log_q, distinct, merged, row_mask = expand_and_merge(np.random.default_rng(3), logq)
    fn = losses.LOSSES[name]
    x = tf.Variable(items, dtype=tf.float32)
    with tf.GradientTape(persistent=True) as tape:
        if name == "cross-entropy":
            full = fn(tf.gather(x, columns, axis=1), tf.constant(col_mask), tf.constant(col_log_q, tf.float32), logq)
        else:
            full = fn(tf.gather(x, columns, axis=1), tf.constant(col_mask))
        short = fn(tf.gather(x, distinct, axis=1), merged)
        total_full, total_short = losses.reduce_loss(full, row_mask), losses.reduce_loss(short, row_mask)
    np.testing.assert_allclose(short.numpy()[row_mask], full.numpy()[row_mask], rtol=1e-5)
    np.testing.assert_allclose(tape.gradient(total_short, x).numpy(), tape.gradient(total_full, x).numpy(),
                               rtol=1e-4, atol=1e-6)


def test_candidate_softmax_is_the_softmax_over_the_rows_valid_columns(scores):
    # The reference's `softmax` final activation: row i over its own target's column and the valid ones.
    col_mask = np.array([True, False, True, True, True])  # slot 1 idle: no column of the other rows
    got = losses.candidate_softmax(tf.constant(scores, tf.float32), tf.constant(col_mask)).numpy()
    for i in range(B):
        cands = [j for j in range(C) if col_mask[j] or j == i]
        np.testing.assert_allclose(got[i, cands], softmax(scores[i, cands]), rtol=1e-5)
        assert got[i, cands].sum() == pytest.approx(1.0, rel=1e-5)


@pytest.mark.parametrize("name", ["bpr", "bpr-max", "top1", "top1-max"])
def test_candidate_softmax_on_merged_columns_gives_the_reference_layout_loss_and_gradient(name):
    # softmax, then the ranking loss, as the Theano reference computes it on its layout (repeats
    # spelled out, idle slot's column left out), equals the same on merged counted columns.
    items, columns, col_mask, _, distinct, merged, row_mask = expand_and_merge(np.random.default_rng(4), 0.0)
    fn = losses.LOSSES[name]
    x = tf.Variable(items, dtype=tf.float32)
    with tf.GradientTape(persistent=True) as tape:
        full_scores = tf.gather(x, columns, axis=1)
        full = fn(losses.candidate_softmax(full_scores, tf.constant(col_mask)), tf.constant(col_mask))
        short = fn(losses.candidate_softmax(tf.gather(x, distinct, axis=1), merged), merged)
        total_full, total_short = losses.reduce_loss(full, row_mask), losses.reduce_loss(short, row_mask)
    # the reference's numbers: softmax over the active rows' targets and the samples, each column once
    active = np.concatenate([np.flatnonzero(row_mask), len(row_mask) + np.arange(len(columns) - len(row_mask))])
    for i in np.flatnonzero(row_mask):
        expected = softmax(items[i, columns[active]])
        np.testing.assert_allclose(losses.candidate_softmax(full_scores, tf.constant(col_mask)).numpy()[i, active],
                                   expected, rtol=1e-5)
    np.testing.assert_allclose(short.numpy()[row_mask], full.numpy()[row_mask], rtol=1e-5)
    np.testing.assert_allclose(tape.gradient(total_short, x).numpy(), tape.gradient(total_full, x).numpy(),
                               rtol=1e-4, atol=1e-6)
