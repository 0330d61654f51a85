"""Export a sentence-transformers model to ONNX once, so questions are encoded without torch.

In: the model's folder (as `qa.embedding.resolve_model_path` gives it) and a cache folder. Out:
`ensure_export(model_dir, cache_dir)` -> `ExportInfo`, the folder holding `model.onnx` (the
whole model: transformer, pooling and normalisation, float32), `model.int8.onnx` (the same with
int8 weights where they pay, per channel, in the 7-bit range: see `_quantize`), the model's
`tokenizer.json` and `meta.json` (input names, maximum length, padding token, dimension).

The export needs torch and runs once per model version: the folder's name is a fingerprint of
the model files' names, sizes and modification times, plus `EXPORT_FORMAT`. It is written to a
temporary folder and renamed into place under a file lock, so concurrent processes export once
and a crash leaves nothing half-written behind.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

EXPORT_FORMAT = 3  # bump when the exported graph or meta.json changes
FLOAT_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"
META_FILE = "meta.json"
TOKENIZER_FILE = "tokenizer.json"
SCRATCH_PREFIX = ".export-"


class ExportError(Exception):
    """The model could not be exported to ONNX."""


@dataclass(frozen=True)
class ExportInfo:
    """An exported model: its folder and what `meta.json` says about its inputs."""

    folder: Path
    input_names: tuple[str, ...]
    max_length: int
    pad_id: int
    pad_token: str
    dim: int

    @classmethod
    def load(cls, folder: Path) -> ExportInfo:
        meta = json.loads((folder / META_FILE).read_text())
        return cls(
            folder,
            tuple(meta["input_names"]),
            int(meta["max_length"]),
            int(meta["pad_id"]),
            str(meta["pad_token"]),
            int(meta["dim"]),
        )


def default_cache_dir() -> Path:
    """`QA_CACHE_DIR`, else `$XDG_CACHE_HOME/qa`, else `~/.cache/qa`."""
    if os.environ.get("QA_CACHE_DIR"):
        return Path(os.environ["QA_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "qa"


def fingerprint(model_dir: Path) -> str:
    """A short hash of the model folder's files (relative names, sizes, mtimes)."""
    digest = hashlib.sha256(f"format {EXPORT_FORMAT}\n{model_dir.resolve()}\n".encode())
    for path in sorted(p for p in model_dir.rglob("*") if p.is_file()):
        stat = path.stat()
        digest.update(f"{path.relative_to(model_dir)} {stat.st_size} {stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def export_folder(model_dir: Path, cache_dir: Path) -> Path:
    """Where the export of `model_dir` lives (or will live) under `cache_dir`."""
    return cache_dir / "onnx" / f"{model_dir.name}-{fingerprint(model_dir)}"


def ensure_export(model_dir: Path, cache_dir: Path | None = None) -> ExportInfo:
    """The export of `model_dir`, made first when missing. Raises ExportError."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise ExportError(f"{model_dir} is not a model folder; only local models are exported")
    folder = export_folder(model_dir, cache_dir or default_cache_dir())
    if (folder / META_FILE).is_file():
        return ExportInfo.load(folder)
    from filelock import FileLock

    folder.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder) + ".lock"):
        if not (folder / META_FILE).is_file():  # another process may have finished meanwhile
            for stale in folder.parent.glob(SCRATCH_PREFIX + "*"):  # left by a killed export
                shutil.rmtree(stale, ignore_errors=True)
            _export(model_dir, folder)
    return ExportInfo.load(folder)


def discard_export(folder: Path) -> None:
    """Remove an export that cannot be used (damaged on disk), so the next `ensure_export`
    makes it again. Takes the exporters' lock, so no export is removed while being written."""
    from filelock import FileLock

    with FileLock(str(folder) + ".lock"):
        shutil.rmtree(folder, ignore_errors=True)


def _export(model_dir: Path, folder: Path) -> None:
    """Export into a temporary sibling of `folder`, then rename it into place."""
    log.info("exporting %s to ONNX (once per model version) in %s", model_dir, folder)
    scratch = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX, dir=folder.parent))
    try:
        os.chmod(scratch, 0o755)  # mkdtemp's 0700 would hide it from other users
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer notes on shapes this model never varies
            meta = _export_float(model_dir, scratch)
        _quantize(scratch / FLOAT_FILE, scratch / INT8_FILE)
        (scratch / META_FILE).write_text(json.dumps(meta, indent=2))  # written last: "complete"
        if folder.exists():
            shutil.rmtree(folder)  # a leftover without meta.json
        os.replace(scratch, folder)
    except ExportError:
        raise
    except Exception as exc:  # noqa: BLE001 - torch/onnx raise many kinds; all mean "no export"
        raise ExportError(f"cannot export {model_dir} to ONNX: {exc}") from exc
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _load_for_export(model_dir: Path):  # type: ignore[no-untyped-def]
    """The model with eager attention (its graph exports and runs faster than SDPA's)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from qa.model_import import sentence_transformer_class

    SentenceTransformer = sentence_transformer_class()

    try:
        model = SentenceTransformer(
            str(model_dir), device="cpu", model_kwargs={"attn_implementation": "eager"}
        )
    except (TypeError, ValueError):  # a model without that option
        model = SentenceTransformer(str(model_dir), device="cpu")
    return model.eval()


def _export_float(model_dir: Path, scratch: Path) -> dict:
    """Trace the whole model (transformer, pooling, normalisation) into `scratch`/model.onnx;
    save its tokenizer; return the meta data."""
    import torch

    model = _load_for_export(model_dir)
    backend = getattr(model.tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise ExportError(f"{model_dir} has no fast (tokenizers) tokenizer to export")
    backend.save(str(scratch / TOKENIZER_FILE))
    features = model.tokenize(["an example question", "and another, longer one to pad"])
    names = tuple(name for name in ("input_ids", "attention_mask", "token_type_ids")
                  if name in features)  # fmt: skip

    class Whole(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            return self.model(dict(zip(names, inputs, strict=True)))["sentence_embedding"]

    axes = {name: {0: "batch", 1: "tokens"} for name in names}
    with torch.no_grad():
        torch.onnx.export(
            Whole().eval(),
            tuple(features[name] for name in names),
            str(scratch / FLOAT_FILE),
            input_names=list(names),
            output_names=["sentence_embedding"],
            dynamic_axes={**axes, "sentence_embedding": {0: "batch"}},
            opset_version=17,
            dynamo=False,  # the TorchScript exporter handles this model; dynamo needs more
        )
    tokenizer = model.tokenizer
    return {
        "format": EXPORT_FORMAT,
        "source": str(model_dir.resolve()),
        "input_names": list(names),
        "max_length": int(model.max_seq_length),
        "pad_id": int(tokenizer.pad_token_id or 0),
        "pad_token": str(tokenizer.pad_token or "[PAD]"),
        "dim": int(model.get_embedding_dimension()),
        "torch": torch.__version__,
    }


def _quantize(source: Path, target: Path) -> None:
    """int8 weights for the matrix multiplies that carry the model's weights (the bulk of what
    each question reads from memory), one scale per output channel (per tensor loses too much
    here), in the 7-bit range, except the ones that narrow the width. Measured on 500 SQuAD
    questions (cosine to the float vectors, mean / min):

    - full-range weights: 0.9943 / 0.988, but not the same on every CPU. Without
      AVX512-VNNI, onnxruntime multiplies uint8 activations by int8 weights with an
      instruction whose pairwise sums saturate at 16 bits, and the same question got another
      vector there (cosine 0.990 to this machine's, under `qemu-x86_64 -cpu Haswell`). 7-bit
      weights (`reduce_range`) cannot saturate: cosine 0.99998 between the two CPUs.
    - 7-bit, everything: 0.9934 / 0.983. Keeping the embedding table float (a lookup reads
      only the question's rows, so int8 saves nothing there): 0.9938 / 0.989.
    - and keeping float the multiplies that narrow the width (the feed-forward block's down
      projection, whose inputs, after the activation, have the outliers that per-tensor
      uint8 activations lose): 0.9966 / 0.993; speeds in docs/performance.md."""
    import onnx

    graph = onnx.load(str(source), load_external_data=False).graph
    weights = {init.name: tuple(init.dims) for init in graph.initializer}
    keep_float = []
    for node in graph.node:
        shapes = [weights[name] for name in node.input if name in weights]
        if node.op_type == "MatMul" and (
            not shapes or (len(shapes[0]) == 2 and shapes[0][0] > shapes[0][1])
        ):
            keep_float.append(node.name)
    quantize_weights(source, target, ["MatMul"], keep_float)


def quantize_weights(
    source: Path, target: Path, op_types: list[str], exclude: list[str] | None = None
) -> None:
    """int8 copy of the ONNX file `source` at `target`: the weights of the `op_types` nodes
    (except the nodes named in `exclude`) per channel, in the 7-bit range (see `_quantize` for
    why); activations quantized at run time. Shared by the question encoder and the reader."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # it logs "consider pre-processing" advice on the root logger
    try:
        quantize_dynamic(
            str(source),
            str(target),
            op_types_to_quantize=op_types,
            nodes_to_exclude=exclude or [],
            weight_type=QuantType.QInt8,
            per_channel=True,
            reduce_range=True,
        )
    finally:
        root.setLevel(level)
