#!/usr/bin/env python3
"""Draws the fleet dashboard's layout as SVG, from its body as Terraform renders it.

    tools/dashboard/render_layout.py DASHBOARD_BODY.json OUT.svg

The body is the one the moto apply writes to .tmp/dashboard-body.json
(terraform/tests/moto/apply.sh). Widgets sit where CloudWatch puts them (24-column grid,
x, y, width, height), with their titles, the labels of their metrics and their alarm
lines. No AWS account is at hand, so the lines are SIMULATED: one made-up burst of work
(jobs arrive from minute 10 to minute 40, the fleet scales 0 → 3 → 0), the same shape the
simulator's `bursty` trace has; they show what each widget looks like, not data.
Standard library only, so it runs anywhere the moto venv does.
"""
import json
import math
import sys
from xml.sax.saxutils import escape

COL = 46  # px per grid column
ROW = 34  # px per grid row
PAD = 8
COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]
MINUTES = 60


def bump(t, start, end, peak, rise=4.0):
    """0 before start, rises to peak, falls after end."""
    if t < start:
        return 0.0
    up = 1 - math.exp(-(t - start) / rise)
    down = 1.0 if t < end else math.exp(-(t - end) / rise)
    return peak * up * down


# Simulated series by metric name (or label): a burst from minute 10 to 40.
def series(name, label, stat, i):
    ts = range(MINUTES)
    shapes = {
        "ApproximateNumberOfMessagesVisible": lambda t: bump(t, 10, 22, 120, 3) if "dlq" not in label else (2 if t > 30 and "spot" not in label else 0),
        "ApproximateNumberOfMessagesNotVisible": lambda t: bump(t, 11, 40, 9),
        "ApproximateAgeOfOldestMessage": lambda t: bump(t, 10, 20, 240, 3),
        "JobsSucceeded": lambda t: bump(t, 13, 40, 30),
        "JobsFailed": lambda t: 1 if t in (18, 27) else 0,
        "JobsAlreadyStored": lambda t: 1 if t == 33 else 0,
        "FacesFound": lambda t: bump(t, 13, 40, 45),
        "DesiredTaskCount": lambda t: 3 if 10 <= t < 44 else 0,
        "RunningTaskCount": lambda t: 3 if 13 <= t < 44 else 0,
        "BusyTasks": lambda t: bump(t, 13, 40, 3),
        "GroupDesiredCapacity": lambda t: 3 if 10 <= t < 45 else 0,
        "GroupInServiceInstances": lambda t: 3 if 12 <= t < 45 else 0,
        "GroupPendingInstances": lambda t: 3 if 10 <= t < 12 else 0,
        "GroupTerminatingInstances": lambda t: 3 if 45 <= t < 47 else 0,
        "GroupTotalInstances": lambda t: 3 if 10 <= t < 47 else 0,
        "CPUUtilization": lambda t: bump(t, 13, 40, 92),
        "MemoryUtilization": lambda t: bump(t, 13, 40, 18) + (4 if 12 <= t < 45 else 0),
        "Visible": lambda t: bump(t, 10, 22, 120, 3),
        "InFlight": lambda t: bump(t, 11, 40, 9),
        "WantTasks": lambda t: 3 if 10 <= t < 42 else 0,
        "DesiredTasks": lambda t: 3 if 10 <= t < 44 else 0,
        "InstancesTerminated": lambda t: 3 if t == 45 else 0,
        "Invocations": lambda t: 1,
        "Errors": lambda t: 0,
        "Throttles": lambda t: 0,
        "PollErrors": lambda t: 1 if t == 25 else 0,
        "Interruptions": lambda t: (1 if t == 30 else 0) if "interruption" in label else (1 if t == 28 else 0),
        "DrainLatency": lambda t: 850 if t == 30 else 0,
        "TaskStopLatency": lambda t: 14000 if t in (31, 45) else 0,
        "HandlerErrors": lambda t: 0,
        "EventsSkipped": lambda t: 1 if t == 50 and "not-in" in label else 0,
    }
    if name in ("JobDuration", "QueueWait"):
        scale = {"p50": 1.0, "p95": 1.8, "max": 2.6}.get(label, 1.0) * (260 if name == "JobDuration" else 4000)
        return [scale * (1 + 0.1 * math.sin(t / 2 + i)) if 13 <= t < 42 else None for t in ts]
    f = shapes.get(name, lambda t: bump(t, 10, 40, 5))
    return [f(t) for t in ts]


def metric_lines(widget):
    out = []
    props = widget["properties"]
    for i, m in enumerate(props.get("metrics", [])):
        opts = next((p for p in m if isinstance(p, dict)), {})
        parts = [p for p in m if not isinstance(p, dict)]
        if not parts:  # expression: derive from the first line
            label = opts.get("label", opts.get("expression", "expr"))
            base = out[0][1] if out else [0] * MINUTES
            expr = opts.get("expression", "")
            factor = float(expr.split("*")[-1]) if "*" in expr else 1.0
            out.append((label, [None if v is None else v * factor for v in base], True))
            continue
        name = parts[1]
        label = opts.get("label", name)
        out.append((label, series(name, label, opts.get("stat"), i), False))
    return out


def render(body):
    widgets = body["widgets"]
    width = 24 * COL + 2 * PAD
    height = max(w["y"] + w["height"] for w in widgets) * ROW + 2 * PAD + 24
    svg = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="DejaVu Sans, Arial, sans-serif">',
        f'<rect width="{width}" height="{height}" fill="#f2f3f3"/>',
        f'<text x="{PAD}" y="{height - 8}" font-size="11" fill="#555">facerec-fleet dashboard, layout from the rendered body; lines are SIMULATED (one burst, minutes 10-40), not data</text>',
    ]
    for w in widgets:
        x0, y0 = PAD + w["x"] * COL, PAD + w["y"] * ROW
        ww, wh = w["width"] * COL - 6, w["height"] * ROW - 6
        title = w["properties"].get("title", "")
        svg.append(f'<rect x="{x0}" y="{y0}" width="{ww}" height="{wh}" fill="white" stroke="#d5dbdb"/>')
        svg.append(f'<text x="{x0 + 8}" y="{y0 + 16}" font-size="12" font-weight="bold" fill="#16191f">{escape(title)}</text>')
        if w["type"] == "log":
            rows = [("ErrorCode", "failures"), ("corrupt_image", "2"), ("invalid_job", "1"), ("s3_access_denied", "1")]
            for k, (a, b) in enumerate(rows):
                weight = "bold" if k == 0 else "normal"
                yy = y0 + 44 + 20 * k
                svg.append(f'<text x="{x0 + 14}" y="{yy}" font-size="11" font-weight="{weight}">{a}</text>')
                svg.append(f'<text x="{x0 + ww - 80}" y="{yy}" font-size="11" font-weight="{weight}">{b}</text>')
            svg.append(f'<text x="{x0 + 14}" y="{y0 + wh - 10}" font-size="9" fill="#777">Logs Insights on the worker log group</text>')
            continue
        lines = metric_lines(w)
        legend_h = 13 * ((len(lines) + 1) // 2) + 4
        px0, py0 = x0 + 36, y0 + 26
        pw, ph = ww - 46, wh - 30 - legend_h - 12
        values = [v for _, s, _ in lines for v in s if v is not None]
        hlines = [a["value"] for a in w["properties"].get("annotations", {}).get("horizontal", [])]
        vmax = max(values + hlines + [1]) * 1.1
        svg.append(f'<line x1="{px0}" y1="{py0 + ph}" x2="{px0 + pw}" y2="{py0 + ph}" stroke="#aab7b8"/>')
        svg.append(f'<line x1="{px0}" y1="{py0}" x2="{px0}" y2="{py0 + ph}" stroke="#aab7b8"/>')
        svg.append(f'<text x="{px0 - 4}" y="{py0 + 8}" font-size="9" text-anchor="end" fill="#777">{vmax:.3g}</text>')
        svg.append(f'<text x="{px0 - 4}" y="{py0 + ph}" font-size="9" text-anchor="end" fill="#777">0</text>')
        for h in hlines:
            yy = py0 + ph - h / vmax * ph
            svg.append(f'<line x1="{px0}" y1="{yy:.1f}" x2="{px0 + pw}" y2="{yy:.1f}" stroke="#d13212" stroke-dasharray="4 3"/>')
        for k, (label, s, dashed) in enumerate(lines):
            color = COLORS[k % len(COLORS)]
            pts, path = [], []
            for t, v in enumerate(s):
                if v is None:
                    if pts:
                        path.append(pts)
                    pts = []
                    continue
                pts.append(f"{px0 + t / (MINUTES - 1) * pw:.1f},{py0 + ph - v / vmax * ph:.1f}")
            if pts:
                path.append(pts)
            dash = ' stroke-dasharray="5 3"' if dashed else ""
            for p in path:
                svg.append(f'<polyline points="{" ".join(p)}" fill="none" stroke="{color}" stroke-width="1.6"{dash}/>')
            lx = x0 + 10 + (k % 2) * (ww // 2)
            ly = py0 + ph + 16 + 13 * (k // 2)
            svg.append(f'<rect x="{lx}" y="{ly - 8}" width="8" height="8" fill="{color}"/>')
            short = label if len(label) <= 34 else label[:33] + "…"
            svg.append(f'<text x="{lx + 12}" y="{ly}" font-size="10" fill="#333">{escape(short)}</text>')
    svg.append("</svg>")
    return "\n".join(svg) + "\n"


def main():
    body = json.load(open(sys.argv[1]))
    open(sys.argv[2], "w").write(render(body))


if __name__ == "__main__":
    main()
