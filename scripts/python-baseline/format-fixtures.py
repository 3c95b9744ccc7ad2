"""Writes testdata/formats/: one small file of each image format facerec accepts, made by
Pillow from testdata/faces/fr/examples/obama_small.jpg, and pillow-decoded.json with the
SHA-256 of the RGB pixels Pillow decodes from each (what face_recognition's
load_image_file sees). Run with the baseline venv (scripts/python-baseline/make-venv.sh):

    /var/tmp/fr-venv/bin/python scripts/python-baseline/format-fixtures.py
"""
import hashlib
import json
import os

import PIL
import PIL.Image as Image

repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
out_dir = os.path.join(repo, "testdata", "formats")
os.makedirs(out_dir, exist_ok=True)
os.chdir(out_dir)
src = Image.open(os.path.join(repo, "testdata/faces/fr/examples/obama_small.jpg")).convert("RGB")
pal = src.convert("P", palette=Image.ADAPTIVE, colors=256)
src.convert("CMYK").save("cmyk.jpg", quality=90)  # Pillow writes an Adobe APP14, inverted
src.save("progressive.jpg", quality=90, progressive=True)
src.save("lossless.webp", lossless=True)
src.save("lossy.webp", quality=80)
pal.save("first-frame.gif", save_all=True,
         append_images=[src.rotate(90).convert("P", palette=Image.ADAPTIVE)])
src.save("rgb.bmp")
src.save("rgb.tiff")
pal.save("palette.png")
src.convert("LA").save("grey-alpha.png")
names = ["cmyk.jpg", "progressive.jpg", "lossless.webp", "lossy.webp", "first-frame.gif",
         "rgb.bmp", "rgb.tiff", "palette.png", "grey-alpha.png"]
decoded = {}
for name in names:
    im = Image.open(name)
    rgb = im.convert("RGB")
    decoded[name] = {"mode": im.mode, "size": list(rgb.size),
                     "rgb_sha256": hashlib.sha256(rgb.tobytes()).hexdigest()}
with open("pillow-decoded.json", "w") as f:
    json.dump(decoded, f, indent=1, sort_keys=True)
print(f"Pillow {PIL.__version__}: wrote {len(names)} files to {out_dir}")
