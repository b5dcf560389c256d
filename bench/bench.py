#!/usr/bin/env python3
"""fundwatch against DuckDB on the same extracts and the same SQL.

For each size (payout rows) it writes portable demo data once
(`fundwatch demo --portable`: UTF-8 CSV, JSON Lines and Parquet, the very files
both tools read), then, several times over:

* fundwatch: `fundwatch --json run pipeline.toml` on an empty lake — ingest,
  rules, publish; stage times come from the run's own report;
* DuckDB as an analyst uses it (the reference): one process reads every
  source with a typed `read_csv(…, columns = {…})` (`read_json`,
  `read_parquet` for the others) into DuckDB's own in-memory tables —
  `CREATE TABLE … AS SELECT`, no sorted Parquet — then creates the views of
  `queries/views/` and runs every rule of `queries/*.sql` on those tables;
  load and rules are timed inside the process;
* DuckDB made to do fundwatch's work (the lake form): one process reads
  every source, casts it to the canonical types and writes Parquet sorted
  like fundwatch's lake; a second process runs the views and rules over
  that Parquet lake.

It prints one table per size (medians of the runs, peak RSS of each process),
writes them to `bench/results/results.csv` and draws `bench/results/time.svg`.

    python3 bench/bench.py                      # 1M and 10M payouts, 3 runs
    python3 bench/bench.py --sizes 1M,10M,100M  # 100M on request

With `--prevention` it measures SPEC §12 instead, fundwatch alone, into
`bench/results/prevention.csv`: a full night; `fundwatch screen` of a batch of
100,000 payments (next month's, from the payouts extracts) against that lake;
`deceased_recipient` with identity matching against the same rule with the
exact join only (each as `fundwatch sql … SELECT count(*)`); and a night with
only new death records (1,000 deaths of paid recipients) against the full night:

    python3 bench/bench.py --sizes 10M --prevention

With `--memory-limit SIZE` it measures fundwatch alone instead: the whole run
with and without `[engine] memory_limit = SIZE` (spilling to the data
directory), peak RSS of each, into `bench/results/memory.csv`:

    python3 bench/bench.py --sizes 10M --memory-limit 1GiB
    python3 bench/bench.py --sizes 100M --memory-limit 4GiB --limited-only
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import datetime
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
DUCKDB_VERSION = "2.0.0"
# Bumped when the demo writes other files (2: payroll names, mistyped deaths): data written before is rewritten.
DEMO_FORMAT = 2


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# Measuring a process: wall time and peak resident set size.
# ---------------------------------------------------------------------------

MEASURE = r"""
import resource, subprocess, sys, time, json
t = time.perf_counter()
p = subprocess.run(sys.argv[2:], stdout=open(sys.argv[1], "wb"))
wall = time.perf_counter() - t
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
print(json.dumps({"code": p.returncode, "seconds": wall, "rss": rss}))
"""


def measure(cmd: list[str], stdout: Path, ok: tuple[int, ...] = (0,)) -> dict:
    """Runs `cmd` in a fresh wrapper so its peak RSS is its own; an exit
    code outside `ok` stops the benchmark."""
    out = subprocess.run([sys.executable, "-c", MEASURE, str(stdout), *map(str, cmd)], capture_output=True, text=True)
    if out.returncode != 0 or not out.stdout.strip():
        raise SystemExit(f"measuring {' '.join(map(str, cmd))} failed:\n{out.stderr}")
    m = json.loads(out.stdout)
    if m["code"] not in ok:
        raise SystemExit(f"{' '.join(map(str, cmd))} exited {m['code']}; its output is in {stdout}")
    return m


# ---------------------------------------------------------------------------
# Setup: DuckDB from PyPI, fundwatch's release binary, the data.
# ---------------------------------------------------------------------------


def duckdb_python() -> Path:
    venv = BENCH / ".venv"
    py = venv / "bin" / "python"
    if not py.exists():
        log(f"installing duckdb {DUCKDB_VERSION} into {venv.relative_to(ROOT)}")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    ok = subprocess.run([str(py), "-c", f"import duckdb; assert duckdb.__version__ == '{DUCKDB_VERSION}'"], capture_output=True)
    if ok.returncode != 0:
        subprocess.run([str(py), "-m", "pip", "install", "-q", f"duckdb=={DUCKDB_VERSION}"], check=True)
    return py


def size_label(n: int) -> str:
    return f"{n // 1_000_000}M" if n % 1_000_000 == 0 else f"{n // 1000}k"


def parse_size(s: str) -> int:
    s = s.strip().upper()
    mult = {"K": 1_000, "M": 1_000_000}.get(s[-1], 1)
    return int(float(s.rstrip("KM")) * mult)


def payouts_per_household(fundwatch: Path, scratch: Path) -> float:
    """Calibrates the demo: payout rows per background household."""
    d = scratch / "calibrate"
    shutil.rmtree(d, ignore_errors=True)
    r = subprocess.run([fundwatch, "--json", "-q", "demo", "--households", "3000", "--out", d, "--portable"], capture_output=True, text=True, check=True)
    n = json.loads(r.stdout)["payouts"] / 3000
    shutil.rmtree(d, ignore_errors=True)
    return n


def demo_data(fundwatch: Path, target: int, per_household: float, data_root: Path) -> tuple[Path, dict]:
    households = max(240, round(target / per_household))
    d = data_root / size_label(target)
    stamp = d / "demo.json"
    if stamp.exists():
        meta = json.loads(stamp.read_text())
        if meta.get("households") == households and meta.get("format") == DEMO_FORMAT:
            return d, meta
    shutil.rmtree(d, ignore_errors=True)
    log(f"writing demo data: {households} households → {d.relative_to(ROOT) if d.is_relative_to(ROOT) else d}")
    out = d / "report.json"
    d.mkdir(parents=True)
    m = measure([fundwatch, "--json", "-q", "demo", "--households", households, "--out", d / "extracts", "--portable"], out)
    report = json.loads(out.read_text())
    meta = {"households": households, "payouts": report["payouts"], "demo_seconds": m["seconds"], "demo_rss": m["rss"], "format": DEMO_FORMAT}
    stamp.write_text(json.dumps(meta))
    return d, meta


# ---------------------------------------------------------------------------
# The canonical tables, read from crates/core/src/tables.rs so there is one definition.
# ---------------------------------------------------------------------------


def canonical_tables() -> dict:
    text = (ROOT / "crates" / "core" / "src" / "tables.rs").read_text()
    tables = {}
    for block in re.split(r"\n    Table \{", text)[1:]:
        name = re.search(r'name: "(\w+)"', block).group(1)
        cols = re.findall(r'(?:req|opt)\("(\w+)", (\w+)', block)
        required = set(re.findall(r'req\("(\w+)"', block))
        sort_by = re.findall(r'"(\w+)"', re.search(r"sort_by: &\[([^\]]*)\]", block).group(1))
        tables[name] = {"columns": cols, "sort_by": sort_by, "required": required}
    return tables


# ---------------------------------------------------------------------------
# The DuckDB side (runs inside the venv's Python: `bench.py duckdb-ingest|duckdb-rules`).
# ---------------------------------------------------------------------------

PROVINCES = "'11','12','13','14','15','21','22','23','31','32','33','34','35','36','37','41','42','43','44','45','46','50','51','52','53','54','61','62','63','64','65','71','81','82'"


def helper_macros(as_of: str) -> list[str]:
    """fundwatch's SQL helpers (crates/core/src/sql/udf.rs) as DuckDB macros."""
    ym = "(CAST(substr(CAST({x} AS VARCHAR), 1, 4) AS INTEGER) * 12 + CAST(substr(CAST({x} AS VARCHAR), 6, 2) AS INTEGER))"
    first = "CAST(strptime(substr(CAST({x} AS VARCHAR), 1, 7) || '-01', '%Y-%m-%d') AS DATE)"
    return [
        "CREATE OR REPLACE MACRO month_of(d) AS strftime(CAST(d AS DATE), '%Y-%m')",
        f"CREATE OR REPLACE MACRO month_start(m) AS {first.format(x='m')}",
        f"CREATE OR REPLACE MACRO month_end(m) AS last_day({first.format(x='m')})",
        f"CREATE OR REPLACE MACRO add_months(m, n) AS strftime({first.format(x='m')} + to_months(CAST(n AS INTEGER)), '%Y-%m')",
        "CREATE OR REPLACE MACRO add_months_date(d, n) AS CAST(CAST(d AS DATE) + to_months(CAST(n AS INTEGER)) AS DATE)",
        f"CREATE OR REPLACE MACRO months_between(a, b) AS {ym.format(x='b')} - {ym.format(x='a')}",
        "CREATE OR REPLACE MACRO days_between(a, b) AS date_diff('day', CAST(a AS DATE), CAST(b AS DATE))",
        "CREATE OR REPLACE MACRO id_birth_date(id) AS CAST(try_strptime(substr(id, 7, 8), '%Y%m%d') AS DATE)",
        "CREATE OR REPLACE MACRO id_check_char(id) AS substr('10X98765432', "
        "CAST(list_sum([TRY_CAST(substr(id, i, 1) AS INTEGER) * [7,9,10,5,8,4,2,1,6,3,7,9,10,5,8,4,2][i] FOR i IN range(1, 18)]) % 11 AS INTEGER) + 1, 1)",
        "CREATE OR REPLACE MACRO id_problem(id) AS CASE "
        "WHEN id IS NULL THEN NULL "
        "WHEN NOT regexp_full_match(id, '[0-9]{17}[0-9X]') THEN 'length' "
        "WHEN id_check_char(id) <> substr(id, 18, 1) THEN 'checksum' "
        f"WHEN id_birth_date(id) IS NULL OR id_birth_date(id) < DATE '1890-01-01' OR id_birth_date(id) > DATE '{as_of}' THEN 'birth_date' "
        f"WHEN substr(id, 1, 2) NOT IN ({PROVINCES}) THEN 'region' END",
        "CREATE OR REPLACE MACRO id_upgrade(id) AS CASE WHEN regexp_full_match(id, '[0-9]{15}') "
        "THEN substr(id, 1, 6) || '19' || substr(id, 7) || id_check_char(substr(id, 1, 6) || '19' || substr(id, 7)) ELSE id END",
        f"CREATE OR REPLACE MACRO fold(s) AS CASE WHEN regexp_matches(s, '[\u3000\uFF01-\uFF5E]') "
        f"THEN translate(s, {sql_text(FULL_WIDTH)}, {sql_text(HALF_WIDTH)}) ELSE s END",
        "CREATE OR REPLACE MACRO id_valid(id) AS CASE WHEN id IS NULL THEN NULL ELSE id_problem(id) IS NULL END",
        "CREATE OR REPLACE MACRO id_gender(id) AS CASE WHEN TRY_CAST(substr(id, 17, 1) AS INTEGER) % 2 = 1 THEN 'M' ELSE 'F' END",
        "CREATE OR REPLACE MACRO mask_id(id) AS substr(id, 1, 6) || '********' || substr(id, 15, 4)",
        "CREATE OR REPLACE MACRO id_match(a, b) AS CASE WHEN a = b THEN 'exact' "
        "WHEN length(a) <> length(b) THEN NULL "
        "WHEN hamming(a, b) = 1 THEN 'one_digit' "
        "WHEN hamming(a, b) = 2 AND damerau_levenshtein(a, b) = 1 THEN 'transposed' END",
        "CREATE OR REPLACE MACRO age_on(id, d) AS year(CAST(d AS DATE)) - year(id_birth_date(id)) "
        "- CASE WHEN strftime(CAST(d AS DATE), '%m%d') < substr(id, 11, 4) THEN 1 ELSE 0 END",
    ]


# Ingest's full-width folding: U+3000 and U+FF01..U+FF5E to their ASCII forms.
FULL_WIDTH = "\u3000" + "".join(chr(c) for c in range(0xFF01, 0xFF5F))
HALF_WIDTH = " " + "".join(chr(c) for c in range(0x21, 0x7F))


def sql_text(v: str) -> str:
    return "'" + v.replace("'", "''") + "'"


def typed(expr: str, kind: str) -> str:
    """A text expression read as a canonical type, with ingest's normalisation
    as far as plain SQL goes (trim, spellings of dates, months and money)."""
    t = f"NULLIF(trim(fold(CAST({expr} AS VARCHAR))), '')"
    if kind in ("Str",) or kind not in ("Id", "Date", "Month", "Money", "Int", "Float", "Bool"):
        return t
    if kind == "Id":
        return f"id_upgrade(upper({t}))"
    if kind == "Date":
        return f"CAST(try_strptime({t}, ['%Y-%m-%d', '%Y/%m/%d', '%Y%m%d', '%Y年%m月%d日']) AS DATE)"
    if kind == "Month":
        return (f"CASE WHEN regexp_full_match({t}, '[0-9]{{6}}') THEN substr({t}, 1, 4) || '-' || substr({t}, 5, 2) "
                f"WHEN regexp_full_match({t}, '[0-9]{{4}}年[0-9]{{1,2}}月') THEN strftime(strptime({t}, '%Y年%m月'), '%Y-%m') "
                f"ELSE {t} END")
    if kind == "Money":
        return f"TRY_CAST(replace({t}, ',', '') AS DECIMAL(14,2))"
    if kind == "Int":
        return f"TRY_CAST({t} AS BIGINT)"
    if kind == "Float":
        return f"TRY_CAST({t} AS DOUBLE)"
    return (f"CASE WHEN lower({t}) IN ('true', '1', 'y', 'yes', '是') THEN true "
            f"WHEN lower({t}) IN ('false', '0', 'n', 'no', '否') THEN false END")


def source_select(con, name: str, src: dict, table: dict, base: Path) -> str:
    path = (base / src["path"]).as_posix()
    fmt = src.get("format") or Path(path).suffix.lstrip(".")
    if fmt == "csv":
        header_row = int(src.get("header_row", 1))
        delim = src.get("delimiter", ",")
        reader = (f"read_csv({sql_text(path)}, all_varchar = true, header = true, skip = {header_row - 1}, "
                  f"delim = {sql_text(delim)}, quote = '\"', null_padding = true, ignore_errors = true, filename = true)")
    elif fmt in ("jsonl", "json", "ndjson"):
        reader = f"read_json({sql_text(path)}, format = 'newline_delimited', ignore_errors = true, filename = true)"
    elif fmt == "parquet":
        reader = f"read_parquet({sql_text(path)}, filename = true)"
    else:
        raise SystemExit(f"source {name}: DuckDB has no reader for {fmt}")
    headers = {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()}
    return mapped_select(src, table, reader, headers, "filename", lambda expr, col, kind: typed(expr, kind))


def mapped_select(src: dict, table: dict, reader: str, headers: set, source_file: str, type_expr) -> str:
    """The canonical columns of `table` from one source's `reader`, by the
    pipeline file's mapping (`columns`, `constants`, `values`); each mapped
    value is typed by `type_expr(expr, column, kind)`. A row without a
    required value is left out (fundwatch quarantines it)."""
    # A canonical column not mapped is read from a header of its own name, as fundwatch does.
    columns = {c: c for c, _ in table["columns"] if c in headers} | src.get("columns", {})
    constants = src.get("constants", {})
    values = src.get("values", {})
    out = []
    for col, kind in table["columns"]:
        if col in constants:
            expr = sql_text(str(constants[col]))
        elif col in columns:
            expr = '"' + columns[col].replace('"', '""') + '"'
        else:
            out.append(f"CAST(NULL AS {duck_type(kind)}) AS {col}")
            continue
        if col in values:
            cases = " ".join(f"WHEN {sql_text(k)} THEN {sql_text(v)}" for k, v in values[col].items())
            expr = f"CASE trim(CAST({expr} AS VARCHAR)) {cases} ELSE CAST({expr} AS VARCHAR) END"
        out.append(f"{type_expr(expr, col, kind)} AS {col}")
    out.append(f"{source_file} AS source_file")
    out.append("CAST(NULL AS BIGINT) AS source_row")
    required = [c for c, _ in table["columns"] if c in table["required"]]
    where = " AND ".join(f"{c} IS NOT NULL" for c in required) or "true"
    return f"SELECT * FROM (SELECT {', '.join(out)} FROM {reader}) WHERE {where}"


def selects_by_table(con, spec: dict, tables: dict, base: Path, select) -> dict[str, list[str]]:
    """Each canonical table's SELECTs, one per source that feeds it (returned lists left out)."""
    by_table: dict[str, list[str]] = {}
    for name, src in spec["sources"].items():
        if src.get("format") == "returned":
            continue
        table = src.get("table", name)
        by_table.setdefault(table, []).append(select(con, name, src, tables[table], base))
    return by_table


def duck_type(kind: str) -> str:
    return {"Date": "DATE", "Money": "DECIMAL(14,2)", "Int": "BIGINT", "Float": "DOUBLE", "Bool": "BOOLEAN"}.get(kind, "VARCHAR")


def duckdb_ingest(pipeline: Path, lake: Path, as_of: str, threads: int) -> None:
    import duckdb

    spec = tomllib.loads(pipeline.read_text())
    tables = canonical_tables()
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    con.execute("SET preserve_insertion_order = false")
    for m in helper_macros(as_of):
        con.execute(m)
    by_table = selects_by_table(con, spec, tables, pipeline.parent, source_select)
    shutil.rmtree(lake, ignore_errors=True)
    lake.mkdir(parents=True)
    for table, selects in by_table.items():
        t = tables[table]
        union = " UNION ALL ".join(selects)
        has_id = any(c == "id_no" for c, _ in t["columns"])
        extra = ", id_valid(id_no) AS id_valid" if has_id else ""
        order = ", ".join(t["sort_by"] + ["source_file"])
        target = lake / f"{table}.parquet"
        con.execute(
            f"COPY (SELECT *{extra} FROM ({union}) ORDER BY {order}) TO {sql_text(target.as_posix())} "
            "(FORMAT parquet, COMPRESSION zstd)"
        )


def param_literal(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", v):
        return f"DATE '{v}'"
    if re.fullmatch(r"-?\d+\.\d{2}", v):
        return f"CAST('{v}' AS DECIMAL(14,2))"
    return sql_text(v)


def bind(sql: str, params: dict) -> str:
    # fundwatch's add_months takes months or dates; DuckDB macros are not
    # polymorphic, so the date form is named apart.
    sql = re.sub(r"add_months\(\s*\$as_of\s*,", "add_months_date($as_of,", sql)
    return re.sub(r"\$([a-z_]+)", lambda m: param_literal(params[m.group(1)]), sql)


def strip_header(text: str) -> str:
    lines = text.splitlines()
    body = [l for l in lines if not l.startswith("-- ") and l != "--"]
    return "\n".join(body).strip().rstrip(";")


def views_and_rules(con, queries: Path, params: dict) -> dict:
    """Creates the views of `queries/views/` and runs every rule of `queries/`
    on the tables `con` already holds: rows, seconds and errors per rule."""
    import duckdb

    pending = {p.stem: bind(strip_header(p.read_text()), params) for p in sorted((queries / "views").glob("*.sql"))}
    while pending:
        progressed = False
        for name, sql in list(pending.items()):
            try:
                con.execute(f"CREATE VIEW {name} AS {sql}")
                del pending[name]
                progressed = True
            except duckdb.CatalogException:
                continue
        if not progressed:
            raise SystemExit(f"views DuckDB cannot create: {', '.join(pending)}")
    rows = {}
    seconds = {}
    errors = {}
    for rule in sorted(queries.glob("*.sql")):
        sql = bind(strip_header(rule.read_text()), params)
        t = time.perf_counter()
        try:
            rows[rule.stem] = len(con.execute(sql).fetchall())
        except duckdb.Error as e:
            errors[rule.stem] = str(e).splitlines()[0]
        seconds[rule.stem] = time.perf_counter() - t
    return {"rows": rows, "seconds": seconds, "errors": errors}


def empty_table_sql(t: dict) -> str:
    cols = ", ".join(f"CAST(NULL AS {duck_type(k)}) AS {c}" for c, k in t["columns"])
    return (f"SELECT {cols}, CAST(NULL AS VARCHAR) AS source_file, "
            f"CAST(NULL AS BIGINT) AS source_row, CAST(NULL AS BOOLEAN) AS id_valid WHERE false")


def duckdb_rules(lake: Path, queries: Path, params: dict, result: Path, threads: int) -> None:
    import duckdb

    tables = canonical_tables()
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    for m in helper_macros(params["as_of"]):
        con.execute(m)
    for table, t in tables.items():
        f = lake / f"{table}.parquet"
        if f.exists():
            con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet({sql_text(f.as_posix())})")
        else:
            con.execute(f"CREATE VIEW {table} AS {empty_table_sql(t)}")
    result.write_text(json.dumps(views_and_rules(con, queries, params)))


# ---------------------------------------------------------------------------
# DuckDB as an analyst uses it: each extract read once with its types into a
# table of DuckDB's own (in memory, no sorted Parquet), then the same SQL.
# ---------------------------------------------------------------------------

# Kinds DuckDB's CSV reader types itself. The others are read as text and
# typed in SQL, because the extracts mix spellings a typed reader would drop
# without a word: dates as 2024/7/13 and 20240119, months as 202401, money
# as 1,234.00, names with full-width characters.
READER_TYPED = {"Int": "BIGINT", "Float": "DOUBLE"}


def analyst_select(con, name: str, src: dict, table: dict, base: Path) -> str:
    path = (base / src["path"]).as_posix()
    fmt = src.get("format") or Path(path).suffix.lstrip(".")
    kinds = dict(table["columns"])
    if fmt == "csv":
        header_row = int(src.get("header_row", 1))
        delim = src.get("delimiter", ",")
        common = f"header = true, skip = {header_row - 1}, delim = {sql_text(delim)}, quote = '\"'"
        headers = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM read_csv({sql_text(path)}, all_varchar = true, {common})").fetchall()]
        columns = {c: c for c in kinds if c in headers} | src.get("columns", {})
        kind_of = {h: kinds[c] for c, h in columns.items() if c in kinds}
        types = ", ".join(f"{sql_text(h)}: {sql_text(READER_TYPED.get(kind_of.get(h, 'Str'), 'VARCHAR'))}" for h in headers)
        reader = f"read_csv({sql_text(path)}, {common}, columns = {{{types}}}, null_padding = true, ignore_errors = true)"
    elif fmt in ("jsonl", "json", "ndjson"):
        reader = f"read_json({sql_text(path)}, format = 'newline_delimited', ignore_errors = true)"
        headers = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()]
    elif fmt == "parquet":
        reader = f"read_parquet({sql_text(path)})"
        headers = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()]
    else:
        raise SystemExit(f"source {name}: DuckDB has no reader for {fmt}")
    constants = src.get("constants", {})

    def type_expr(expr: str, col: str, kind: str) -> str:
        if kind not in READER_TYPED:
            return typed(expr, kind)
        if fmt != "csv" or col in constants or col in src.get("values", {}):
            return f"TRY_CAST({expr} AS {READER_TYPED[kind]})"
        return expr  # the reader typed it

    return mapped_select(src, table, reader, set(headers), "CAST(NULL AS VARCHAR)", type_expr)


def duckdb_analyst(pipeline: Path, queries: Path, params: dict, result: Path, threads: int) -> None:
    import duckdb

    spec = tomllib.loads(pipeline.read_text())
    tables = canonical_tables()
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    for m in helper_macros(params["as_of"]):
        con.execute(m)
    t0 = time.perf_counter()
    by_table = selects_by_table(con, spec, tables, pipeline.parent, analyst_select)
    for table, t in tables.items():
        selects = by_table.get(table)
        if not selects:
            con.execute(f"CREATE TABLE {table} AS {empty_table_sql(t)}")
            continue
        has_id = any(c == "id_no" for c, _ in t["columns"])
        extra = ", id_valid(id_no) AS id_valid" if has_id else ", CAST(NULL AS BOOLEAN) AS id_valid"
        con.execute(f"CREATE TABLE {table} AS SELECT *{extra} FROM ({' UNION ALL '.join(selects)})")
    load = time.perf_counter() - t0
    t1 = time.perf_counter()
    out = views_and_rules(con, queries, params)
    out |= {"load_seconds": load, "rules_seconds": time.perf_counter() - t1}
    result.write_text(json.dumps(out))


# ---------------------------------------------------------------------------
# The driver.
# ---------------------------------------------------------------------------


def fmt_rss(b: float | None) -> str:
    return "—" if b is None else f"{b / 2**30:.2f} GiB" if b >= 2**30 else f"{b / 2**20:.0f} MiB"


def prepared(fundwatch: Path, target: int, per_household: float, data_root: Path) -> tuple[Path, dict, Path, Path, str]:
    """The demo data of a size, its extracts, pipeline file and as-of date."""
    d, meta = demo_data(fundwatch, target, per_household, data_root)
    # The demo's pipeline file reads its rules from ../queries: the project's own.
    link = d / "queries"
    if not link.exists():
        link.symlink_to(ROOT / "queries")
    extracts = d / "extracts"
    pipeline = extracts / "pipeline.toml"
    as_of = tomllib.loads(pipeline.read_text()).get("as_of") or "2024-07-15"
    return d, meta, extracts, pipeline, as_of


def bench_size(fundwatch: Path, py: Path, target: int, runs: int, per_household: float, data_root: Path, threads: int) -> list[dict]:
    d, meta, extracts, pipeline, as_of = prepared(fundwatch, target, per_household, data_root)
    fw, dk, an = [], [], []
    for i in range(runs):
        for sub in ("lake", "out"):
            shutil.rmtree(extracts / sub, ignore_errors=True)
        report_path = d / f"fundwatch-{i}.json"
        m = measure([fundwatch, "--json", "-q", "run", pipeline], report_path)
        report = json.loads(report_path.read_text())
        st = report["stages"]
        fw.append({"ingest": st["plan"] + st["ingest"], "rules": st["rules"], "publish": st["cases"] + st["publish"], "total": m["seconds"], "rss": m["rss"],
                   "rows": {r["id"]: r["rows"] for r in report["rules"]}, "params": report["params"]})
        log(f"  {size_label(target)} run {i + 1}: fundwatch {m['seconds']:.1f}s (ingest {st['ingest']:.1f}, rules {st['rules']:.1f}, publish {st['publish']:.1f}), peak {fmt_rss(m['rss'])}")

        duck_lake = d / "duck_lake"
        mi = measure([py, __file__, "duckdb-ingest", pipeline, duck_lake, as_of, threads], d / "duck-ingest.log")
        params = {**fw[-1]["params"], "as_of": as_of}
        params_file = d / "params.json"
        params_file.write_text(json.dumps(params))
        result = d / f"duck-rules-{i}.json"
        mr = measure([py, __file__, "duckdb-rules", duck_lake, ROOT / "queries", params_file, result, threads], d / "duck-rules.log")
        rr = json.loads(result.read_text())
        dk.append({"ingest": mi["seconds"], "rules": mr["seconds"], "total": mi["seconds"] + mr["seconds"],
                   "rss_ingest": mi["rss"], "rss_rules": mr["rss"], "rows": rr["rows"], "errors": rr["errors"]})
        log(f"  {size_label(target)} run {i + 1}: DuckDB lake {mi['seconds'] + mr['seconds']:.1f}s (ingest {mi['seconds']:.1f}, rules {mr['seconds']:.1f})")

        result = d / f"duck-analyst-{i}.json"
        ma = measure([py, __file__, "duckdb-analyst", pipeline, ROOT / "queries", params_file, result, threads], d / "duck-analyst.log")
        ra = json.loads(result.read_text())
        an.append({"ingest": ra["load_seconds"], "rules": ra["rules_seconds"], "total": ma["seconds"], "rss": ma["rss"],
                   "rows": ra["rows"], "errors": ra["errors"]})
        log(f"  {size_label(target)} run {i + 1}: DuckDB analyst {ma['seconds']:.1f}s (load {ra['load_seconds']:.1f}, rules {ra['rules_seconds']:.1f}), peak {fmt_rss(ma['rss'])}")

    for form, runs_of in (("lake", dk), ("analyst", an)):
        for rule, err in runs_of[-1]["errors"].items():
            log(f"  ! DuckDB ({form}) could not run {rule}: {err}")
    differ = {r: (n, dk[-1]["rows"].get(r)) for r, n in fw[-1]["rows"].items() if r in dk[-1]["rows"] and dk[-1]["rows"][r] != n}
    for rule, (a, b) in differ.items():
        log(f"  ! {rule}: fundwatch {a} rows, DuckDB {b} rows")
    differ_analyst = {r: (n, an[-1]["rows"].get(r)) for r, n in fw[-1]["rows"].items() if r in an[-1]["rows"] and an[-1]["rows"][r] != n}
    for rule, (a, b) in differ_analyst.items():
        log(f"  ! {rule}: fundwatch {a} rows, DuckDB as an analyst {b} rows")

    med = lambda xs: statistics.median(xs)
    rows = []
    for stage in ("ingest", "rules", "publish", "total"):
        f = med([r[stage] for r in fw])
        k = None if stage == "publish" else med([r[stage] for r in dk])
        rss_k = {"ingest": max(r["rss_ingest"] for r in dk), "rules": max(r["rss_rules"] for r in dk), "publish": None,
                 "total": max(max(r["rss_ingest"], r["rss_rules"]) for r in dk)}[stage]
        a = None if stage == "publish" else med([r[stage] for r in an])
        rows.append({
            "size": size_label(target), "payouts": meta["payouts"], "stage": stage,
            "fundwatch_s": round(f, 2), "duckdb_s": None if k is None else round(k, 2),
            "ratio": None if k is None else round(f / k, 2),
            "duckdb_analyst_s": None if a is None else round(a, 2),
            "analyst_ratio": None if a is None else round(f / a, 2),
            "fundwatch_peak_rss": max(r["rss"] for r in fw), "duckdb_peak_rss": rss_k,
            "duckdb_analyst_peak_rss": None if stage == "publish" else max(r["rss"] for r in an),
            "runs": runs, "rules_differing": ";".join(sorted(differ)), "duckdb_failed": ";".join(sorted(dk[-1]["errors"])),
            "analyst_rules_differing": ";".join(sorted(differ_analyst)), "analyst_failed": ";".join(sorted(an[-1]["errors"])),
            "demo_rows_per_s": round(meta["payouts"] / meta["demo_seconds"]),
        })
    return rows


# The rule as it was before identity matching: deaths joined by the exact ID only.
DECEASED_EXACT = """
WITH death AS (
  SELECT id_no, death_date, death_source FROM (
    SELECT id_no, death_date, source AS death_source,
           ROW_NUMBER() OVER (PARTITION BY id_no ORDER BY death_date, source) AS n
    FROM deaths) d
  WHERE n = 1
),
after_death AS (
  SELECT p.*, d.death_date, d.death_source FROM paid p JOIN death d ON d.id_no = p.id_no
  WHERE p.period > add_months(month_of(d.death_date), {grace})
)
SELECT count(*) FROM (
  SELECT id_no, SUM(amount) AS amount_at_risk, COUNT(*) AS payouts_after_death
  FROM after_death GROUP BY id_no) x
"""


def pending_batch(extracts: Path, rows: int, out: Path) -> int:
    """Next month's batch as a payment system exports it: the newest month's
    payouts, `rows` of them, for the month after, under new payout ids."""
    files = sorted((extracts / "payouts").glob("*.csv"))
    header, newest = None, []
    for f in files:
        with open(f, newline="", encoding="utf-8-sig") as fh:
            r = csv.reader(fh)
            h = next(r)
            header = header or h
            period = h.index("所属期")
            for row in r:
                if len(row) == len(h) and re.fullmatch(r"\d{6}", row[period] or ""):
                    newest.append(row)
    top = max(row[period] for row in newest)
    y, m = int(top[:4]), int(top[4:])
    nxt = f"{y + (m == 12)}{(m % 12) + 1:02d}"
    picked = [row for row in newest if row[period] == top][:rows]
    with open(out, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for i, row in enumerate(picked):
            row = list(row)
            row[0] = f"SCR{nxt}{i:09d}"
            row[period] = nxt
            w.writerow(row)
    return len(picked)


def bench_prevention(fundwatch: Path, target: int, runs: int, per_household: float, data_root: Path) -> list[dict]:
    d, meta, extracts, pipeline, as_of = prepared(fundwatch, target, per_household, data_root)
    for sub in ("lake", "out"):
        shutil.rmtree(extracts / sub, ignore_errors=True)
    rows = []

    def row(what: str, seconds: float, rss, note: str = "") -> None:
        rows.append({"size": size_label(target), "payouts": meta["payouts"], "measure": what,
                     "seconds": round(seconds, 2), "peak_rss": rss, "note": note})
        log(f"  {size_label(target)} {what}: {seconds:.2f}s {note}")

    full = measure([fundwatch, "--json", "-q", "run", pipeline], d / "prevention-full.json")
    report = json.loads((d / "prevention-full.json").read_text())
    row("full night", full["seconds"], full["rss"], f"rules {report['stages']['rules']:.1f}s")
    rule_s = {r["id"]: r["seconds"] for r in report["rules"]}
    deaths = sum(f["rows_loaded"] for s in report["ingest"]["sources"] if s["table"] == "deaths" for f in s["files"])

    batch = d / "batch.csv"
    n = pending_batch(extracts, 100_000, batch)
    took = []
    for i in range(runs):
        # Exit 3: payments held, as expected of a batch of the demo's province.
        m = measure([fundwatch, "--json", "-q", "screen", pipeline, "--batch", batch, "--out", d / "holds"], d / "screen.json", ok=(0, 3))
        took.append(m)
    sr = json.loads((d / "screen.json").read_text())
    row("screen", statistics.median(t["seconds"] for t in took), max(t["rss"] for t in took),
        f"{n} payments, {sr['held']} held, median of {runs}")

    grace = report["params"].get("death_grace_months", 0)
    exact_sql = d / "deceased_exact.sql"
    exact_sql.write_text(DECEASED_EXACT.format(grace=grace))
    for what, args in (("deceased_recipient exact join (sql)", ["-f", exact_sql]),
                       ("deceased_recipient with identity matching (sql)", ["-e", "SELECT count(*) FROM deceased_recipient"])):
        took = [measure([fundwatch, "-q", "sql", pipeline, *args, "--format", "csv"], d / "sql.out") for _ in range(runs)]
        row(what, statistics.median(t["seconds"] for t in took), max(t["rss"] for t in took),
            f"{deaths} death records; in the night: {rule_s.get('deceased_recipient', 0):.2f}s")

    # A night later, 1,000 new deaths of paid recipients and nothing else new.
    civil = extracts / "deaths" / "死亡登记.csv"
    kept = civil.read_bytes()
    try:
        paid = []
        with open(batch, newline="", encoding="utf-8") as fh:
            r = csv.DictReader(fh)
            for rec in r:
                paid.append((rec["身份证号"], rec["姓名"]))
                if len(paid) >= 1000:
                    break
        with open(civil, "a", encoding="utf-8") as fh:
            for idn, name in paid:
                fh.write(f"{idn},{name},2024年3月1日,2024年3月4日\n")
        next_day = (datetime.date.fromisoformat(str(as_of)) + datetime.timedelta(days=1)).isoformat()
        m = measure([fundwatch, "--json", "-q", "run", pipeline, "--as-of", next_day], d / "prevention-deaths.json")
        nr = json.loads((d / "prevention-deaths.json").read_text())
        carried = sum(1 for r in nr["rules"] if r["status"] == "carried")
        row("deaths-only night", m["seconds"], m["rss"],
            f"rules {nr['stages']['rules']:.1f}s, ingest {nr['stages']['ingest']:.1f}s; {carried} of {len(nr['rules'])} rules carried over")
    finally:
        civil.write_bytes(kept)
    return rows


def bench_memory(fundwatch: Path, target: int, limit: str, per_household: float, data_root: Path, unrestricted: bool) -> list[dict]:
    """fundwatch alone, whole run, with and without `[engine] memory_limit`."""
    d, meta, extracts, pipeline, _ = prepared(fundwatch, target, per_household, data_root)
    base = pipeline.read_text()
    spill = d / "spill"
    limited = base.replace("[engine]\n", f'[engine]\nmemory_limit = "{limit}"\nspill_dir = "{spill}"\n', 1)
    (extracts / "pipeline-limited.toml").write_text(limited)
    rows = []
    for label, name in ([("unrestricted", "pipeline.toml")] if unrestricted else []) + [(f"memory_limit {limit}", "pipeline-limited.toml")]:
        for sub in ("lake", "out"):
            shutil.rmtree(extracts / sub, ignore_errors=True)
        shutil.rmtree(spill, ignore_errors=True)
        spill.mkdir()
        report_path = d / f"memory-{name}.json"
        m = measure([fundwatch, "--json", "-q", "run", extracts / name], report_path)
        st = json.loads(report_path.read_text())["stages"]
        log(f"  {size_label(target)} {label}: {m['seconds']:.1f}s (ingest {st['ingest']:.1f}, rules {st['rules']:.1f}), peak {fmt_rss(m['rss'])}")
        rows.append({"size": size_label(target), "payouts": meta["payouts"], "setting": label, "seconds": round(m["seconds"], 1),
                     "ingest_s": round(st["ingest"], 1), "rules_s": round(st["rules"], 1), "peak_rss": m["rss"]})
    return rows


def print_table(rows: list[dict]) -> None:
    r0 = rows[0]
    print(f"\n{r0['size']} payouts ({r0['payouts']:,} rows), median of {r0['runs']} runs; demo wrote {r0['demo_rows_per_s']:,} payout rows/s")
    print("DuckDB as an analyst: typed read_csv into its own tables, then the SQL; DuckDB lake: our work, a sorted Parquet lake, then the SQL")
    print(f"{'stage':<9} {'fundwatch s':>12} {'analyst s':>10} {'ratio':>7} {'lake s':>8} {'ratio':>7} {'fundwatch RSS':>14} {'analyst RSS':>12} {'lake RSS':>10}")
    dash = lambda v, f: "—" if v is None else f.format(v)
    for r in rows:
        print(f"{r['stage']:<9} {r['fundwatch_s']:>12.2f} {dash(r['duckdb_analyst_s'], '{:.2f}'):>10} {dash(r['analyst_ratio'], '{:.2f}'):>7} "
              f"{dash(r['duckdb_s'], '{:.2f}'):>8} {dash(r['ratio'], '{:.2f}'):>7} {fmt_rss(r['fundwatch_peak_rss']):>14} "
              f"{fmt_rss(r['duckdb_analyst_peak_rss']):>12} {fmt_rss(r['duckdb_peak_rss']):>10}")
    for key, what in (("rules_differing", "row counts differ from the DuckDB lake's"), ("analyst_rules_differing", "row counts differ from DuckDB as an analyst"),
                      ("duckdb_failed", "DuckDB (lake) could not run"), ("analyst_failed", "DuckDB (analyst) could not run")):
        if r0[key]:
            print(f"rules whose {what}: {r0[key]}")


def plot(rows: list[dict], path: Path) -> None:
    """Total time against payout rows, both tools, log-log, as a small SVG."""
    import math

    pts = {"fundwatch": [], "DuckDB, analyst": [], "DuckDB, lake": []}
    for r in rows:
        if r["stage"] == "total":
            pts["fundwatch"].append((r["payouts"], r["fundwatch_s"]))
            if r.get("duckdb_analyst_s") is not None:
                pts["DuckDB, analyst"].append((r["payouts"], r["duckdb_analyst_s"]))
            if r["duckdb_s"] is not None:
                pts["DuckDB, lake"].append((r["payouts"], r["duckdb_s"]))
    allp = [p for v in pts.values() for p in v]
    if not allp:
        return
    W, H, M = 560, 340, 60
    xs = [math.log10(x) for x, _ in allp]
    ys = [math.log10(y) for _, y in allp]
    x0, x1 = math.floor(min(xs)), math.ceil(max(xs))
    y0, y1 = math.floor(min(ys)), math.ceil(max(ys))
    x1 = max(x1, x0 + 1)
    y1 = max(y1, y0 + 1)
    sx = lambda v: M + (math.log10(v) - x0) / (x1 - x0) * (W - 2 * M)
    sy = lambda v: H - M + -(math.log10(v) - y0) / (y1 - y0) * (H - 2 * M)
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{W / 2}" y="20" text-anchor="middle" font-size="14">whole run: seconds against payout rows (log-log)</text>']
    for e in range(x0, x1 + 1):
        x = sx(10 ** e)
        svg.append(f'<line x1="{x}" y1="{M}" x2="{x}" y2="{H - M}" stroke="#eee"/><text x="{x}" y="{H - M + 18}" text-anchor="middle">1e{e}</text>')
    for e in range(y0, y1 + 1):
        y = sy(10 ** e)
        svg.append(f'<line x1="{M}" y1="{y}" x2="{W - M}" y2="{y}" stroke="#eee"/><text x="{M - 6}" y="{y + 4}" text-anchor="end">{10 ** e:g} s</text>')
    colours = {"fundwatch": "#c0392b", "DuckDB, analyst": "#2c3e50", "DuckDB, lake": "#7f8c8d"}
    for i, (tool, p) in enumerate(pts.items()):
        p = sorted(p)
        if not p:
            continue
        line = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in p)
        svg.append(f'<polyline points="{line}" fill="none" stroke="{colours[tool]}" stroke-width="2"/>')
        for x, y in p:
            svg.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3.5" fill="{colours[tool]}"><title>{tool}: {x:,} rows, {y:.1f} s</title></circle>')
        svg.append(f'<rect x="{W - M - 110}" y="{M + 8 + i * 18}" width="12" height="3" fill="{colours[tool]}"/><text x="{W - M - 92}" y="{M + 13 + i * 18}">{tool}</text>')
    svg.append(f'<text x="{W / 2}" y="{H - 18}" text-anchor="middle">payout rows</text></svg>')
    path.write_text("\n".join(svg) + "\n")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "duckdb-ingest":
        duckdb_ingest(Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4], int(sys.argv[5]))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "duckdb-analyst":
        duckdb_analyst(Path(sys.argv[2]), Path(sys.argv[3]), json.loads(Path(sys.argv[4]).read_text()), Path(sys.argv[5]), int(sys.argv[6]))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "duckdb-rules":
        duckdb_rules(Path(sys.argv[2]), Path(sys.argv[3]), json.loads(Path(sys.argv[4]).read_text()), Path(sys.argv[5]), int(sys.argv[6]))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1M,10M", help="payout rows per size, e.g. 1M,10M,100M")
    ap.add_argument("--runs", type=int, default=3, help="runs per size (the median is reported)")
    target_dir = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    ap.add_argument("--bin", type=Path, default=target_dir / "release" / "fundwatch", help="the fundwatch release binary")
    ap.add_argument("--data", type=Path, default=BENCH / "data", help="where demo data is written (and reused)")
    ap.add_argument("--results", type=Path, default=BENCH / "results")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2, help="DuckDB threads (fundwatch uses every core)")
    ap.add_argument("--memory-limit", metavar="SIZE", help="instead of the comparison: fundwatch's whole run with and without "
                    "[engine] memory_limit = SIZE (e.g. 2GiB), peak RSS of each, written to memory.csv")
    ap.add_argument("--limited-only", action="store_true", help="with --memory-limit: skip the unrestricted run (for 100M)")
    ap.add_argument("--prevention", action="store_true", help="instead of the comparison: screening, identity matching and "
                    "a deaths-only night (SPEC §12), written to prevention.csv")
    args = ap.parse_args()
    if not args.bin.exists():
        raise SystemExit(f"{args.bin} does not exist: build it with `cargo build --release` (or pass --bin)")
    args.data.mkdir(parents=True, exist_ok=True)
    per_household = payouts_per_household(args.bin, args.data)
    if args.memory_limit:
        rows = []
        for s in args.sizes.split(","):
            rows.extend(bench_memory(args.bin, parse_size(s), args.memory_limit, per_household, args.data, not args.limited_only))
        print(f"\n{'size':>6} {'payouts':>12}  {'setting':<22} {'seconds':>8} {'peak RSS':>10}")
        for r in rows:
            print(f"{r['size']:>6} {r['payouts']:>12}  {r['setting']:<22} {r['seconds']:>8} {fmt_rss(r['peak_rss']):>10}")
        args.results.mkdir(parents=True, exist_ok=True)
        out = args.results / "memory.csv"
        old = list(csv.DictReader(open(out))) if out.exists() else []
        keep = [r for r in old if (r["size"], r["setting"]) not in {(x["size"], x["setting"]) for x in rows}]
        with open(out, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
            w.writeheader()
            w.writerows(keep + rows)
        print(f"\nwritten: {out}")
        return
    if args.prevention:
        rows = []
        for s in args.sizes.split(","):
            rows.extend(bench_prevention(args.bin, parse_size(s), args.runs, per_household, args.data))
        print(f"\n{'size':>6} {'payouts':>12}  {'measure':<48} {'seconds':>8} {'peak RSS':>10}  note")
        for r in rows:
            print(f"{r['size']:>6} {r['payouts']:>12}  {r['measure']:<48} {r['seconds']:>8} {fmt_rss(r['peak_rss']):>10}  {r['note']}")
        args.results.mkdir(parents=True, exist_ok=True)
        out = args.results / "prevention.csv"
        with open(out, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
            w.writeheader()
            w.writerows(rows)
        print(f"\nwritten: {out}")
        return
    py = duckdb_python()
    all_rows = []
    for s in args.sizes.split(","):
        rows = bench_size(args.bin, py, parse_size(s), args.runs, per_household, args.data, args.threads)
        print_table(rows)
        all_rows.extend(rows)
    args.results.mkdir(parents=True, exist_ok=True)
    with open(args.results / "results.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(all_rows[0].keys()))
        w.writeheader()
        w.writerows(all_rows)
    plot(all_rows, args.results / "time.svg")
    print(f"\nwritten: {args.results / 'results.csv'}, {args.results / 'time.svg'}")


if __name__ == "__main__":
    main()
