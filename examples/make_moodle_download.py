"""Build examples/moodle-download.zip: the demo class (examples/class) as Moodle's "Download all submissions".

One Moodle assignment that collects every exercise, laid out as Moodle 4.1+ writes it
(`<Full name>_<participant id>_assignsubmission_file/<file>`), with the students' own file names
where real students differ from `<exercise>.py`. Deterministic: fixed names, ids and time stamps,
members in sorted order, so the committed ZIP only changes when the demo class does.

    python examples/make_moodle_download.py        # rewrites examples/moodle-download.zip
"""

from __future__ import annotations

import sys
import zipfile
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: Full names (accents on purpose) and participant ids for the demo class's folders.
PEOPLE = {"alice": ("Alice Araújo", 100234), "bruno": ("Bruno Gonçalves", 100235),
          "carla": ("Carla Nóbrega", 100236),
          "diego": ("Diego Simões", 100237), "eva": ("Eva Müller", 100238), "fabio": ("Fábio Conceição", 100239),
          "igor": ("Igor Queiroz", 100240), "joana": ("Joana D'Ávila", 100241), "kaio": ("Kaio Tavares", 100242),
          "lara": ("Lara Ribeiro", 100243)}
#: Files renamed as students upload them (the import tells the exercise from the name and contents).
UPLOADED_AS = {("fabio", "abc_skin.ipynb"): "Lição 1 - ABC com cor da pele.ipynb",
               ("diego", "fashion_mnist.py"): "Exercicio Fashion (2).py"}
WHEN = (2026, 3, 20, 23, 15, 0)  # every member's time stamp: a Friday night before the deadline


def person(folder: str) -> tuple[str, int]:
    """The demo name and id of a student folder; a folder added later gets a stable made-up one."""
    return PEOPLE.get(folder) or (folder.capitalize(), 900000 + zlib.crc32(folder.encode()) % 100000)


def build(class_dir: Path, out: Path) -> list[str]:
    names = []
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for student in sorted(p for p in class_dir.iterdir() if p.is_dir()):
            full_name, pid = person(student.name)
            prefix = f"{full_name}_{pid}_assignsubmission_file"
            for path in sorted(p for p in student.iterdir() if p.is_file()):
                name = f"{prefix}/{UPLOADED_AS.get((student.name, path.name), path.name)}"
                info = zipfile.ZipInfo(name, WHEN)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                z.writestr(info, path.read_bytes())
                names.append(name)
    return names


if __name__ == "__main__":
    target = HERE / "moodle-download.zip"
    written = build(HERE / "class", target)
    print(f"{target}: {len(written)} files", file=sys.stderr)
