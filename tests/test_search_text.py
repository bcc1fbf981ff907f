"""The search's torch-free text side: the BPE tokenizer gives open_clip's tokens, and the exported
ONNX text tower gives the torch tower's vectors (tiny random-weight CLIP, real export code)."""
from __future__ import annotations

import os

import numpy as np
import pytest

open_clip = pytest.importorskip("open_clip")
pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from stash_sense.similarity.bpe import ClipBPE  # noqa: E402
from stash_sense.similarity.text_onnx import OnnxText, export  # noqa: E402
from stash_sense.store.embeddings import ClipModelSpec  # noqa: E402

TINY = os.path.join(os.path.dirname(__file__), "fixtures", "tiny-clip.json")
VOCAB = os.path.join(os.path.dirname(open_clip.__file__), "bpe_simple_vocab_16e6.txt.gz")
TEXTS = ["a red neon bedroom", "Two people on a beach at sunset!!", "  spaced\tout\nlines ",
         "it's 3 o'clock, café &amp; naïve — 日本語 🎉", "don't STOP", "", "x" * 400,
         "4k 60fps POV close-up", "l'été à Paris"]


def test_tokenizer_matches_open_clip():
    mine = ClipBPE(VOCAB)(TEXTS)
    assert np.array_equal(mine, open_clip.get_tokenizer("ViT-B-32")(TEXTS).numpy())


def test_exported_text_tower_matches_torch(tmp_path):
    from stash_sense.analyzers.clip_text import encode_prompts
    spec = ClipModelSpec("open_clip:tiny/none", "tiny-clip", "none", TINY, 100.0, 32)
    assert export(spec, str(tmp_path / "models"), str(tmp_path / "find"))
    assert {n for n in os.listdir(tmp_path / "find")} == {"text.onnx", "text.json", "bpe.txt.gz"}
    assert all(os.stat(tmp_path / "find" / n).st_mode & 0o077 == 0
               for n in ("text.onnx", "text.json", "bpe.txt.gz"))
    got = OnnxText(str(tmp_path / "find")).encode(TEXTS)
    want = encode_prompts(spec, TEXTS, str(tmp_path / "models"))
    assert np.abs(got - want).max() < 1e-4
    assert not np.allclose(got[0], got[1])
