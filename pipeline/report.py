"""`scrutin report -o report.html`: the campaign report, one self-contained HTML file.

It opens from a laptop with no network: no CDN, no web font, no tile server, no library. The
choropleth is a `<canvas>` drawn by a short inline script from coordinates embedded in the page,
simplified for the screen and written as integer deltas on a grid (`_encode`): at national scale
(69,000 bureaux) an SVG element per bureau would be a DOM of 69,000 paths to lay out, and an
embedded GeoJSON at full precision hundreds of megabytes; a canvas redraws two million vertices
in a fraction of a second and the integer encoding keeps the file to a size a browser and a mail
client accept (docs/analysts.md gives the measure). Charts are inline SVG, tables plain HTML.

Everything shown is read from the published `mart` (scores, plan, commune summary, canvass
progress) and from `ops`/`raw.batch_ledger` (data freshness, last gate run and its checks).
"""

from __future__ import annotations

import datetime as dt
import html
import itertools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.maps import jsonable, map_rows

if TYPE_CHECKING:
    import psycopg

# Simplification tolerance of the drawn shapes, in degrees: at least REPORT_MIN_TOLERANCE
# (about 10 m), coarser for a wide territory (its extent / REPORT_EXTENT_STEPS), since a bureau
# of a national map is a few pixels wide until one zooms in.
REPORT_MIN_TOLERANCE = 1e-4
REPORT_EXTENT_STEPS = 40_000
# Integer grid of the embedded coordinates (degrees per unit).
REPORT_GRID = 1e-5
# Colour classes of the choropleth (value per canvasser-hour quantiles), light to dark.
PALETTE = ("#fee5d9", "#fcae91", "#fb6a4a", "#de2d26", "#a50f15")
NO_VALUE = "#d9d9d9"
# Not blue: on a map blue reads as water (and Brest is half harbour). A muted purple.
DO_NOT_MOBILISE = "#cab2d6"
TOP_RANKED = 30


@dataclass
class ReportData:
    """What the page shows; built by `collect`, rendered by `render` (no database there)."""

    generated_at: str
    bureaux: list[dict[str, Any]] = field(default_factory=list)
    shapes: list[list[list[int]]] = field(default_factory=list)
    origin: tuple[float, float] = (0.0, 0.0)
    scale: float = 1.0
    plan: list[dict[str, Any]] = field(default_factory=list)
    communes: list[dict[str, Any]] = field(default_factory=list)
    progress: list[dict[str, Any]] = field(default_factory=list)
    freshness: list[dict[str, Any]] = field(default_factory=list)
    publication: dict[str, Any] | None = None
    gate: dict[str, Any] | None = None
    checks: list[dict[str, Any]] = field(default_factory=list)
    links: dict[str, str] = field(default_factory=dict)


def _query(
    conn: psycopg.Connection, sql: str, params: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    with conn.cursor() as cur:
        cur.execute(sql, params)
        names = [d.name for d in cur.description or ()]
        return [{k: jsonable(v) for k, v in zip(names, r, strict=True)} for r in cur.fetchall()]


def collect(conn: psycopg.Connection, links: dict[str, str] | None = None) -> ReportData:
    """Read everything the report shows from the warehouse."""
    import shapely

    from pipeline.campaign_access import configured_campaign_id

    # the campaign file's rows: the mart may hold several campaigns'
    campaign = {"campaign": configured_campaign_id()}
    data = ReportData(generated_at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"))
    rows = list(map_rows(conn, "targeting", campaign["campaign"]))
    geoms = [shapely.from_geojson(r.geometry) if r.geometry else None for r in rows]
    drawn = [g for g in geoms if g is not None]
    if drawn:
        xmin, ymin, xmax, ymax = shapely.total_bounds(drawn)
        extent = max(xmax - xmin, ymax - ymin)
        tolerance = max(REPORT_MIN_TOLERANCE, extent / REPORT_EXTENT_STEPS)
        data.origin = (float(xmin), float(ymin))
        data.scale = math.cos(math.radians((ymin + ymax) / 2))
    keep = (
        "bureau_id",
        "commune_name",
        "code_bv",
        "polling_place_name",
        "geometry_source",
        "value_per_canvasser_hour",
        "targeting_rank",
        "do_not_mobilise",
        "why",
    )
    for row, geom in zip(rows, geoms, strict=True):
        props = {k: row.properties.get(k) for k in keep}
        if geom is None:
            props["shape"] = -1
        else:
            props["shape"] = len(data.shapes)
            simple = shapely.simplify(geom, tolerance, preserve_topology=True)
            data.shapes.append(_encode(simple, data.origin))
        data.bureaux.append(props)
    data.plan = _query(
        conn,
        "select plan_rank, bureau_id, commune_name, code_bv, hours, expected_net_votes, "
        "coverage_before, coverage_after from mart.canvass_plan "
        "where campaign_id = %(campaign)s order by plan_rank",
        campaign,
    )
    data.communes = _query(
        conn,
        "select code_commune, commune_name, bureaux, registered, bloc_share_target, "
        "reservoir, canvass_doors_knocked, canvass_conversations, coverage, plan_hours, "
        "plan_expected_net_votes from mart.commune_summary where campaign_id = %(campaign)s "
        "order by plan_expected_net_votes desc nulls last, registered desc nulls last",
        campaign,
    )
    data.progress = _query(
        conn,
        "select day, sum(doors_knocked) as doors_knocked, sum(conversations) as conversations "
        "from mart.canvass_progress where campaign_id = %(campaign)s group by day order by day",
        campaign,
    )
    data.freshness = _query(
        conn,
        "select source, coalesce(dataset_key, '') as dataset, count(*) as batches, "
        "max(finished_at) as last_loaded from raw.batch_ledger where status = 'loaded' "
        "group by 1, 2 order by 1, 2",
    )
    publication = _query(
        conn,
        "select run_id, action, published_at from ops.publication_log "
        "order by publication_id desc limit 1",
    )
    data.publication = publication[0] if publication else None
    # the last gate run that checked something (passed, refused or failed): a build with
    # nothing new (`unchanged`) ran no check and published nothing
    gate = _query(
        conn,
        "select run_id, status, started_at, finished_at, failed_checks from ops.gate_runs "
        "where status <> 'unchanged' order by started_at desc limit 1",
    )
    data.gate = gate[0] if gate else None
    if data.gate:
        run_id = str(data.gate["run_id"]).replace("'", "''")
        data.checks = _query(
            conn,
            "select suite, severity, count(*) as checks, count(*) filter (where success) "
            f"as passed from ops.quality_results where run_id = '{run_id}' "
            "group by 1, 2 order by 1, 2",
        )
    data.links = dict(links or {})
    return data


def _encode(geom: Any, origin: tuple[float, float]) -> list[list[int]]:
    """Rings of `geom` as integer deltas on the REPORT_GRID from `origin`: [x0, y0, dx1, dy1, ...]
    per ring (every ring of every polygon; the canvas fills with the even-odd rule)."""
    import shapely

    rings: list[list[int]] = []
    for polygon in shapely.get_parts(geom):
        for ring in [polygon.exterior, *polygon.interiors]:
            coords = shapely.get_coordinates(ring)
            ints = [
                (round((x - origin[0]) / REPORT_GRID), round((y - origin[1]) / REPORT_GRID))
                for x, y in coords
            ]
            flat: list[int] = list(ints[0])
            for (x0, y0), (x1, y1) in itertools.pairwise(ints):
                if (x1, y1) != (x0, y0):
                    flat += [x1 - x0, y1 - y0]
            if len(flat) >= 6:
                rings.append(flat)
    return rings


def _esc(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 1 else f"{value:,.1f}"
    return html.escape(str(value))


def _table(rows: list[dict[str, Any]], columns: list[str], cls: str = "") -> str:
    if not rows:
        return "<p class='empty'>No row published.</p>"
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{_esc(r.get(c))}</td>" for c in columns) + "</tr>" for r in rows
    )
    return f"<table class='{cls}'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _progress_svg(progress: list[dict[str, Any]]) -> str:
    """Cumulative doors knocked and conversations per day, as an inline SVG line chart."""
    if not progress:
        return "<p class='empty'>No canvass published yet.</p>"
    width, height, pad = 640, 220, 40
    doors, talks, total_d, total_c = [], [], 0, 0
    for p in progress:
        total_d += p["doors_knocked"] or 0
        total_c += p["conversations"] or 0
        doors.append(total_d)
        talks.append(total_c)
    top = max(doors[-1], 1)
    n = len(progress)

    def line(values: list[int]) -> str:
        step = (width - 2 * pad) / max(n - 1, 1)
        return " ".join(
            f"{pad + i * step:.1f},{height - pad - v / top * (height - 2 * pad):.1f}"
            for i, v in enumerate(values)
        )

    first, last = html.escape(str(progress[0]["day"])), html.escape(str(progress[-1]["day"]))
    return (
        f"<svg viewBox='0 0 {width} {height}' width='{width}' height='{height}' role='img' "
        "aria-label='canvass progress'>"
        f"<line x1='{pad}' y1='{height - pad}' x2='{width - pad}' y2='{height - pad}' "
        "stroke='#999'/>"
        f"<polyline fill='none' stroke='#de2d26' stroke-width='2' points='{line(doors)}'/>"
        f"<polyline fill='none' stroke='#3182bd' stroke-width='2' points='{line(talks)}'/>"
        f"<text x='{pad}' y='{height - 12}' font-size='12'>{first}</text>"
        f"<text x='{width - pad}' y='{height - 12}' font-size='12' text-anchor='end'>{last}</text>"
        f"<text x='{pad}' y='20' font-size='12' fill='#de2d26'>doors knocked: {total_d:,}</text>"
        f"<text x='{pad + 220}' y='20' font-size='12' fill='#3182bd'>conversations: "
        f"{total_c:,}</text></svg>"
    )


def _classes(values: list[float]) -> list[float]:
    """Upper bounds of the quantile classes of the positive values (one per palette colour)."""
    positive = sorted(v for v in values if v is not None and v > 0)
    if not positive:
        return []
    k = len(PALETTE)
    return [
        positive[min(len(positive) - 1, math.ceil(len(positive) * i / k) - 1)]
        for i in range(1, k + 1)
    ]


def render(data: ReportData) -> str:
    """The HTML page (no database access: testable on a hand-made ReportData)."""
    values = [b["value_per_canvasser_hour"] for b in data.bureaux]
    breaks = _classes(values)
    payload = {
        "bureaux": [
            [
                b["shape"],
                b["bureau_id"],
                b["commune_name"],
                b["polling_place_name"],
                b["value_per_canvasser_hour"],
                b["targeting_rank"],
                bool(b["do_not_mobilise"]),
            ]
            for b in data.bureaux
        ],
        "shapes": data.shapes,
        "origin": data.origin,
        "grid": REPORT_GRID,
        "scale": data.scale,
        "breaks": breaks,
        "palette": PALETTE,
        "noValue": NO_VALUE,
        "doNotMobilise": DO_NOT_MOBILISE,
    }
    # `</` never appears inside the script (a bureau name cannot close it).
    blob = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).replace("</", "<\\/")
    ranked = sorted(
        (b for b in data.bureaux if b["targeting_rank"] is not None),
        key=lambda b: b["targeting_rank"],
    )[:TOP_RANKED]
    without_shape = [b["bureau_id"] for b in data.bureaux if b["shape"] < 0]
    legend = "".join(
        f"<span><i style='background:{c}'></i>≤ {_esc(v)}</span>"
        for c, v in zip(PALETTE, breaks, strict=False)
    ) + (
        f"<span><i style='background:{DO_NOT_MOBILISE}'></i>do not mobilise</span>"
        f"<span><i style='background:{NO_VALUE}'></i>no score</span>"
    )
    gate = data.gate or {}
    failed = gate.get("failed_checks") or []
    links = "".join(
        f"<li><a href='{html.escape(url)}'>{html.escape(label)}</a></li>"
        for label, url in data.links.items()
    )
    publication = data.publication or {}
    sources = sorted({b["geometry_source"] for b in data.bureaux if b["geometry_source"]})
    return _page_template().format(
        generated=html.escape(data.generated_at),
        top=TOP_RANKED,
        n_bureaux=len(data.bureaux),
        n_shapes=len(data.shapes),
        shape_sources=html.escape(", ".join(sources) or "none"),
        without_shape=(
            f"<p class='warn'>{len(without_shape)} bureaux have no shape (load their contours "
            f"or REU addresses): {html.escape(', '.join(without_shape[:20]))}</p>"
            if without_shape
            else ""
        ),
        legend=legend,
        ranking=_table(
            ranked,
            [
                "targeting_rank",
                "bureau_id",
                "commune_name",
                "polling_place_name",
                "value_per_canvasser_hour",
                "why",
            ],
        ),
        plan=_table(
            data.plan,
            [
                "plan_rank",
                "bureau_id",
                "commune_name",
                "code_bv",
                "hours",
                "expected_net_votes",
                "coverage_before",
                "coverage_after",
            ],
        ),
        communes=_table(
            data.communes,
            [
                "code_commune",
                "commune_name",
                "bureaux",
                "registered",
                "bloc_share_target",
                "reservoir",
                "canvass_doors_knocked",
                "canvass_conversations",
                "coverage",
                "plan_hours",
                "plan_expected_net_votes",
            ],
        ),
        progress=_progress_svg(data.progress),
        freshness=_table(data.freshness, ["source", "dataset", "batches", "last_loaded"]),
        publication=html.escape(
            f"{publication.get('action', 'none')} of run {publication.get('run_id', '—')} "
            f"at {publication.get('published_at', '—')}"
        ),
        gate=html.escape(f"{gate.get('run_id', '—')}: {gate.get('status', 'no gate run')}"),
        gate_class="ok" if gate.get("status") == "passed" else "warn",
        failed="".join(f"<li>{html.escape(str(f))}</li>" for f in failed),
        checks=_table(data.checks, ["suite", "severity", "checks", "passed"]),
        links=links or "<li>no docs site built yet (run `scrutin build`)</li>",
        data=blob,
    )


def _page_template() -> str:
    """The page around the data (report_page.html: `{name}` fields, doubled braces in CSS and
    script)."""
    return (Path(__file__).with_name("report_page.html")).read_text(encoding="utf-8")


def write_report(conn: psycopg.Connection, path: Path, links: dict[str, str] | None = None) -> Path:
    """Collect, render and write the report; return its absolute path."""
    data = collect(conn, links)
    path = path.resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(data), encoding="utf-8")
    return path
