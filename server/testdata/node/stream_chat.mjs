// Streams a chat completion from a glassbox server with the official openai
// package and checks the stream. Usage: node stream_chat.mjs BASEURL
// (BASEURL is the server's root, such as http://127.0.0.1:8080).
// Prints {"text", "finish_reason", "usage", "chunks"} as JSON on success;
// exits with status 1 and a message on stderr otherwise.
import OpenAI from "openai";

const base = process.argv[2];
if (!base) {
  console.error("usage: node stream_chat.mjs BASEURL");
  process.exit(2);
}

function check(cond, msg) {
  if (!cond) {
    console.error("check failed: " + msg);
    process.exit(1);
  }
}

const client = new OpenAI({ baseURL: base + "/v1", apiKey: process.env.GLASSBOX_API_KEY || "unused", maxRetries: 0, timeout: 60000 });
const stream = await client.chat.completions.create({
  model: "chat",
  messages: [{ role: "user", content: "Once upon a time" }],
  max_tokens: 16,
  temperature: 0,
  stream: true,
  stream_options: { include_usage: true },
});

let text = "";
let role = "";
let finish = null;
let usage = null;
let chunks = 0;
for await (const chunk of stream) {
  chunks++;
  check(chunk.object === "chat.completion.chunk", "chunk object " + chunk.object);
  check(typeof chunk.id === "string" && chunk.id.startsWith("chatcmpl-"), "chunk id " + chunk.id);
  if (chunk.usage) usage = chunk.usage;
  for (const choice of chunk.choices) {
    check(choice.index === 0, "choice index " + choice.index);
    if (choice.delta.role) role = choice.delta.role;
    if (choice.delta.content) text += choice.delta.content;
    if (choice.finish_reason) finish = choice.finish_reason;
  }
}
check(role === "assistant", "role " + role);
check(text.length > 0, "empty text");
check(finish === "length", "finish_reason " + finish);
check(usage && usage.prompt_tokens === 5 && usage.completion_tokens === 16 && usage.total_tokens === 21, "usage " + JSON.stringify(usage));
console.log(JSON.stringify({ text, finish_reason: finish, usage, chunks }));
