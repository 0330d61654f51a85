"""What measures, fits and trains the product: `qa eval` (evaluate.py, answer_sets.py, with
eval_corpus.py, trials.py, metrics.py), `qa eval fit` (fitting.py) and `qa bench` (bench.py).
Needs the `eval` extra. Imports the engine; the engine and the web wing never import it."""
