"""Replies of scripted models for the `openai` transcriber's tests: one that answers from the
evidence it was sent, one that invents (a canned call about a "llama2" run)."""

from __future__ import annotations

import json
import re

from fake_llm_server import Reply

SEARCH = {
    "name": "search_wandb_training_run",
    "description": "Find a training run in Weights & Biases.",
    "parameters": {
        "type": "object",
        "properties": {"model_name": {"type": "string"}, "created_at": {"type": "string"}},
        "required": ["model_name"],
    },
}
INVENTED = {  # what a model answers that never looked at the evidence
    "user_request": "Find my llama2 run from January",
    "steps": [
        {
            "function": SEARCH,
            "arguments": {"model_name": "llama2", "created_at": "2024-01-15"},
            "response": "llama2-chat-0117 finished with loss 1.92",
        }
    ],
    "final_answer": "Your llama2 run llama2-chat-0117 finished on 2024-01-17.",
}
WORK = {
    "name": "do_the_work",
    "description": "Does what the person did.",
    "parameters": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
}


def evidence_of(body: dict) -> str:
    """The evidence a request carries (its user message's text), not the instructions' example."""
    content = body["messages"][1]["content"]
    return content if isinstance(content, str) else content[0]["text"]


def is_judge(body: dict) -> bool:
    return body["response_format"]["json_schema"]["name"] == "JudgeReply"


def from_evidence(body: dict) -> Reply:
    """A reply whose every value is in the evidence: the first text typed (or the first window
    title), and the first screen text an action led to."""
    text = evidence_of(body)
    typed = re.search(r'\btype ("(?:[^"\\]|\\.)*")', text)
    title = re.search(r'Windows: ("(?:[^"\\]|\\.)*")', text)
    value = json.loads(typed.group(1) if typed else title.group(1)).strip()
    seen = re.search(r'then on screen: ("(?:[^"\\]|\\.)*")', text)
    return Reply.json(
        {
            "user_request": "Do what I did.",
            "steps": [
                {
                    "function": WORK,
                    "arguments": {"text": value},
                    "response": json.loads(seen.group(1)) if seen else "done",
                }
            ],
            "final_answer": f"Done: {json.dumps(value)}.",
        }
    )
