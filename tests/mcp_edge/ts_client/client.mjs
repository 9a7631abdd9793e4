// Drives an MCP server's WebSocket endpoint with the TypeScript SDK's WebSocketClientTransport.
// Usage: node --experimental-websocket client.mjs <ws url>
// Prints one JSON line on stdout: the tool names, an echo result and whoami's answer.
// On failure prints {"error": "..."} and exits 1.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { WebSocketClientTransport } from "@modelcontextprotocol/sdk/client/websocket.js";

const url = new URL(process.argv[2]);
const client = new Client({ name: "ts-ws-test", version: "0.0.0" });
try {
  await client.connect(new WebSocketClientTransport(url));
  const tools = await client.listTools();
  const echo = await client.callTool({ name: "echo", arguments: { text: "from typescript" } });
  const whoami = await client.callTool({ name: "whoami", arguments: {} });
  const calls = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      client.callTool({ name: "echo", arguments: { text: `n${i}` } }),
    ),
  );
  console.log(
    JSON.stringify({
      server: client.getServerVersion()?.name,
      tools: tools.tools.map((t) => t.name).sort(),
      echo: echo.content[0].text,
      whoami: whoami.content[0].text,
      concurrent: calls.map((c) => c.content[0].text),
    }),
  );
  await client.close();
} catch (err) {
  console.log(JSON.stringify({ error: String(err && err.message ? err.message : err) }));
  process.exit(1);
}
