"""Re-tag from stored results with a *new* vocabulary label: only the text tower of the CLIP model
that made the stored vectors is loaded (for the new prompts only), the label is scored against the
stored frame embeddings and written through the writer; a text encoder that cannot load stops the
task before any change."""
from __future__ import annotations

import os

import pytest

from stash_sense.vocabulary import BUNDLED
from tests.e2e import configure, mutations
from tests.standin.media import synthetic_sprite, vtt_text
from tests.standin.runner import run_plugin

pytest.importorskip("open_clip")
TINY = os.path.join(os.path.dirname(__file__), "fixtures", "tiny-clip.json")
NEW_LABEL = """    - name: custom
      exclusive: false
      markers: false
      labels:
        - tag: Zebra stripes
          threshold: 0.000001
          prompts: ["a photo of zebra stripes", "black and white stripes"]
"""


def vocabulary_with_new_label(tmp_path) -> str:
    text = open(BUNDLED, encoding="utf-8").read()
    head, sep, tail = text.partition("  categories:\n")
    path = tmp_path / "vocabulary.yaml"
    path.write_text(head + sep + NEW_LABEL + tail, encoding="utf-8")
    return str(path)


def test_new_label_needs_only_the_text_encoder(stash, tmp_path):
    tagme = stash.add_tag("StashSense_TagMe")
    ids = []
    for n, color in enumerate([(200, 30, 30), (30, 200, 30), (30, 30, 200)]):
        jpeg, _ = synthetic_sprite(600, lambda t, c=color: c)
        ids.append(stash.add_scene(title=f"s{n}", duration=600, sprite=jpeg, tag_ids=[tagme],
                                   vtt=lambda name: vtt_text(600, 160, 90, name)))
    base = dict(analyzers="clip", clipModel=TINY, clipPretrained="none", batchSize=81)
    configure(stash, tmp_path, **base)
    assert run_plugin(stash, {"mode": "tag_tagme"}, timeout=600).error is None
    assert all("Zebra stripes" not in stash.scene_tag_names(s) for s in ids)

    configure(stash, tmp_path, **base, vocabularyFile=vocabulary_with_new_label(tmp_path))
    run = run_plugin(stash, {"mode": "retag"}, timeout=600)
    assert run.error is None, run.log_text()
    assert run.output["prompts_encoded"] == 2                 # the new prompts, nothing else
    assert "open_clip" in run.output["heavy_modules"]
    assert "ultralytics" not in run.output["heavy_modules"]
    assert run.output["changed"] == 3
    assert all("Zebra stripes" in stash.scene_tag_names(s) for s in ids)

    # the prompt vectors are kept: the next re-tag loads no model at all
    again = run_plugin(stash, {"mode": "retag"}, timeout=600)
    assert again.error is None and again.output["heavy_modules"] == []
    assert again.output["prompts_encoded"] == 0 and again.output["changed"] == 0


def test_a_text_encoder_that_cannot_load_stops_before_any_change(stash, tmp_path):
    tagme = stash.add_tag("StashSense_TagMe")
    jpeg, _ = synthetic_sprite(600, lambda t: (200, 30, 30))
    sid = stash.add_scene(title="s", duration=600, sprite=jpeg, tag_ids=[tagme],
                          vtt=lambda name: vtt_text(600, 160, 90, name))
    config = tmp_path / "moved-tiny-clip.json"
    config.write_text(open(TINY).read())
    base = dict(analyzers="clip", clipModel=str(config), clipPretrained="none", batchSize=81)
    configure(stash, tmp_path, **base)
    assert run_plugin(stash, {"mode": "tag_tagme"}, timeout=600).error is None
    before = stash.scene_tag_names(sid)
    config.unlink()                                           # the model's config is gone
    configure(stash, tmp_path, **base, vocabularyFile=vocabulary_with_new_label(tmp_path))
    count = len(mutations(stash))
    run = run_plugin(stash, {"mode": "retag"}, timeout=600)
    assert run.error and "is gone" in run.error
    assert len(mutations(stash)) == count and stash.scene_tag_names(sid) == before


def test_retag_honours_review_mode_and_skips_scenes_deleted_since(stash, tmp_path):
    """Scripted colour analyzer (known findings): a stricter required duration drops Red; in
    review mode the re-tag removes nothing, without it the plugin's Red and its marker go. A
    scene deleted in Stash since its analysis is skipped, not errored."""
    tagme = stash.add_tag("StashSense_TagMe")
    jpeg, _ = synthetic_sprite(600, lambda t: (230, 20, 20) if 100 <= t < 300 else None)
    red = stash.add_scene(title="red middle", duration=600, sprite=jpeg, tag_ids=[tagme],
                          vtt=lambda name: vtt_text(600, 160, 90, name))
    jpeg, _ = synthetic_sprite(600, lambda t: (20, 20, 230))
    gone = stash.add_scene(title="deleted later", duration=600, sprite=jpeg, tag_ids=[tagme],
                           vtt=lambda name: vtt_text(600, 160, 90, name))
    color = "tests.helpers.scripted:ColorAnalyzer"
    configure(stash, tmp_path, analyzers=color)
    assert run_plugin(stash, {"mode": "tag_tagme"}).error is None
    assert "Red" in stash.scene_tag_names(red) and len(stash.markers(red)) == 1
    stash.destroy_scene(gone)

    configure(stash, tmp_path, analyzers=color, requiredDuration="50%", reviewMode=True)
    review = run_plugin(stash, {"mode": "retag"})
    assert review.error is None, review.log_text()
    assert review.output["missing"] == 1 and review.output["errored"] == []
    assert "Red" in stash.scene_tag_names(red) and len(stash.markers(red)) == 1

    configure(stash, tmp_path, analyzers=color, requiredDuration="50%")
    run = run_plugin(stash, {"mode": "retag"})
    assert run.error is None and run.output["changed"] == 1
    assert stash.scene_tag_names(red) == ["StashSense_Tagged"] and stash.markers(red) == []


def test_stored_face_signals_are_retagged_with_the_networks_rule(stash, tmp_path):
    """Re-tag reads a faces run back from the store (no face model loaded) and judges it with the
    rule measured for the network that made it, inside the scene's duration."""
    from stash_sense.findings import Signal
    from stash_sense.kinds import FrameKind
    from stash_sense.models.faces import CASIA_ID
    from stash_sense.store import Store

    jane = stash.add_performer("Jane Roe")
    sid = stash.add_scene(title="faces", duration=40)
    settings = configure(stash, tmp_path, analyzers="faces", applyPerformers=True)
    store = Store.in_dir(settings["dataDir"])
    try:
        face = {"box": [10, 10, 90, 90], "prob": 0.99, "performer": jane, "name": "Jane Roe",
                "second": None, "second_score": 0.0}
        store.signals.save(sid, "faces", CASIA_ID, FrameKind.VIDEO,
                           [(t, 5.0, [Signal(t, 5.0, "face", 0.93, face)]) for t in (5, 10, 15)])
    finally:
        store.close()

    run = run_plugin(stash, {"mode": "retag"}, timeout=300)
    assert run.error is None, run.log_text()
    assert run.output["heavy_modules"] == []                  # stored signals only
    assert run.output["changed"] == 1
    assert [stash.performer(p)["name"] for p in stash.scene(sid)["performer_ids"]] == ["Jane Roe"]
