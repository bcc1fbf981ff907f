"""Stash Sense: local ML tagging for Stash, run as a raw Stash plugin.

The data path: scenes (paged) -> frames (sprite tiles / full-res video frames) -> analyzers (batched)
-> raw signals stored -> aggregated over time -> findings -> plan (pure diff) -> apply (the only
writer) -> workflow tags. See README.md for the layout.
"""
import os as _os

__version__ = "0.1.0"
PLUGIN_ID = "stash_sense"
# The task that analyzes one scene (stash_sense.yml, mode tag_scene): the hooks and the scene tab
# queue it by this name.
TAG_SCENE_TASK = "Tag one scene"

# The plugin folder (stash_sense.py, the manifest, requirements files; models/ and data/ by
# default) when Stash's input does not name it: the folder that holds this package.
PLUGIN_DIR = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
