// Runs a two-step tool-calling conversation against a glassbox server with
// the official openai package, without and with streaming, and checks it.
// Usage: node tools_chat.mjs BASEURL MODEL. The tool's arguments are fully
// enumerated and tool_choice is "required", so the server's grammar makes
// even a random-weight model write a well-formed call.
// Prints {"call", "streamed_call", "answer", "streamed_answer", ...} as JSON;
// exits with status 1 and a message on stderr when a check fails.
import OpenAI from "openai";

const [base, model] = process.argv.slice(2);
if (!base || !model) {
  console.error("usage: node tools_chat.mjs BASEURL MODEL");
  process.exit(2);
}

function check(cond, msg) {
  if (!cond) {
    console.error("check failed: " + msg);
    process.exit(1);
  }
}

const client = new OpenAI({ baseURL: base + "/v1", apiKey: process.env.GLASSBOX_API_KEY || "unused", maxRetries: 0, timeout: 120000 });
const tools = [{
  type: "function",
  function: {
    name: "get_weather",
    description: "Current weather of a city",
    parameters: {
      type: "object",
      properties: { city: { enum: ["Paris", "Lyon", "Nice"] }, unit: { enum: ["C", "F"] } },
      required: ["city", "unit"],
      additionalProperties: false,
    },
  },
}];
const question = [{ role: "user", content: "What is the weather in Paris?" }];
const params = (messages, tool_choice) => ({ model, messages, tools, tool_choice, parallel_tool_calls: false, temperature: 0, max_tokens: 200 });

function checkCall(call, what) {
  check(call.type === "function", what + ": type " + call.type);
  check(typeof call.id === "string" && call.id.startsWith("call_"), what + ": id " + call.id);
  check(call.function.name === "get_weather", what + ": name " + call.function.name);
  const args = JSON.parse(call.function.arguments);
  check(["Paris", "Lyon", "Nice"].includes(args.city) && ["C", "F"].includes(args.unit) && Object.keys(args).length === 2,
    what + ": arguments " + call.function.arguments);
}

// step 1, not streamed
const r1 = await client.chat.completions.create(params(question, "required"));
const c1 = r1.choices[0];
check(c1.finish_reason === "tool_calls", "step 1 finish_reason " + c1.finish_reason);
check(c1.message.content === null, "step 1 content " + JSON.stringify(c1.message.content));
check(c1.message.tool_calls.length === 1, "step 1 has " + c1.message.tool_calls.length + " calls");
const call = c1.message.tool_calls[0];
checkCall(call, "step 1");

// step 1, streamed: the first delta of the call has its index, id, type,
// name and empty arguments; the next ones fragments of the arguments
const s1 = await client.chat.completions.create({ ...params(question, "required"), stream: true });
let streamed = null, fragments = 0, finish1 = null;
for await (const chunk of s1) {
  for (const choice of chunk.choices) {
    if (choice.finish_reason) finish1 = choice.finish_reason;
    for (const d of choice.delta.tool_calls || []) {
      check(d.index === 0, "delta index " + d.index);
      if (d.id) {
        check(streamed === null, "two first deltas");
        check(d.type === "function" && d.function.name === "get_weather" && d.function.arguments === "", "first delta " + JSON.stringify(d));
        streamed = { id: d.id, type: d.type, function: { name: d.function.name, arguments: "" } };
      } else {
        check(streamed !== null && d.function.name === undefined, "argument delta " + JSON.stringify(d));
        streamed.function.arguments += d.function.arguments;
        fragments++;
      }
    }
  }
}
check(finish1 === "tool_calls", "streamed step 1 finish_reason " + finish1);
check(streamed !== null && fragments > 0, "streamed step 1 has no call or no argument fragments");
checkCall(streamed, "streamed step 1");
check(streamed.function.arguments === call.function.arguments, "streamed arguments " + streamed.function.arguments + " vs " + call.function.arguments);

// step 2: the tool's result goes back, the model answers
const result = JSON.stringify({ city: "Paris", temperature: 18, sky: "clear" });
const messages = [...question, c1.message, { role: "tool", tool_call_id: call.id, content: result }];
const r2 = await client.chat.completions.create(params(messages, "auto"));
const c2 = r2.choices[0];
check(c2.finish_reason === "stop" || c2.finish_reason === "length", "step 2 finish_reason " + c2.finish_reason);
check(typeof c2.message.content === "string" && c2.message.content.length > 0 && !c2.message.tool_calls, "step 2 message " + JSON.stringify(c2.message));
check(r2.usage.prompt_tokens > r1.usage.prompt_tokens, "step 2 prompt " + r2.usage.prompt_tokens + " tokens, step 1 " + r1.usage.prompt_tokens);

const s2 = await client.chat.completions.create({ ...params(messages, "auto"), stream: true });
let answer = "", finish2 = null;
for await (const chunk of s2) {
  for (const choice of chunk.choices) {
    if (choice.delta.content) answer += choice.delta.content;
    if (choice.finish_reason) finish2 = choice.finish_reason;
  }
}
check(finish2 === c2.finish_reason && answer === c2.message.content, "streamed step 2 " + JSON.stringify(answer) + " " + finish2);

console.log(JSON.stringify({ call, streamed_call: streamed, fragments, answer: c2.message.content, streamed_answer: answer, finish: c2.finish_reason }));
