"""A random forest as plain arrays, and its prediction in numpy.

scikit-learn trains the forest; its trees are then copied into five flat
arrays (children, split feature, threshold, leaf class fractions) that a
model file stores without pickle. Prediction walks every tree for every
sample at once with numpy, so it needs no scikit-learn and gives the same
result wherever numpy runs: each split is the same float32-to-float64
comparison scikit-learn makes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Forest", "forest_from_sklearn"]

_LEAF = -1


@dataclass(frozen=True)
class Forest:
    """Decision trees in flat arrays (all trees' nodes one after the other).

    Attributes
    ----------
    left, right : (T,) ndarray of int32
        Children of each node (global node indices); -1 at a leaf.
    feature : (T,) ndarray of int32
        Feature a node splits on (-1 at a leaf, unused).
    threshold : (T,) ndarray of float64
        A sample goes left when its feature value is ``<= threshold``.
    value : (T, K) ndarray of float64
        Class fractions of the training samples at each node (rows sum to 1).
    roots : (R,) ndarray of int32
        Root node of each tree.
    """

    left: np.ndarray
    right: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    value: np.ndarray
    roots: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.left)
        for name in ("right", "feature", "threshold"):
            if len(getattr(self, name)) != n:
                raise ValueError(
                    f"forest array {name} has {len(getattr(self, name))} nodes, not {n}"
                )
        if self.value.ndim != 2 or len(self.value) != n:
            raise ValueError(f"forest value must be ({n}, K), got {self.value.shape}")
        inner = self.left != _LEAF
        children = np.concatenate([self.left[inner], self.right[inner]])
        if len(self.roots) == 0 or np.any(self.roots < 0) or np.any(self.roots >= n):
            raise ValueError("forest roots must be node indices")
        if children.size and (children.min() < 0 or children.max() >= n):
            raise ValueError("forest children must be node indices")
        if np.any(self.right[~inner] != _LEAF) or np.any(self.right[inner] == _LEAF):
            raise ValueError("forest left and right children disagree on which nodes are leaves")

    @property
    def n_classes(self) -> int:
        """Number of classes the forest tells apart."""
        return int(self.value.shape[1])

    @property
    def depth(self) -> int:
        """Edges on the longest path from a root to a leaf."""
        frontier = np.asarray(self.roots)
        depth = 0
        while True:
            inner = frontier[self.left[frontier] != _LEAF]
            if not len(inner):
                return depth
            depth += 1
            frontier = np.concatenate([self.left[inner], self.right[inner]])

    @property
    def n_features(self) -> int:
        """One more than the highest feature index a split uses."""
        return int(self.feature.max()) + 1 if len(self.feature) else 0

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays by name, as a model file stores them."""
        return {
            "left": self.left,
            "right": self.right,
            "feature": self.feature,
            "threshold": self.threshold,
            "value": self.value,
            "roots": self.roots,
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, Any]) -> Forest:
        """Build from :meth:`arrays`' layout, with each array's dtype fixed."""
        return cls(
            left=np.asarray(arrays["left"], dtype=np.int32),
            right=np.asarray(arrays["right"], dtype=np.int32),
            feature=np.asarray(arrays["feature"], dtype=np.int32),
            threshold=np.asarray(arrays["threshold"], dtype=np.float64),
            value=np.asarray(arrays["value"], dtype=np.float64),
            roots=np.asarray(arrays["roots"], dtype=np.int32),
        )

    def predict_proba(self, samples: np.ndarray, *, chunk: int = 32768) -> np.ndarray:
        """Mean class fractions over the trees, for each sample.

        Parameters
        ----------
        samples : (S, F) ndarray
            Converted to float32, as scikit-learn does before its splits.
        chunk : int
            Samples walked at a time (memory: ``chunk x trees`` node indices).

        Returns
        -------
        (S, K) ndarray of float64

        Examples
        --------
        >>> stump = Forest(left=np.array([1, -1, -1]), right=np.array([2, -1, -1]),
        ...     feature=np.array([0, -1, -1]), threshold=np.array([0.5, 0, 0]),
        ...     value=np.array([[0.5, 0.5], [1, 0], [0, 1]]), roots=np.array([0]))
        >>> stump.predict_proba(np.array([[0.2], [0.9]])).tolist()
        [[1.0, 0.0], [0.0, 1.0]]
        """
        x = np.asarray(samples, dtype=np.float32)
        if x.ndim != 2:
            raise ValueError(f"samples must be (S, F), got shape {x.shape}")
        if x.shape[1] < self.n_features:
            raise ValueError(
                f"samples have {x.shape[1]} features; the forest uses {self.n_features}"
            )
        out = np.zeros((len(x), self.n_classes), dtype=np.float64)
        # Leaves point to themselves, so every sample takes `depth` steps in every tree;
        # children[2 * node + went_right] is the next node.
        leaf = self.left == _LEAF
        own = np.arange(len(self.left), dtype=np.intp)
        children = np.stack(
            [np.where(leaf, own, self.left), np.where(leaf, own, self.right)], axis=1
        ).ravel()
        feature = np.where(leaf, 0, self.feature).astype(np.intp)
        threshold = _float32_below(np.where(leaf, np.inf, self.threshold))
        depth = self.depth
        for start in range(0, len(x), chunk):
            block = x[start : start + chunk]
            n = len(block)
            flat = np.ascontiguousarray(block.T).ravel()  # feature-major: one take per step
            base = np.arange(n, dtype=np.intp)
            total = np.zeros((n, self.n_classes), dtype=np.float64)
            for root in self.roots:
                nodes = np.full(n, root, dtype=np.intp)
                for _ in range(depth):
                    went_right = flat.take(feature.take(nodes) * n + base) > threshold.take(nodes)
                    nodes = children.take(2 * nodes + went_right)
                total += self.value[nodes]
            out[start : start + len(block)] = total / len(self.roots)
        return out


def _float32_below(threshold: np.ndarray) -> np.ndarray:
    """The largest float32 not above each float64 threshold.

    For a float32 value ``v``, ``v <= t`` holds exactly when ``v <= t32``: the
    splits compare in float32 and still agree with scikit-learn's float64 test.
    """
    t32 = threshold.astype(np.float32)
    above = t32.astype(np.float64) > threshold
    t32[above] = np.nextafter(t32[above], np.float32(-np.inf))
    return t32


def forest_from_sklearn(model: Any) -> Forest:
    """Copy a fitted ``sklearn.ensemble.RandomForestClassifier`` into a :class:`Forest`.

    The class order is the estimator's ``classes_``.
    """
    lefts, rights, features, thresholds, values, roots = [], [], [], [], [], []
    offset = 0
    for estimator in model.estimators_:
        tree = estimator.tree_
        n = int(tree.node_count)
        left = np.asarray(tree.children_left, dtype=np.int64)
        right = np.asarray(tree.children_right, dtype=np.int64)
        leaf = left == _LEAF
        lefts.append(np.where(leaf, _LEAF, left + offset))
        rights.append(np.where(leaf, _LEAF, right + offset))
        features.append(np.where(leaf, _LEAF, tree.feature))
        thresholds.append(np.where(leaf, 0.0, tree.threshold))
        value = np.asarray(tree.value[:, 0, :], dtype=np.float64)
        values.append(value / np.maximum(value.sum(axis=1, keepdims=True), 1e-300))
        roots.append(offset)
        offset += n
    return Forest.from_arrays(
        {
            "left": np.concatenate(lefts),
            "right": np.concatenate(rights),
            "feature": np.concatenate(features),
            "threshold": np.concatenate(thresholds),
            "value": np.concatenate(values),
            "roots": np.array(roots),
        }
    )
