// gen_golden.cjs regenerates the golden chat renders in ./golden with the
// reference Jinja implementation used by Hugging Face, @huggingface/jinja.
// It is a development tool, not run by CI or by `go test`.
//
// Usage (from anywhere; node 18+):
//   mkdir -p /tmp/hfjinja && (cd /tmp/hfjinja && npm install @huggingface/jinja)
//   NODE_PATH=/tmp/hfjinja/node_modules node chat/testdata/gen_golden.cjs [fixtures-dir]
//
// fixtures-dir defaults to ../../../shared/fixtures relative to this file
// (the shared fixtures next to the repository). The script reads the
// conversations in cases.json, the "llama3" and "qwen3" templates and their
// bos/eos tokens from the fixtures' tokenizer_config.json files, the
// "dated" template from dated.jinja (with llama3's tokens), and the
// "gptoss" template from harmony.jinja (a harmony-format template written
// for these tests, with gpt-oss's bos/eos tokens). For each case it
// writes golden/<name>.txt with the exact render, or golden/<name>.err with
// the error message when the template raises.
"use strict";

const fs = require("fs");
const path = require("path");
const { Template, Environment } = require("@huggingface/jinja");

// The reference declares strftime_now as a global that reads the clock, and
// refuses to redeclare it from the render context; while a case fixes the
// date, swap the global for a formatter of that date.
let fixedStrftime = null;
const declare = Environment.prototype.set;
Environment.prototype.set = function (name, value) {
  if (name === "strftime_now" && fixedStrftime) value = fixedStrftime;
  return declare.call(this, name, value);
};

const here = __dirname;
const fixtures = process.argv[2] || path.join(here, "..", "..", "..", "shared", "fixtures");

// tokenText reads a tokenizer_config.json token: a string, an
// {"content": ...} object, or null.
function tokenText(tok) {
  if (tok === null || tok === undefined) return "";
  if (typeof tok === "string") return tok;
  return tok.content;
}

function loadConfig(name) {
  const file = path.join(fixtures, "vocab", "tokenizer-json", name, "tokenizer_config.json");
  const cfg = JSON.parse(fs.readFileSync(file, "utf8"));
  return { source: cfg.chat_template, bos: tokenText(cfg.bos_token), eos: tokenText(cfg.eos_token) };
}

const llama3 = loadConfig("llama3");
const templates = {
  llama3,
  qwen3: loadConfig("qwen3"),
  dated: { source: fs.readFileSync(path.join(here, "dated.jinja"), "utf8"), bos: llama3.bos, eos: llama3.eos },
  gptoss: { source: fs.readFileSync(path.join(here, "harmony.jinja"), "utf8"), bos: "<|startoftext|>", eos: "<|return|>", harmony: true },
};

// templateMessages gives the messages as the Go package shows them to a
// template: content always a string, tool-call arguments as the object
// their JSON text holds, and for a harmony template (gpt-oss) the reasoning
// also as thinking and no content beside calls that come with reasoning.
function templateMessages(messages, harmony) {
  return messages.map((m) => {
    const out = { ...m, content: m.content ?? "" };
    if (out.tool_calls) {
      out.tool_calls = out.tool_calls.map((c) => {
        let args = c.function.arguments;
        try {
          const v = JSON.parse(args);
          if (v && typeof v === "object" && !Array.isArray(v)) args = v;
        } catch (e) {}
        return { ...c, function: { ...c.function, arguments: args } };
      });
    }
    if (harmony && out.reasoning_content) {
      out.thinking = out.reasoning_content;
      if (out.tool_calls && out.tool_calls.length) out.content = "";
    }
    return out;
  });
}

// strftime formats date (in UTC) for the Python directives the tests use.
const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const monthNames = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
function strftime(date, format) {
  const pad = (n) => String(n).padStart(2, "0");
  return format.replace(/%[YmdbBHMS%]/g, (d) => {
    switch (d) {
      case "%Y": return String(date.getUTCFullYear());
      case "%m": return pad(date.getUTCMonth() + 1);
      case "%d": return pad(date.getUTCDate());
      case "%b": return months[date.getUTCMonth()];
      case "%B": return monthNames[date.getUTCMonth()];
      case "%H": return pad(date.getUTCHours());
      case "%M": return pad(date.getUTCMinutes());
      case "%S": return pad(date.getUTCSeconds());
      case "%%": return "%";
    }
  });
}

const cases = JSON.parse(fs.readFileSync(path.join(here, "cases.json"), "utf8"));
const outDir = path.join(here, "golden");
fs.mkdirSync(outDir, { recursive: true });
const compiled = {};
for (const c of cases) {
  const t = templates[c.template];
  if (!t) throw new Error(`case ${c.name}: unknown template ${c.template}`);
  compiled[c.template] ??= new Template(t.source);
  const ctx = {
    ...(c.extra || {}),
    messages: templateMessages(c.messages, t.harmony),
    ...(c.tools ? { tools: c.tools } : {}),
    add_generation_prompt: !!c.add_generation_prompt,
    bos_token: t.bos,
    eos_token: t.eos,
  };
  const now = c.now ? new Date(c.now) : null;
  fixedStrftime = now ? (format) => strftime(now, format) : null;
  for (const ext of [".txt", ".err"]) fs.rmSync(path.join(outDir, c.name + ext), { force: true });
  try {
    const out = compiled[c.template].render(ctx);
    fs.writeFileSync(path.join(outDir, c.name + ".txt"), out);
    console.log(`${c.name}: ${out.length} characters`);
  } catch (e) {
    fs.writeFileSync(path.join(outDir, c.name + ".err"), String(e.message));
    console.log(`${c.name}: error: ${e.message}`);
  }
}
