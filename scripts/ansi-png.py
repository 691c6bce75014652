#!/usr/bin/env python3
"""Renders a terminal capture with SGR colours (`tmux capture-pane -e -p`)
to a PNG, one monospace cell per character: the README's TUI screenshot.

    tmux capture-pane -e -p -t main > screen.ansi
    python3 scripts/ansi-png.py screen.ansi docs/img/tui.png

Needs Pillow (`pip install pillow`) and DejaVu Sans Mono (fonts-dejavu-core).
Understands what tmux writes: SGR 0/1/2/7/22/27, 30-37/90-97, 40-47/100-107,
39/49, and 38/48 with ;5;N or ;2;R;G;B.
"""

import re
import sys

from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"
BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf"
SIZE = 15
FG, BG = (220, 220, 220), (24, 24, 28)
# xterm's 16 colours.
BASE = [
    (0, 0, 0), (205, 49, 49), (13, 188, 121), (229, 229, 16),
    (36, 114, 200), (188, 63, 188), (17, 168, 205), (229, 229, 229),
    (102, 102, 102), (241, 76, 76), (35, 209, 139), (245, 245, 67),
    (59, 142, 234), (214, 112, 214), (41, 184, 219), (255, 255, 255),
]


def xterm256(n):
    if n < 16:
        return BASE[n]
    if n < 232:
        n -= 16
        steps = [0, 95, 135, 175, 215, 255]
        return (steps[n // 36], steps[(n // 6) % 6], steps[n % 6])
    v = 8 + (n - 232) * 10
    return (v, v, v)


def parse(text):
    """Yields rows of (char, fg, bg, bold) cells."""
    rows = []
    fg, bg, bold, rev = None, None, False, False
    for line in text.split("\n"):
        row = []
        for part in re.split(r"(\x1b\[[0-9;]*m)", line):
            if part.startswith("\x1b["):
                ps = [int(p) if p else 0 for p in part[2:-1].split(";")]
                i = 0
                while i < len(ps):
                    p = ps[i]
                    if p == 0:
                        fg, bg, bold, rev = None, None, False, False
                    elif p == 1:
                        bold = True
                    elif p == 22:
                        bold = False
                    elif p == 7:
                        rev = True
                    elif p == 27:
                        rev = False
                    elif 30 <= p <= 37:
                        fg = BASE[p - 30]
                    elif 90 <= p <= 97:
                        fg = BASE[p - 90 + 8]
                    elif 40 <= p <= 47:
                        bg = BASE[p - 40]
                    elif 100 <= p <= 107:
                        bg = BASE[p - 100 + 8]
                    elif p == 39:
                        fg = None
                    elif p == 49:
                        bg = None
                    elif p in (38, 48) and i + 1 < len(ps):
                        if ps[i + 1] == 5 and i + 2 < len(ps):
                            c = xterm256(ps[i + 2])
                            i += 2
                        elif ps[i + 1] == 2 and i + 4 < len(ps):
                            c = tuple(ps[i + 2:i + 5])
                            i += 4
                        else:
                            c = None
                        if p == 38:
                            fg = c
                        else:
                            bg = c
                    i += 1
                continue
            for ch in part:
                f, b = fg or FG, bg or BG
                if rev:
                    f, b = b, f
                row.append((ch, f, b, bold))
        rows.append(row)
    while rows and not rows[-1]:
        rows.pop()
    return rows


def main():
    src, dst = sys.argv[1], sys.argv[2]
    rows = parse(open(src, encoding="utf-8", errors="replace").read())
    font = ImageFont.truetype(FONT, SIZE)
    bold = ImageFont.truetype(BOLD, SIZE)
    cw = round(font.getlength("M"))
    ch = round(SIZE * 1.3)
    width = max(len(r) for r in rows)
    img = Image.new("RGB", (width * cw + 16, len(rows) * ch + 16), BG)
    d = ImageDraw.Draw(img)
    for y, row in enumerate(rows):
        for x, (c, f, b, bd) in enumerate(row):
            px, py = 8 + x * cw, 8 + y * ch
            if b != BG:
                d.rectangle([px, py, px + cw - 1, py + ch - 1], fill=b)
            if c in "█▀▄":
                # Block elements fill the whole cell (a font's glyph leaves
                # gaps between lines).
                top = py if c != "▄" else py + ch // 2
                bot = py + ch - 1 if c != "▀" else py + ch // 2
                d.rectangle([px, top, px + cw - 1, bot], fill=f)
            elif c != " ":
                d.text((px, py + 2), c, font=bold if bd else font, fill=f)
    img.save(dst)


if __name__ == "__main__":
    main()
