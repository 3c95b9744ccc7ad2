"""Record what dlib's Chinese whispers (`dlib.chinese_whispers_clustering`, as
face_recognition users call it, and as dlib's face_clustering.py example does) makes of the
faces of committed photos, into testdata/references/clusters.json.
crates/cli/src/chinese_whispers.rs feeds the very same descriptors to its port and must give
the very same labels (dlib's default-seeded RNG included); crates/cli/tests/cluster_cli.rs
checks `facerec cluster`'s grouping of the same photos.

Run through build-references.sh (it makes the throw-away venv), from any folder:
    scripts/python-baseline/build-references.sh cluster

Descriptors: face_recognition.face_encodings(load_image_file(p)) (HOG, upsample 1), faces in
detector order, photos in the order listed. The threshold is dlib's `length(a - b) < t`.
"""
import importlib.metadata as metadata
import json
import os
import sys

import dlib
import face_recognition

repo_root, out_path = sys.argv[1], sys.argv[2]
os.chdir(repo_root)

JOHNS = "testdata/faces/dlib/johns"
PHOTOS = [f"{JOHNS}/{person}/{f}" for person in sorted(os.listdir(JOHNS))
          for f in sorted(os.listdir(f"{JOHNS}/{person}"))]
FR = "testdata/faces/fr/examples"
# Several people per photo and near-duplicates (the same face at four sizes), so that at the
# looser thresholds clusters chain and the outcome depends on the random node order.
PHOTOS += [
    f"{FR}/two_people.jpg", f"{FR}/obama.jpg", f"{FR}/obama2.jpg", f"{FR}/obama-240p.jpg",
    f"{FR}/biden.jpg", f"{FR}/knn_examples/test/obama_and_biden.jpg",
    "testdata/faces/dlib/faces/bald_guys.jpg", "testdata/faces/dlib/faces/2008_002470.jpg",
    "testdata/faces/dlib/faces/2009_004587.jpg",
]
THRESHOLDS = [0.5, 0.6, 0.7, 0.8]

faces = []
for p in PHOTOS:
    img = face_recognition.load_image_file(p)
    boxes = face_recognition.face_locations(img)
    encs = face_recognition.face_encodings(img, boxes)
    for b, e in zip(boxes, encs):
        faces.append({"file": p, "box": list(b), "encoding": [float(x) for x in e]})

descriptors = [dlib.vector(f["encoding"]) for f in faces]
runs = [{"threshold": t, "labels": list(dlib.chinese_whispers_clustering(descriptors, t))}
        for t in THRESHOLDS]
doc = {
    "meta": {
        "generator": "scripts/python-baseline/build-references.sh cluster (cluster_references.py)",
        "dlib": dlib.__version__,
        "face_recognition": metadata.version("face_recognition"),
        "call": "dlib.chinese_whispers_clustering(descriptors, threshold)",
    },
    "faces": faces,
    "runs": runs,
}
with open(out_path, "w") as f:
    json.dump(doc, f, indent=None, separators=(",", ":"))
    f.write("\n")
print(f"wrote {len(faces)} faces, {len(runs)} runs to {out_path}")
