#!/usr/bin/python3
"""TAP: the fidelity radar chart is valid SVG (parsed with xml.etree: six axes, one polygon per
set, legend names as given, vertices where the inverted scale puts them), and, when a Chromium is
installed, a headless screenshot of it is not blank and shows the six axes and the polygons."""
import math
import os
import shutil
import sys
import tempfile
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import taplib  # noqa: E402

NS = {"s": "http://www.w3.org/2000/svg"}
tap = taplib.Tap()
ok, skip = tap.ok, tap.skip


def psql(sql):
    return taplib.psql(sql).rstrip("\n")


NAMES = ["llama <v1> & \"best\"", "mamba 'ß'", "cvae"]
ROWS = """SELECT 'c' || (i % 4), ARRAY(SELECT ((i * {m} + j * j) % {k} + 1) * (1 - 2 * ((i + j) % 2))
                                    FROM generate_series(1, (i * 3 + i / 5) % 6) j)::int[]
            FROM generate_series(1, 400) i"""


def chart_from_queries():
    real = ROWS.format(m=7, k=19)
    synth = [ROWS.format(m=7, k=19) + " WHERE i % 3 <> 0", ROWS.format(m=11, k=19), ROWS.format(m=5, k=41)]
    lit = lambda s: "'" + s.replace("'", "''") + "'"
    return psql("SET client_min_messages = error; SELECT ntg.fidelity_radar("
                f"{lit(real)}, ARRAY[{', '.join(map(lit, synth))}], "
                f"ARRAY[{', '.join(map(lit, NAMES))}], 'three generators')")


def chart_from_values(names, rows, scale="NULL"):
    arr = "ARRAY[" + ", ".join("[" + ", ".join(map(repr, r)) + "]" for r in rows) + "]::float8[]"
    lit = lambda s: "'" + s.replace("'", "''") + "'"
    return psql(f"SELECT ntg.fidelity_radar_svg(ARRAY[{', '.join(map(lit, names))}], {arr}, NULL, {scale})")


def parse_checks(svg, names, label):
    try:
        root = ET.fromstring(svg.encode("utf-8"))
    except ET.ParseError as e:
        ok(False, f"{label}: parses as XML", str(e))
        skip(3, "not XML")
        return None
    ok(root.tag == "{http://www.w3.org/2000/svg}svg", f"{label}: parses as XML, root is <svg>")
    axes = root.findall(".//s:line[@class='axis']", NS)
    ok(len(axes) == 6, f"{label}: six axes", f"found {len(axes)}")
    polys = root.findall(".//s:polygon[@class='series']", NS)
    ok(len(polys) == len(names), f"{label}: one polygon per set", f"found {len(polys)}")
    legend = [t.text for t in root.findall(".//s:g[@id='legend']/s:text", NS)]
    ok(legend == names, f"{label}: legend names come back exactly", f"{legend!r}")
    return root


def geometry_checks(root, values, scale):
    """Each vertex at radius R * (1 - v / scale) along its axis."""
    axes = root.findall(".//s:line[@class='axis']", NS)
    cx, cy = float(axes[0].get("x1")), float(axes[0].get("y1"))
    ends = [(float(a.get("x2")), float(a.get("y2"))) for a in axes]
    radius = math.dist((cx, cy), ends[0])
    worst = 0.0
    for poly, row in zip(root.findall(".//s:polygon[@class='series']", NS), values):
        pts = [tuple(map(float, p.split(","))) for p in poly.get("points").split()]
        for (x, y), (ex, ey), v in zip(pts, ends, row):
            want = radius * (1 - min(v, scale) / scale)
            # distance from the centre, and on the axis (cross product ~ 0)
            worst = max(worst, abs(math.dist((cx, cy), (x, y)) - want),
                        abs((x - cx) * (ey - cy) - (y - cy) * (ex - cx)) / radius)
    ok(worst < 0.2, "vertices lie on their axes at R(1 - v/scale): 0 on the outer edge",
       f"worst error {worst:.3f} px")


from svgshot import find_browser, screenshot  # noqa: E402


def browser_checks(browser, chart, root):
    tmp = tempfile.mkdtemp()
    try:
        shot = screenshot(browser, chart, tmp, "chart")
        ok(shot is not None, "Chromium renders the chart to a PNG")
        if shot is None:
            skip(3, "no screenshot")
            return
        w, h, px = shot
        dark = sum(1 for row in px for p in row if sum(p) < 600)
        ok(dark > 0.01 * w * h, "the screenshot is not blank", f"{dark} non-white pixels of {w * h}")
        blue = sum(1 for row in px for (r, g, b) in row if b > 150 and r < 90 and 90 < g < 150)
        ok(blue > 200, "the first set's polygon (blue) is drawn", f"{blue} blue pixels")
        # Axes alone (values 1 on a scale of 1 collapse the polygon to the centre): along every
        # axis direction, the pixel at 0.9 R is darker than the pixels 6 degrees to either side.
        axes = root.findall(".//s:line[@class='axis']", NS)
        cx, cy = float(axes[0].get("x1")), float(axes[0].get("y1"))
        radius = math.dist((cx, cy), (float(axes[0].get("x2")), float(axes[0].get("y2"))))
        _, _, apx = screenshot(browser, chart_from_values(["x"], [[1.0] * 6], "1"), tmp, "axes")
        lum = lambda x, y: sum(apx[int(round(y))][int(round(x))])
        seen = 0
        for k in range(6):
            t = -math.pi / 2 + 2 * math.pi * k / 6
            on = min(lum(cx + 0.9 * radius * math.cos(t) + dx, cy + 0.9 * radius * math.sin(t) + dy)
                     for dx in (-1, 0, 1) for dy in (-1, 0, 1))
            off = min(lum(cx + 0.9 * radius * math.cos(t + s), cy + 0.9 * radius * math.sin(t + s))
                      for s in (-0.1, 0.1))
            seen += on + 60 < off
        ok(seen == 6, "the screenshot shows six axes", f"{seen} of 6 axes found")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    chart = chart_from_queries()
    root = parse_checks(chart, NAMES, "fidelity_radar")
    values = [[0.0, 0.01, 0.02, 0.05, 0.1, 0.2], [0.3, 0.25, 0.15, 0.5, 0.45, 0.0]]
    vroot = parse_checks(chart_from_values(["a", "b"], values), ["a", "b"], "fidelity_radar_svg")
    if vroot is not None:
        geometry_checks(vroot, values, 0.5)
    many = [f"set {i}" for i in range(12)]
    parse_checks(chart_from_values(many, [[i / 20] * 6 for i in range(12)]), many, "12 sets")
    browser = find_browser()
    if browser and root is not None:
        browser_checks(browser, chart, root)
    else:
        skip(4, "no Chromium installed: the screenshot checks need /usr/bin/chromium")
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
