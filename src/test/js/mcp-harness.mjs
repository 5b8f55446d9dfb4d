#!/usr/bin/env node
// Drives any stdio MCP server with the official TypeScript MCP client and prints one JSON line
// per step, so a test (or a person) can point it at a server command line and a script of calls.
//
//   node mcp-harness.mjs SCRIPT.json -- COMMAND [ARGS...]
//
// SCRIPT.json:
//   { "env": {"NAME": "value"},              extra environment for the server
//     "steps": [
//       {"list_tools": true},
//       {"call": "run_task", "args": {...}, "save": "t1", "expect": "ok" | "error" | "any",
//        "timeout_ms": 60000},
//       {"call": "get_task_info", "args": {"task_id": "${t1.task_id}"}},   values from saved results
//       {"call": "run_task", "args": {"repo": "${env.REPO}", ...}},          or from the environment
//       {"sleep_ms": 500},
//       {"call": "get_task_logs", "args": {...}, "until_contains": "text", "poll_ms": 1000, "timeout_ms": 60000} ] }
//                                  repeats the call until its result (text or structured) contains the text
//
// Output lines: {"step":N,"call":...,"ms":...,"isError":...,"structured":...,"text":...,"progress":K,"ok":bool}
// and last {"summary":{...}}. Exit status 0 when every expectation held, 1 otherwise, 2 on a usage
// or protocol failure.
import { readFileSync } from 'node:fs';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

function usage(message) {
  process.stderr.write(`${message}\nusage: node mcp-harness.mjs SCRIPT.json -- COMMAND [ARGS...]\n`);
  process.exit(2);
}

const argv = process.argv.slice(2);
const dashes = argv.indexOf('--');
if (dashes !== 1 || argv.length < 3) usage('expected a script file, then -- and the server command');
const script = JSON.parse(argv[0] === '-' ? readFileSync(0, 'utf8') : readFileSync(argv[0], 'utf8'));
const [command, ...args] = argv.slice(2);

const saved = {};
function lookup(path) {
  if (path.startsWith('env.')) {
    const value = process.env[path.slice(4)];
    if (value === undefined) throw new Error(`\${${path}}: environment variable ${path.slice(4)} is not set`);
    return value;
  }
  let value = saved;
  for (const part of path.split('.')) {
    if (value === undefined || value === null) break;
    value = value[part];
  }
  if (value === undefined) throw new Error(`\${${path}} is not defined by an earlier step`);
  return value;
}
function substitute(value) {
  if (typeof value === 'string') {
    const whole = value.match(/^\$\{([^}]+)\}$/);
    if (whole) return lookup(whole[1]);
    return value.replace(/\$\{([^}]+)\}/g, (_, p) => String(lookup(p)));
  }
  if (Array.isArray(value)) return value.map(substitute);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v)]));
  return value;
}
// Writes to a pipe are asynchronous: process.exit() would cut a large pending line, so every exit
// waits for what was printed to be written.
const written = [];
const print = (obj) => written.push(new Promise((resolve) => process.stdout.write(JSON.stringify(obj) + '\n', resolve)));
const exit = async (code) => { await Promise.all(written); process.exit(code); };

const started = Date.now();
const transport = new StdioClientTransport({
  command, args, env: { ...process.env, ...(script.env ?? {}) }, stderr: 'inherit',
});
const client = new Client({ name: 'mcp-harness', version: '1.0.0' });
let failed = 0;
let steps = 0;
try {
  await client.connect(transport);
  const initializeMs = Date.now() - started;
  print({ initialized: true, ms: initializeMs, server: client.getServerVersion() });
  for (const [i, rawStep] of (script.steps ?? []).entries()) {
    steps++;
    const step = substitute(rawStep);
    const t0 = Date.now();
    if (step.sleep_ms) {
      await new Promise((r) => setTimeout(r, step.sleep_ms));
      print({ step: i, sleep_ms: step.sleep_ms, ok: true });
      continue;
    }
    if (step.list_tools) {
      const { tools } = await client.listTools();
      print({ step: i, list_tools: true, ms: Date.now() - t0, ok: true, tools });
      continue;
    }
    let progress = 0;
    const progressMessages = [];
    let result;
    let attempts = 0;
    for (;;) {
      attempts++;
      try {
        result = await client.callTool({ name: step.call, arguments: step.args ?? {} }, undefined, {
          timeout: step.timeout_ms ?? 120000,
          resetTimeoutOnProgress: true,
          onprogress: (p) => { progress++; if (p?.message) progressMessages.push(p.message); },
        });
      } catch (e) {
        result = { isError: true, content: [{ type: 'text', text: `client error: ${e.message}` }], clientError: true };
      }
      if (!step.until_contains) break;
      const seen = JSON.stringify(result.structuredContent ?? null) + JSON.stringify(result.content ?? []);
      if (seen.includes(step.until_contains)) break;
      if (Date.now() - t0 > (step.timeout_ms ?? 120000)) {
        result = { isError: true, content: [{ type: 'text', text: `"${step.until_contains}" not seen after ${attempts} calls` }] };
        break;
      }
      await new Promise((r) => setTimeout(r, step.poll_ms ?? 1000));
    }
    const isError = result.isError === true;
    const expect = step.expect ?? 'ok';
    const ok = expect === 'any' || (expect === 'error') === isError;
    if (!ok) failed++;
    const text = (result.content ?? []).filter((c) => c.type === 'text').map((c) => c.text).join('\n');
    if (step.save) saved[step.save] = result.structuredContent ?? {};
    print({ step: i, call: step.call, ms: Date.now() - t0, isError, ok, progress, progress_messages: progressMessages, structured: result.structuredContent ?? null, text });
  }
  print({ summary: { steps, failed, ms: Date.now() - started } });
} catch (e) {
  print({ summary: { steps, failed: failed + 1, error: String(e?.stack ?? e) } });
  await client.close().catch(() => {});
  await exit(2);
}
await client.close();
await exit(failed === 0 ? 0 : 1);
