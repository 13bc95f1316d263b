"""The exported forest predicts what scikit-learn's forest predicts."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier

from ienfd.learn import Forest, forest_from_sklearn


@pytest.fixture(scope="module")
def fitted() -> tuple[RandomForestClassifier, np.ndarray]:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3000, 6)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] ** 2 > 0.3).astype(int) + (x[:, 2] > 1)
    model = RandomForestClassifier(n_estimators=12, max_depth=9, random_state=0).fit(x, y)
    test = rng.normal(size=(5000, 6)).astype(np.float32)
    return model, test


def test_numpy_forest_matches_sklearn(fitted: tuple[RandomForestClassifier, np.ndarray]) -> None:
    model, test = fitted
    forest = forest_from_sklearn(model)
    ours = forest.predict_proba(test, chunk=777)  # chunks that do not divide the samples
    np.testing.assert_allclose(ours, model.predict_proba(test), rtol=0, atol=1e-12)
    assert np.array_equal(ours.argmax(axis=1), model.predict(test))


def test_split_on_a_threshold_value_goes_left(
    fitted: tuple[RandomForestClassifier, np.ndarray],
) -> None:
    # Samples exactly at a split's threshold (rounded to float32 as sklearn does) must
    # take the same branch as in scikit-learn.
    model, test = fitted
    tree = model.estimators_[0].tree_
    inner = tree.children_left >= 0
    edge = np.repeat(test[:50], inner.sum(), axis=0)
    for i, (f, t) in enumerate(zip(tree.feature[inner], tree.threshold[inner], strict=True)):
        edge[i :: inner.sum(), f] = np.float32(t)
    forest = forest_from_sklearn(model)
    np.testing.assert_allclose(
        forest.predict_proba(edge), model.predict_proba(edge), rtol=0, atol=1e-12
    )


def test_arrays_round_trip_and_depth(fitted: tuple[RandomForestClassifier, np.ndarray]) -> None:
    model, test = fitted
    forest = forest_from_sklearn(model)
    again = Forest.from_arrays(forest.arrays())
    assert np.array_equal(again.predict_proba(test), forest.predict_proba(test))
    assert forest.depth == max(e.tree_.max_depth for e in model.estimators_)


def test_broken_trees_are_refused() -> None:
    with pytest.raises(ValueError, match="children must be node indices"):
        Forest.from_arrays(
            {
                "left": [1, -1],
                "right": [5, -1],
                "feature": [0, -1],
                "threshold": [0.0, 0.0],
                "value": [[1.0], [1.0]],
                "roots": [0],
            }
        )
