// An MCP client made with the TypeScript SDK (@modelcontextprotocol/sdk), for the MCP server tests.
//   node mcp_client.mjs --url URL [--token st_…] [--origin ORIGIN]
//        [--call '{"name": TOOL, "arguments": {…}}']… [--delete]
// Connects over Streamable HTTP, lists every page of tools, makes the calls in order, and with
// --delete ends the session (DELETE) and tries the old session id once more. Prints one JSON
// object on stdout: the negotiated protocol version, the session id, the pages, the tools, each
// call's result and, with --delete, the HTTP status a request with the ended session got. A
// failure prints {"error": {"message", "code"}} and exits 1.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

function parseArgs(argv) {
  const opts = { calls: [], delete: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--url') opts.url = argv[++i];
    else if (a === '--token') opts.token = argv[++i];
    else if (a === '--origin') opts.origin = argv[++i];
    else if (a === '--call') opts.calls.push(JSON.parse(argv[++i]));
    else if (a === '--delete') opts.delete = true;
    else throw new Error(`unknown argument ${a}`);
  }
  if (!opts.url) throw new Error('--url is required');
  return opts;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const headers = {};
  if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
  if (opts.origin) headers.Origin = opts.origin;
  const transport = new StreamableHTTPClientTransport(new URL(opts.url), { requestInit: { headers } });
  const client = new Client({ name: 'switchboard-tests-ts', version: '1.0.0' });
  await client.connect(transport);
  const out = {
    protocolVersion: transport.protocolVersion,
    serverInfo: client.getServerVersion(),
    sessionId: transport.sessionId,
    pages: 0,
    tools: [],
    calls: [],
  };
  let cursor;
  do {
    const page = await client.listTools(cursor ? { cursor } : {});
    out.pages += 1;
    out.tools.push(...page.tools);
    cursor = page.nextCursor;
  } while (cursor);
  for (const call of opts.calls) {
    out.calls.push(await client.callTool({ name: call.name, arguments: call.arguments ?? {} }));
  }
  if (opts.delete) {
    const ended = transport.sessionId;
    await transport.terminateSession();
    const res = await fetch(opts.url, {
      method: 'POST',
      headers: {
        ...headers,
        'Content-Type': 'application/json',
        Accept: 'application/json, text/event-stream',
        'Mcp-Session-Id': ended,
        'Mcp-Protocol-Version': out.protocolVersion,
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 99, method: 'tools/list', params: {} }),
    });
    out.afterDeleteStatus = res.status;
  }
  await client.close();
  return out;
}

main().then(
  (out) => {
    process.stdout.write(`${JSON.stringify(out)}\n`);
    process.exit(0);
  },
  (err) => {
    process.stdout.write(`${JSON.stringify({ error: { message: String(err?.message ?? err), code: err?.code ?? null } })}\n`);
    process.exit(1);
  },
);
