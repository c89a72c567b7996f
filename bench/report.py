#!/usr/bin/env python3
"""bench/report.py - turns bench/run.sh's samples into tables, JSON and a chart.

usage: report.py --raw RAW.jsonl --meta META.json --out DIR [--no-chart]

RAW.jsonl holds one object per measured command ({"tool", "dataset", "step", "repeat",
"wall", "user", "sys", "rss_kb", "store_bytes", "cache_bytes", "rc"}; a sample without
"dataset" is from the everyday data set) and notes ({"note", "value"}). Writes
DIR/results.md, DIR/results.json and one chart per data set, DIR/results-DATASET.png
(with gnuplot), and prints the Markdown to stdout. Medians over the repeats; min and max
are kept too.
Only the Python standard library is used.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

TOOLS = ["cairn", "restic", "borg", "borg2"]
DATASETS = {  # name: what one day of `cairn-gen mutate --pattern NAME` does
    "everyday": "every SQLite database gains rows and has rows rewritten all over the file",
    "append": "rows appended to each used database's main table, 1-3 old rows edited in place",
}
STEPS = [
    ("backup_initial", "initial backup (day 0)", "initial"),
    ("backup_day1", "backup of day 1", "day 1"),
    ("backup_day2", "backup of day 2", "day 2"),
    ("backup_nochange", "no-change backup", "no change"),
    ("restore_latest", "restore latest", "restore latest"),
    ("restore_oldest", "restore oldest", "restore oldest"),
    ("check_read_data", "check, reading all data", "check data"),
    ("forget_prune", "forget oldest + prune", "forget+prune"),
]
METRICS = [  # key, header, unit label
    ("wall", "wall s"),
    ("cpu", "CPU s"),
    ("rss_mib", "peak RSS MiB"),
    ("store_mib", "store MiB"),
]
COLORS = {"cairn": "#d95f02", "restic": "#1f78b4", "borg": "#33a02c", "borg2": "#6a3d9a"}
MIB = 1024 * 1024


def load(raw_path):
    samples, notes = [], {}
    with open(raw_path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            o = json.loads(line)
            if "note" in o:
                notes.setdefault(o["note"], []).append(o["value"])
            else:
                o.setdefault("dataset", "everyday")
                o["cpu"] = round(o["user"] + o["sys"], 2)
                o["rss_mib"] = o["rss_kb"] / 1024
                o["store_mib"] = o["store_bytes"] / MIB
                o["cache_mib"] = o["cache_bytes"] / MIB
                samples.append(o)
    return samples, notes


def summarize(samples, tool, step, dataset=None):
    """Median/min/max of each metric over the successful repeats of one tool and step
    (in one data set, or in any)."""
    runs = [s for s in samples if s["tool"] == tool and s["step"] == step
            and (dataset is None or s["dataset"] == dataset)]
    if not runs:
        return None
    ok = [s for s in runs if s["rc"] == 0]
    out = {
        "repeats": len(runs),
        "failed": [{"repeat": s["repeat"], "exit": s["rc"]} for s in runs if s["rc"] != 0],
    }
    for key in ("wall", "cpu", "rss_mib", "store_mib", "cache_mib"):
        vals = [s[key] for s in ok]
        if vals:
            out[key] = {
                "median": statistics.median(vals),
                "min": min(vals),
                "max": max(vals),
                "samples": vals,
            }
    return out


def med(entry, key):
    if not entry or key not in entry:
        return None
    return entry[key]["median"]


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def fmt(v, digits=1):
    if v is None:
        return "—"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 100:
        return f"{v:.0f}"
    return f"{v:.{digits}f}"


def fmt_ratio(v):
    return "—" if v is None else f"{v:.2f}×"


def md_table(header, rows, align=None):
    """A Markdown table padded so it also reads well in a terminal."""
    cols = len(header)
    align = align or ["l"] + ["r"] * (cols - 1)
    width = [max(len(str(r[i])) for r in [header] + rows) for i in range(cols)]
    width = [max(w, 3) for w in width]

    def line(cells):
        out = []
        for i, c in enumerate(cells):
            c = str(c)
            out.append(c.ljust(width[i]) if align[i] == "l" else c.rjust(width[i]))
        return "| " + " | ".join(out) + " |"

    sep = "|" + "|".join(
        (":" + "-" * (width[i] + 1)) if align[i] == "l" else ("-" * (width[i] + 1) + ":")
        for i in range(cols)
    ) + "|"
    return "\n".join([line(header), sep] + [line(r) for r in rows])


def meta_datasets(meta, samples):
    if "datasets" in meta:
        return meta["datasets"]
    step_keys = {k for k, _, _ in STEPS}
    return sorted({s["dataset"] for s in samples if s["step"] in step_keys})


def build_steps(samples, tools, dataset):
    steps = []
    for key, label, short in STEPS:
        entry = {"step": key, "label": label, "short": short, "tools": {}, "ratios": {}}
        for t in tools:
            s = summarize(samples, t, key, dataset)
            if s:
                entry["tools"][t] = s
        base = entry["tools"].get("cairn")
        for t in tools:
            if t == "cairn" or t not in entry["tools"]:
                continue
            entry["ratios"][f"{t}/cairn"] = {
                m: ratio(med(entry["tools"][t], m), med(base, m)) for m, _ in METRICS
            }
        steps.append(entry)
    return steps


def floor_steps(datasets, steps, cpu, wall, kdf_cpu):
    """Each tool's wall and CPU in the given steps against a floor's CPU and wall."""
    rows = []
    for ds in datasets:
        for e in ds["steps"]:
            if e["step"] not in steps:
                continue
            row = {"dataset": ds["dataset"], "step": e["step"], "label": e["label"]}
            for t, entry in e["tools"].items():
                tw, tc = med(entry, "wall"), med(entry, "cpu")
                row[t] = {"wall": tw, "cpu": tc,
                          "wall_over_floor": ratio(tw, wall), "cpu_over_floor": ratio(tc, cpu),
                          "cpu_over_floor_kdf": ratio(tc, cpu + kdf_cpu) if kdf_cpu else None,
                          "best_ratio": ratio(tw, wall)}
            rows.append(row)
    return rows


def restore_floor(notes, meta, datasets, kdf_cpu=None):
    """The floor of a restore from bench/run.sh's restore_floor notes: CPU of creating and
    writing day 0's files, of reading cairn's packs from the disk, of opening every stored
    byte and decompressing the SQLite bytes; its wall on the machine's cores (never below
    the disk's read time); and the best wall ratio against each peer it allows."""
    parts = {}
    for f in notes.get("floor", []):
        if isinstance(f, dict) and "floor" in f:
            parts[f["floor"]] = f
    w, r, d = parts.get("write"), parts.get("read"), parts.get("decode")
    if not (w and r and d) or not d.get("open_mbps") or not d.get("unzstd_mbps"):
        return None
    terms = {
        "write": w["cpu"],
        "read": r["cpu"],
        "open": r["bytes"] / 1e6 / d["open_mbps"],
        "unzstd": d["zstd_raw_bytes"] / 1e6 / d["unzstd_mbps"],
    }
    cpu = sum(terms.values())
    cores = meta.get("nproc") or 1
    wall = max(cpu / cores, r["wall"])
    out = {"terms_cpu": terms, "cpu": cpu, "cores": cores, "wall": wall, "kdf_cpu": kdf_cpu,
           "read_wall": r["wall"], "write_wall": w["wall"], "parts": parts}
    out["steps"] = floor_steps(datasets, ("restore_latest", "restore_oldest"), cpu, wall, kdf_cpu)
    return out


def backup_floor(notes, meta, datasets, kdf_cpu=None):
    """The floor of an initial backup from bench/run.sh's backup_floor notes: CPU of
    reading the source, of the keyed hash of every byte and the seal of every stored byte
    (at their 1 MiB speeds), of zstd level 1 of the SQLite bytes, and of writing and
    fsyncing as many bytes as cairn stored; its wall on the machine's cores (never below
    the source's read or the store's write time); the best wall ratio it allows."""
    parts = {}
    for f in notes.get("floor", []):
        if isinstance(f, dict) and f.get("floor") in ("scan", "encode", "sink"):
            parts[f["floor"]] = f
    r, e, w = parts.get("scan"), parts.get("encode"), parts.get("sink")
    if not (r and e and w) or not all(e.get(k) for k in ("blake_mbps", "seal_mbps", "zstd_mbps")):
        return None
    terms = {
        "read": r["cpu"],
        "hash": r["bytes"] / 1e6 / e["blake_mbps"],
        "zstd": e["zstd_raw_bytes"] / 1e6 / e["zstd_mbps"],
        "seal": w["bytes"] / 1e6 / e["seal_mbps"],
        "write": w["cpu"],
    }
    cpu = sum(terms.values())
    cores = meta.get("nproc") or 1
    wall = max(cpu / cores, r["wall"], w["wall"])
    out = {"terms_cpu": terms, "cpu": cpu, "cores": cores, "wall": wall, "kdf_cpu": kdf_cpu,
           "read_wall": r["wall"], "write_wall": w["wall"], "parts": parts}
    out["steps"] = floor_steps(datasets, ("backup_initial",), cpu, wall, kdf_cpu)
    # the same work overlapped by the simplest program that does only it (--floor-pipe)
    pipe = next((f for f in notes.get("floor", [])
                 if isinstance(f, dict) and f.get("floor") == "pipe" and f.get("wall")), None)
    if pipe:
        out["pipe"] = pipe
        out["pipe_steps"] = floor_steps(datasets, ("backup_initial",), pipe["cpu"], pipe["wall"],
                                        kdf_cpu)
    return out


def build(samples, notes, meta):
    tools = [t for t in TOOLS if t in meta.get("tools", TOOLS)]
    datasets = [{"dataset": d, "description": DATASETS.get(d, ""),
                 "steps": build_steps(samples, tools, d)} for d in meta_datasets(meta, samples)]
    scaling = []
    for th in meta.get("threads", []):
        s = summarize(samples, "cairn", f"threads_{th}")
        if s:
            w = med(s, "wall")
            scaling.append({
                "threads": th,
                "wall": s.get("wall"),
                "cpu": s.get("cpu"),
                "rss_mib": s.get("rss_mib"),
                "failed": s["failed"],
                "mb_per_s": (meta["data_bytes"] / 1e6 / w) if w else None,
            })
    if scaling and scaling[0]["wall"]:
        w1 = scaling[0]["wall"]["median"]
        for s in scaling:
            s["speedup"] = (w1 / s["wall"]["median"]) if s["wall"] else None
    init = {t: summarize(samples, t, "init") for t in tools}
    return {"meta": meta, "datasets": datasets, "scaling": scaling, "init": init,
            "restore_floor": restore_floor(notes, meta, datasets, med(init.get("cairn"), "cpu")),
            "backup_floor": backup_floor(notes, meta, datasets, med(init.get("cairn"), "cpu")),
            "notes": notes, "samples": samples}


def failed_mark(entry):
    return " (FAILED)" if entry and entry["failed"] else ""


def title_tools(tools):
    return " vs ".join(tools)


def dataset_tables(out, d, tools, others, png_name):
    """The ratio table, the medians table and the chart of one data set."""
    steps = d["steps"]
    if others:
        out.append(f"### {d['dataset']}: ratios to cairn (median; above 1 means cairn is faster / smaller)\n")
        header = ["step"]
        for m, h in METRICS:
            for t in others:
                header.append(f"{h.split()[0] if m != 'rss_mib' else 'RSS'} {t}/cairn")
        rows = []
        for e in steps:
            row = [e["label"]]
            for m, _ in METRICS:
                for t in others:
                    r = e["ratios"].get(f"{t}/cairn", {}).get(m)
                    row.append(fmt_ratio(r))
            rows.append(row)
        out.append(md_table(header, rows) + "\n")

    out.append(f"### {d['dataset']}: medians per step\n")
    out.append(
        "wall and CPU (user + sys) in seconds, peak RSS in MiB (largest process), store = "
        "repository size after the step (MiB, apparent size)"
        + ("; ×cairn = this tool's value divided by cairn's.\n" if others else ".\n")
    )
    ratio_cols = METRICS if others else []
    header = ["step", "tool"] + [h for _, h in METRICS] + [f"{h.split()[0] if m != 'rss_mib' else 'RSS'} ×cairn" for m, h in ratio_cols]
    rows = []
    for e in steps:
        for t in tools:
            te = e["tools"].get(t)
            row = [e["label"], t + failed_mark(te)]
            for m, _ in METRICS:
                row.append(fmt(med(te, m), 2 if m in ("wall", "cpu") else 1))
            for m, _ in ratio_cols:
                if t == "cairn":
                    row.append("")
                else:
                    row.append(fmt_ratio(e["ratios"].get(f"{t}/cairn", {}).get(m)))
            rows.append(row)
    out.append(md_table(header, rows, ["l", "l"] + ["r"] * (len(header) - 2)) + "\n")

    if png_name:
        out.append(f"![{title_tools(tools)}, data set {d['dataset']}]({png_name})\n")


def floor_table(fl, what, others):
    """A floor's table: each step's cairn wall, CPU and CPU over the floor, and the best wall
    ratio the floor allows against each peer."""
    rows = []
    for row in fl["steps"]:
        c = row.get("cairn") or {}
        rows.append([f"{row['dataset']} {row['label']}", fmt(c.get("wall"), 2), fmt(c.get("cpu"), 2),
                     fmt_ratio(c.get("cpu_over_floor")), fmt_ratio(c.get("cpu_over_floor_kdf")),
                     ", ".join(f"{p} {fmt_ratio((row.get(p) or {}).get('best_ratio'))}"
                               for p in others if row.get(p)) or "—"])
    return md_table([what, "cairn wall s", "cairn CPU s", "cairn CPU ÷ floor", "cairn CPU ÷ (floor + KDF)",
                     "best wall ratio the floor allows (peer wall ÷ floor wall)"], rows) + "\n"


def markdown(res, png_names):
    meta = res["meta"]
    tools = [t for t in TOOLS if t in meta.get("tools", TOOLS)]
    others = [t for t in tools if t != "cairn"] if "cairn" in tools else []
    out = []
    gib = meta["data_bytes"] / 1024**3
    names = [d["dataset"] for d in res["datasets"]]
    out.append(f"# {title_tools(tools)} — {meta['date']}\n")
    out.append(
        f"Data: a generated iPhone backup (`cairn-gen device --size-mb {meta['size_mb']} "
        f"--seed {meta['seed']}`), {gib:.2f} GiB in {meta['data_files']:,} files, then two "
        f"days of changes (`cairn-gen mutate --day 1`, `--day 2`), in {len(names)} data "
        f"set(s), each a `--pattern` of `cairn-gen mutate`: "
        + "; ".join(f"**{d['dataset']}**: {d['description'] or 'unknown pattern'}" for d in res["datasets"])
        + f". Median of {meta['repeats']} repeat(s); each data set of each repeat starts "
        f"from a fresh repository and a fresh copy of day 0.\n"
    )
    out.append(
        f"Machine: {meta['nproc']} CPUs ({meta['cpu_model']}), "
        f"{meta['mem_bytes'] / 1024**3:.1f} GiB RAM, {meta['os']}, kernel {meta['kernel']}, "
        f"{meta['filesystem']} at `{meta['work']}`. Load average before: "
        f"{meta['load_before']}; after: {meta['load_after']}."
        + (
            f" Free page reporting to the hypervisor: from order {meta['page_reporting']['order']}"
            f" up, {meta['page_reporting']['reported_kib'] / 1024:,.0f} MiB reported during the run"
            f"{' (order above the largest: off)' if meta['page_reporting']['order'] > 10 else ''}."
            if meta.get("page_reporting")
            else ""
        )
        + "\n"
    )
    built = meta.get("cairn_built_from", "work tree")
    if built == "HEAD":
        built = "built from the commit"
    elif meta.get("cairn_worktree_modified"):
        built = "built from the work tree, with uncommitted changes"
    else:
        built = "built from the work tree"
    vers = [f"cairn {meta['cairn_commit']} ({built})"]
    if "restic" in tools:
        vers.append(meta["restic_version"] + (" (repository v2, --compression auto)" if meta["restic_repository_v2"] else " (repository v1: no compression)"))
    if "borg" in tools:
        vers.append(meta["borg_version"] + " (repokey, zstd,3)")
    if "borg2" in tools:
        vers.append(meta.get("borg2_version", "borg2") + " (repokey-blake2-chacha20-poly1305, zstd,3)")
    out.append("Versions: " + "; ".join(vers) + ".\n")
    charts = [f"[{png_names[n]}]({png_names[n]})" for n in names if png_names.get(n)]
    out.append(
        f"Measurements took {meta['bench_seconds']} s ({meta['total_seconds']} s with setup "
        f"and data generation)." + (f" Charts: {', '.join(charts)}.\n" if charts else "\n")
    )

    for d in res["datasets"]:
        out.append(f"## Data set {d['dataset']}" + (f" ({d['description']})" if d["description"] else "") + "\n")
        dataset_tables(out, d, tools, others, png_names.get(d["dataset"]))

    if res["scaling"]:
        out.append("## cairn initial backup: --threads scaling\n")
        rows = []
        for s in res["scaling"]:
            rows.append([
                str(s["threads"]) + (" (FAILED)" if s["failed"] else ""),
                fmt(s["wall"]["median"] if s["wall"] else None, 2),
                fmt(s["cpu"]["median"] if s["cpu"] else None, 2),
                fmt(s["rss_mib"]["median"] if s["rss_mib"] else None),
                fmt(s["mb_per_s"]),
                fmt_ratio(s.get("speedup")),
            ])
        out.append(md_table(["--threads", "wall s", "CPU s", "peak RSS MiB", "MB/s", "speed-up"], rows) + "\n")

    fl = res.get("restore_floor")
    if fl:
        t = fl["terms_cpu"]
        out.append("## Restore floor\n")
        out.append(
            f"The work any restore of day 0 must do, measured in this run (`cairn-primitives "
            f"--floor-*`): creating and writing its {fl['parts']['write']['files']:,} files "
            f"from memory {fmt(t['write'], 2)} s CPU ({fmt(fl['write_wall'], 2)} s wall), reading "
            f"cairn's packs from the disk {fmt(t['read'], 2)} s CPU ({fmt(fl['read_wall'], 2)} s "
            f"wall), opening them (ChaCha20-Poly1305, {fmt(fl['parts']['decode']['open_mbps'])} MB/s) "
            f"{fmt(t['open'], 2)} s, zstd decompression of the SQLite bytes "
            f"({fmt(fl['parts']['decode']['unzstd_mbps'])} MB/s) {fmt(t['unzstd'], 2)} s. "
            f"**Floor CPU {fmt(fl['cpu'], 2)} s; floor wall on {fl['cores']} cores "
            f"{fmt(fl['wall'], 2)} s** (CPU ÷ cores, never below the packs' read time). "
            "cairn's key derivation is on top: "
            f"{fmt(fl['kdf_cpu'], 2)} s CPU (init's).\n")
        out.append(floor_table(fl, "restore", others))

    fl = res.get("backup_floor")
    if fl:
        t, p = fl["terms_cpu"], fl["parts"]
        out.append("## Backup floor\n")
        out.append(
            f"The work any initial backup of day 0 must do, measured in this run (`cairn-primitives "
            f"--floor-*`): reading its {p['scan']['files']:,} files as the backups found them "
            f"{fmt(t['read'], 2)} s CPU ({fmt(fl['read_wall'], 2)} s wall), the keyed BLAKE2b of "
            f"every byte ({fmt(p['encode']['blake_mbps'])} MB/s) {fmt(t['hash'], 2)} s, zstd level 1 "
            f"of the SQLite bytes in 16 KiB chunks ({fmt(p['encode']['zstd_mbps'])} MB/s) "
            f"{fmt(t['zstd'], 2)} s, the seal of cairn's stored bytes "
            f"({fmt(p['encode']['seal_mbps'])} MB/s) {fmt(t['seal'], 2)} s, writing and fsyncing "
            f"them in 16 MiB files {fmt(t['write'], 2)} s CPU ({fmt(fl['write_wall'], 2)} s wall). "
            f"**Floor CPU {fmt(fl['cpu'], 2)} s; floor wall on {fl['cores']} cores "
            f"{fmt(fl['wall'], 2)} s** (CPU ÷ cores, never below the read or the write time). "
            "cairn's key derivation is on top: "
            f"{fmt(fl['kdf_cpu'], 2)} s CPU (init's).\n")
        out.append(floor_table(fl, "backup", others))
        pp = fl.get("pipe")
        if pp:
            out.append(
                f"**Overlapped** (`cairn-primitives --floor-pipe`): the same work done at once by "
                f"the simplest program that does only it, {pp['threads']} threads taking whole files "
                f"in turn and one more making each 16 MiB file durable, storing "
                f"{pp['stored'] / 1e6:,.0f} MB: **wall {fmt(pp['wall'], 2)} s**, CPU "
                f"{fmt(pp['cpu'], 2)} s.\n")
            rows = []
            for row in fl["pipe_steps"]:
                c = row.get("cairn") or {}
                rows.append([f"{row['dataset']} {row['label']}", fmt(c.get("wall"), 2),
                             fmt_ratio(c.get("wall_over_floor")), fmt_ratio(c.get("cpu_over_floor")),
                             ", ".join(f"{p} {fmt_ratio((row.get(p) or {}).get('best_ratio'))}"
                                       for p in others if row.get(p)) or "—"])
            out.append(md_table(["backup", "cairn wall s", "cairn wall ÷ overlapped wall",
                                 "cairn CPU ÷ overlapped CPU",
                                 "best wall ratio it allows (peer wall ÷ overlapped wall)"],
                                rows) + "\n")

    extra = []
    init = res.get("init") or {}
    if any(init.values()):
        extra.append("init (key derivation) wall s: " + ", ".join(
            f"{t} {fmt(med(init[t], 'wall'), 2)}" for t in tools if init.get(t)))
    for d in res["datasets"]:
        caches = []
        for e in d["steps"]:
            if e["step"] == "backup_nochange":
                for t in tools:
                    c = med(e["tools"].get(t), "cache_mib")
                    if c:
                        caches.append(f"{t} {fmt(c)} MiB")
        if caches:
            extra.append(f"{d['dataset']}: local cache outside the repository after the backups "
                         "(not in 'store'): " + ", ".join(caches))
    notes = res["notes"]
    if notes.get("verify"):
        extra.append("restores compared with the source (`diff -r`, repeat 1): " + "; ".join(notes["verify"]))
    fps = notes.get("fingerprint", [])
    by_ds = {}
    for f in fps:  # "DATASET repeat N FINGERPRINT"
        by_ds.setdefault(f.split()[0], []).append(f)
    for name, group in by_ds.items():
        distinct = {f.split()[-1] for f in group}
        extra.append(
            f"{name}: day-2 source fingerprint (names, sizes, mtimes, modes, Manifest.db): "
            + ("identical in every repeat" if len(distinct) == 1 else "DIFFERS between repeats: " + "; ".join(group))
        )
    if notes.get("after_prune"):
        extra.append("after forget + prune: " + "; ".join(notes["after_prune"]))
    slower = []
    for d in res["datasets"]:
        for e in d["steps"]:
            for t in others:
                r = e["ratios"].get(f"{t}/cairn", {}).get("wall")
                if r is not None and r < 1:
                    slower.append(f"{d['dataset']} {e['label']}: {t} {1 / r:.2f}× faster than cairn "
                                  f"({fmt(med(e['tools'][t], 'wall'), 2)} s vs {fmt(med(e['tools']['cairn'], 'wall'), 2)} s)")
    if others:
        extra.append("steps where cairn's median wall time is not the best: " + ("; ".join(slower) if slower else "none"))
    failed = [f"{s['tool']} {s['dataset']} {s['step']} repeat {s['repeat']} (exit {s['rc']})"
              for s in res["samples"] if s["rc"] != 0]
    if failed:
        extra.append("FAILED: " + "; ".join(failed))
    if extra:
        out.append("## Notes\n")
        out.append("\n".join("- " + x for x in extra) + "\n")
    return "\n".join(out)


def chart(res, d, out_png):
    """The chart of data set D (one of res["datasets"])."""
    gp = shutil.which("gnuplot")
    if not gp:
        print("report: gnuplot not found, no chart", file=sys.stderr)
        return False
    meta = res["meta"]
    tools = [t for t in TOOLS if t in meta.get("tools", TOOLS)]
    others = [t for t in tools if t != "cairn"] if "cairn" in tools else []
    tmp = tempfile.mkdtemp(prefix="cairn-bench-chart.")
    try:
        def val(e, t, m, which="median"):
            te = e["tools"].get(t)
            if not te or m not in te:
                return "-"
            return f"{te[m][which]:.4f}"

        # one data file per metric: label, then median/min/max per tool
        for m, _ in METRICS:
            with open(os.path.join(tmp, f"{m}.dat"), "w") as f:
                for e in d["steps"]:
                    cells = [f'"{e["short"]}"']
                    for t in tools:
                        cells += [val(e, t, m), val(e, t, m, "min"), val(e, t, m, "max")]
                    f.write(" ".join(cells) + "\n")
        with open(os.path.join(tmp, "ratio.dat"), "w") as f:
            for e in d["steps"]:
                cells = [f'"{e["short"]}"']
                for t in others:
                    r = e["ratios"].get(f"{t}/cairn", {}).get("wall")
                    cells.append("-" if r is None else f"{r:.4f}")
                f.write(" ".join(cells) + "\n")
        with open(os.path.join(tmp, "threads.dat"), "w") as f:
            for s in res["scaling"]:
                if s["wall"]:
                    f.write(f'"{s["threads"]}" {s["wall"]["median"]:.4f} {s["wall"]["min"]:.4f} '
                            f'{s["wall"]["max"]:.4f} {s["cpu"]["median"]:.4f} {s["mb_per_s"]:.1f}\n')

        gib = meta["data_bytes"] / 1024**3
        title = (f"{title_tools(tools)}: {gib:.2f} GiB iPhone backup + 2 days of changes "
                 f"(data set {d['dataset']}), "
                 f"median of {meta['repeats']}, {meta['nproc']} CPUs ({meta['cpu_model']}), "
                 f"load {meta['load_before']} → {meta['load_after']}")
        g = []
        g.append("set terminal pngcairo size 1600,1500 font 'DejaVu Sans,11' noenhanced")
        g.append(f"set output '{out_png}'")
        g.append("set datafile missing '-'")
        g.append("set style fill solid 0.85 border -1")
        g.append("set grid ytics lc rgb '#dddddd'")
        g.append("set key outside top center horizontal")
        g.append("set xtics rotate by 30 right nomirror")
        g.append("set ytics nomirror")
        g.append("set yrange [0:*]")
        g.append(f"set multiplot layout 3,2 title \"{title}\" font ',13'")

        def clustered(m, ylabel, errorbars):
            g.append(f"set title '{ylabel}'")
            g.append(f"set ylabel '{ylabel}'")
            if errorbars:
                g.append("set style histogram errorbars gap 1 lw 1")
            else:
                g.append("set style histogram clustered gap 1")
            g.append("set style data histograms")
            parts = []
            for i, t in enumerate(tools):
                col = 2 + 3 * i
                src = f"'{tmp}/{m}.dat'" if i == 0 else "''"
                using = f"{col}:{col + 1}:{col + 2}" if errorbars else f"{col}"
                if i == 0:
                    using += ":xtic(1)"
                parts.append(f"{src} using {using} title '{t}' lc rgb '{COLORS[t]}'")
            g.append("plot " + ", ".join(parts))

        clustered("wall", "wall time, s (bars: min-max)", True)
        clustered("cpu", "CPU time (user+sys), s", False)
        clustered("rss_mib", "peak RSS, MiB", False)
        clustered("store_mib", "repository size after the step, MiB", False)

        # ratio panel
        g.append("set title 'wall time relative to cairn (above 1: cairn faster)'")
        g.append("set ylabel 'tool / cairn'")
        g.append("set style histogram clustered gap 1")
        g.append("set style data histograms")
        if others:
            parts = []
            for i, t in enumerate(others):
                src = f"'{tmp}/ratio.dat'" if i == 0 else "''"
                using = f"{2 + i}" + (":xtic(1)" if i == 0 else "")
                parts.append(f"{src} using {using} title '{t} / cairn' lc rgb '{COLORS[t]}'")
            g.append("set arrow 1 from graph 0, first 1 to graph 1, first 1 nohead lw 2 dt 2 lc rgb 'black' front")
            g.append("plot " + ", ".join(parts))
            g.append("unset arrow 1")
        else:
            g.append("set label 1 'no other tool' at graph 0.5, graph 0.5 center")
            g.append("plot 0 notitle lc rgb 'white'")
            g.append("unset label 1")

        # threads panel
        g.append("set title 'cairn initial backup by --threads (label: MB/s)'")
        g.append("set ylabel 'wall time, s'")
        g.append("set xlabel '--threads'")
        g.append("set xtics norotate")
        g.append("set style data histograms")
        g.append("set style histogram clustered gap 1")
        g.append("set offsets 0, 0, graph 0.12, 0")
        if res["scaling"]:
            g.append(f"plot '{tmp}/threads.dat' using 2:xtic(1) title 'wall' lc rgb '{COLORS['cairn']}', "
                     f"'' using 5 title 'CPU (user+sys)' lc rgb '#fdb863', "
                     f"'' using ($0-0.17):2:(sprintf('%.0f MB/s', $6)) with labels offset 0,0.8 notitle")
        else:
            g.append("set label 1 'not measured' at graph 0.5, graph 0.5 center")
            g.append("plot 0 notitle lc rgb 'white'")
        g.append("unset multiplot")
        script = os.path.join(tmp, "chart.gp")
        with open(script, "w") as f:
            f.write("\n".join(g) + "\n")
        r = subprocess.run([gp, script], capture_output=True, text=True)
        if r.returncode != 0:
            print("report: gnuplot failed:\n" + r.stderr, file=sys.stderr)
            return False
        return True
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--raw", required=True)
    ap.add_argument("--meta", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--no-chart", action="store_true")
    a = ap.parse_args()
    samples, notes = load(a.raw)
    with open(a.meta) as f:
        meta = json.load(f)
    res = build(samples, notes, meta)
    os.makedirs(a.out, exist_ok=True)
    pngs = {}
    for d in res["datasets"]:
        name = f"results-{d['dataset']}.png"
        if not a.no_chart and chart(res, d, os.path.abspath(os.path.join(a.out, name))):
            pngs[d["dataset"]] = name
    md = markdown(res, pngs)
    with open(os.path.join(a.out, "results.md"), "w") as f:
        f.write(md)
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump(res, f, indent=1)
        f.write("\n")
    print(md)
    print(f"wrote {a.out}/results.md, results.json" + "".join(", " + n for n in pngs.values()))


if __name__ == "__main__":
    main()
