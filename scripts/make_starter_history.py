"""Regenerate the small synthetic history shipped with `leadscore init`.

    python scripts/make_starter_history.py

Deterministic (fixed seed): 60 leads created in July and August 2026,
their page views, webinars, demo requests and unsubscribes, and outcomes
(`won` more likely for leads that fit and engage, as in real funnels). The
data is made up; it exists so a new project can run `simulate` at once.
"""

from __future__ import annotations

import csv
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "src" / "leadscore" / "templates" / "init" / "history"
INDUSTRIES = ["Software", "Financial Services", "Manufacturing", "Retail", "Education", "Other"]
TITLES = ["VP Marketing", "Head of Sales", "Analyst", "Engineer", "Chief Revenue Officer",
          "Marketing Manager", "Director of Operations", "Student"]
DOMAINS = ["gmail.com", "example.com", "acme.test", "contoso.test", "yahoo.com", "globex.test"]
PAGES = ["/", "/blog/scoring", "/pricing", "/docs", "/pricing/enterprise", "/customers"]


def main() -> None:
    rng = random.Random(20260901)
    start = datetime(2026, 7, 1, tzinfo=timezone.utc)
    leads, events, outcomes = [], [], []
    for number in range(1, 61):
        lead_id = f"L{number:03d}"
        created = start + timedelta(days=rng.randrange(0, 60), hours=rng.randrange(8, 18))
        industry = rng.choice(INDUSTRIES)
        employees = rng.choice([5, 12, 30, 80, 150, 400, 2500])
        leads.append({"lead_id": lead_id, "industry": industry, "employees": employees,
                      "job_title": rng.choice(TITLES),
                      "email": f"{lead_id.lower()}@{rng.choice(DOMAINS)}",
                      "created_at": created.strftime("%Y-%m-%dT%H:%M:%SZ")})
        keen = rng.random()
        at = created
        for _ in range(int(keen * 14)):
            at += timedelta(hours=rng.randrange(2, 96))
            kind = rng.choices(["page_view", "webinar_attended", "demo_request", "unsubscribe"],
                               [80, 8, 4 * keen, 2])[0]
            row = {"lead_id": lead_id, "type": kind, "at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                   "url": "", "webinar": ""}
            if kind == "page_view":
                row["url"] = rng.choice(PAGES)
            elif kind == "webinar_attended":
                row["webinar"] = "scoring-101"
            events.append(row)
        fits = industry in ("Software", "Financial Services") or employees >= 200
        if rng.random() < 0.15 + 0.35 * keen + 0.2 * fits:
            stage = "won" if rng.random() < 0.5 + 0.3 * keen else "lost"
            outcomes.append({"lead_id": lead_id, "stage": stage,
                             "at": (at + timedelta(days=rng.randrange(3, 40))).strftime("%Y-%m-%dT%H:%M:%SZ"),
                             "amount": rng.choice([4800, 9600, 24000]) if stage == "won" else ""})
    events.sort(key=lambda r: (r["at"], r["lead_id"]))
    write(OUT / "leads.csv", leads)
    write(OUT / "events.csv", events)
    write(OUT / "outcomes.csv", outcomes)


def write(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    main()
