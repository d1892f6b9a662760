import json

import pytest
from episodes import sample_episode

from toolbox.core import registry
from toolbox.core.format import FormatError
from toolbox.core.models import Episode, Source, ToolCall, Turn
from toolbox.formats.glaive import NO_FUNCTIONS, WITH_FUNCTIONS

FORMATS = ["glaive", "sharegpt", "openai"]


def fmt(name):
    return registry.get("formats", name)()


@pytest.mark.parametrize("name", FORMATS)
def test_encoded_episode_is_valid_and_reads_back(name):
    f = fmt(name)
    row = f.encode(sample_episode())
    assert f.validate(row) == []
    back = f.decode(json.loads(json.dumps(row)), "x", Source(dataset="t"))
    assert [t.role for t in back.turns][0] == "user"
    calls = [(c.name, c.arguments) for t in back.turns for c in t.tool_calls]
    assert calls == [
        ("search_runs", {"query": "llama-7b 'May'"}),
        ("click", {"x": 10, "y": 20}),
        ("click", {"x": 30, "y": 40}),
    ]
    assert back.turns[-1].content == "The run is llama-7b-0512."
    assert [t.name for t in back.tools] == ["search_runs", "click"]
    # a re-encode of what was read gives the same row: the reader and writer agree
    assert f.encode(back) == row or name == "glaive" and f.encode(back)["chat"] == row["chat"]


def test_glaive_exact_layout():
    row = fmt("glaive").encode(sample_episode())
    assert row["system"].startswith(WITH_FUNCTIONS + '\n{\n    "name": "search_runs"')
    assert '}\n\n{\n    "name": "click"' in row["system"]
    turns = row["chat"].split("\n\n\n")
    assert turns[0] == "USER: Find the run named llama-7b, it's from May"
    assert turns[1] == "ASSISTANT: I'll search for it. <|endoftext|>"
    assert (
        turns[2]
        == 'ASSISTANT: <functioncall> {"name": "search_runs", "arguments": \'{"query": "llama-7b \'May\'"}\'} <|endoftext|>'
    )
    assert turns[3] == 'FUNCTION RESPONSE: {"runs": ["llama-7b-0512"]}'
    # each call is followed by its own result
    assert (
        turns[4].startswith('ASSISTANT: <functioncall> {"name": "click"')
        and turns[5] == "FUNCTION RESPONSE: opened run"
    )
    assert turns[-1] == "ASSISTANT: The run is llama-7b-0512. <|endoftext|>"


def test_glaive_without_tools_uses_the_no_functions_line():
    ep = Episode(
        id="a",
        turns=[Turn(role="user", content="hi"), Turn(role="assistant", content="hello")],
        source=Source(dataset="t"),
    )
    assert fmt("glaive").encode(ep)["system"] == NO_FUNCTIONS


def test_glaive_reader_accepts_real_world_variants():
    f = fmt("glaive")
    system = WITH_FUNCTIONS + '\n{\n    "name": "get_news",\n    "parameters": {}\n}\n\n'
    chat = (
        'USER: news?\n\nASSISTANT: <functioncall> {"name": "get_news", "arguments": {"country": "US"}} <|endoftext|>\n\n'
        'FUNCTION RESPONSE: {"headlines": []}\n\nASSISTANT: Nothing today. <|endoftext|>\n\n\n'
    )
    ep = f.decode({"system": system, "chat": chat}, "x", Source(dataset="t"))
    assert ep.turns[1].tool_calls[0].arguments == {"country": "US"}
    assert ep.turns[2].role == "tool" and ep.turns[2].tool_call_id == ep.turns[1].tool_calls[0].id
    assert ep.turns[3].content == "Nothing today."
    # the validator still reports the non-canonical separators
    assert f.validate({"system": system, "chat": chat})


def test_sharegpt_layout_follows_llama_factory_rules():
    row = fmt("sharegpt").encode(sample_episode())
    kinds = [m["from"] for m in row["conversations"]]
    assert kinds == ["human", "function_call", "observation", "function_call", "observation", "gpt"]
    assert json.loads(row["conversations"][3]["value"]) == [
        {"name": "click", "arguments": {"x": 10, "y": 20}},
        {"name": "click", "arguments": {"x": 30, "y": 40}},
    ]
    assert json.loads(row["conversations"][4]["value"]) == ["opened run", "opened chart"]
    assert [t["name"] for t in json.loads(row["tools"])] == ["search_runs", "click"]
    assert row["system"] == "You operate a computer."


def test_sharegpt_refuses_an_episode_ending_on_a_tool_result():
    ep = sample_episode()
    ep.turns = ep.turns[:3]
    with pytest.raises(FormatError, match="ends with 'observation'"):
        fmt("sharegpt").encode(ep)


def test_an_untrained_final_answer_is_weight_0_in_openai_and_left_out_where_no_format_can_mask_it():
    ep = sample_episode()
    ep.turns[-1].weight = 0
    assert fmt("openai").encode(ep)["messages"][-1] == {
        "role": "assistant",
        "content": "The run is llama-7b-0512.",
        "weight": 0,
    }
    # sharegpt and glaive end with the last call: its results and the answer are cut
    sharegpt = fmt("sharegpt").encode(ep)
    assert [m["from"] for m in sharegpt["conversations"]] == ["human", "function_call", "observation", "function_call"]
    assert fmt("sharegpt").validate(sharegpt) == []
    glaive = fmt("glaive").encode(ep)
    assert "llama-7b-0512." not in glaive["chat"] and "opened run" not in glaive["chat"]
    assert glaive["chat"].endswith('"arguments": \'{"x": 30, "y": 40}\'} <|endoftext|>')
    assert fmt("glaive").validate(glaive) == []
    # an untrained turn before a trained one stays (as context), and with nothing trained left
    # the episode cannot be written: the build drops it with that reason
    ep.turns[-1].weight, ep.turns[1].weight = None, 0
    assert fmt("sharegpt").encode(ep)["conversations"][-1]["value"] == "The run is llama-7b-0512."
    only = Episode(
        id="x",
        turns=[Turn(role="user", content="hi"), Turn(role="assistant", content="Done.", weight=0)],
        source=Source(dataset="t"),
    )
    for name in ("sharegpt", "glaive"):
        with pytest.raises(FormatError, match="no trainable assistant turn"):
            fmt(name).encode(only)


def test_openai_layout():
    row = fmt("openai").encode(sample_episode())
    assert [m["role"] for m in row["messages"]] == [
        "system",
        "user",
        "assistant",
        "tool",
        "assistant",
        "tool",
        "tool",
        "assistant",
    ]
    call = row["messages"][2]["tool_calls"][0]
    assert call == {
        "id": "c1",
        "type": "function",
        "function": {"name": "search_runs", "arguments": '{"query":"llama-7b \'May\'"}'},
    }
    assert row["messages"][4]["content"] is None  # only calls tools
    assert row["tools"][0] == {
        "type": "function",
        "function": {
            "name": "search_runs",
            "description": "Search training runs.",
            "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]},
        },
    }


@pytest.mark.parametrize(
    "row,needle",
    [
        ({"messages": [{"role": "user", "content": "hi"}]}, "no assistant message"),
        (
            {
                "messages": [
                    {"role": "user", "content": "hi"},
                    {"role": "tool", "tool_call_id": "x", "content": "r"},
                    {"role": "assistant", "content": "a"},
                ]
            },
            "does not match a call",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": "hi"},
                    {
                        "role": "assistant",
                        "tool_calls": [
                            {"id": "1", "type": "function", "function": {"name": "bad name!", "arguments": "{}"}}
                        ],
                    },
                ]
            },
            "invalid function name",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": "hi"},
                    {
                        "role": "assistant",
                        "tool_calls": [{"id": "1", "type": "function", "function": {"name": "f", "arguments": "[1]"}}],
                    },
                ]
            },
            "JSON text of an object",
        ),
        (
            {"messages": [{"role": "user", "content": "hi", "weight": 1}, {"role": "assistant", "content": "a"}]},
            "'weight'",
        ),
    ],
)
def test_openai_validator_names_each_broken_rule(row, needle):
    assert any(needle in e for e in fmt("openai").validate(row))


@pytest.mark.parametrize(
    "row,needle",
    [
        ({"conversations": [{"from": "human", "value": "a"}]}, "count must be even"),
        ({"conversations": [{"from": "gpt", "value": "a"}, {"from": "human", "value": "b"}]}, "expected one of"),
        (
            {"conversations": [{"from": "human", "value": "a"}, {"from": "function_call", "value": '{"name": 1}'}]},
            "function_call value",
        ),
        (
            {
                "conversations": [{"from": "human", "value": "a"}, {"from": "gpt", "value": "b"}],
                "tools": [{"name": "f"}],
            },
            "'tools' must be the JSON text",
        ),
    ],
)
def test_sharegpt_validator_names_each_broken_rule(row, needle):
    assert any(needle in e for e in fmt("sharegpt").validate(row))


@pytest.mark.parametrize(
    "chat,needle",
    [
        ("ASSISTANT: hi <|endoftext|>", "must start with a USER turn"),
        ("USER: hi\n\n\nASSISTANT: hello", "must end with ' <|endoftext|>'"),
        ('USER: hi\n\n\nASSISTANT: <functioncall> {"name": "f", "arguments": {"a": 1}} <|endoftext|>', "call must be"),
        ("USER: hi\n\nASSISTANT: hello <|endoftext|>", "separated by three newlines"),
    ],
)
def test_glaive_validator_names_each_broken_rule(chat, needle):
    errors = fmt("glaive").validate({"system": NO_FUNCTIONS, "chat": chat})
    assert any(needle in e for e in errors), errors


def test_arguments_with_quotes_and_unicode_round_trip_in_every_format():
    ep = sample_episode()
    ep.turns[1].tool_calls = [ToolCall(id="c1", name="search_runs", arguments={"query": 'l\'été "7b", 50% {x}'})]
    for name in FORMATS:
        f = fmt(name)
        row = json.loads(json.dumps(f.encode(ep)))
        assert f.validate(row) == []
        back = f.decode(row, "x", Source(dataset="t"))
        first_call = next(c for t in back.turns for c in t.tool_calls)
        assert first_call.arguments == {"query": 'l\'été "7b", 50% {x}'}, name
