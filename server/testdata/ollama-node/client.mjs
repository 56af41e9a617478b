// Drives a glassbox server's Ollama API with the official ollama package:
// version, list, show, ps, generate and chat (streamed and not), embed, and
// an unknown model's error. Usage: node client.mjs BASEURL MODEL.
// Prints what it got as JSON for the Go test to compare; exits with status 1
// and a message on stderr when a check fails.
import { Ollama } from "ollama";

const [base, model] = process.argv.slice(2);
if (!base || !model) {
  console.error("usage: node client.mjs BASEURL MODEL");
  process.exit(2);
}

function check(cond, msg) {
  if (!cond) {
    console.error("check failed: " + msg);
    process.exit(1);
  }
}

const headers = process.env.GLASSBOX_API_KEY ? { Authorization: "Bearer " + process.env.GLASSBOX_API_KEY } : undefined;
const ollama = new Ollama({ host: base, headers });
const greedy = { temperature: 0, repeat_penalty: 1, num_predict: 16 };
const out = {};

const v = await ollama.version();
check(typeof v.version === "string" && /^\d+\.\d+\.\d+/.test(v.version), "version " + JSON.stringify(v));
out.version = v.version;

const list = await ollama.list();
out.models = list.models.map((m) => m.name);
const listed = list.models.find((m) => m.model === model + ":latest");
check(listed, "list has no " + model + ":latest: " + JSON.stringify(out.models));
check(listed.details.format === "gguf" && listed.size > 0 && /^[0-9a-f]{64}$/.test(listed.digest), "list entry " + JSON.stringify(listed));

const show = await ollama.show({ model });
check(show.capabilities.includes("completion"), "capabilities " + JSON.stringify(show.capabilities));
check(show.model_info["general.architecture"] === "llama", "model_info " + JSON.stringify(show.model_info));
out.capabilities = show.capabilities;
out.template = show.template;

const ps = await ollama.ps();
check(ps.models.some((m) => m.model === model + ":latest"), "ps " + JSON.stringify(ps));

const gen = await ollama.generate({ model, prompt: "Once upon a time", options: greedy });
check(gen.done === true && gen.done_reason === "length" && gen.eval_count === 16, "generate " + JSON.stringify(gen));
check(gen.prompt_eval_count === 5 && gen.total_duration > 0 && Array.isArray(gen.context), "generate counts " + JSON.stringify(gen));
out.generate = gen.response;

let streamed = "";
let parts = 0;
let last = null;
for await (const part of await ollama.generate({ model, prompt: "Once upon a time", options: greedy, stream: true })) {
  parts++;
  streamed += part.response;
  last = part;
}
check(last && last.done && last.eval_count === 16 && parts >= 16, "generate stream end " + JSON.stringify(last) + " after " + parts);
out.generate_stream = streamed;
out.generate_stream_cached = last.tokens_cached;

const messages = [{ role: "user", content: "Once upon a time" }];
const chat = await ollama.chat({ model, messages, options: greedy });
check(chat.done && chat.message.role === "assistant" && chat.eval_count === 16, "chat " + JSON.stringify(chat));
out.chat = chat.message.content;

let chatStreamed = "";
let chatLast = null;
for await (const part of await ollama.chat({ model, messages, options: greedy, stream: true })) {
  check(part.message.role === "assistant", "chat part role " + JSON.stringify(part));
  chatStreamed += part.message.content;
  chatLast = part;
}
check(chatLast && chatLast.done && chatLast.done_reason === "length", "chat stream end " + JSON.stringify(chatLast));
out.chat_stream = chatStreamed;

const emb = await ollama.embed({ model, input: ["Once upon a time", "a cat"] });
check(emb.embeddings.length === 2, "embed " + JSON.stringify(emb).slice(0, 200));
const norm = Math.sqrt(emb.embeddings[0].reduce((s, x) => s + x * x, 0));
check(Math.abs(norm - 1) < 1e-4, "embedding norm " + norm);
out.embed_dims = emb.embeddings[0].length;

try {
  await ollama.generate({ model: "no-such-model", prompt: "x" });
  check(false, "an unknown model did not fail");
} catch (e) {
  check(e.status_code === 404, "unknown model status " + e.status_code);
  out.not_found = e.error;
}
console.log(JSON.stringify(out));
