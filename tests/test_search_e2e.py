"""Search by description end to end: the query goes through the tiny CLIP's real text tower (the
same random weights that embedded the frames) and the ranking is checked against a brute-force
product over what SQLite holds; filters come from Stash; a repeated query needs no torch."""
from __future__ import annotations

import os

import numpy as np
import pytest

from tests.e2e import configure
from tests.helpers.looks import build_library, clip_settings
from tests.standin.runner import run_plugin

pytest.importorskip("open_clip")


def expected_ranking(data_dir, text, limit):
    """Per scene, its best frame's cosine with the query, straight from the store."""
    from stash_sense.analyzers.clip_text import encode_prompts
    from stash_sense.store import Store
    from stash_sense.store.embeddings import EmbeddingStore
    emb = EmbeddingStore(Store(os.path.join(data_dir, "stash_sense.sqlite")))
    [model_id] = emb.model_ids()
    q = encode_prompts(emb.model(model_id), [text], data_dir)[0]
    q = q / np.linalg.norm(q)
    best = {}
    for v in emb.iter_scenes(model_id):
        scores = v.frames @ q
        best[v.scene_id] = (float(scores.max()), float(v.times[int(scores.argmax()), 0]))
    return sorted(best.items(), key=lambda kv: -kv[1][0])[:limit]


def test_search_ranks_scenes_by_their_best_moment_with_filters_and_cached_queries(
        stash, tmp_path):
    ids = build_library(stash, per_kind=4)
    settings = configure(stash, tmp_path, **clip_settings())
    tagged = run_plugin(stash, {"mode": "tag_tagme"}, timeout=600)
    assert tagged.error is None, tagged.log_text()

    text = "orange and blue stripes"
    run = run_plugin(stash, {"mode": "search", "query": text, "limit": 5}, timeout=300)
    assert run.error is None, run.log_text()
    out = run.output
    assert out["text_encoded"] is True and out["query"] == text
    want = expected_ranking(settings["dataDir"], text, 5)
    assert [s["id"] for s in out["scenes"]] == [sid for sid, _ in want]
    for got, (sid, (score, when)) in zip(out["scenes"], want):
        assert got["score"] == pytest.approx(score, abs=2e-3)
        best = got["moments"][0]
        assert best["time"] == pytest.approx(when, abs=0.01) and best["score"] == got["score"]
        assert len(got["moments"]) == 3
        assert all(m["thumbnail"]["url"].endswith("_sprite.jpg") for m in got["moments"])
        assert got["title"] == stash.scene(sid)["title"]

    assert out["text_path"] == "torch" and "torch" in out["heavy_modules"]
    again = run_plugin(stash, {"mode": "search", "query": "  orange and blue   stripes ",
                               "limit": 5}, timeout=120)
    assert again.error is None, again.log_text()
    assert again.output["text_encoded"] is False and again.output["heavy_modules"] == []
    assert [s["id"] for s in again.output["scenes"]] == [s["id"] for s in out["scenes"]]

    # the first search exported the text tower: a new query needs onnxruntime, not torch, and
    # ranks exactly as the torch tower would
    other = "green checks in the dark"
    fast = run_plugin(stash, {"mode": "search", "query": other, "limit": 6}, timeout=120)
    assert fast.error is None, fast.log_text()
    assert fast.output["text_path"] == "onnx", fast.log_text()
    assert fast.output["heavy_modules"] == ["onnxruntime"]
    want = expected_ranking(settings["dataDir"], other, 6)
    assert [s["id"] for s in fast.output["scenes"]] == [sid for sid, _ in want]
    for got, (_sid, (score, _when)) in zip(fast.output["scenes"], want):
        assert got["score"] == pytest.approx(score, abs=2e-3)

    # filters from Stash combine with the text
    keep = stash.add_tag("Keep")
    chosen = ids["noise"][:2] + ids["checks"][:1]
    stash.graphql('mutation { bulkSceneUpdate(input: {ids: [%s], tag_ids: {ids: ["%s"], '
                  'mode: ADD}}) { id } }' % (",".join(f'"{s}"' for s in chosen), keep))
    stash.graphql('mutation { sceneUpdate(input: {id: "%s", organized: true}) { id } }'
                  % ids["noise"][0])
    filtered = run_plugin(stash, {"mode": "search", "query": text, "limit": 10,
                                  "tags": [keep]}, timeout=120)
    assert filtered.error is None, filtered.log_text()
    assert sorted(s["id"] for s in filtered.output["scenes"]) == sorted(chosen)
    organized = run_plugin(stash, {"mode": "search", "query": text, "tags": [keep],
                                   "organized": True}, timeout=120)
    assert [s["id"] for s in organized.output["scenes"]] == [ids["noise"][0]]

    jane, studio = stash.add_performer("Jane Roe"), stash.add_studio("Sunset Studios")
    stash.graphql('mutation { sceneUpdate(input: {id: "%s", performer_ids: ["%s"], studio_id: "%s"})'
                  ' { id } }' % (ids["stripes"][2], jane, studio))
    stash.graphql('mutation { sceneUpdate(input: {id: "%s", performer_ids: ["%s"]}) { id } }'
                  % (ids["checks"][3], jane))
    by_performer = run_plugin(stash, {"mode": "search", "query": text, "performers": [jane]},
                              timeout=120)
    assert sorted(s["id"] for s in by_performer.output["scenes"]) == sorted(
        [ids["stripes"][2], ids["checks"][3]])
    both = run_plugin(stash, {"mode": "search", "query": text, "performers": [jane],
                              "studio": studio}, timeout=120)
    assert [s["id"] for s in both.output["scenes"]] == [ids["stripes"][2]]

    empty = run_plugin(stash, {"mode": "search", "query": "   "}, timeout=120)
    assert empty.error and "query" in empty.error
