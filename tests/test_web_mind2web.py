"""Mind2Web: a fixture in the released schema (tasks with confirmed_task, action_reprs, actions with
action_uid, operation, pos_candidates whose attributes are JSON text), each action joined with
its <action_uid>_before.mhtml captured from the local shop; one row per action, the prompt with
only the earlier actions, the target's tag in the output, unfound targets counted with why."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from web_site import Server, capture, write_site

from toolbox.cli import main
from toolbox.core.screens import step_prompt

TASK = "Find large red roses and open the cart"
REPRS = [
    "[textbox]  Search plants -> TYPE: red roses",
    "[combobox]  Size -> SELECT: Large",
    "[button]  Search -> CLICK",
    "[link]  Open cart -> CLICK",
]


def candidate(tag: str, node: str, box: str, element_id: str = "", cls: str = "") -> dict[str, Any]:
    attributes = {"backend_node_id": node, "bounding_box_rect": box, "data_pw_testid_buckeye_candidate": "1"}
    if element_id:
        attributes["id"] = element_id
    if cls:
        attributes["class"] = cls
    return {
        "tag": tag,
        "attributes": json.dumps(attributes),
        "backend_node_id": node,
        "is_original_target": True,
        "is_top_level_target": True,
    }


def action(uid: str, op: str, value: str, *candidates: dict[str, Any]) -> dict[str, Any]:
    return {
        "action_uid": uid,
        "raw_html": "<html>...</html>",
        "cleaned_html": "<html>...</html>",
        "operation": {"original_op": op, "value": value, "op": op},
        "pos_candidates": list(candidates),
        "neg_candidates": [],
    }


TASKS = [
    {
        "annotation_id": "task-1",
        "website": "gardenshop",
        "domain": "Shopping",
        "subdomain": "Garden",
        "confirmed_task": TASK,
        "action_reprs": REPRS,
        "actions": [
            action("a1", "TYPE", "red roses", candidate("input", "101", "20,110,244,33", "query")),
            action("a2", "SELECT", "Large", candidate("select", "102", "269.7,110,77,32", "size")),
            # its backend node id is not in the page: found by its class near its box
            action("a3", "CLICK", "", candidate("button", "9999", "352.5,110,69,33", cls="btn primary")),
            action("a4", "CLICK", "", candidate("a", "104", "20,161,89.2,21", "cart")),
        ],
    },
    {
        "annotation_id": "task-2",
        "website": "gardenshop",
        "confirmed_task": "See the weekly deals",
        "action_reprs": ["[button]  Hidden offer -> CLICK", "[a] -> CLICK", "[div] -> CLICK", "[span] -> CLICK", "x"],
        "actions": [
            action("b1", "CLICK", "", candidate("button", "106", "215,220,110,33", "covered")),  # under an overlay
            action("b2", "CLICK", "", candidate("a", "104", "20,161,89,21", "cart")),  # its snapshot is missing
            action("b3", "CLICK", "", candidate("div", "9998", "900,900,50,20", cls="card")),  # far from its box
            action("b4", "CLICK", "", candidate("span", "9997", "120,225,45,21", "inner")),  # inside a tagged div
            action("b5", "CLICK", ""),  # no candidate
        ],
    },
]
SNAPSHOT_OF = {"a1": "fresh", "a2": "typed", "a3": "selected", "a4": "selected", "b1": "fresh", "b3": "fresh"}
SNAPSHOT_OF |= {"b4": "fresh", "b5": "fresh"}


@pytest.fixture(scope="module")
def mind2web(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("m2w")
    server = Server(write_site(root / "site"))
    try:
        snapshots, _ = capture(
            server.url,
            {
                "fresh": lambda page: None,
                "typed": lambda page: page.fill("#query", "red roses"),
                "selected": lambda page: page.select_option("#size", "Large"),
            },
        )
    finally:
        server.close()
    shutil.rmtree(root / "site")
    for uid, state in SNAPSHOT_OF.items():  # as the raw dump keeps them: <task>/processed/snapshots/
        task = "task-1" if uid.startswith("a") else "task-2"
        folder = root / "raw" / task / "processed" / "snapshots"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{uid}_before.mhtml").write_text(snapshots[state])
    (root / "data").mkdir()
    (root / "data" / "train_0.json").write_text(json.dumps(TASKS))
    return root


def build(root: Path, data: str, name: str, options: str = "") -> tuple[list[dict[str, Any]], dict[str, Any]]:
    (root / f"{name}.yaml").write_text(
        f"datasets: [{{name: mind2web, path: {data}, mhtml_dir: raw{options}}}]\ntasks: [web_screens]\n"
        f"format: llama2d\noutput: out/{name}.jsonl\ncache_dir: cache\n"
    )
    assert main(["--config", str(root / f"{name}.yaml"), "-q"]) == 0
    out = root / "out" / f"{name}.jsonl"
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    stats = json.loads(out.with_name(out.name + ".stats.json").read_text())
    return rows, stats


def test_one_row_per_action_with_only_earlier_actions_and_the_target_tag(mind2web: Path) -> None:
    rows, stats = build(mind2web, "data", "json")
    outputs = [r["output"] for r in rows]
    # tags in document order: 0 query, 1 size, 2 go, 3 cart, 4 card (5 footer)
    assert outputs == ['TYPE [0] "red roses"', 'SELECT [1] "Large"', "CLICK [2]", "CLICK [3]", "CLICK [4]"]
    for i, row in enumerate(rows[:4]):
        assert row["prompt"] == step_prompt(TASK, REPRS[:i])
        assert all(later not in row["prompt"] for later in REPRS[i:])
    assert "none" in rows[0]["prompt"]
    words = [w["text"] for w in rows[2]["screen"]["words"]]
    assert {"red", "roses", "Large"} <= set(words)  # what was typed and chosen before shows on the later screen
    assert "roses" not in [w["text"] for w in rows[0]["screen"]["words"]]
    assert stats["written"] == 5 and stats["read"] == {"mind2web": 5}


def test_rows_whose_target_cannot_be_found_are_counted_with_the_reason(mind2web: Path) -> None:
    _, stats = build(mind2web, "data", "json")
    dropped = {d["reason"]: d["count"] for d in stats["dropped"] if d["filter"] == "mind2web"}
    assert dropped == {
        "no snapshot": 1,
        "no target candidate": 1,
        "target not found: target is not interactable or is covered at its centre": 1,
        "target not found: nearest element with its class/id is too far from its box": 1,
    }


def test_parquet_and_one_row_per_action_layouts_read_the_same(mind2web: Path) -> None:
    rows, _ = build(mind2web, "data", "json")
    tasks = [{**t, "actions": [{**a, "operation": json.dumps(a["operation"])} for a in t["actions"]]} for t in TASKS]
    (mind2web / "parquet").mkdir(exist_ok=True)
    pq.write_table(pa.Table.from_pylist(tasks), mind2web / "parquet" / "train.parquet")
    from_parquet, _ = build(mind2web, "parquet", "parquet", ", batch: 3")  # OCR'd while the next batch renders
    assert from_parquet == rows
    # Multimodal-Mind2Web's layout: one row per action, the task's fields beside it
    per_action = [
        {**{k: v for k, v in TASKS[0].items() if k != "actions"}, **a, "target_action_index": str(i)}
        for i, a in enumerate(TASKS[0]["actions"])
    ]
    (mind2web / "actions").mkdir(exist_ok=True)
    (mind2web / "actions" / "test.jsonl").write_text("\n".join(json.dumps(r) for r in per_action) + "\n")
    from_actions, _ = build(mind2web, "actions", "actions")
    assert from_actions == rows[:4]
