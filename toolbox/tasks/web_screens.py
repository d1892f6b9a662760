"""Rendered web pages as screen episodes: the screen is the page's OCR words and its tags
(`[n]` at the centre of each interactable element), every position a fraction of the rendered
page's size. A Mind2Web step adds its prompt (the task and the earlier actions) and its action
on the target's tag: `CLICK [n]`, `TYPE [n] "value"` or `SELECT [n] "value"`."""

from __future__ import annotations

from collections.abc import Iterator

import orjson

from toolbox.core.models import Episode, Source, Turn, stable_id
from toolbox.core.plugin import Options
from toolbox.core.registry import register_task
from toolbox.core.screens import SCREEN_STEPS, Screen, ScreenStep, ScreenWord, norm, step_prompt
from toolbox.core.task import Task
from toolbox.ocr_engines.words import lines_text
from toolbox.web.models import Mind2WebStep, WebPage


def page_screen(page: WebPage) -> Screen:
    """The page's words in reading order, then its tags in number order."""
    words = [ScreenWord(text=w.text, xy=w.mid) for w in page.words]
    tags = [ScreenWord(text=f"[{t.n}]", xy=norm(*t.center, page.width, page.height)) for t in page.tags]
    return Screen(width=page.width, height=page.height, words=words + tags)


def step_output(step: Mind2WebStep) -> str:
    value = f" {orjson.dumps(step.value).decode()}" if step.op in ("TYPE", "SELECT") else ""
    return f"{step.op} [{step.target_tag}]{value}"


@register_task("web_screens")
class WebScreens(Task):
    """Rendered pages (mhtml, mind2web) as screen episodes: OCR words and [n] tags where they are, the action."""

    accepts = (WebPage, Mind2WebStep)

    class Options(Options):
        prompt: str = ""  # the prompt of a page read alone (a screen to learn, no action)

    options: Options

    def run(self, record: WebPage | Mind2WebStep) -> Iterator[Episode]:
        if isinstance(record, Mind2WebStep):
            page = record.page
            step = ScreenStep(
                prompt=step_prompt(record.task, record.previous), screen=page_screen(page), output=step_output(record)
            )
            dataset, episode_id = "mind2web", stable_id("mind2web", record.annotation_id, record.action_uid)
            extra = {"website": record.website, "action_uid": record.action_uid, "target": record.target_tag}
        else:
            page = record
            step = ScreenStep(prompt=self.options.prompt, screen=page_screen(page), output="")
            dataset, episode_id = "mhtml", stable_id("mhtml", page.path)
            extra = {}
        if page.missing:
            extra["missing_resources"] = page.missing
        tags = "\n".join(f"[{t.n}] {t.tag} {t.text}".rstrip() for t in page.tags)
        user = "\n\n".join(p for p in (step.prompt, f"Screen:\n{lines_text(page.words)}", f"Tags:\n{tags}") if p)
        turns = [Turn(role="user", content=user)]
        if step.output:
            turns.append(Turn(role="assistant", content=step.output))
        yield Episode(
            id=episode_id,
            turns=turns,
            source=Source(dataset=dataset, path=page.path),
            metadata={
                SCREEN_STEPS: [step.model_dump(mode="json")],
                "url": page.url,
                "title": page.title,
                "screenshot": page.screenshot,
                **extra,
            },
        )
