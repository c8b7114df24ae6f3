"""The API section's drop-in code: the official `openai` SDKs and curl, aimed at this router.

The base URL is the one the browser used to reach the page, so a snippet copied from a router
behind another host name or port works as pasted. Values go into the code through `json.dumps`,
which makes them valid string literals in Python, TypeScript and JSON alike.
"""

from __future__ import annotations

import json
import re
from typing import Final, NamedTuple

from crossroads.api.http import Scope, header

PROMPT: Final = "What is the meaning of life?"
# A Host header is the caller's to choose; anything beyond a host name, IP literal and port
# is not put into code people will paste into a terminal.
_HOST: Final = re.compile(r"^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")


class Snippet(NamedTuple):
    key: str
    label: str
    code: str


def base_url(scope: Scope) -> str:
    """`scheme://host:port/api/v1` as the request reached us."""
    scheme = "https" if scope.get("scheme") == "https" else "http"
    host = header(scope, b"host")
    if host is None or not _HOST.match(host):
        server = scope.get("server") or ("127.0.0.1", 80)
        address, port = server[0], server[1]
        host = f"[{address}]:{port}" if ":" in str(address) else f"{address}:{port}"
    return f"{scheme}://{host}/api/v1"


def snippets(base: str, slug: str) -> tuple[Snippet, ...]:
    url, model, prompt = json.dumps(base), json.dumps(slug), json.dumps(PROMPT)
    python = f"""from openai import OpenAI

client = OpenAI(
    base_url={url},
    api_key="YOUR_CROSSROADS_KEY",
)

completion = client.chat.completions.create(
    model={model},
    messages=[{{"role": "user", "content": {prompt}}}],
)
print(completion.choices[0].message.content)
"""
    typescript = f"""import OpenAI from "openai";

const client = new OpenAI({{
  baseURL: {url},
  apiKey: "YOUR_CROSSROADS_KEY",
}});

const completion = await client.chat.completions.create({{
  model: {model},
  messages: [{{ role: "user", content: {prompt} }}],
}});
console.log(completion.choices[0].message.content);
"""
    body = json.dumps({"model": slug, "messages": [{"role": "user", "content": PROMPT}]})
    # The JSON body sits in single quotes for the shell; a quote inside it is closed and escaped.
    shell_body = body.replace("'", "'\\''")
    curl = f"""curl {base}/chat/completions \\
  -H "Content-Type: application/json" \\
  -H "Authorization: Bearer $CROSSROADS_KEY" \\
  -d '{shell_body}'
"""
    return (Snippet("python", "Python (openai)", python),
            Snippet("typescript", "TypeScript (openai)", typescript),
            Snippet("curl", "curl", curl))
