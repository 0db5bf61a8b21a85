#!/usr/bin/env bash
# Check a report.html as a reader sees it: render it in headless Chromium (Debian's `chromium`), cut the
# screenshot into 1200x3000 tiles to look at, and fail when the page shows raw markdown or lacks the
# parts a study's report must have (tables, 95% intervals, commit, device, precision, example traces).
#
#   scripts/check_report.sh runs/default/report.html [OUT_DIR]     # tiles: OUT_DIR/report-1.png, ...
#
# Needs: chromium (apt-get install chromium) and Python with Pillow (a matplotlib dependency).
set -euo pipefail

page=${1:?usage: scripts/check_report.sh REPORT.html [OUT_DIR]}
out=${2:-$(dirname "$page")/screenshots}
height=${HEIGHT:-12000}
python=${PYTHON:-python3}
[ -f "$page" ] || { echo "error: no such file: $page" >&2; exit 2; }
command -v chromium >/dev/null || { echo "error: chromium not found (apt-get install chromium)" >&2; exit 2; }
mkdir -p "$out"
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
tall="$out/full.png"
chromium --headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update \
  --disable-sync --no-first-run --user-data-dir="$profile" --hide-scrollbars \
  --window-size=1200,"$height" --screenshot="$tall" "file://$(realpath "$page")" >/dev/null 2>&1
dom=$(chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
  --disable-component-update --disable-sync --no-first-run --user-data-dir="$profile" \
  --dump-dom "file://$(realpath "$page")" 2>/dev/null)

# Tiles of 1200x3000 (blank tail dropped), so each can be looked at in turn.
"$python" - "$tall" "$out" <<'EOF'
import sys
from PIL import Image, ImageChops

tall, out = sys.argv[1], sys.argv[2]
image = Image.open(tall).convert("RGB")
background = Image.new("RGB", image.size, image.getpixel((0, image.height - 1)))
box = ImageChops.difference(image, background).getbbox()
bottom = box[3] + 20 if box else image.height
for i, top in enumerate(range(0, bottom, 3000), 1):
    path = f"{out}/report-{i}.png"
    image.crop((0, top, image.width, min(top + 3000, bottom))).save(path)
    print(path)
EOF

status=0
need() {  # need DESCRIPTION PATTERN: the rendered DOM must match PATTERN
  if ! grep -Eq -- "$2" <<<"$dom"; then echo "missing: $1" >&2; status=1; fi
}
need "rendered tables" "<table>"
need "headings" "<h2>"
need "95% intervals" "95% CI"
need "git commit" "git commit"
need "device" "<td>device</td>"
need "precision" "[Pp]recision"
need "example traces" "Example trace"
need "the winner table" "Which strategy wins"
if grep -Eq -- '\|---|^## |<pre>[^<]*\| model \|' <<<"$dom"; then
  echo "raw markdown on the page" >&2
  status=1
fi
[ $status -eq 0 ] && echo "ok: $page renders as a page (tiles in $out)"
exit $status
