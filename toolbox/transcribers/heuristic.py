"""The offline, deterministic transcriber: each compiled action becomes a computer-use tool call,
answered by what the screen showed after it. The request is the task label or what was done; the
final answer is what the person sent, wrote down or found on the screen, never a list of steps."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from itertools import groupby
from statistics import median
from typing import Any, Literal, NamedTuple

from pydantic import Field

from toolbox.activity.models import Action, Interval
from toolbox.activity.screen import shown_lines
from toolbox.core.models import Episode, EpisodeEvidence, Source, ToolCall, ToolSpec, Turn, stable_id
from toolbox.core.plugin import Options
from toolbox.core.registry import register_transcriber
from toolbox.ocr_engines.words import OcrWord, text_lines
from toolbox.transcribers.base import Transcriber
from toolbox.vision.steps import trajectory_steps

_POINT = {
    "x": {"type": "integer", "description": "Screen x in pixels."},
    "y": {"type": "integer", "description": "Screen y in pixels."},
}
_TARGET = {"target": {"type": "string", "description": "The text on screen at that point (a button or link label)."}}

COMPUTER_TOOLS = [
    ToolSpec(
        name="click",
        description="Click a point on the screen.",
        parameters={
            "type": "object",
            "properties": {**_TARGET, **_POINT, "button": {"type": "string", "enum": ["left", "right", "middle"]}},
            "required": ["x", "y"],
        },
    ),
    ToolSpec(
        name="double_click",
        description="Double-click a point on the screen.",
        parameters={"type": "object", "properties": {**_TARGET, **_POINT}, "required": ["x", "y"]},
    ),
    ToolSpec(
        name="drag",
        description="Press at one point, move to another and release.",
        parameters={
            "type": "object",
            "properties": {**_POINT, "to_x": {"type": "integer"}, "to_y": {"type": "integer"}},
            "required": ["x", "y", "to_x", "to_y"],
        },
    ),
    ToolSpec(
        name="scroll",
        description="Scroll at a point.",
        parameters={
            "type": "object",
            "properties": {
                "direction": {"type": "string", "enum": ["up", "down", "left", "right"]},
                "amount": {"type": "integer", "description": "Wheel notches."},
                **_POINT,
            },
            "required": ["direction", "amount"],
        },
    ),
    ToolSpec(
        name="type_text",
        description="Type text with the keyboard into the focused field.",
        parameters={"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
    ),
    ToolSpec(
        name="paste",
        description="Paste text at the caret (what ctrl+v does with this text on the clipboard).",
        parameters={"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
    ),
    ToolSpec(
        name="press_keys",
        description='Press a key or a key combination, e.g. ["enter"] or ["ctrl", "c"].',
        parameters={
            "type": "object",
            "properties": {"keys": {"type": "array", "items": {"type": "string"}}},
            "required": ["keys"],
        },
    ),
    ToolSpec(
        name="switch_window",
        description="Bring the window with this title to the front.",
        parameters={"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]},
    ),
]


@register_transcriber("heuristic")
class HeuristicTranscriber(Transcriber):
    """Offline and deterministic: actions become click/type_text/press_keys/scroll/switch_window
    calls; the final answer is what the person sent, wrote down or found on the screen."""

    class Options(Options):
        system: str = "You operate a computer for the user with the tools given. Coordinates are screen pixels."
        submission_reply: bool = True  # a message typed and sent with Enter in a chat window at the end is the answer
        # terminal emulators: Enter there runs a command, unless the title says a chat or a document runs in it
        command_apps: str = r"(?i)term|konsole|console|shell|iterm|powershell|cmd\.exe|tmux"
        # chat windows: a client's name as a whole part of the title ("weechat", "general - Slack",
        # "Slack | general", "Messages"), or a chat app
        chat_titles: str = (
            r"(?i)(^|[-|:\u2013\u2014]\s)\s*(\(\d+\)\s*)?(slack|discord|telegram|whatsapp|signal|element|"
            r"mattermost|microsoft teams|teams|messenger|messages|zulip|weechat|irssi|hexchat|pidgin|rocket\.chat|"
            r"(?:\w+\s)?chat)"
            r"(\s[\d.]+)?\s*($|\s[-|:(\u2013\u2014])"
        )
        chat_apps: str = r"(?i)slack|discord|telegram|whatsapp|signal|element|mattermost|teams|zulip|hexchat|pidgin"
        # documents: text typed there is what the person wrote down (a note, a letter)
        document_titles: str = (
            r"(?i)\.(txt|md|markdown|rst|org|tex|docx?|odt|rtf|notes?)\b|^\W*(untitled|new document)\b|"
            r"^(vim?|nvim|nano|emacs|micro)\s"
        )
        document_apps: str = (
            r"(?i)mousepad|gedit|kate|kwrite|pluma|xed|leafpad|featherpad|notepad|textedit|libreoffice|soffice|"
            r"abiword|obsidian|joplin|notion|onenote|evernote|typora|zim"
        )
        answer_lines: int = Field(3, ge=1)  # an answer is at most this many lines...
        answer_chars: int = Field(240, ge=20)  # ...of at most this many characters in all
        # `task`: the consecutive intervals of a session that share a task label become one
        # multi-step episode, so the user's request matches what the episode does; `interval`:
        # one episode per interval (a step of its task); `auto`: `task` for intervals with a label, else `interval`
        per: Literal["auto", "interval", "task"] = "auto"
        # a task longer than this many actions is split at interval boundaries into episodes
        # that each stay trainable; each says which part of the task it is
        max_task_actions: int = Field(60, ge=1)

    def transcribe(self, intervals: Sequence[Interval]) -> Iterator[Episode]:
        for (_, task), same_task in groupby(intervals, key=lambda i: (i.session_id, i.task)):
            run = []
            for interval in same_task:
                if interval.actions:
                    run.append(interval)
                else:
                    self.ctx.stats.drop(self.plugin_name, "no actions", interval.id)
            join = self.options.per == "task" or (self.options.per == "auto" and task is not None)
            chunks = split_by_actions(run, self.options.max_task_actions) if join else [[i] for i in run]
            for number, chunk in enumerate(chunks, 1):
                share = Share("part" if join else "step", number, len(chunks)) if task and len(chunks) > 1 else None
                before = chunks[number - 2][-1:] if number > 1 else []
                after = chunks[number][:1] if number < len(chunks) else []
                yield self.episode(chunk, share, before + after)

    def episode(self, chunk: list[Interval], share: Share | None = None, around: Sequence[Interval] = ()) -> Episode:
        """One episode of consecutive intervals; `share` says which part or step of its task it is,
        `around` are the intervals just before and after it."""
        interval = chunk[0] if len(chunk) == 1 else merged(chunk)
        windows = Windows(chunk)
        steps = with_enter_typed(interval.actions)  # what was done, for the request and the answer
        actions = list(interval.actions)
        answer: Answer | None = None
        if self.sent_message(chunk[-1], windows):
            answer = Answer(interval.submitted or "", "sent_message")
            actions = actions[:-2]  # the typed message and its Enter become the answer itself
        actions = with_enter_typed(actions)
        labelled = interval.task is not None and (share is None or share.kind == "part")
        done = None if labelled else self.what_was_done(interval, steps, windows)
        if answer is None:
            answer = self.written_text(steps, windows, around)
        if answer is None:
            answer = self.screen_answer(f"{interval.task or ''} {done or ''}", steps)
        turns: list[Turn] = [Turn(role="user", content=request(interval.task, done, share))]
        for number, action in enumerate(actions):
            name, arguments = tool_call(action)
            call_id = f"call_{number}"
            turns.append(Turn(role="assistant", tool_calls=[ToolCall(id=call_id, name=name, arguments=arguments)]))
            turns.append(Turn(role="tool", tool_call_id=call_id, name=name, content=tool_result(action)))
        if answer is None:  # nothing to answer with: the turn closes the episode but is not trained
            turns.append(Turn(role="assistant", content="Done.", weight=0))
        else:
            turns.append(Turn(role="assistant", content=answer.text))
        return Episode(
            id=stable_id(interval.session_id, interval.index, "interval_episodes"),
            system=self.options.system,
            tools=COMPUTER_TOOLS,
            turns=turns,
            source=Source(
                dataset="sessions",
                session=interval.session_id,
                interval=(interval.start, interval.end),
                path=interval.session_path,
            ),
            metadata={
                **interval.metadata.model_copy(
                    update={"steps": trajectory_steps(actions, interval.session_path)}
                ).as_metadata(),
                "transcriber": self.plugin_name,
                "answer_source": answer.source if answer else "none",
            },
        )

    def window_kind(self, window: Window) -> Literal["chat", "document", "terminal", "other"]:
        """What Enter and typing mean in a window, from its title and app together: a chat
        client in a terminal emulator (title "weechat") is a chat, a shell prompt there is not."""
        options = self.options
        if re.search(options.chat_titles, window.title) or re.search(options.chat_apps, window.app):
            return "chat"
        if re.search(options.document_titles, window.title) or re.search(options.document_apps, window.app):
            return "document"
        return "terminal" if re.search(options.command_apps, window.app) else "other"

    def sent_message(self, last: Interval, windows: Windows) -> bool:
        """The episode ends (`last` interval) with a message typed and sent with Enter in a chat window."""
        return (
            self.options.submission_reply
            and bool(last.submitted)
            and len(last.actions) >= 2
            and self.window_kind(windows.of(last.actions[-2])) == "chat"
        )

    def what_was_done(self, interval: Interval, steps: Sequence[Action], windows: Windows) -> str:
        """Up to three phrases from what was typed, where ("search for "q" in 'Docs - Firefox'",
        "run `ls`", "write in 'notes.txt - Mousepad'"), else the screen's heading or the window."""
        phrases: list[str] = []
        last_title = ""
        for action in steps:
            if action.kind != "type" or not (action.text or "").strip():
                continue
            window = windows.of(action)
            phrase = typing_phrase(self.window_kind(window), action.text or "")
            title = short_title(window.title)
            if title and title != last_title:
                phrase += f" in '{title}'"
                last_title = title
            if phrase not in phrases:
                phrases.append(phrase)
        if phrases:
            return ", then ".join(phrases[:3]) + (", and more" if len(phrases) > 3 else "")
        title = short_title(next((t for t in reversed(interval.windows) if t), ""))
        heading = screen_heading(interval.screen_words, interval.windows)
        where = f" in '{title}'" if title else ""
        if heading:
            return f'look at "{heading}"{where}'
        return f"look at '{title}'" if title else "look at the screen"

    def written_text(self, steps: Sequence[Action], windows: Windows, around: Sequence[Interval]) -> Answer | None:
        """The short text typed into the last document written in (a note, a value written down),
        whole lines from its end; not when the intervals `around` the episode typed into that
        document too: then the episode holds only a piece of the text (half a sentence)."""
        written = self.documents_written(steps, windows)
        last = next(reversed(written), None)
        if last is None or any(last in self.documents_written(i.actions, Windows([i])) for i in around):
            return None
        lines = self.fitted([line.strip() for line in reversed("".join(written[last]).splitlines()) if line.strip()])
        return Answer("\n".join(reversed(lines)), "written_text") if lines else None

    def documents_written(self, actions: Sequence[Action], windows: Windows) -> dict[str, list[str]]:
        """The texts typed (or pasted) into each document window (by title, paths shortened),
        the document written in last at the end."""
        written: dict[str, list[str]] = {}
        for action in actions:
            window = windows.of(action)
            pasted = action.kind == "hotkey" and action.shortcut == "paste" and action.text
            if (action.kind == "type" or pasted) and action.text and self.window_kind(window) == "document":
                name = short_title(window.title)
                written[name] = [*written.pop(name, []), action.text]
        return written

    def screen_answer(self, asked: str, steps: Sequence[Action]) -> Answer | None:
        """Lines of the last observation that share words with what was `asked` (the task label,
        what was done) and say more than an echo of what the person typed (a command line after
        its prompt, a search box)."""
        observation = next((a.result for a in reversed(steps) if a.result), None)
        if not observation:
            return None
        wanted = content_words(asked)
        typed = [
            line.strip()
            for action in steps
            if action.kind == "type" and action.text
            for line in action.text.splitlines()
            if len(line.strip()) >= 3
        ]
        typed_words = content_words(" ".join(typed))

        def answers(line: str) -> bool:
            rest = PROMPT.sub("", line)
            for text in typed:
                rest = rest.replace(text, " ")
            return bool(content_words(line) & wanted) and not content_words(rest) <= typed_words

        # what the last action revealed (+) answers first; lines that were already there only
        # when nothing new does (the value was on screen before, e.g. a page that was opened)
        shown = shown_lines(observation)
        found = [text.strip() for mark, text in shown if mark == "+" and answers(text.strip())]
        found = found or [text.strip() for mark, text in shown if mark == " " and answers(text.strip())]
        lines = self.fitted(found)
        return Answer("\n".join(lines), "screen") if lines else None

    def fitted(self, lines: list[str]) -> list[str]:
        """The first lines that fit in an answer (`answer_lines`, `answer_chars`)."""
        kept: list[str] = []
        for line in lines:
            if len(kept) == self.options.answer_lines or sum(map(len, kept)) + len(line) > self.options.answer_chars:
                break
            kept.append(line)
        return kept


class Share(NamedTuple):
    """Which share of its task an episode is: a `part` of a long task split to stay trainable,
    or a `step` (one interval, with `per: interval`)."""

    kind: Literal["part", "step"]
    number: int
    of: int


class Answer(NamedTuple):
    text: str
    source: Literal["sent_message", "written_text", "screen"]


class Window(NamedTuple):
    title: str
    app: str


def request(task: str | None, done: str | None, share: Share | None) -> str:
    """The user turn: the task label (saying which part of a split task this is), else what was
    `done`; a step of a labelled task names the task and asks only for what the step did (not
    which step it was: nothing on the screen tells, and equal steps stay equal for dedupe)."""
    if done is None:
        return f"{task} (part {share.number} of {share.of})" if share else task or ""
    if share is not None:
        return f'As one step of "{task}", {done}.'
    return f"{done[0].upper()}{done[1:]}."


class Windows:
    """The window each action of an episode happened in: its title, and the app of that title as
    far as its intervals tell (an interval lists the titles and the apps it saw, in order, each once)."""

    def __init__(self, chunk: list[Interval]) -> None:
        self.chunk = chunk
        self.apps: dict[str, str] = {}
        for interval in chunk:
            titles, apps = interval.windows, interval.apps
            if len(apps) == 1:  # one app, perhaps under changing titles ("*notes.txt")
                self.apps.update((title, apps[0]) for title in titles)
            elif len(titles) == len(apps):  # each focus change brought a new title and a new app
                self.apps.update(zip(titles, apps))
            elif titles and apps:
                self.apps.update([(titles[0], apps[0]), (titles[-1], apps[-1])])

    def of(self, action: Action) -> Window:
        interval = next((i for i in reversed(self.chunk) if i.start <= action.t), self.chunk[0])
        title = action.title or next((t for t in reversed(interval.windows) if t), "")
        return Window(title, self.apps.get(title, ""))


PROMPT = re.compile(r"^\S*[$#%>](\s|$)")  # a shell prompt at the start of a line ("~/src$ ")
STOPWORDS = frozenset(
    "the and for with what that this from into then than are was were has have had its you your our all any "
    "can not but how who why when where which out get got see use let via per step part look search open run "
    "write type send message check find make show tell more screen window".split()
)


def content_words(text: str) -> set[str]:
    """The words that carry meaning, lower case, plural and -ing endings cut: "greetings" and
    "greeting" are one word."""
    words = set()
    for word in re.findall(r"[^\W_]+", text.lower()):
        for suffix in ("ings", "ing", "ed", "s"):
            if word.endswith(suffix) and not word.endswith("ss") and len(word) - len(suffix) >= 3:
                word = word[: -len(suffix)]
                break
        if (len(word) >= 3 or any(c.isdigit() for c in word)) and word not in STOPWORDS:
            words.add(word)
    return words


def typing_phrase(kind: str, text: str) -> str:
    """What typing did, as part of a request: a search, a URL opened, a command run, a message sent."""
    line = text.strip()
    entered = text.endswith("\n")
    short = len(line) <= 80 and "\n" not in line
    if kind == "chat":
        return "send a message" if entered else "write a message"
    if kind == "document":
        return "write"
    if not short:
        return "run commands" if kind == "terminal" else "type text"
    if not entered:
        return f'type "{line}"'
    if kind == "terminal":
        return f"run `{line}`"
    if re.match(r"^(https?://\S+|[\w-]+(\.[\w-]+)+(/\S*)?)$", line):
        return f"open {line}"
    return f'search for "{line}"'


PATH = re.compile(r"(?<![\w:/.~])(?:~|\.{1,2})?(?:/[^\s/()]+)+/?|(?<!\w)[A-Za-z]:\\(?:[^\\\s]+\\)*[^\\\s]+")


def short_title(title: str) -> str:
    """A window title with each local path shortened to its last name ("/tmp/a/reply.txt - Mousepad"
    becomes "reply.txt - Mousepad", "shell - ~/project" becomes "shell - project") and without the
    mark of unsaved changes an editor puts in front ("*notes.txt")."""
    shortened = PATH.sub(lambda m: re.split(r"[/\\]", m.group(0).rstrip("/\\"))[-1] or m.group(0), title)
    return shortened.strip().lstrip("*\u25cf\u2022 ")  # without the mark of unsaved changes ("*notes.txt")


def screen_heading(words: Sequence[OcrWord], titles: Sequence[str]) -> str | None:
    """The first line on the screen set in a larger font than most text (a page or section title),
    read with confidence, that is not the window's title bar."""
    if not words:
        return None
    typical = median(w.height for w in words)
    for line in text_lines(words):
        text = " ".join(w.text for w in line)
        if (
            median(w.height for w in line) >= 1.3 * typical
            and median(w.conf for w in line) >= 0.8
            and re.search(r"[^\W\d_]{3}", text)
            and len(line) <= 8
            and text.lower() not in (t.lower() for t in titles)
        ):
            return text
    return None


def split_by_actions(intervals: list[Interval], limit: int) -> list[list[Interval]]:
    """Consecutive runs of intervals holding at most `limit` actions each (an interval with
    more stays whole)."""
    chunks: list[list[Interval]] = []
    count = 0
    for interval in intervals:
        if chunks and count + len(interval.actions) <= limit:
            chunks[-1].append(interval)
            count += len(interval.actions)
        else:
            chunks.append([interval])
            count = len(interval.actions)
    return chunks


def merged(intervals: list[Interval]) -> Interval:
    """Consecutive intervals of one task as one: actions and frames in order, the report's
    evidence joined, the last interval's screen and submission."""
    first, last = intervals[0], intervals[-1]
    return first.model_copy(
        update={
            "end": last.end,
            "windows": list(dict.fromkeys(w for i in intervals for w in i.windows)),
            "apps": list(dict.fromkeys(a for i in intervals for a in i.apps)),
            "metadata": EpisodeEvidence.joined([i.metadata for i in intervals]),
            "actions": [a for i in intervals for a in i.actions],
            "frames": [f for i in intervals for f in i.frames],
            "typed_text": "".join(i.typed_text for i in intervals),
            "submitted": last.submitted,
            "screen_words": last.screen_words,
        }
    )


def with_enter_typed(actions: Sequence[Action]) -> list[Action]:
    """Typing followed by Enter becomes one type_text call whose text ends in a newline: the
    recorder's frame after the burst already shows what Enter did, so one call keeps each
    result true to its call."""
    out: list[Action] = []
    for action in actions:
        previous = out[-1] if out else None
        if (
            action.kind == "hotkey"
            and action.keys == ["enter"]
            and previous is not None
            and previous.kind == "type"
            and not (previous.text or "").endswith("\n")
        ):
            out[-1] = previous.model_copy(
                update={
                    "text": (previous.text or "") + "\n",
                    "t_end": action.t_end or action.t,
                    "frame_after": action.frame_after or previous.frame_after,
                    "result": action.result if action.result is not None else previous.result,
                }
            )
        else:
            out.append(action)
    return out


def tool_call(action: Action) -> tuple[str, dict[str, Any]]:
    point = {"x": action.x, "y": action.y}
    target = {"target": action.target} if action.target else {}
    if action.kind in ("click", "right_click"):
        button = "right" if action.kind == "right_click" else (action.button or "left")
        return "click", {**target, **point, **({"button": button} if button != "left" else {})}
    if action.kind == "double_click":
        return "double_click", {**target, **point}
    if action.kind == "drag":
        return "drag", {**point, "to_x": action.x2, "to_y": action.y2}
    if action.kind == "scroll":
        direction, amount = scroll_direction(action)
        return "scroll", {"direction": direction, "amount": amount, **point}
    if action.kind == "type":
        return "type_text", {"text": action.text or ""}
    if action.kind == "switch_window":
        return "switch_window", {"title": action.title or ""}
    if action.shortcut == "paste" and action.text is not None:
        return "paste", {"text": action.text}
    return "press_keys", {"keys": list(action.keys)}


def scroll_direction(action: Action) -> tuple[str, int]:
    if abs(action.dy) >= abs(action.dx):
        return ("up" if action.dy > 0 else "down"), max(1, abs(action.dy))
    return ("right" if action.dx > 0 else "left"), max(1, abs(action.dx))


def tool_result(action: Action) -> str:
    """What the screen showed after the action: the new text near it, when OCR read it."""
    if action.result:
        return action.result
    if action.result is not None:  # read, and nothing new appeared
        return "No new text on the screen."
    return "Done."
