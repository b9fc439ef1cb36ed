import os
import sys
from pathlib import Path

os.environ.setdefault("DVC_NO_ANALYTICS", "1")
# helpers shared by tests (e.g. the independent NC reference) are importable as plain modules
sys.path.insert(0, str(Path(__file__).parent))
