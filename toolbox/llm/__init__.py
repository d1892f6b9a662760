"""The LLM layer: any OpenAI-compatible endpoint through the `openai` client, with structured
replies, retries, an on-disk reply cache, a USD budget, concurrency and metrics.

Plugins (the `openai` transcriber, the `llm_judge` filter, the `synthetic` dataset) take
`LLMOptions` as their options and make one `LLMClient` each.
"""

from toolbox.llm.client import LLMClient, LLMResult
from toolbox.llm.config import LLMOptions
from toolbox.llm.prepare import map_text
from toolbox.llm.structured import ReplyInvalid, model_parser, response_format

__all__ = ["LLMClient", "LLMOptions", "LLMResult", "ReplyInvalid", "map_text", "model_parser", "response_format"]
