#!/usr/bin/python3
"""TAP: the privacy-utility frontier chart (ntg.frontier_svg) is valid SVG — one point per row where
its TSTR ratio and leakage put it, names as given, the reference point and bars at real_leakage and
0.95, the frontier through exactly the points no other point beats on both — and, when a Chromium
is installed, a headless screenshot shows the points and the shaded region of "as good as real"."""
import os
import shutil
import sys
import tempfile
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import taplib  # noqa: E402
from svgshot import find_browser, screenshot  # noqa: E402

NS = {"s": "http://www.w3.org/2000/svg"}
tap = taplib.Tap()
ok, skip = tap.ok, tap.skip

POINTS = [("llama <10 epochs> & \"fast\"", 0.82, 0.125), ("llama 'ß' tn 0.6", 0.91, 0.142),
          ("llama 40 epochs", 0.986, 0.296), ("bootstrap copier", 0.99, 0.326), ("smote", 0.70, 0.05),
          ("dominated", 0.80, 0.20), ("tie on leakage", 0.75, 0.125)]
REAL = 0.156


def lit(s):
    return "'" + s.replace("'", "''") + "'"


def chart(points, real=REAL):
    rows = " UNION ALL ".join(f"SELECT {lit(n)}::text, {t}::float8, {l}::float8" for n, t, l in points)
    return taplib.psql(f"SELECT ntg.frontier_svg({lit(rows)}, {real}, 'test frontier')").rstrip("\n")


def pareto(points):
    """The points no other point beats: lower or equal leakage and higher or equal TSTR, one strictly."""
    return sorted({(l, t) for n, t, l in points
                   if not any(l2 <= l and t2 >= t and (l2 < l or t2 > t) for _, t2, l2 in points)})


def main():
    svg = chart(POINTS)
    try:
        root = ET.fromstring(svg.encode("utf-8"))
    except ET.ParseError as e:
        ok(False, "parses as XML", str(e))
        return tap.done()
    ok(root.tag == "{http://www.w3.org/2000/svg}svg", "parses as XML, root is <svg>")
    circles = root.findall(".//s:circle[@class='point']", NS)
    ok(len(circles) == len(POINTS), "one point per row", f"found {len(circles)}")
    names = [t.text for t in root.findall(".//s:text[@class='entry']/s:tspan[@class='name']", NS)]
    want = [n for n, t, l in sorted(POINTS, key=lambda p: (p[2], -p[1], p[0]))]
    ok(names == want, "legend names come back exactly, by leakage", f"{names!r}")
    titles = [c.find("s:title", NS).text for c in circles]
    ok(all(t.startswith(n + ":") for t, n in zip(titles, want)), "each point's tooltip names it")

    # geometry: x is linear in leakage and y in the TSTR ratio, fitted on two points, checked on all
    xy = [(float(c.get("cx")), float(c.get("cy"))) for c in circles]
    vals = sorted(POINTS, key=lambda p: (p[2], -p[1], p[0]))
    (x0, y0), (x1, y1) = xy[0], xy[-1]
    ax, ay = (x1 - x0) / (vals[-1][2] - vals[0][2]), (y1 - y0) / (vals[-1][1] - vals[0][1])
    worst = max(max(abs(x0 + ax * (v[2] - vals[0][2]) - x), abs(y0 + ay * (v[1] - vals[0][1]) - y))
                for (x, y), v in zip(xy, vals))
    ok(worst < 0.2 and ax > 0 and ay < 0, "points where leakage (x, rightwards) and TSTR ratio (y, upwards) put them",
       f"worst error {worst:.3f} px")
    bar = root.find(".//s:line[@class='privacy-bar']", NS)
    ok(bar is not None and abs(float(bar.get("x1")) - (x0 + ax * (REAL - vals[0][2]))) < 0.2,
       "the privacy bar at real_leakage")
    ubar = root.find(".//s:line[@class='utility-bar']", NS)
    ok(ubar is not None and abs(float(ubar.get("y1")) - (y0 + ay * (0.95 - vals[0][1]))) < 0.2,
       "the utility bar at TSTR ratio 0.95")
    ref = root.find(".//s:path[@class='reference']", NS)
    mx, my = (float(v) for v in ref.get("d").split()[1:3])
    ok(abs(mx - (x0 + ax * (REAL - vals[0][2]))) < 0.2 and abs(my + 7 - (y0 + ay * (1.0 - vals[0][1]))) < 0.2,
       "the reference point at (real_leakage, TSTR ratio 1)")
    front = [tuple(map(float, p.split(","))) for p in root.find(".//s:polyline[@class='frontier']", NS).get("points").split()]
    want_front = [(round(x0 + ax * (l - vals[0][2]), 1), round(y0 + ay * (t - vals[0][1]), 1)) for l, t in pareto(POINTS)]
    ok(len(front) == len(want_front) and all(abs(a - c) < 0.2 and abs(b - d) < 0.2
                                             for (a, b), (c, d) in zip(front, want_front)),
       "the frontier joins exactly the points no other beats", f"{front} vs {want_front}")
    one = chart([("only", 0.5, 0.0)], 0.0)
    ok(ET.fromstring(one.encode()).find(".//s:circle[@class='point']", NS) is not None,
       "a single point at leakage 0 and real_leakage 0 still draws")

    browser = find_browser()
    if not browser:
        skip(3, "no Chromium installed: the screenshot checks need /usr/bin/chromium")
        return tap.done()
    tmp = tempfile.mkdtemp()
    try:
        shot = screenshot(browser, svg, tmp, "frontier")
        ok(shot is not None, "Chromium renders the chart to a PNG")
        if shot is None:
            skip(2, "no screenshot")
            return tap.done()
        w, h, px = shot
        # the first point (smote, blue #1f77b4) and the green goal region
        cx, cy = xy[0]
        r, g, b = px[int(round(cy))][int(round(cx))]
        ok(b > 150 and r < 90 and 90 < g < 150, "the first point is drawn in blue where it should be", f"{(r, g, b)}")
        green = sum(1 for row in px for (r, g, b) in row if g > r + 8 and g > b + 8 and g > 200)
        ok(green > 2000, "the region of 'as good as real' is shaded", f"{green} light green pixels")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
