import os
import sys

# Tests never reach a network: ultralytics must not try to pip-install or phone home, whichever
# test imports it first (stash_sense.models.yolo sets the same for the plugin process).
os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_AUTOINSTALL", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

