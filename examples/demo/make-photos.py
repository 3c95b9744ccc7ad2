"""Rebuild the demo photos of examples/demo from public-domain sources (SOURCES.md).

    python3 examples/demo/make-photos.py      # needs Pillow (the baseline venv has it:
                                              # scripts/python-baseline/make-venv.sh DIR)

Sources: the official portraits of Barack Obama and Joe Biden (US government works) in
testdata/faces/fr/examples/, and NASA's portrait of Eileen Collins (scikit-image's
astronaut.png, kept unchanged in sources/). The known photos are the two portraits as they
are; every photo to recognise is derived from the three by the steps below: crops,
rescales, a side-by-side composite and a rotation with an EXIF orientation tag. The
outputs are committed; re-run only to change the set.
"""
import os
import shutil

from PIL import Image

here = os.path.dirname(os.path.abspath(__file__))
repo = os.path.dirname(os.path.dirname(here))
portraits = os.path.join(repo, "testdata", "faces", "fr", "examples")
known = os.path.join(here, "known")
photos = os.path.join(here, "photos")
os.makedirs(known, exist_ok=True)
os.makedirs(photos, exist_ok=True)

# The gallery: the two portraits as they are.
for name in ("obama.jpg", "biden.jpg"):
    shutil.copyfile(os.path.join(portraits, name), os.path.join(known, name))

obama = Image.open(os.path.join(portraits, "obama.jpg")).convert("RGB")
biden = Image.open(os.path.join(portraits, "biden.jpg")).convert("RGB")
collins = Image.open(os.path.join(here, "sources", "astronaut.png")).convert("RGB")


def save_jpeg(img, name, **kw):
    img.save(os.path.join(photos, name), "JPEG", quality=90, **kw)


def height(img, h):
    return img.resize((round(img.width * h / img.height), h), Image.LANCZOS)


# Two people side by side, both portraits 560 px tall (Obama left, Biden's head and
# shoulders right).
left = height(obama, 560)
right = height(biden.crop((0, 0, biden.width, biden.width * 1137 // 910)), 560)
pair = Image.new("RGB", (left.width + right.width, 560), (255, 255, 255))
pair.paste(left, (0, 0))
pair.paste(right, (left.width, 0))
save_jpeg(pair, "obama-and-biden.jpg")

# A small copy: the face is about 60 px wide (found thanks to upsampling once).
save_jpeg(height(obama, 240), "obama-small.jpg")

# A phone photo: pixels stored sideways, EXIF Orientation 6 ("rotate 90° clockwise to
# view"). Viewers (and facerec by default) show it upright; face_recognition does not.
head = height(biden.crop((0, 0, biden.width, biden.width)), 640)
sideways = head.transpose(Image.Transpose.ROTATE_90)
exif = Image.Exif()
exif[0x0112] = 6
save_jpeg(sideways, "biden-phone.jpg", exif=exif.tobytes())

# An unknown person (not enrolled): Eileen Collins, head and shoulders. The crop stops above
# her mission patch, which dlib's HOG detector takes for a face.
save_jpeg(collins.crop((0, 0, 512, 320)), "eileen-collins.jpg")

# No face: the space-shuttle model beside her.
save_jpeg(collins.crop((340, 0, 512, 300)), "no-face.jpg")
print("wrote", sorted(os.listdir(known)), sorted(os.listdir(photos)))
