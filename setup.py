"""Build hook: ship the developer-facing top-level data inside the package.

Migrations, ``alembic.ini``, the blueprints with the standards catalog, and the sample item bank
live at the top of the checkout, where developers edit them. A wheel carries copies under
``examengine/_data/`` so an installed examengine migrates and loads its data anywhere
(``examengine.config.resource_path`` finds either). Everything else is in pyproject.toml.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

# `pip install -e .` (make run, make test): setuptools installs this flat layout through an import
# finder and then tells, as a warning pip prints, to beware of folders in the working directory
# named like the package. Here that folder is the package itself: the note says nothing to act
# on, so it is not shown. Only that note; every other setuptools warning still is.
warnings.filterwarnings("ignore", message=r"Editable installation\.")

ROOT = Path(__file__).resolve().parent
#: Keep in step with examengine.config.SHIPPED_DATA.
SHIPPED_DATA = ("alembic.ini", "migrations", "blueprints", "itembank")


class build_py_with_data(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads the checkout itself
        target = Path(self.build_lib) / "examengine" / "_data"
        shutil.rmtree(target, ignore_errors=True)  # no stale copies from an earlier build
        for name in SHIPPED_DATA:
            source, dest = ROOT / name, target / name
            if source.is_dir():
                shutil.copytree(source, dest, dirs_exist_ok=True,
                                ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            else:
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, dest)


setup(cmdclass={"build_py": build_py_with_data})
