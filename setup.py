"""Build hook: ship the data folders (rules/, schemas/, reference_runs/) inside the wheel.

In a source checkout (editable install) the package reads them from the repository root; in a
built wheel they live under ``checker/_data/``. ``checker.resources`` knows both places.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

DATA_DIRS = ("rules", "schemas", "reference_runs")


class BuildWithData(build_py):
    def run(self):
        super().run()
        here = Path(__file__).resolve().parent
        for name in DATA_DIRS:
            source = here / name
            if source.is_dir():
                target = Path(self.build_lib) / "checker" / "_data" / name
                shutil.rmtree(target, ignore_errors=True)
                shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


setup(cmdclass={"build_py": BuildWithData})
