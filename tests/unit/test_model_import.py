"""Loading the model does not import scikit-learn (seconds of every fresh build's start), and
the part of sentence-transformers that uses it still works, with the real scikit-learn."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.support.fakes import ROOT

SCRIPT = """
import json, sys
import numpy as np
from qa.embedding import SentenceTransformerEmbedder
embedder = SentenceTransformerEmbedder()
vector = embedder.encode(["a sentence to encode"])[0]
loaded_with_model = "sklearn" in sys.modules
from sentence_transformers.util import similarity
distances = similarity.pairwise_distances(np.eye(2), metric="euclidean")
import sklearn.metrics
print(json.dumps({
    "dim": len(vector),
    "sklearn_with_model": loaded_with_model,
    "distance": float(distances[0, 1]),
    "real_module": getattr(sklearn.metrics, "__file__", None) is not None,
    "has_more_than_the_stand_in": hasattr(sklearn.metrics, "ndcg_score"),
}))
"""


def test_the_model_loads_without_scikit_learn_which_still_works_when_used() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {
        "dim": 384,
        "sklearn_with_model": False,
        "distance": 2**0.5,
        "real_module": True,
        "has_more_than_the_stand_in": True,
    }
