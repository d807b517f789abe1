"""``report.html``: one self-contained page that shows a whole run.

Every image is inlined as a ``data:`` URI and there is no external CSS, script or font, so the file
can be mailed, archived or opened offline. The page is rendered from
``templates/report.html.j2`` (jinja2, autoescaped); this module only gathers what the template shows,
all of it from :mod:`hnas.report.rundata`, and says "not available" (with the reason) for whatever a
run does not have yet.
"""

from __future__ import annotations

import base64
import datetime as _dt
import json
import math
from pathlib import Path
from typing import Any

import hnas.report.plots as plots
from hnas import __version__
from hnas.errors import HnasError
from hnas.report.rundata import RunData, as_list, load_run, numeric_columns
from hnas.utils.io import atomic_write_text

REPORT_FILE = "report.html"


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _image(data: bytes | None, mime: str = "image/png") -> str | None:
    return data_uri(data, mime) if data else None


def fmt(value: Any, key: str = "") -> str:
    """A number as a person reads it in a table: GMACs for MAC counts, dB to 3 decimals, SSIM to 4."""
    if value is None:
        return "-"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value if isinstance(value, str) else json.dumps(value)
    if not math.isfinite(value):
        return str(value)
    if ("macs" in key or "cost" in key) and abs(value) >= 1e6:
        return f"{value / 1e9:.3f} G"
    if isinstance(value, int) or (key in _COUNTS and float(value).is_integer()):
        return f"{int(value):,}"
    if "ssim" in key or "tau" in key or "rho" in key:
        return f"{value:.4f}"
    if "psnr" in key:
        return f"{value:.3f}"
    if abs(value) >= 100:
        return f"{value:,.1f}"
    if abs(value) >= 1e-3 or value == 0:
        return f"{value:.4g}"
    return f"{value:.2e}"


_COUNTS = ("params", "parameters", "step", "total", "epoch", "n", "iters")


def _when(timestamp: Any) -> str:
    if isinstance(timestamp, bool) or not isinstance(timestamp, (int, float)) or not math.isfinite(timestamp):
        return "-"
    return _dt.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S")


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    minutes, seconds = divmod(value, 60)
    return f"{int(minutes)} min {seconds:.0f} s" if minutes else f"{seconds:.1f} s"


# -- sections ---------------------------------------------------------------------------------------
def _spec_section(run: RunData) -> dict[str, Any]:
    if run.spec is None:
        return {"reason": "spec.json is missing"}
    general = [(k, fmt(v)) for k, v in run.spec.items() if not isinstance(v, dict)]
    groups = [
        (k, [(sk, fmt(sv)) for sk, sv in v.items()]) for k, v in run.spec.items() if isinstance(v, dict)
    ]
    return {"general": general, "groups": groups, "json": json.dumps(run.spec, indent=2)}


def _timings_section(run: RunData) -> dict[str, Any]:
    rows = [
        {
            "stage": r["stage"],
            "measured": _seconds(r["measured_s"]),
            "planned": _seconds(r.get("planned_s")),
            "wall": _seconds(r["wall_s"]),
            "finished": _when(r["finished"]),
        }
        for r in run.timings()
    ]
    state = run.state or {}
    if not rows and not state:
        return {"reason": "no stage has finished yet (no state.json, logs or results)"}
    return {
        "rows": rows,
        "stage": state.get("stage"),
        "updated": _when(state.get("updated")),
        "started": _when(run.file_times.get("spec.json")),
    }


def _search_section(run: RunData) -> dict[str, Any]:
    if not run.search_log:
        return {"reason": "search_log.jsonl is missing or empty (the search writes one line per epoch)"}
    columns = ["epoch", *numeric_columns(run.search_log, skip=("epoch",))]
    rows = [[fmt(r.get(c), c) for c in columns] for r in run.search_log]
    return {
        "image": _image(plots.search_curves(run.search_log)),
        "columns": columns,
        "rows": rows,
        "epochs": len(run.search_log),
    }


def _policy_section(run: RunData) -> dict[str, Any]:
    if not run.has_policy:
        return {"reason": "search_state.safetensors is missing (the search writes it after every epoch)"}
    from hnas.report.policy import run_policy

    try:
        policy = run_policy(run.path)
    except HnasError as exc:
        return {"reason": str(exc)}
    chosen = run.genotype.hash() if run.genotype else None
    greedy = policy.genotype.hash()
    parts = [(part, fmt(value)) for part, value in policy.part_entropy.items()]
    return {
        "image": _image(plots.policy_heatmaps(policy)),
        "controller": policy.controller,
        "uniform": policy.uniform,
        "entropy": fmt(policy.entropy),
        "max_entropy": fmt(policy.max_entropy),
        "parts": parts,
        "greedy_hash": greedy,
        "greedy_is_chosen": chosen == greedy if chosen else None,
        "greedy_position": f"{policy.genotype.position} of {policy.genotype.layers}",
        "population": policy.population,
        "best_reward": fmt(policy.best_reward),
    }


def _pareto_section(run: RunData) -> dict[str, Any]:
    chosen = run.genotype.hash() if run.genotype else None
    image = plots.pareto_plot(run.archive, chosen) if run.archive else None
    if image is None and run.pareto_png:
        return {"image": _image(run.pareto_png), "caption": "pareto.png as the run wrote it"}
    if image is None:
        return {"reason": "archive.jsonl is missing or holds no architecture with PSNR and MACs"}
    search = run.archive_stage("search")
    return {
        "image": _image(image),
        "count": len(run.archive),
        "search": len(search),
        "epochs": len({r["epoch"] for r in search if isinstance(r.get("epoch"), int)}),
    }


#: The nested scores of a derivation by a stand-alone proxy: ``proxy`` (the score that decided)
#: and, for finalists, ``short`` (their first, shorter round); shown as columns of their own.
_PROXY_PARTS = ("proxy", "short")
_PROXY_KEYS = ("psnr", "reward", "iters")


def _flat_scores(record: dict[str, Any]) -> dict[str, Any]:
    flat = {k: v for k, v in record.items() if k not in _PROXY_PARTS}
    for part in _PROXY_PARTS:
        nested = record.get(part)
        if isinstance(nested, dict):
            flat.update({f"{part} {key}": nested[key] for key in _PROXY_KEYS if key in nested})
    return flat


def _decided_by(record: dict[str, Any]) -> tuple[float, float]:
    """The order Search.derive picks by: the longest proxy training first, then the reward that
    decided (the proxy's where derivation trained one, else the shared weights')."""
    reward = record.get("proxy reward", record.get("reward"))
    iters = record.get("proxy iters")
    return (
        float(iters) if isinstance(iters, (int, float)) else 0.0,
        float(reward) if isinstance(reward, (int, float)) else -math.inf,
    )


def _candidates_section(run: RunData) -> dict[str, Any]:
    derive = run.archive_stage("derive")
    if not derive:
        return {"reason": "no derivation lines in archive.jsonl yet (the derive stage writes them)"}
    chosen = run.genotype.hash() if run.genotype else None
    derive = sorted((_flat_scores(r) for r in derive), key=_decided_by, reverse=True)
    numeric = numeric_columns(derive, skip=("epoch",))
    rows = [
        {
            "chosen": r.get("hash") == chosen,
            "how": r.get("how", "-"),
            "hash": r.get("hash", "-"),
            "values": [fmt(r.get(c), c) for c in numeric],
        }
        for r in derive
    ]
    return {"columns": numeric, "rows": rows}


def _cells_section(run: RunData) -> dict[str, Any]:
    if run.genotype is None:
        why = "; ".join(run.notes) or "genotype.json is missing (written when the search has derived)"
        return {"reason": why}
    from hnas.report.draw import draw_genotype, figure_bytes

    scale = run.spec_value("space", "scale", default=2)
    scale = scale if isinstance(scale, int) and not isinstance(scale, bool) else 2
    skip = run.spec_value("retrain", "global_skip") or run.spec_value("space", "global_skip")
    genotype = run.genotype
    svg = figure_bytes(
        draw_genotype(
            genotype, title=f"{run.name}: {genotype.hash()}", scale=scale, global_skip=skip == "bicubic"
        ),
        "svg",
    )
    edges = {
        part: [f"{e.op} ({e.source} -> {e.target})" for e in getattr(genotype, part).edges]
        for part in ("normal", "upsampling")
    }
    return {
        "image": _image(svg, "image/svg+xml"),
        "edges": edges,
        "json": genotype.canonical_json(indent=None),
    }


def _retrain_section(run: RunData) -> dict[str, Any]:
    summary = run.retrain or run.retrain_summary
    if not run.train_log and not summary:
        enabled = run.spec_value("retrain", "enabled", default=True)
        reason = (
            "retraining is disabled in the spec (retrain.enabled = false)"
            if enabled is False
            else "the training log (train_log.jsonl) is missing: the training has not run yet"
        )
        return {"reason": reason}
    keys = ("step", "total", "parameters", "best_val_psnr", "best_step", "checkpoint")
    facts = [(k, fmt(summary.get(k), k)) for k in keys if summary and k in summary]
    return {"image": _image(plots.retrain_curves(run.train_log)) if run.train_log else None, "facts": facts}


def _evaluation_section(run: RunData) -> dict[str, Any]:
    evaluation = (run.results or {}).get("evaluation")
    if not isinstance(evaluation, dict) or not evaluation:
        return {"reason": "results.json has no evaluation yet (the evaluate stage writes it)"}
    rows = [
        (name, fmt(v.get("psnr"), "psnr"), fmt(v.get("ssim"), "ssim"))
        for name, v in evaluation.items()
        if isinstance(v, dict)
    ]
    return {"rows": rows, "scale": (run.results or {}).get("scale")}


def _compare_section(run: RunData) -> dict[str, Any] | None:
    compare = run.compare
    if compare is None:
        return None
    sets = [s for s in as_list(compare.get("eval_sets")) if isinstance(s, str)]
    rows = []
    for member in as_list(compare.get("members")):
        if not isinstance(member, dict):
            continue
        scores = member.get("sets") if isinstance(member.get("sets"), dict) else {}
        cells = []
        for name in sets:
            s = scores.get(name) if isinstance(scores.get(name), dict) else {}
            psnr = fmt(s.get("psnr_mean"), "psnr")
            ssim = fmt(s.get("ssim_mean"), "ssim")
            if s.get("psnr_std") is not None:
                psnr += f" ± {fmt(s.get('psnr_std'), 'psnr')}"
            cells.append((psnr, ssim))
        rows.append(
            {
                "name": member.get("name", "-"),
                "kind": member.get("kind", "-"),
                "hash": member.get("hash", "-"),
                "macs": fmt(member.get("macs"), "macs"),
                "params": fmt(member.get("params"), "params"),
                "latency": fmt(member.get("latency_ms")),
                "score": fmt(member.get("shared_weight_score")),
                "sets": cells,
            }
        )
    corr = compare.get("rank_correlation")
    recipe = compare.get("recipe") if isinstance(compare.get("recipe"), dict) else {}
    return {
        "sets": sets,
        "rows": rows,
        "image": _image(plots.compare_plot(compare)),
        "seeds": [str(seed) for seed in as_list(compare.get("seeds"))],
        "recipe": [(k, fmt(v)) for k, v in recipe.items()],
        "correlation": {k: fmt(v, k) for k, v in corr.items()} if isinstance(corr, dict) else None,
    }


def _sweep_section(run: RunData) -> dict[str, Any] | None:
    if not run.sweep_members:
        return None
    rows = []
    for member in run.sweep_members:
        try:
            sub = load_run(run.path / member)
        except HnasError:
            continue
        head = sub.headline()
        rows.append(
            {
                "name": member,
                "link": f"{member}/{REPORT_FILE}",
                "values": [
                    fmt(head.get(k), k) for k in ("lambda", "hash", "position", "psnr", "macs", "reward")
                ],
            }
        )
    return {
        "rows": rows,
        "columns": ["lambda", "hash", "position", "PSNR", "MACs", "reward"],
        "image": _image(run.pareto_png),
    }


def report_context(run: RunData) -> dict[str, Any]:
    """Everything the template shows, as plain strings, lists and data URIs."""
    head = run.headline()
    headline = [
        (label, fmt(head[key], key))
        for key, label in (
            ("psnr", f"PSNR on {head.get('eval_set', 'evaluation')}"),
            ("ssim", "SSIM"),
            ("macs", "MACs"),
            ("params", "parameters"),
            ("position", "upsampling position"),
            ("hash", "genotype"),
            ("lambda", "lambda"),
            ("reward", "search reward"),
            ("search_psnr", "search PSNR"),
            ("channels", "channels"),
            ("scale", "scale"),
        )
        if key in head
    ]
    return {
        "name": run.name,
        "path": str(run.path),
        "stage": head.get("stage"),
        "generated": _dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "version": __version__,
        "headline": headline,
        "notes": list(run.notes),
        "sweep": _sweep_section(run),
        "spec": _spec_section(run),
        "timings": _timings_section(run),
        "search": _search_section(run),
        "policy": _policy_section(run),
        "pareto": _pareto_section(run),
        "candidates": _candidates_section(run),
        "cells": _cells_section(run),
        "retrain": _retrain_section(run),
        "evaluation": _evaluation_section(run),
        "compare": _compare_section(run),
    }


def render_report(run: RunData) -> str:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("hnas.report", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template("report.html.j2").render(**report_context(run))


def write_report(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write ``report.html`` for the run in ``run_dir`` (default: into it) and return its path.

    The pipeline calls this at the end of ``hnas run``; ``hnas report`` calls it on any run folder,
    finished or not. A lambda sweep's folder gets one report per member too, linked from its own.
    """
    run = load_run(run_dir)
    for member in run.sweep_members:
        write_report(run.path / member)
    path = Path(out) if out is not None else run.path / REPORT_FILE
    atomic_write_text(path, render_report(run))
    return path
