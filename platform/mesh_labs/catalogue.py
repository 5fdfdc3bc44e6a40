"""The labs of a folder: each `NN-slug/` with its lab.yaml and checks.py, loaded and cross-checked (every
step has a check and a solve). Adding a lab is adding a folder."""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path

from mesh_labs.lab import Lab
from mesh_labs.spec import FOLDER, LabSpec, LabSpecError, load_spec


@dataclass(frozen=True)
class LoadedLab:
    spec: LabSpec
    folder: Path
    lab: Lab

    @property
    def name(self) -> str:
        return self.spec.name


def load_lab(folder: Path) -> LoadedLab:
    spec = load_spec(folder)
    path = folder / "checks.py"
    if not path.exists():
        raise LabSpecError(f"{path}: missing; every lab has a checks.py declaring `lab = Lab()`")
    module_name = f"mesh_lab_checks_{spec.id}_{spec.slug.replace('-', '_')}"
    loader = importlib.util.spec_from_file_location(module_name, path)
    assert loader is not None and loader.loader is not None
    module = importlib.util.module_from_spec(loader)
    sys.modules[module_name] = module
    loader.loader.exec_module(module)
    lab = getattr(module, "lab", None)
    if not isinstance(lab, Lab):
        raise LabSpecError(f"{path}: must define `lab = Lab()` (from mesh_labs import Lab)")
    problems = lab.missing(spec.step_ids)
    if problems:
        raise LabSpecError(f"{path}: " + "; ".join(problems))
    return LoadedLab(spec, folder, lab)


def lab_folders(labs_dir: Path) -> list[Path]:
    if not labs_dir.is_dir():
        return []
    return sorted(p for p in labs_dir.iterdir() if p.is_dir() and FOLDER.match(p.name))


def find_folder(labs_dir: Path, ref: str) -> Path:
    """A lab by its number (1, 01), its slug (tour) or its folder name (01-tour)."""
    folders = lab_folders(labs_dir)
    wanted = ref.strip().lower()
    for folder in folders:
        match = FOLDER.match(folder.name)
        assert match is not None
        number, slug = match["number"], match["slug"]
        if wanted in (folder.name, slug, number) or (wanted.isdigit() and int(wanted) == int(number)):
            return folder
    known = ", ".join(f.name for f in folders) or f"none in {labs_dir}"
    raise LabSpecError(f"no lab {ref!r}; the labs: {known}")
