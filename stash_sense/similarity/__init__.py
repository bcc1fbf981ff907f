"""Find by look: similar scenes, search by description and near-duplicates, all from the stored
CLIP embeddings (stash_sense/store/embeddings.py) — no image model runs here.

- `index.py`: the frame index, an append-only memory-mapped float16 matrix of every stored frame
  vector per embedding model, kept in step with SQLite through a change log (triggers);
- `similar.py`: nearest scenes by their pooled vectors (numpy only: the scene tab's light path);
- `search.py`: text -> CLIP text vector -> best moments per scene;
- `duplicates.py`: groups of scenes with the same content (embeddings + duration);
- `thumbs.py`: sprite tiles for the results (the scene's sprite URL + the tile's xywh from the VTT).
"""
