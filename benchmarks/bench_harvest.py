"""OAI-PMH harvest speed: parse rate and end-to-end harvest through a loopback server.

Real arXiv metadata (the first --papers records of the daily cs corpus) is rendered into
arXiv-format ListRecords pages of --page-size records (arXiv serves about 1,000 per page)
chained by resumption tokens. Measured:

- parse: the pure parser over all pages (papers/s);
- harvest: `Service.harvest_oai` against a local HTTP server with request_delay=0, into a
  fresh SQLite (and PostgreSQL) database: HTTP + parse + upsert + checkpoint per page.

Against arxiv.org the 3 s politeness delay dominates: at 1,000 records per page the
ceiling is about 1,000 / (3 s + transfer) ≈ 300 papers/s, whatever this code does.

    .venv/bin/python benchmarks/bench_harvest.py [--papers 20000] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import lzma
import statistics
import tempfile
import threading
import time
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from xml.sax.saxutils import escape

from throwaway_postgres import new_database, start_server

from paperwire.config import Settings
from paperwire.service import Service
from paperwire.sources.arxiv_oai import parse_list_records

ROOT = Path(__file__).resolve().parent.parent
DAILY = ROOT.parent / "shared/data/arxiv_metadata/arxiv_daily_cs_2025-03-18_2026-07-01.jsonl.xz"
HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
    "<responseDate>2026-07-02T00:00:00Z</responseDate><request>bench</request><ListRecords>\n"
)


def render_record(rec: dict[str, Any]) -> str:
    authors = []
    for name in rec["authors"]:
        first, _, last = name.rpartition(" ")
        authors.append(
            f"<author><keyname>{escape(last)}</keyname>"
            f"<forenames>{escape(first)}</forenames></author>"
        )
    comment = f"<comments>{escape(rec['comment'])}</comments>" if rec.get("comment") else ""
    return (
        f"<record><header><identifier>oai:arXiv.org:{rec['id']}</identifier>"
        f"<datestamp>{rec['listing_date']}</datestamp><setSpec>cs</setSpec></header><metadata>"
        f'<arXiv xmlns="http://arxiv.org/OAI/arXiv/"><id>{rec["id"]}</id>'
        f"<created>{rec['listing_date']}</created><authors>{''.join(authors)}</authors>"
        f"<title>{escape(rec['title'])}</title>"
        f"<categories>{escape(' '.join(rec['categories']))}</categories>{comment}"
        f"<abstract>{escape(rec['summary'])}</abstract></arXiv></metadata></record>\n"
    )


def build_pages(papers: int, page_size: int) -> list[bytes]:
    records: list[str] = []
    with lzma.open(DAILY, "rt", encoding="utf-8") as handle:
        for line in handle:
            records.append(render_record(json.loads(line)))
            if len(records) == papers:
                break
    pages = []
    for number, start in enumerate(range(0, len(records), page_size), start=1):
        last = start + page_size >= len(records)
        token = "" if last else f"bench-{number + 1}"
        tail = f'<resumptionToken completeListSize="{len(records)}">{token}</resumptionToken>'
        body = (
            HEAD + "".join(records[start : start + page_size]) + tail + "</ListRecords></OAI-PMH>"
        )
        pages.append(body.encode())
    return pages


def serve(pages: list[bytes]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            params = dict(parse_qsl(urlsplit(self.path).query))
            token = params.get("resumptionToken", "bench-1")
            body = pages[int(token.split("-")[1]) - 1]
            self.send_response(200)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def harvest_once(url: str, db_url: str, data_dir: Path) -> tuple[float, int]:
    settings = Settings(
        data_dir=data_dir, database_url=db_url, oai_base_url=f"{url}/oai", request_delay=0.0
    )
    with Service(settings) as service:
        start = time.perf_counter()
        report = service.harvest_oai(date(2025, 1, 1))
        return time.perf_counter() - start, report.new


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=20_000)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    pages = build_pages(args.papers, args.page_size)
    total = sum(len(parse_list_records(p).items) for p in pages)
    mb = sum(map(len, pages)) / 1e6
    print(f"{total:,} papers in {len(pages)} pages of {args.page_size} ({mb:.1f} MB of XML)")
    parse_times = []
    for _ in range(args.runs):
        start = time.perf_counter()
        for page in pages:
            parse_list_records(page)
        parse_times.append(time.perf_counter() - start)
    rows = [("parse only", statistics.median(parse_times))]
    server = serve(pages)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        pg_base = start_server(work) if "postgresql" in args.backends else ""
        for backend in args.backends.split(","):
            times = []
            for run in range(args.runs):
                data_dir = work / f"{backend}{run}"
                db_url = (
                    new_database(pg_base, f"bench_{run}")
                    if backend == "postgresql"
                    else f"sqlite:///{data_dir / 'bench.db'}"
                )
                seconds, new = harvest_once(url, db_url, data_dir)
                assert new == total, (new, total)
                times.append(seconds)
            rows.append((f"harvest -> {backend}", statistics.median(times)))
    server.shutdown()
    print(f"\n| step (median of {args.runs}) | seconds | papers/s |\n|---|---:|---:|")
    for label, seconds in rows:
        print(f"| {label} | {seconds:.2f} | {total / seconds:,.0f} |")


if __name__ == "__main__":
    main()
