"""Benchmark face_recognition (dlib-bin wheel) the way scripts/bench-engine.sh benchmarks our
engine: model load, detection (hog, upsample 1), embedding per face, end to end, peak RSS.
Prints one JSON object. Usage: bench.py [--e2e-only] [--processes N] PHOTO_DIR_OR_FILE..."""
import json
import os
import resource
import sys
import time

args = sys.argv[1:]
e2e_only = "--e2e-only" in args
processes = 1
if "--processes" in args:
    processes = int(args[args.index("--processes") + 1])
paths = []
skip = False
for i, a in enumerate(args):
    if skip:
        skip = False
        continue
    if a == "--processes":
        skip = True
        continue
    if a.startswith("--"):
        continue
    if os.path.isdir(a):
        for root, _, files in sorted(os.walk(a)):
            paths += [os.path.join(root, f) for f in sorted(files) if f.lower().endswith((".jpg", ".jpeg", ".png"))]
    else:
        paths.append(a)

t = time.perf_counter()
import dlib  # noqa: E402
import face_recognition as fr  # noqa: E402  (loads all models at import)
from face_recognition import api  # noqa: E402
load_s = time.perf_counter() - t


def cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def encode(path):
    img = fr.load_image_file(path)
    return len(fr.face_encodings(img, fr.face_locations(img, 1)))


out = {"images": len(paths), "processes": processes, "model_load_s": load_s}
if not e2e_only:
    images = [fr.load_image_file(p) for p in paths]
    c0 = cpu_seconds()
    boxes = [fr.face_locations(img, 1) for img in images]
    out["detect_images_per_cpu_s"] = len(images) / (cpu_seconds() - c0)
    chips = []
    for img, bs in zip(images, boxes):
        for b in bs:
            shape = api.pose_predictor_5_point(img, api._css_to_rect(b))
            chips.append(dlib.get_face_chip(img, shape, 150, 0.25))
    c0 = cpu_seconds()
    for c in chips:
        api.face_encoder.compute_face_descriptor(c)
    out["embed_cpu_ms_per_face"] = 1000 * (cpu_seconds() - c0) / max(len(chips), 1)
    del images

if processes == 1:
    t = time.perf_counter()
    cpu0 = cpu_seconds()
    faces = sum(encode(p) for p in paths)
    out["end_to_end_images_per_s"] = len(paths) / (time.perf_counter() - t)
    out["end_to_end_cpu_s_per_image"] = (cpu_seconds() - cpu0) / len(paths)
else:
    import multiprocessing as mp

    with mp.get_context("fork").Pool(processes) as pool:
        pool.map(encode, paths[:processes])  # warm up the workers
        t = time.perf_counter()
        faces = sum(pool.map(encode, paths, chunksize=1))
        out["end_to_end_images_per_s"] = len(paths) / (time.perf_counter() - t)
out["faces"] = faces
out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
