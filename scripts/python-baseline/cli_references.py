"""Record what face_recognition's own command-line programs print for the committed photos,
into testdata/references/cli.json. crates/cli/tests/cli_references.rs runs `facerec identify`
and `facerec detect` with the same arguments and compares (names and boxes exactly,
distances to a tolerance).

Run through build-references.sh (it makes the throw-away venv), from any folder:
    scripts/python-baseline/build-references.sh cli

The functions called are the CLIs' own: face_recognition_cli.scan_known_people,
image_files_in_folder and test_image (what `face_recognition KNOWN UNKNOWN` runs once per
unknown photo, with --cpus 1), and face_detection_cli.test_image (`face_detection PATH`).
Their stdout is captured as they print it. Paths are relative to the repository root,
as a user would type them there.
"""
import contextlib
import hashlib
import importlib.metadata as metadata
import io
import json
import os
import shutil
import sys
import tempfile

import dlib
import numpy as np
import PIL
import PIL.Image
from face_recognition import face_detection_cli, face_recognition_cli
import face_recognition

repo_root, out_path = sys.argv[1], sys.argv[2]
os.chdir(repo_root)

FR = "testdata/faces/fr/examples"
# A folder of known people that exercises scan_known_people's rules: one face each, a photo
# with two faces ("More than one face … Only considering the first face") and one with
# none ("No faces found … Ignoring file"). Built in a temporary folder; the test builds the
# same one and substitutes its path for {KNOWN} in the warnings.
KNOWN_FILES = [
    [f"{FR}/obama.jpg", "obama.jpg"],
    [f"{FR}/biden.jpg", "biden.jpg"],
    [f"{FR}/lin-manuel-miranda.png", "lin-manuel-miranda.png"],
    [f"{FR}/two_people.jpg", "two_people.jpg"],
    ["testdata/faces/dlib/faces/dogs.jpg", "dogs.jpg"],
]
UNKNOWN = [
    f"{FR}/obama2.jpg",
    f"{FR}/two_people.jpg",
    f"{FR}/alex-lacamoire.png",
    "testdata/faces/dlib/faces/dogs.jpg",
    f"{FR}/biden.jpg",  # 970x2204: over 1600 px, shrunk by test_image first
    f"{FR}/obama-480p.jpg",
    f"{FR}/knn_examples/test/kit_with_rose.jpg",
    "testdata/faces/fr/tests/test_images/obama_partial_face.jpg",  # face at the edge
    "testdata/faces/dlib/faces/2008_001322.jpg",
    "testdata/faces/dlib/faces/Tom_Cruise_avp_2014_4.jpg",
]
DETECT = [
    f"{FR}/two_people.jpg",
    f"{FR}/obama_small.jpg",
    f"{FR}/biden.jpg",
    f"{FR}/lin-manuel-miranda.png",
    f"{FR}/knn_examples/test/kit_with_rose.jpg",
    "testdata/faces/fr/tests/test_images/obama_partial_face.jpg",
    "testdata/faces/dlib/faces/2007_007763.jpg",
    "testdata/faces/dlib/faces/dogs.jpg",
]


def captured(fn):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        fn()
    text = buf.getvalue()
    lines = text.splitlines()
    return (
        [l for l in lines if not l.startswith("WARNING:")],
        [l for l in lines if l.startswith("WARNING:")],
    )


def identify(known_dir, unknowns, tolerance=0.6, show_distance=False, known_shown=None):
    """`face_recognition [--tolerance T] [--show-distance true] KNOWN U` for each U."""

    def run():
        names, encodings = face_recognition_cli.scan_known_people(known_dir)
        for u in unknowns:
            if os.path.isdir(u):
                for f in face_recognition_cli.image_files_in_folder(u):
                    face_recognition_cli.test_image(f, names, encodings, tolerance, show_distance)
            else:
                face_recognition_cli.test_image(u, names, encodings, tolerance, show_distance)

    stdout, warnings = captured(run)
    if known_shown:
        warnings = [w.replace(known_dir, known_shown) for w in warnings]
    return stdout, warnings


def detect(paths):
    """`face_detection P` for each P (--model hog, its only upsampling: 0)."""

    def run():
        for p in paths:
            if os.path.isdir(p):
                for f in face_detection_cli.image_files_in_folder(p):
                    face_detection_cli.test_image(f, "hog")
            else:
                face_detection_cli.test_image(p, "hog")

    return captured(run)[0]


def thumbnail(path, repeat=1, crop=None):
    """test_image's shrinking of a giant photo, as a hash of the pixels it hands on. `repeat`
    and `crop` make a larger photo from a committed one (each pixel an n×n block, then the
    top-left W×H), to reach thumbnail's integer pre-reduction (a side shrunk 4× or more)."""
    img = face_recognition.load_image_file(path)
    img = np.repeat(np.repeat(img, repeat, axis=0), repeat, axis=1)
    if crop:
        img = np.ascontiguousarray(img[: crop[1], : crop[0]])
    pil = PIL.Image.fromarray(img)
    pil.thumbnail((1600, 1600), PIL.Image.LANCZOS)
    arr = np.ascontiguousarray(np.array(pil))
    return {"source": path, "repeat": repeat, "crop": crop, "size": [pil.width, pil.height],
            "rgb_sha256": hashlib.sha256(arr.tobytes()).hexdigest()}


cases = []
with tempfile.TemporaryDirectory() as tmp:
    known = os.path.join(tmp, "known")
    os.mkdir(known)
    for src, name in KNOWN_FILES:
        shutil.copyfile(src, os.path.join(known, name))
    empty = os.path.join(tmp, "empty")
    os.mkdir(empty)

    def case(name, command, args, stdout, warnings=(), **extra):
        cases.append({"name": name, "command": command, "args": args, "stdout": stdout,
                      "warnings": list(warnings), **extra})

    out, warn = identify("examples/demo/known", ["examples/demo/photos"], show_distance=True)
    # examples/demo/photos/biden-phone.jpg carries an EXIF orientation, which face_recognition
    # ignores: facerec matches it with --no-exif (its default turns the photo upright).
    no_exif = {"facerec_flags": ["--no-exif"]}
    case("demo", "identify", ["--show-distance", "true", "examples/demo/known", "examples/demo/photos"],
         out, warn, **no_exif)
    out, warn = identify(known, UNKNOWN, show_distance=True, known_shown="{KNOWN}")
    case("known-rules", "identify", ["--show-distance", "true", "{KNOWN}", *UNKNOWN], out, warn,
         known_files=KNOWN_FILES)
    strict = UNKNOWN[:3] + UNKNOWN[5:6]
    out, warn = identify(known, strict, tolerance=0.45, known_shown="{KNOWN}")
    case("tolerance", "identify", ["--tolerance", "0.45", "{KNOWN}", *strict], out, warn,
         known_files=KNOWN_FILES)
    two = [f"{FR}/two_people.jpg", "testdata/faces/dlib/faces/dogs.jpg"]
    out, warn = identify(empty, two, show_distance=True, known_shown="{KNOWN}")
    case("empty-known", "identify", ["--show-distance", "true", "{KNOWN}", *two], out, warn,
         known_files=[])
    case("detect-files", "detect", DETECT, detect(DETECT))
    case("detect-folder", "detect", ["examples/demo/photos"], detect(["examples/demo/photos"]), **no_exif)

meta = {
    "generator": "scripts/python-baseline/build-references.sh cli (cli_references.py)",
    # The distribution's version: face_recognition 1.3.0's own __version__ still says 1.2.3.
    "face_recognition": metadata.version("face_recognition"),
    "face_recognition.__version__": face_recognition.__version__,
    "face_recognition_models": metadata.version("face_recognition_models"),
    "dlib": dlib.__version__,
    "numpy": np.__version__,
    "pillow": PIL.__version__,
}
thumbnails = [
    thumbnail(f"{FR}/biden.jpg"),  # 970x2204 -> 704x1600: Lanczos only
    # Narrow strips over 6400 px (small, so the unoptimised test build checks them fast):
    thumbnail(f"{FR}/biden.jpg", 3, [301, 6611]),  # reduced 2x2, partial last blocks; vertical pass first
    thumbnail(f"{FR}/two_people.jpg", 6, [6755, 401]),  # reduced 2x2; horizontal pass first
]
doc = {"meta": meta, "cases": cases, "thumbnails": thumbnails}
with open(out_path, "w") as f:
    json.dump(doc, f, indent=1, sort_keys=True)
    f.write("\n")
print(f"wrote {len(cases)} cases to {out_path}")
