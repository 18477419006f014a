"""Packaging for datascope_nb: everything is read from settings.ini (nbdev 2's single source of configuration).

pyproject.toml (written by nbdev_export) declares these fields dynamic; this file supplies each of them."""
import shutil
from configparser import ConfigParser
from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

cfg = ConfigParser(delimiters=["="])
cfg.read("settings.ini", encoding="utf-8")
c = cfg["DEFAULT"]


class build_py_with_data(build_py):
    """Also copy the data the project ships (settings.ini's `shipped_data`, the checkout's top-level `data/`) into the
    package as `<lib_name>/data`, where `core.data_file` finds it when no checkout is around. An editable install
    skips the copy: there `data_file` reads the checkout's `data/` itself."""
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False) or self.dry_run: return
        src, dest = Path(c.get("shipped_data", "data")), Path(self.build_lib)/c["lib_name"]/"data"
        if dest.exists(): shutil.rmtree(dest)
        shutil.copytree(src, dest)

setup(
    name=c["lib_name"],
    version=c["version"],
    description=c["description"],
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    author=c["author"],
    author_email=c["author_email"],
    license="Apache-2.0",
    url=c["git_url"],
    project_urls={"Source": c["git_url"], "Documentation": c["doc_host"]},
    keywords=c["keywords"].split(),
    classifiers=["Programming Language :: Python :: 3", "Intended Audience :: Science/Research",
                 "Topic :: Scientific/Engineering :: Artificial Intelligence"],
    python_requires=f">={c['min_python']}",
    packages=find_packages(include=[c["lib_name"], f"{c['lib_name']}.*"]),
    include_package_data=True,
    install_requires=c["requirements"].split(),
    extras_require={"dev": c["dev_requirements"].split()},
    entry_points={
        "console_scripts": c["console_scripts"].split(),
        "nbdev": [f"{c['lib_path']}={c['lib_path']}._modidx:d"],
    },
    zip_safe=False,
    cmdclass={"build_py": build_py_with_data},
)
