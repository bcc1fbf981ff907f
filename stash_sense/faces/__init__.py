"""Face recognition for Stash Sense: model loading (models.py), detection and embedding
(engine.py) and the pure matching rules (match.py). Only models.py/engine.py import torch and
facenet-pytorch, lazily; match.py is numpy only."""
