"""What the tests share: scratch repositories, pipelines, clusters, browsers and reference values
(one module each).  The repository root is known here once, whatever folder a test sits in."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
