"""Record what face_recognition's installed command-line programs, `face_recognition` and
`face_detection` (1.3.0, run as the console scripts pip installs, in a subprocess), print for
a few invocations, into testdata/references/compat.json. crates/cli/tests/compat_cli.rs runs
`facerec` under those names (a symlink, and `facerec compat NAME`) with the very same
arguments and compares stdout.

Run through build-references.sh (it makes the throw-away venv), from any folder:
    scripts/python-baseline/build-references.sh compat
"""
import importlib.metadata as metadata
import json
import os
import subprocess
import sys

repo_root, out_path = sys.argv[1], sys.argv[2]
os.chdir(repo_root)
bin_dir = os.path.dirname(sys.executable)

TEST = "testdata/faces/fr/examples/knn_examples/test"
INVOCATIONS = [
    ["face_recognition", "examples/demo/known", TEST],
    ["face_recognition", "--tolerance", "0.5", "--show-distance", "true", "examples/demo/known", TEST],
    ["face_recognition", "--cpus", "2", "--show-distance", "True", "examples/demo/known",
     "testdata/faces/fr/examples/two_people.jpg"],
    ["face_detection", TEST],
    ["face_detection", "--cpus", "-1", "--model", "hog", "testdata/faces/fr/examples/obama_small.jpg"],
]

cases = []
for argv in INVOCATIONS:
    p = subprocess.run([os.path.join(bin_dir, argv[0]), *argv[1:]], capture_output=True, text=True)
    lines = p.stdout.splitlines()
    cases.append({
        "argv": argv,
        "exit_code": p.returncode,
        "stdout": [l for l in lines if not l.startswith("WARNING:")],
        "warnings": [l for l in lines if l.startswith("WARNING:")],
    })

doc = {
    "meta": {
        "generator": "scripts/python-baseline/build-references.sh compat (compat_references.py)",
        "face_recognition": metadata.version("face_recognition"),
        "dlib": __import__("dlib").__version__,
        "note": "stdout of the console scripts as installed by pip; WARNING lines (stdout there, stderr in facerec) apart",
    },
    "cases": cases,
}
with open(out_path, "w") as f:
    json.dump(doc, f, indent=1)
    f.write("\n")
print(f"wrote {len(cases)} invocations to {out_path}")
