#!/usr/bin/env bash
# Draw docs/cli.md's pictures with facerec itself: docs/images/annotated.png (annotate) and
# docs/images/contact-sheet.png (cluster). Run from anywhere after `make demo` or a build;
# FACEREC=path/to/facerec to choose the binary (default: cargo run).
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
facerec() {
  if [ -n "${FACEREC:-}" ]; then "$FACEREC" "$@"; else cargo run --quiet -p facerec-cli -- "$@"; fi
}
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/known" "$tmp/johns" docs/images
cp testdata/faces/fr/examples/obama.jpg testdata/faces/fr/examples/biden.jpg "$tmp/known/"
facerec enroll "$tmp/known" -o "$tmp/gallery.json"
facerec annotate --gallery "$tmp/gallery.json" --max-side 480 --png -o "$tmp/annotated" \
  testdata/faces/fr/examples/two_people.jpg
cp "$tmp/annotated/two_people.png" docs/images/annotated.png
for person in testdata/faces/dlib/johns/*/; do
  for f in "$person"*; do cp "$f" "$tmp/johns/$(basename "$person")__$(basename "$f")"; done
done
facerec cluster "$tmp/johns" -o "$tmp/clusters"
cp "$tmp/clusters/cluster-0.png" docs/images/contact-sheet.png
ls -l docs/images/
