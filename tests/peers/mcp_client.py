"""An MCP client made with the Python SDK (PyPI `mcp`), for the MCP server tests.

    python mcp_client.py --url URL [--token st_...] [--origin ORIGIN]
                         [--call '{"name": TOOL, "arguments": {...}}']...

Connects over Streamable HTTP, lists every page of tools, makes the calls in order, and prints one
JSON object on stdout: the negotiated protocol version, the pages, the tools and each call's
result. A failure prints {"error": {"message"}} and exits 1.
"""

import argparse
import asyncio
import json
import sys

from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.types import PaginatedRequestParams


def dump(model):
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


async def run(args):
    headers = {}
    if args.token:
        headers["Authorization"] = f"Bearer {args.token}"
    if args.origin:
        headers["Origin"] = args.origin
    out = {"pages": 0, "tools": [], "calls": []}
    async with create_mcp_http_client(headers=headers) as http:
        async with streamable_http_client(args.url, http_client=http) as (read, write, *_):
            async with ClientSession(read, write) as session:
                init = await session.initialize()
                out["protocolVersion"] = init.protocol_version
                out["serverInfo"] = dump(init.server_info)
                cursor = None
                while True:
                    if cursor:
                        page = await session.list_tools(params=PaginatedRequestParams(cursor=cursor))
                    else:
                        page = await session.list_tools()
                    out["pages"] += 1
                    out["tools"].extend(dump(t) for t in page.tools)
                    cursor = page.next_cursor
                    if not cursor:
                        break
                for call in args.call:
                    spec = json.loads(call)
                    result = await session.call_tool(spec["name"], spec.get("arguments", {}))
                    out["calls"].append(dump(result))
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--token")
    p.add_argument("--origin")
    p.add_argument("--call", action="append", default=[])
    args = p.parse_args()
    try:
        out = asyncio.run(run(args))
    except BaseException as e:  # noqa: BLE001 - report any failure as JSON
        while isinstance(e, BaseExceptionGroup) and e.exceptions:
            e = e.exceptions[0]
        print(json.dumps({"error": {"message": f"{type(e).__name__}: {e}"}}))
        sys.exit(1)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
