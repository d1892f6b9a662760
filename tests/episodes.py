"""Episodes for tests: a typical computer-use episode with tools, calls and results."""

from toolbox.core.models import Episode, Source, ToolCall, ToolSpec, Turn

SEARCH = ToolSpec(
    name="search_runs",
    description="Search training runs.",
    parameters={"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]},
)
CLICK = ToolSpec(
    name="click",
    description="Click.",
    parameters={"type": "object", "properties": {"x": {"type": "integer"}, "y": {"type": "integer"}}},
)


def sample_episode(i: int = 0, text: str = "Find the run named llama-7b, it's from May") -> Episode:
    return Episode(
        id=f"ep{i}",
        system="You operate a computer.",
        tools=[SEARCH, CLICK],
        turns=[
            Turn(role="user", content=text),
            Turn(
                role="assistant",
                content="I'll search for it.",
                tool_calls=[ToolCall(id="c1", name="search_runs", arguments={"query": "llama-7b 'May'"})],
            ),
            Turn(role="tool", tool_call_id="c1", name="search_runs", content='{"runs": ["llama-7b-0512"]}'),
            Turn(
                role="assistant",
                tool_calls=[
                    ToolCall(id="c2", name="click", arguments={"x": 10, "y": 20}),
                    ToolCall(id="c3", name="click", arguments={"x": 30, "y": 40}),
                ],
            ),
            Turn(role="tool", tool_call_id="c2", name="click", content="opened run"),
            Turn(role="tool", tool_call_id="c3", name="click", content="opened chart"),
            Turn(role="assistant", content="The run is llama-7b-0512."),
        ],
        source=Source(dataset="test"),
    )
