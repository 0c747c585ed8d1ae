"""The recipes of docs/history.md (HubSpot, Salesforce, GA4 in a warehouse): each history.yaml,
quoted in the doc as it is, run over small hand-made files with the vendor's column names."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from leadscore.cli import main
from leadscore.ingest.history import load_history

REPO = Path(__file__).resolve().parents[1]
RECIPES = REPO / "tests" / "data" / "recipes"


def run(*args) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def rows(name: str, table: str) -> list[dict]:
    return load_history(str(RECIPES / name / "history.yaml"))[table].table.to_pylist()


@pytest.mark.parametrize("name", ["hubspot", "salesforce", "ga4"])
def test_the_doc_quotes_the_tested_recipe(name):
    assert (RECIPES / name / "history.yaml").read_text().rstrip() in (REPO / "docs" / "history.md").read_text()


@pytest.mark.parametrize("name", ["hubspot", "salesforce", "ga4"])
def test_every_row_is_usable_and_the_ruleset_replays(name, tmp_path):
    folder = RECIPES / name
    code, out, err = run("simulate", folder / "scoring.score", "--history", folder / "history.yaml", "--strict",
                         "--format", "json")
    assert code == 0, err
    assert json.loads(out)["skipped_rows"] == {}


@pytest.mark.parametrize("name", ["hubspot", "salesforce", "ga4"])
def test_schema_infer_on_the_recipe(name, tmp_path):
    folder = RECIPES / name
    shutil.copy(folder / "scoring.score", tmp_path / "scoring.score")
    code, _, err = run("schema", "infer", "--history", folder / "history.yaml", "-o", tmp_path / "schema.yaml")
    assert code == 0, err
    assert run("check", tmp_path / "scoring.score")[0] == 0


def test_hubspot_timeline_calls_and_closed_deals():
    events = [(e["lead_id"], e["type"], e["direction"]) for e in rows("hubspot", "events")]
    assert sorted(events) == sorted([
        ("101", "first_visit", None), ("102", "first_visit", None),
        ("101", "form_submission", None), ("102", "form_submission", None), ("103", "form_submission", None),
        ("101", "became_mql", None), ("103", "became_mql", None),
        ("101", "call", "outbound"), ("101", "call", "inbound"), ("103", "call", "outbound")])
    outcomes = [(o["lead_id"], o["stage"], o["amount"]) for o in rows("hubspot", "outcomes")]
    assert sorted(outcomes) == [("101", "won", "12000"), ("103", "lost", "3000")]   # the open deal has none


def test_salesforce_tasks_on_leads_campaign_responses_and_converted_opportunities():
    events = sorted((e["lead_id"], e["type"], e["campaign"]) for e in rows("salesforce", "events"))
    assert events == [("00Q5e000001AbcDEAS", "call", None), ("00Q5e000001AbcDEAS", "campaign_response",
                                                             "7015e000000CmpAAAS"),
                      ("00Q5e000001AbcDEAS", "email", None), ("00Q5e000001AbcFEAS", "call", None),
                      ("00Q5e000001AbcFEAS", "campaign_response", "7015e000000CmpBAAS")]
    # a contact's task (003...) and an open task are not events
    outcomes = sorted((o["lead_id"], o["stage"], o["at"]) for o in rows("salesforce", "outcomes"))
    assert outcomes == [("00Q5e000001AbcDEAS", "won", "2026-02-10"), ("00Q5e000001AbcFEAS", "lost", "2026-03-01")]


def test_ga4_signed_in_users_their_pages_and_purchases():
    leads = {lead["lead_id"]: lead for lead in rows("ga4", "leads")}
    assert set(leads) == {"u1", "u2", "u3"}
    assert (leads["u2"]["device"], leads["u2"]["first_medium"]) == ("mobile", "cpc")
    events = rows("ga4", "events")
    assert len(events) == 6   # the anonymous page view and the purchase are not events
    assert events[0]["page_location"] == "https://example.com/pricing"
    [purchase] = rows("ga4", "outcomes")
    assert (purchase["lead_id"], purchase["amount"]) == ("u1", 1200.0)
