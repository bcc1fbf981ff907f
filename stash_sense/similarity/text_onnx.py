"""The CLIP text tower as an ONNX file, so a search process needs onnxruntime, numpy and the
torch-free tokenizer (bpe.py) — not torch and open_clip, whose import alone takes longer than the
whole query budget on a 2-core CPU (bench/find.py measures both).

Exported once per embedding model, by the first search that had to load the model with torch
anyway, into `<dataDir>/find/<model key>/`: `text.onnx`, the
tokenizer vocabulary `bpe.txt.gz` and `text.json` (written last: the commit point). An export is
kept only if, on sample texts, the tokenizer gives open_clip's tokens and the ONNX graph gives
the torch tower's vectors; otherwise (another tokenizer, an op the exporter cannot express) the
search keeps using torch and says so in the log.
"""
from __future__ import annotations

import json
import os
import shutil

import numpy as np

from .. import log
from ..store.embeddings import ClipModelSpec

CHECK_TEXTS = ["a red neon bedroom", "Two people on a beach at sunset!",
               "it's 3 o'clock, café & naïve"]


def folder_for(data_dir: str, model_id: str) -> str:
    from .index import model_key  # noqa: PLC0415
    return os.path.join(data_dir, "find", model_key(model_id))


class OnnxText:
    """Loaded exported text tower: `encode([text]) -> unit vectors`."""

    def __init__(self, folder: str):
        import onnxruntime as ort  # noqa: PLC0415

        from .bpe import ClipBPE  # noqa: PLC0415
        with open(os.path.join(folder, "text.json"), encoding="utf-8") as fh:
            meta = json.load(fh)
        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, min(2, os.cpu_count() or 1))
        self.session = ort.InferenceSession(os.path.join(folder, "text.onnx"), options,
                                            providers=["CPUExecutionProvider"])
        self.tokenizer = ClipBPE(os.path.join(folder, "bpe.txt.gz"), meta["context_length"])

    @staticmethod
    def available(folder: str) -> bool:
        return os.path.isfile(os.path.join(folder, "text.json"))

    def encode(self, texts: list[str]) -> np.ndarray:
        out = self.session.run(None, {"ids": self.tokenizer(texts)})[0].astype(np.float32)
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def export(spec: ClipModelSpec, model_dir: str, folder: str) -> bool:
    """Write the ONNX text tower for this model; True when it was verified and kept."""
    import open_clip  # noqa: PLC0415
    import torch  # noqa: PLC0415

    from ..models.clip import load_text_model  # noqa: PLC0415 - torch, export only
    from .bpe import ClipBPE  # noqa: PLC0415
    model, tokenizer = load_text_model(spec, model_dir)
    vocab = os.path.join(os.path.dirname(open_clip.__file__), "bpe_simple_vocab_16e6.txt.gz")
    if type(tokenizer).__name__ != "SimpleTokenizer" or not os.path.isfile(vocab):
        log.info(f"{spec.model_id}: its tokenizer is not CLIP's BPE; search keeps using torch")
        return False
    os.makedirs(folder, mode=0o700, exist_ok=True)
    bpe_path, onnx_path = os.path.join(folder, "bpe.txt.gz"), os.path.join(folder, "text.onnx")
    shutil.copyfile(vocab, bpe_path + ".tmp")
    os.chmod(bpe_path + ".tmp", 0o600)
    os.replace(bpe_path + ".tmp", bpe_path)
    context = int(getattr(tokenizer, "context_length", 77) or 77)
    mine = ClipBPE(bpe_path, context)
    reference = tokenizer(CHECK_TEXTS).numpy()
    if not np.array_equal(mine(CHECK_TEXTS), reference):
        log.info(f"{spec.model_id}: tokenizer check failed; search keeps using torch")
        return False

    class TextTower(torch.nn.Module):
        def __init__(self, clip):
            super().__init__()
            self.clip = clip

        def forward(self, ids):
            return self.clip.encode_text(ids)

    tower = TextTower(model).eval()
    ids = torch.from_numpy(reference)
    try:
        with torch.no_grad():
            expected = tower(ids).numpy()
            torch.onnx.export(tower, (ids[:1],), onnx_path + ".tmp", input_names=["ids"],
                              output_names=["embedding"], dynamic_axes={"ids": {0: "batch"}},
                              opset_version=17, dynamo=False)
        os.chmod(onnx_path + ".tmp", 0o600)
        os.replace(onnx_path + ".tmp", onnx_path)
        import onnxruntime as ort  # noqa: PLC0415
        got = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"]).run(
            None, {"ids": reference})[0]
    except Exception as exc:  # noqa: BLE001 - the exporter fails in many ways; torch still works
        log.info(f"{spec.model_id}: ONNX export of the text tower failed ({type(exc).__name__}: "
                 f"{str(exc)[:200]}); search keeps using torch")
        return False
    if np.abs(got - expected).max() > 1e-3 * max(1.0, float(np.abs(expected).max())):
        log.info(f"{spec.model_id}: the ONNX text tower disagrees with torch; not used")
        return False
    meta = os.path.join(folder, "text.json")
    with open(os.open(meta + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as fh:
        json.dump({"model_id": spec.model_id, "context_length": context}, fh)
    os.replace(meta + ".tmp", meta)
    log.info(f"{spec.model_id}: text tower exported to ONNX for fast searches")
    return True
