from __future__ import annotations

from typing import Iterator

from toolbox.core.models import Episode, Source, ToolCall, ToolSpec, Turn, stable_id
from toolbox.core.plugin import Options
from toolbox.core.registry import register_task
from toolbox.core.session import Click, Key, Session, Window
from toolbox.tasks.base import Task

TOOLS = [
    ToolSpec(name="click", description="Click at a screen position.", parameters={"type": "object", "properties": {"x": {"type": "integer"}, "y": {"type": "integer"}}, "required": ["x", "y"]}),
    ToolSpec(name="type_text", description="Type text with the keyboard.", parameters={"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}),
]


@register_task("session_steps")
class SessionSteps(Task):
    """Simple: one episode per session, each click and each typed burst one tool call (no OCR)."""

    accepts = (Session,)

    class Options(Options):
        system: str = "You operate a computer for the user with the tools given."

    def run(self, record: Session) -> Iterator[Episode]:
        turns: list[Turn] = []
        typed: list[str] = []
        titles: list[str] = []

        def call(name: str, arguments: dict, result: str) -> None:
            call_id = f"call_{len(turns) // 2}"
            turns.append(Turn(role="assistant", tool_calls=[ToolCall(id=call_id, name=name, arguments=arguments)]))
            turns.append(Turn(role="tool", tool_call_id=call_id, name=name, content=result))

        def flush() -> None:
            if typed:
                call("type_text", {"text": "".join(typed)}, "typed")
                typed.clear()

        for event in record.events:
            if isinstance(event, Window) and event.title and event.title not in titles:
                titles.append(event.title)
            elif isinstance(event, Key) and event.pressed:
                if event.key == "backspace" and typed:
                    typed.pop()
                elif event.char is not None and event.key not in ("enter", "tab"):
                    typed.append(event.char)
                elif event.key == "enter":
                    flush()
            elif isinstance(event, Click) and event.pressed:
                flush()
                call("click", {"x": event.x, "y": event.y}, f"clicked in {titles[-1] if titles else 'the screen'}")
        flush()
        if not turns:
            return
        request = record.meta.task or ("Work in " + ", ".join(titles) if titles else "Use the computer.")
        turns.insert(0, Turn(role="user", content=request))
        turns.append(Turn(role="assistant", content="Done."))
        yield Episode(
            id=stable_id(record.id, "session_steps"),
            system=self.options.system,
            tools=TOOLS,
            turns=turns,
            source=Source(dataset="sessions", session=record.id, interval=(record.events[0].t, record.events[-1].t)),
            metadata={"windows": titles},
        )
