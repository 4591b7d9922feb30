"""nn.distort: random planar affine distortions (LeCun et al. 1998, Sec. III-C) keep shapes and
dtypes, are the identity at zero ranges, move pixels the documented way, and are seeded."""

import numpy as np
import pytest

from nn.distort import DEFAULT_RANGES, distort, random_affine, warp_affine

ZERO = dict(translate=0.0, scale=0.0, squeeze=0.0, shear=0.0)


def _dot(shape, where, dtype=np.float64):
    x = np.zeros(shape, dtype)
    x[(slice(None),) * (len(shape) - 2) + where] = 1
    return x


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(5, 28, 28), (3, 2, 32, 32)])
def test_distort_keeps_shape_and_dtype_and_input(dtype, shape):
    x = np.random.default_rng(0).random(shape).astype(dtype)
    before = x.copy()
    y = distort(x, np.random.default_rng(1), cval=-0.1)
    assert y.shape == x.shape and y.dtype == dtype
    np.testing.assert_array_equal(x, before)
    assert not np.allclose(y, x)  # it did distort
    assert y.min() >= min(x.min(), -0.1) - 1e-6 and y.max() <= x.max() + 1e-6  # bilinear


def test_distort_is_the_identity_at_zero_ranges():
    x = np.random.default_rng(2).random((4, 1, 32, 32)).astype(np.float32)
    np.testing.assert_array_equal(distort(x, np.random.default_rng(3), **ZERO), x)


def test_warp_affine_translation_moves_a_pixel_by_t():
    x = _dot((2, 9, 9), (5, 5))
    y = warp_affine(x, np.tile(np.eye(2), (2, 1, 1)), np.array([[1.0, 2.0], [-3.0, 0.0]]))
    assert np.argwhere(y[0] == 1).tolist() == [[6, 7]] and y[0].sum() == 1
    assert np.argwhere(y[1] == 1).tolist() == [[2, 5]] and y[1].sum() == 1


def test_warp_affine_scales_and_shears_about_the_centre():
    x = _dot((1, 9, 9), (6, 4))  # 2 rows below the centre (4, 4)
    doubled = warp_affine(x, 2 * np.eye(2)[None], np.zeros((1, 2)))
    assert doubled[0, 8, 4] == 1 and doubled[0, 7, 4] == 0.5  # row offset 2 -> 4, bilinear
    sheared = warp_affine(x, np.array([[[1.0, 0.0], [1.0, 1.0]]]), np.zeros((1, 2)))
    assert np.argwhere(sheared[0] == 1).tolist() == [[6, 6]]  # x -> x + h y, y = +2


def test_distort_translation_matches_the_drawn_shift():
    x = np.zeros((6, 32, 32))
    x[:, 10:20, 12:18] = 1  # away from the border: bilinear shifts keep the centre of mass
    y = distort(x, np.random.default_rng(4), **{**ZERO, "translate": 3.0})
    _, t = random_affine(np.random.default_rng(4), 6, **{**ZERO, "translate": 3.0})
    rows, cols = np.arange(32)[:, None], np.arange(32)[None, :]
    for i in range(6):
        mass = y[i].sum()
        centre = np.array([(y[i] * rows).sum(), (y[i] * cols).sum()]) / mass
        np.testing.assert_allclose(centre, [14.5, 14.5] + t[i], atol=1e-9)
        assert abs(mass - 60) < 1e-9
    assert np.abs(t).max() > 1.5  # the shifts are not all tiny


def test_random_affine_stays_in_its_ranges():
    r = DEFAULT_RANGES
    A, t = random_affine(np.random.default_rng(5), 4000)
    assert A.shape == (4000, 2, 2) and t.shape == (4000, 2)
    assert np.all(A[:, 0, 1] == 0)  # horizontal shear only
    s = np.sqrt(np.linalg.det(A))  # squeezing and shearing keep the area: det = s^2
    assert 1 - r["scale"] <= s.min() < 1 - 0.9 * r["scale"]
    assert 1 + 0.9 * r["scale"] < s.max() <= 1 + r["scale"]
    q = np.sqrt(A[:, 1, 1] / A[:, 0, 0])  # width * q, height / q
    assert 1 - r["squeeze"] <= q.min() and q.max() <= 1 + r["squeeze"]
    h = A[:, 1, 0] / A[:, 1, 1]
    assert np.abs(h).max() <= r["shear"] and np.abs(h).max() > 0.9 * r["shear"]
    assert np.abs(t).max() <= r["translate"] and np.abs(t).max() > 0.9 * r["translate"]


def test_distort_is_deterministic_given_the_rng():
    x = np.random.default_rng(6).random((3, 1, 32, 32))
    a = distort(x, np.random.default_rng(7))
    np.testing.assert_array_equal(a, distort(x, np.random.default_rng(7)))
    assert not np.allclose(a, distort(x, np.random.default_rng(8)))
    y = distort(np.repeat(x[:, :1], 2, axis=1), np.random.default_rng(7))
    np.testing.assert_array_equal(y[:, 0], y[:, 1])  # one map per image, for all channels
    np.testing.assert_array_equal(y[:, :1], a)


def test_distort_rejects_bad_input():
    rng = np.random.default_rng(9)
    with pytest.raises(TypeError, match="floating point, got uint8"):
        distort(np.zeros((1, 28, 28), np.uint8), rng)
    with pytest.raises(ValueError, match=r"got shape \(28, 28\)"):
        distort(np.zeros((28, 28)), rng)
    with pytest.raises(ValueError, match="scale must be >= 0 and below 1, got 1.5"):
        distort(np.zeros((1, 28, 28)), rng, scale=1.5)
    with pytest.raises(ValueError, match=r"A of shape \(2, 2, 2\)"):
        warp_affine(np.zeros((2, 5, 5)), np.eye(2)[None], np.zeros((1, 2)))
