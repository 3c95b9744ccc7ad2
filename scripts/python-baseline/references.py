"""Write face_recognition's (dlib's) outputs for testdata/faces into testdata/references/.

Run through build-references.sh, which makes the throw-away venv. Outputs:
  chips.json  - aligned 150x150 chips (dlib/johns): dlib's 128-d descriptor of each chip as given
  photos.json - every other photo: hog boxes (upsample 0 and 1, face_recognition's trimmed css order),
                raw dlib rects with detector scores, 5-point landmarks and encodings at upsample 1
                both ways face_recognition computes them: from the trimmed boxes, as its docs use it
                (face_encodings(img, face_locations(img))), and its default, face_encodings(img),
                which places the landmarks on the untrimmed detector rectangles (what its CLI does).
"""
import glob
import importlib.metadata as metadata
import json
import os
import sys

import dlib
import face_recognition as fr
from face_recognition import api as fr_api
import numpy as np

faces_root, out_dir = sys.argv[1], sys.argv[2]


def rel(p):
    return os.path.relpath(p, faces_root)


def floats(a):
    return [float(x) for x in a]


chips = {}
for path in sorted(glob.glob(os.path.join(faces_root, "dlib/johns/*/*.jpg"))):
    img = fr.load_image_file(path)
    assert img.shape == (150, 150, 3), path
    chips[rel(path)] = floats(fr_api.face_encoder.compute_face_descriptor(img))

photos = {}
for path in sorted(glob.glob(os.path.join(faces_root, "**/*.*"), recursive=True)):
    if "/johns/" in path or not path.lower().endswith((".jpg", ".jpeg", ".png")):
        continue
    img = fr.load_image_file(path)
    entry = {"height": int(img.shape[0]), "width": int(img.shape[1])}
    for up in (0, 1):
        rects, scores, idx = fr_api.face_detector.run(img, up, 0.0)
        entry[f"raw_upsample{up}"] = [
            {"ltrb": [r.left(), r.top(), r.right(), r.bottom()], "score": float(s), "weight_index": int(i)}
            for r, s, i in zip(rects, scores, idx)
        ]
        entry[f"boxes_upsample{up}"] = [list(b) for b in fr.face_locations(img, up)]
    locs = fr.face_locations(img, 1)
    shapes = fr_api._raw_face_landmarks(img, locs, model="small")
    entry["landmarks5"] = [[[p.x, p.y] for p in s.parts()] for s in shapes]
    entry["encodings"] = [floats(e) for e in fr.face_encodings(img, locs)]
    raw_shapes = fr_api._raw_face_landmarks(img, None, model="small")
    entry["landmarks5_default"] = [[[p.x, p.y] for p in s.parts()] for s in raw_shapes]
    entry["encodings_default"] = [floats(e) for e in fr.face_encodings(img)]
    photos[rel(path)] = entry

# The distribution's version: face_recognition 1.3.0's own __version__ still says 1.2.3.
meta = {"generator": "scripts/python-baseline/build-references.sh",
        "dlib": dlib.__version__, "face_recognition": metadata.version("face_recognition"),
        "numpy": np.__version__}
for name, data in (("chips.json", chips), ("photos.json", photos)):
    with open(os.path.join(out_dir, name), "w") as f:
        json.dump({"meta": meta, "items": data}, f, indent=1, sort_keys=True)
        f.write("\n")
print(f"wrote {len(chips)} chips, {len(photos)} photos to {out_dir}")
