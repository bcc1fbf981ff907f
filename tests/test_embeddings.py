"""Stored CLIP embeddings: binary float16, per model, replaced on re-analysis; and re-scoring them
through the text side alone gives the scores the image run gave."""
import os

import numpy as np
import pytest
from PIL import Image

from stash_sense.store import Store
from stash_sense.store.embeddings import EmbeddingStore, migrate_embeddings

TINY = os.path.join(os.path.dirname(__file__), "fixtures", "tiny-clip.json")


def unit(rng, n, d=512):
    m = rng.standard_normal((n, d)).astype(np.float32)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def test_scene_vectors_are_float16_blobs_one_row_per_scene_and_model(tmp_path):
    store = Store(str(tmp_path / "s.sqlite"))
    vectors = EmbeddingStore(store)
    rng = np.random.default_rng(1)
    frames = unit(rng, 81)
    times = [(i * 10.0, 10.0) for i in range(81)]
    vectors.save_scene("7", "open_clip:A", times, frames)
    row = store.db.execute("SELECT * FROM scene_embeddings").fetchone()
    assert isinstance(row["frames"], bytes) and len(row["frames"]) == 81 * 512 * 2   # 1 KiB/frame
    got = vectors.scene("7", "open_clip:A")
    assert np.abs(got.frames - frames).max() < 2e-3
    assert np.allclose(np.linalg.norm(got.pooled), 1.0, atol=1e-3)
    mean = frames.mean(axis=0)
    assert np.allclose(got.pooled, mean / np.linalg.norm(mean), atol=2e-3)
    assert got.times[3].tolist() == [30.0, 10.0]
    # same model again: replaced; another model: kept apart
    vectors.save_scene("7", "open_clip:A", times[:5], frames[:5])
    vectors.save_scene("7", "open_clip:B", times[:3], unit(rng, 3, 768))
    assert vectors.scene("7", "open_clip:A").frames.shape == (5, 512)
    assert vectors.scene("7", "open_clip:B").frames.shape == (3, 768)
    assert store.db.execute("SELECT COUNT(*) FROM scene_embeddings").fetchone()[0] == 2
    assert 5 * 1024 < vectors.bytes_per_scene("open_clip:A") < 5 * 1024 + 1200


def test_unnormalised_input_is_normalised_and_mismatched_times_refused(tmp_path):
    vectors = EmbeddingStore(Store(str(tmp_path / "s.sqlite")))
    vectors.save_scene("1", "m", [(0.0, 1.0), (1.0, 1.0)], np.array([[3.0, 4.0], [0.0, 2.0]]))
    got = vectors.scene("1", "m")
    assert np.allclose(np.linalg.norm(got.frames, axis=1), 1.0, atol=1e-3)
    with pytest.raises(ValueError):
        vectors.save_scene("1", "m", [(0.0, 1.0)], np.ones((2, 2)))


def test_migration_is_idempotent_and_pooled_matrix_streams_only_pooled(tmp_path):
    store = Store(str(tmp_path / "s.sqlite"))
    migrate_embeddings(store.db)
    migrate_embeddings(store.db)
    vectors = EmbeddingStore(store)
    rng = np.random.default_rng(2)
    for sid in ("1", "2", "3"):
        vectors.save_scene(sid, "m", [(float(i), 1.0) for i in range(4)], unit(rng, 4, 16))
    ids, pooled = vectors.pooled_matrix("m")
    assert ids == ["1", "2", "3"] and pooled.shape == (3, 16) and pooled.dtype == np.float32
    assert [v.scene_id for v in vectors.iter_scenes("m")] == ["1", "2", "3"]


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    pytest.importorskip("open_clip")
    from stash_sense.analyzers.base import AnalyzerContext
    from stash_sense.analyzers.clip import ClipAnalyzer
    from stash_sense.settings import load_settings
    from stash_sense.vocabulary import load_vocabulary
    models = tmp_path_factory.mktemp("models")
    settings = load_settings({}, {"clipModel": TINY, "clipPretrained": "none",
                                  "modelDir": str(models)}, str(models))
    analyzer = ClipAnalyzer(AnalyzerContext(settings, load_vocabulary(), device="cpu"))
    analyzer.load()
    return analyzer


def test_analyze_with_embeddings_returns_unit_rows_in_frame_order(tiny_clip):
    from stash_sense.frames.types import Frame
    frames = [Frame("1", i, i * 10.0, 10.0, Image.new("RGB", (160, 90), (i * 40, 30, 200 - i * 30)))
              for i in range(5)]
    signals, emb = tiny_clip.analyze_with_embeddings(frames)
    assert emb.shape == (5, 32) and np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    assert signals == tiny_clip.analyze(frames)
    single = tiny_clip.analyze_with_embeddings(frames[2:3])[1]
    assert np.allclose(single[0], emb[2], atol=1e-5)


def test_text_side_alone_rescores_stored_vectors_like_the_image_run(tiny_clip, tmp_path):
    """Stored prompt vectors: no model. A prompt never embedded: the text tower of the same
    (random, seeded) weights is rebuilt through open_clip and agrees with the analyzer's."""
    from stash_sense.analyzers.clip_text import ClipTextScorer, encode_prompts
    from stash_sense.frames.types import Frame
    store = Store(str(tmp_path / "s.sqlite"))
    vectors = EmbeddingStore(store)
    vectors.save_model(tiny_clip.spec)
    prompts = list(tiny_clip.prompt_vectors)
    vectors.save_prompts(tiny_clip.model_id, prompts, [tiny_clip.prompt_vectors[p] for p in prompts])
    frames = [Frame("1", i, i * 10.0, 10.0, Image.new("RGB", (160, 90), (i * 50, 90, 20)))
              for i in range(4)]
    signals, emb = tiny_clip.analyze_with_embeddings(frames)
    vectors.save_scene("1", tiny_clip.model_id, [(f.time, f.span) for f in frames], emb)
    stored = vectors.scene("1", tiny_clip.model_id)
    scorer = ClipTextScorer(vectors, tiny_clip.ctx.vocabulary, tiny_clip.model_id,
                            str(tmp_path)).load()
    assert scorer.encoded_prompts == 0
    again = scorer.signals(stored.times, stored.frames)
    flat = [s for row in signals for s in row]
    assert [s.key for s in again] == [s.key for s in flat]
    assert np.allclose([s.score for s in again], [s.score for s in flat], atol=2e-2)
    # the matrix path to findings is the Signal path's twin (any threshold)
    from stash_sense.analyzers.clip import clip_findings
    from stash_sense.frames.types import SceneMedia
    from stash_sense.settings import load_settings
    media = SceneMedia("1", "", 40.0, 0, 0, None, None, None, None)
    for threshold in (0.0, 0.001, 0.3, 0.99):
        settings = load_settings({}, {"threshold": threshold, "minSegmentSeconds": 0,
                                      "requiredDuration": "1"}, str(tmp_path))
        want = clip_findings(settings, tiny_clip.ctx.vocabulary, media, again)
        got = scorer.findings(settings, media, stored.times, stored.frames)
        assert [(f.name, round(f.confidence, 6), f.segments) for f in got] == \
            [(f.name, round(f.confidence, 6), f.segments) for f in want]
        if threshold == 0.001:
            assert len(got) >= 10                 # every label hits: the comparison has content
    rebuilt = encode_prompts(tiny_clip.spec, prompts[:3], str(tmp_path))
    assert np.allclose(rebuilt, np.stack([tiny_clip.prompt_vectors[p] for p in prompts[:3]]),
                       atol=1e-5)
