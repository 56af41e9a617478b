// Lists and calls glassbox mcp's tools with the official MCP TypeScript SDK
// over stdio: node client.mjs GLASSBOX_BINARY. Prints one JSON object.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const transport = new StdioClientTransport({ command: process.argv[2], args: ["mcp"], stderr: "inherit" });
const client = new Client({ name: "glassbox-node-test", version: "1.0.0" });
await client.connect(transport);
const out = { server: client.getServerVersion(), tools: [], calls: {} };
const { tools } = await client.listTools();
out.tools = tools.map((t) => ({ name: t.name, required: t.inputSchema.required ?? [], properties: Object.keys(t.inputSchema.properties ?? {}) }));
const call = async (name, args) => {
  const r = await client.callTool({ name, arguments: args });
  return { isError: r.isError ?? false, structured: r.structuredContent, text: r.content.filter((c) => c.type === "text").map((c) => c.text).join("\n"), links: r.content.filter((c) => c.type === "resource_link").map((c) => c.uri) };
};
out.calls.tokenize = await call("tokenize", { text: "func main() {" });
out.calls.generate = await call("generate", { prompt: "package main\n\nfunc ", max_tokens: 8 });
out.calls.dissect = await call("dissect", { prompt: "package main\n\nfunc ", max_tokens: 2, top: 3 });
out.calls.logit_lens = await call("logit_lens", { prompt: "package main", position: -1 });
out.calls.embed = await call("embed", { text: "for i := range n" });
out.calls.bad = await call("generate", { prompt: "x", max_tokens: 5000 });
const { resources } = await client.listResources();
out.resources = resources.map((r) => r.uri);
const uri = out.calls.dissect.links[0];
const read = await client.readResource({ uri });
out.trace_lines = read.contents[0].text.trim().split("\n").map((l) => JSON.parse(l).type);
await client.close();
console.log(JSON.stringify(out));
