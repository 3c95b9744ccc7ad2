"""Record the pixels Pillow gives for committed JPEGs decoded with `draft` (libjpeg's DCT
scaling) and shrunk with Lanczos, into testdata/references/drafts.json.
crates/job/tests/draft.rs holds `facerec_job::shrink::decode_fitted` (what `facerec run`
and the worker do to a big JPEG) to these hashes.

Run through build-references.sh (it makes the throw-away venv), from any folder:
    scripts/python-baseline/build-references.sh drafts

For each case: the target is Pillow's `thumbnail((m, m))` size of the upright photo; the
file is opened, `draft("RGB", target)` picks the DCT scale (the target in the stored
orientation: a quarter-turned photo's sides swap), the result is converted to RGB (CMYK
with Pillow's formula), turned upright with `exif_transpose` when asked, and resized to
the target with `resize(target, LANCZOS, box=(0, 0, W / scale, H / scale),
reducing_gap=2.0)` — what `thumbnail` itself does when its own `draft` call scales.
"""
import hashlib
import json
import sys

import numpy as np
import PIL
from PIL import Image, ImageOps, features

repo_root, out_path = sys.argv[1], sys.argv[2]

FR = "testdata/faces/fr/examples"
# (path, max side, turn upright by EXIF). Chosen to reach every DCT scale, 4:2:0 and 4:4:4
# sampling, CMYK, a progressive file, a box ending mid-pixel (1986 / 4), the
# pre-reduction after a 1/8 decode (max side 50), and an EXIF-rotated photo.
CASES = [
    ("testdata/faces/dlib/faces/bald_guys.jpg", 800, False),  # 1986x1545, 4:2:0: 1/2
    ("testdata/faces/dlib/faces/bald_guys.jpg", 400, False),  # 1/4, box 496.5 x 386.25
    ("testdata/faces/dlib/faces/bald_guys.jpg", 200, False),  # 1/8
    ("testdata/faces/dlib/faces/bald_guys.jpg", 50, False),  # 1/8, then reduce 2x2
    (f"{FR}/knn_examples/test/obama_and_biden.jpg", 640, False),  # 2000x1428, 4:4:4: 1/2
    (f"{FR}/biden.jpg", 500, False),  # 970x2204 portrait: 1/4
    ("testdata/formats/cmyk.jpg", 160, False),  # Adobe CMYK: 1/2
    ("testdata/formats/progressive.jpg", 100, False),  # progressive: 1/2
    ("examples/demo/photos/biden-phone.jpg", 160, True),  # EXIF orientation 6: 1/4
    (f"{FR}/biden.jpg", 1600, False),  # over 1600 but under 2x: full decode (draft 1)
]


def thumbnail_size(size, m):
    probe = Image.new("1", size)
    probe.thumbnail((m, m))
    return probe.size


def case(path, max_side, upright):
    im = Image.open(f"{repo_root}/{path}")
    orientation = im.getexif().get(0x0112, 1) if upright else 1
    turned = orientation in (5, 6, 7, 8)
    own = im.size[::-1] if turned else im.size
    target = thumbnail_size(own, max_side)
    stored_target = target[::-1] if turned else target
    _, box = im.draft("RGB", stored_target)
    scale = im.decoderconfig[0]
    im = im.convert("RGB")
    if upright:
        im = ImageOps.exif_transpose(im)
        box = (0, 0, own[0] / scale, own[1] / scale)
    out = im.resize(target, Image.LANCZOS, box=box, reducing_gap=2.0)
    arr = np.ascontiguousarray(np.array(out))
    return {
        "source": path,
        "max_side": max_side,
        "exif_orientation": upright,
        "size": list(own),
        "draft_scale": scale,
        "fitted": [out.width, out.height],
        "rgb_sha256": hashlib.sha256(arr.tobytes()).hexdigest(),
    }


doc = {
    "meta": {
        "generator": "scripts/python-baseline/build-references.sh drafts (draft_references.py)",
        "pillow": PIL.__version__,
        "libjpeg_turbo": features.version("libjpeg_turbo"),
    },
    "cases": [case(*c) for c in CASES],
}
with open(out_path, "w") as f:
    json.dump(doc, f, indent=1, sort_keys=True)
    f.write("\n")
print(f"wrote {len(doc['cases'])} cases to {out_path}")
