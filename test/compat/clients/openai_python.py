"""OpenAI's Python SDK, run by test/compat/openai-python.test.ts: chat completions plain, streamed,
with tools and with a pydantic model whose Field(ge=...) is a JSON-schema range (a 400 before
issue 18), and the Responses API with previous_response_id. Prints one marked JSON line of results
(test/compat/clients/cases.ts)."""

import json
import os
import traceback

import openai
from openai import OpenAI
from pydantic import BaseModel, Field

ENV = json.loads(os.environ["HEARTH_COMPAT"])
MODELS = ENV["models"]
client = OpenAI(base_url=ENV["url"] + "/v1", api_key=ENV["apiKey"], max_retries=0)
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


class Person(BaseModel):
    name: str = Field(max_length=12)
    age: int = Field(ge=1, le=99)


def chat():
    res = client.chat.completions.create(model=MODELS["qwen3-answer"], messages=[{"role": "user", "content": "Hi"}])
    return {"content": res.choices[0].message.content, "finish": res.choices[0].finish_reason, "usage": res.usage.model_dump()}


def chat_stream():
    stream = client.chat.completions.create(
        model=MODELS["stories260K"],
        messages=[{"role": "user", "content": "Tell me about a cat"}],
        max_tokens=12,
        stream=True,
        stream_options={"include_usage": True},
    )
    text, finish, usage = "", None, None
    for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
            finish = chunk.choices[0].finish_reason or finish
        if chunk.usage:
            usage = chunk.usage.model_dump()
    return {"text": text, "finish": finish, "usage": usage}


def chat_tools():
    res = client.chat.completions.create(
        model=MODELS["qwen3-tool"],
        messages=[{"role": "user", "content": "What is the weather in Paris?"}],
        tools=[WEATHER],
    )
    call = res.choices[0].message.tool_calls[0]
    return {"finish": res.choices[0].finish_reason, "name": call.function.name, "arguments": json.loads(call.function.arguments)}


def chat_parse():
    res = client.chat.completions.parse(
        model=MODELS["stories260K"],
        messages=[{"role": "user", "content": "Describe a person as JSON"}],
        max_tokens=100,
        seed=1,
        response_format=Person,
    )
    parsed = res.choices[0].message.parsed
    return {"finish": res.choices[0].finish_reason, "parsed": parsed.model_dump() if parsed else None}


def responses_stateful():
    first = client.responses.create(model=MODELS["qwen3-answer"], input="Hi")
    second = client.responses.create(model=MODELS["qwen3-answer"], input="Hi again", previous_response_id=first.id)
    return {
        "first": {"text": first.output_text, "input": first.usage.input_tokens, "output": first.usage.output_tokens},
        "second": {"text": second.output_text, "input": second.usage.input_tokens},
    }


results = {"version": {"ok": True, "value": openai.__version__}}
for name, case in [
    ("chat", chat),
    ("chatStream", chat_stream),
    ("chatTools", chat_tools),
    ("chatParse", chat_parse),
    ("responsesStateful", responses_stateful),
]:
    try:
        results[name] = {"ok": True, "value": case()}
    except Exception:  # noqa: BLE001 - reported to the parent test
        results[name] = {"ok": False, "error": traceback.format_exc()}
print("\nHEARTH-COMPAT-RESULTS " + json.dumps(results), flush=True)
