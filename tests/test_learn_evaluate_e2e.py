"""The quality report end to end: a scripted colour analyzer (known findings) against the user's
own tagging in the stand-in, so precision, recall and the threshold are known exactly."""
from __future__ import annotations

from tests.e2e import configure, mutations
from tests.standin.media import synthetic_sprite, vtt_text
from tests.standin.runner import run_plugin

COLOR = "tests.helpers.scripted:ColorAnalyzer"
RED, PINK, BLUE = (230, 20, 20), (200, 60, 60), (20, 20, 230)


def scene(stash, title, color, tags, organized=False):
    jpeg, _ = synthetic_sprite(600, lambda t: color)
    return stash.add_scene(title=title, duration=600, sprite=jpeg, tag_ids=tags,
                           vtt=lambda name: vtt_text(600, 160, 90, name), organized=organized)


def test_quality_report_against_the_users_tags(stash, tmp_path):
    tagme, red = stash.add_tag("StashSense_TagMe"), stash.add_tag("Scarlet", aliases=["Red"])
    ids = {
        "r1": scene(stash, "r1", RED, [tagme, red]), "r2": scene(stash, "r2", RED, [tagme, red]),
        "r3": scene(stash, "r3", RED, [tagme, red]),
        "r4": scene(stash, "r4", RED, [tagme]),                  # unknown: untagged, not organized
        "r5": scene(stash, "r5", PINK, [tagme]),                 # the user will reject our Red
        "b1": scene(stash, "b1", BLUE, [tagme, red]),            # the user's Red, missed by us
        "b2": scene(stash, "b2", BLUE, [tagme], organized=True),  # a known negative
        "b3": scene(stash, "b3", BLUE, [tagme]),                 # unknown
    }
    configure(stash, tmp_path, analyzers=COLOR)
    assert run_plugin(stash, {"mode": "tag_tagme"}).error is None
    assert "Scarlet" in stash.scene_tag_names(ids["r5"])      # ours (alias Red)
    stash.graphql('mutation { sceneUpdate(input: {id: "%s", organized: true, tag_ids: []}) '
                  '{ id } }' % ids["r5"])

    count = len(mutations(stash))
    run = run_plugin(stash, {"mode": "evaluate"})
    assert run.error is None, run.log_text()
    [row] = [r for r in run.output["tags"] if r["name"] == "Red"]
    assert row["user_tag"] == "Scarlet"
    assert (row["evaluated"], row["positives"], row["found"]) == (6, 4, 4)
    assert row["precision"] == 0.75 and row["recall"] == 0.75
    # pink is less red than red: above its confidence only the user's red scenes remain
    assert row["precision_at"] == 1.0 and row["recall_at"] == 0.75 and row["threshold"] > 0.6
    assert any("quality 'Red' (your tag 'Scarlet')" in m for m in run.messages("i"))
    assert len(mutations(stash)) == count                     # nothing written

    reports = run_plugin(stash, {"mode": "reports"})
    assert reports.error is None
    assert reports.output["quality"]["tags"] == run.output["tags"]
    assert reports.output["learned"] is None
