"""The package list, found in the tree so that no subpackage can be left out of the wheel.

Everything else (metadata, dependencies, and `package_dir`, which installs `datasets/` and `export/`
as `zoo.datasets` and `zoo.export`) is in setup.cfg.
"""
from setuptools import find_packages, setup

MAPPED = {"datasets": "zoo.datasets", "export": "zoo.export"}  # folder -> installed name

packages = find_packages(include=["zoo", "zoo.*"])
for folder, name in MAPPED.items():
    packages += [name, *(f"{name}.{sub}" for sub in find_packages(folder))]
setup(packages=packages)
