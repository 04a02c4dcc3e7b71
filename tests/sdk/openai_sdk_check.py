"""Cross-checks ragway's OpenAI-compatible API with the official `openai` Python SDK.

Usage: python3 openai_sdk_check.py BASE_URL API_KEY MODEL QUESTION EXPECTED_URL
Exits non-zero (with the reason) when the SDK cannot use the API as it would use OpenAI's.
"""
import sys

import openai

base_url, api_key, model, question, expected_url = sys.argv[1:6]
client = openai.OpenAI(base_url=base_url, api_key=api_key, max_retries=0)

# Non-streaming: parsed into the SDK's own types.
completion = client.chat.completions.create(model=model, messages=[{"role": "user", "content": question}])
message = completion.choices[0].message
assert completion.object == "chat.completion", completion.object
assert message.role == "assistant" and message.content, message
assert completion.usage is not None and completion.usage.total_tokens > 0, completion.usage
urls = [a.url_citation.url for a in (message.annotations or [])]
assert expected_url in urls, urls

# Streaming with usage: the SDK assembles the same text.
stream = client.chat.completions.create(
    model=model,
    messages=[{"role": "user", "content": question}],
    stream=True,
    stream_options={"include_usage": True},
    extra_headers={"Cache-Control": "no-cache"},  # a fresh answer, so it reports the tokens it used
)
text, ids, finish, usage = "", set(), None, None
for chunk in stream:
    ids.add(chunk.id)
    if chunk.usage:
        usage = chunk.usage
    for choice in chunk.choices:
        text += choice.delta.content or ""
        finish = choice.finish_reason or finish
assert len(ids) == 1, ids
assert finish == "stop", finish
assert usage is not None and usage.completion_tokens > 0, usage
assert text == message.content, (text, message.content)

# Models and errors map onto the SDK's exception classes.
assert [m.id for m in client.models.list()] == [model]
try:
    client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "hi"}])
    raise SystemExit("an unknown model must fail")
except openai.NotFoundError as err:
    assert err.code == "model_not_found", err
try:
    openai.OpenAI(base_url=base_url, api_key="wrong", max_retries=0).models.list()
    raise SystemExit("a wrong key must fail")
except openai.AuthenticationError:
    pass
print("openai-python", openai.__version__, "ok")
