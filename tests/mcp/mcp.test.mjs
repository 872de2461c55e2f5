// Drives `corral mcp --embedded` with the official MCP TypeScript SDK client, over stdio.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createInterface } from 'node:readline';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

const corral = process.env.CORRAL_BINARY;
assert.ok(corral, 'CORRAL_BINARY must name the corral binary');

let client;
let transport;

before(async () => {
  transport = new StdioClientTransport({ command: corral, args: ['mcp', '--embedded'], stderr: 'pipe' });
  client = new Client({ name: 'corral-test', version: '1.0.0' });
  await client.connect(transport);
});

after(async () => {
  await client.close();
});

const run = (args) => client.callTool({ name: 'run_command', arguments: args });

test('the handshake negotiates 2025-06-18 and the tools capability', () => {
  assert.equal(client.getServerVersion().name, 'corral');
  assert.deepEqual(client.getServerCapabilities().tools, { listChanged: false });
});

test('tools/list gives every tool with exact input schemas', async () => {
  const { tools } = await client.listTools();
  const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
  assert.deepEqual(Object.keys(byName).sort(),
    ['list_processes', 'process_output', 'run_command', 'send_input', 'signal_process', 'wait_processes']);
  const runSchema = byName.run_command.inputSchema;
  assert.deepEqual(runSchema.required, ['command']);
  assert.equal(runSchema.properties.timeout_ms.type, 'integer');
  assert.equal(runSchema.properties.yield_ms.maximum, 30000);
  assert.deepEqual(runSchema.properties.stdin.enum, ['null', 'pipe', 'tty']);
  assert.deepEqual(byName.send_input.inputSchema.required, ['id']);
  assert.equal(runSchema.properties.background.type, 'boolean');
  assert.deepEqual(byName.signal_process.inputSchema.properties.signal.enum, ['terminate', 'kill']);
  assert.equal(byName.process_output.inputSchema.properties.wait_ms.type, 'integer');
  assert.equal(byName.process_output.inputSchema.properties.offset.type, 'integer');
  assert.equal(runSchema.properties.idempotency_key.type, 'string');
  assert.match(byName.process_output.description, /next_offset/);
  for (const tool of tools) {
    assert.ok(tool.description.length > 40, `${tool.name} is described for a model`);
    assert.equal(tool.inputSchema.type, 'object');
  }
});

test('run_command runs echo and returns structured and text results', async () => {
  const result = await run({ command: 'echo hello from corral' });
  assert.equal(result.isError, false, JSON.stringify(result));
  assert.equal(result.structuredContent.output, 'hello from corral\n');
  assert.equal(result.structuredContent.running, false);
  assert.equal(result.structuredContent.exit_code, 0);
  assert.match(result.content[0].text, /hello from corral\n\[process [0-9a-f-]{36} exited with code 0\]/);
});

test('a command that outlives its timeout keeps running and its output can be read later', async () => {
  const first = await run({ command: 'echo start; sleep 1; echo end', yield_ms: 200 });
  assert.equal(first.structuredContent.running, true);
  assert.match(first.content[0].text, /still running/);
  const id = first.structuredContent.id;
  const later = await client.callTool({ name: 'process_output', arguments: { id, wait_ms: 20000 } });
  assert.equal(later.structuredContent.running, false);
  assert.equal(later.structuredContent.output, 'start\nend\n');
  assert.equal(later.structuredContent.exit_code, 0);
});

test('run_command gives next_offset, and process_output from it gives only what came after', async () => {
  const first = await run({ command: 'echo a; sleep 1.5; echo b', yield_ms: 300 });
  assert.equal(first.structuredContent.running, true);
  assert.equal(first.structuredContent.output, 'a\n');
  assert.equal(first.structuredContent.next_offset, 2);
  assert.match(first.content[0].text, /offset=2/);
  const { id } = first.structuredContent;
  const next = await client.callTool({ name: 'process_output', arguments: { id, offset: 2, wait_ms: 20000 } });
  assert.equal(next.isError, false, JSON.stringify(next));
  assert.equal(next.structuredContent.output, 'b\n');
  assert.equal(next.structuredContent.offset, 2);
  assert.equal(next.structuredContent.next_offset, 4);
  assert.equal(next.structuredContent.remaining_bytes, 0);
  assert.equal(next.structuredContent.eof, true);
  assert.equal(next.structuredContent.exit_code, 0);
  const past = await client.callTool({ name: 'process_output', arguments: { id, offset: 5 } });
  assert.equal(past.isError, true);
  assert.match(past.content[0].text, /Invalid offset/);
});

test('a model following a long output by offsets receives every byte exactly once', async () => {
  // A pause first, so that run_command returns while it runs; then about 350 KB.
  const command = 'echo start; sleep 1; seq 1 60000';
  const expected = 'start\n' + Array.from({ length: 60000 }, (_, i) => `${i + 1}\n`).join('');
  const first = await run({ command, yield_ms: 300 });
  assert.equal(first.structuredContent.running, true, JSON.stringify(first.structuredContent));
  const { id } = first.structuredContent;
  let received = first.structuredContent.output;
  let offset = first.structuredContent.next_offset;
  assert.equal(Buffer.byteLength(received), offset);
  let calls = 0;
  for (;;) {
    assert.ok(++calls < 1000, 'the output ends');
    const r = await client.callTool({ name: 'process_output', arguments: { id, offset, wait_ms: 5000 } });
    assert.equal(r.isError, false, JSON.stringify(r));
    const o = r.structuredContent;
    assert.equal(o.offset, offset, 'it starts where the last call ended');
    assert.equal(o.gap, undefined);
    assert.ok(Buffer.byteLength(o.output) <= 16384, 'bounded per call');
    assert.equal(Buffer.byteLength(o.output), o.next_offset - o.offset, 'next_offset counts it');
    assert.equal(o.remaining_bytes, o.total_bytes - o.next_offset);
    received += o.output;
    offset = o.next_offset;
    if (o.eof) {
      assert.equal(o.exit_code, 0);
      break;
    }
  }
  assert.ok(calls >= Math.floor((Buffer.byteLength(expected) - 6) / 16384), `${calls} calls`);
  assert.equal(received.length, expected.length);
  assert.ok(received === expected, 'every byte once, in order');
});

test('clean shows progress bars at their last frame without escape sequences', async () => {
  const first = await run({ command: "printf 'a\\n50%%\\r100%%\\n\\033[31mred\\033[0m\\n'" });
  const { id } = first.structuredContent;
  assert.equal(first.structuredContent.output, 'a\n50%\r100%\n\u001b[31mred\u001b[0m\n');
  const whole = await client.callTool({ name: 'process_output', arguments: { id, clean: true } });
  assert.equal(whole.structuredContent.output, 'a\n100%\nred\n');
  const after = await client.callTool({ name: 'process_output', arguments: { id, offset: 2, clean: true } });
  assert.equal(after.structuredContent.output, '100%\nred\n');
  assert.equal(after.structuredContent.next_offset, first.structuredContent.next_offset, 'raw bytes');
});

test('timeout_ms is a deadline: the command is ended by it, ended_by deadline', async () => {
  const result = await run({ command: 'echo started; sleep 60', timeout_ms: 300, yield_ms: 20000 });
  assert.equal(result.structuredContent.running, false);
  assert.equal(result.structuredContent.ended_by, 'deadline');
  assert.equal(result.structuredContent.exit_signal, 'SIGTERM');
});

test('a model drives a Python REPL on a tty: two lines, their answers, then exit', async () => {
  const started = await run({ command: 'python3 -q -i', stdin: 'tty', yield_ms: 20000 });
  assert.equal(started.isError, false, JSON.stringify(started));
  assert.equal(started.structuredContent.running, true);
  assert.equal(started.structuredContent.waiting_for_input, true);
  assert.match(started.structuredContent.output, />>> /);
  assert.match(started.content[0].text, /waiting for input: answer with send_input/);
  const id = started.structuredContent.id;
  const send = (text) => client.callTool({ name: 'send_input', arguments: { id, text, yield_ms: 20000 } });
  const two = await send('1+1\n');
  assert.match(two.structuredContent.output, /1\+1.*\n2\r\n.*>>> /s, JSON.stringify(two));
  assert.equal(two.structuredContent.waiting_for_input, true);
  const hi = await send("print('hi')\n");
  assert.match(hi.structuredContent.output, /print\('hi'\).*\nhi\r\n.*>>> /s, JSON.stringify(hi));
  assert.ok(!hi.structuredContent.output.includes('2\r\n'), 'only what came after the write');
  const bye = await send('exit()\n');
  assert.equal(bye.structuredContent.running, false, JSON.stringify(bye));
  assert.equal(bye.structuredContent.exit_code, 0);
});

test('send_input to a pipe, then close: cat echoes it and ends', async () => {
  const started = await run({ command: 'cat', stdin: 'pipe', yield_ms: 5000 });
  assert.equal(started.structuredContent.waiting_for_input, true);
  const id = started.structuredContent.id;
  const echo = await client.callTool({ name: 'send_input', arguments: { id, text: 'hello\n' } });
  assert.equal(echo.structuredContent.output, 'hello\n');
  const closed = await client.callTool({ name: 'send_input', arguments: { id, close: true, yield_ms: 10000 } });
  assert.equal(closed.structuredContent.running, false);
  assert.equal(closed.structuredContent.exit_code, 0);
  const late = await client.callTool({ name: 'send_input', arguments: { id, text: 'late' } });
  assert.equal(late.isError, true);
  assert.match(late.content[0].text, /is not running/);
});

test('a 15 s build comes back after yield_ms with an id, then is followed to its end', async () => {
  const first = await run({ command: 'for i in $(seq 15); do echo step $i; sleep 1; done', yield_ms: 2000 });
  assert.equal(first.structuredContent.running, true);
  assert.match(first.structuredContent.id, /^[0-9a-f-]{36}$/);
  const id = first.structuredContent.id;
  let text = first.structuredContent.output;
  let offset = first.structuredContent.next_offset;
  for (let calls = 0; ; ++calls) {
    assert.ok(calls < 100, 'followed to its end');
    const r = await client.callTool({ name: 'process_output', arguments: { id, offset, wait_ms: 5000 } });
    text += r.structuredContent.output;
    offset = r.structuredContent.next_offset;
    if (!r.structuredContent.running && r.structuredContent.remaining_bytes === 0) {
      assert.equal(r.structuredContent.exit_code, 0);
      break;
    }
  }
  assert.equal(text, Array.from({ length: 15 }, (_, i) => `step ${i + 1}\n`).join(''));
});

test('wait_processes returns once any, or all, of several are done', async () => {
  const quick = (await run({ command: 'sleep 0.3; exit 4', background: true })).structuredContent.id;
  const slow = (await run({ command: 'sleep 1.5', background: true })).structuredContent.id;
  const any = await client.callTool({ name: 'wait_processes', arguments: { ids: [slow, quick], timeout_ms: 20000 } });
  assert.equal(any.isError, false, JSON.stringify(any));
  const [s1, q1] = any.structuredContent.processes;
  assert.equal(s1.id, slow);
  assert.equal(q1.running, false);
  assert.equal(q1.exit_code, 4);
  const all = await client.callTool({ name: 'wait_processes', arguments: { ids: [slow, quick], all: true, timeout_ms: 20000 } });
  assert.ok(all.structuredContent.processes.every((p) => !p.running), JSON.stringify(all));
  assert.match(all.content[0].text, /exited 4/);
});

test('an idempotency_key runs a command once; a retry gets the same process', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-mcp-key-'));
  try {
    const args = { command: `echo ran >> ${dir}/marks; echo out`, idempotency_key: 'retry-1' };
    const first = await run(args);
    assert.equal(first.structuredContent.output, 'out\n');
    assert.equal(first.structuredContent.replayed, undefined);
    const again = await run(args);
    assert.equal(again.isError, false, JSON.stringify(again));
    assert.equal(again.structuredContent.id, first.structuredContent.id);
    assert.equal(again.structuredContent.replayed, true);
    assert.equal(again.structuredContent.output, 'out\n');
    assert.match(again.content[0].text, /replayed/);
    assert.equal(readFileSync(join(dir, 'marks'), 'utf8'), 'ran\n');
    const other = await run({ command: 'echo different', idempotency_key: 'retry-1' });
    assert.equal(other.isError, true);
    assert.match(other.content[0].text, /Idempotency key reused with a different request/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a running command can be listed and killed', async () => {
  const started = await run({ command: 'sleep 300', yield_ms: 100 });
  const id = started.structuredContent.id;
  const listed = await client.callTool({ name: 'list_processes', arguments: {} });
  assert.ok(listed.structuredContent.processes.some((p) => p.id === id && p.running));
  const killed = await client.callTool({ name: 'signal_process', arguments: { id, signal: 'kill' } });
  assert.equal(killed.isError, false, JSON.stringify(killed));
  assert.equal(killed.structuredContent.message, `Signal "kill" sent to process "${id}".`);
  const out = await client.callTool({ name: 'process_output', arguments: { id, wait_ms: 20000 } });
  assert.equal(out.structuredContent.running, false);
  assert.equal(out.structuredContent.exit_code, -1);
  assert.equal(out.structuredContent.exit_signal, 'SIGKILL');
});

test('background returns the id at once', async () => {
  const result = await run({ command: 'sleep 0.2; echo bg', background: true });
  assert.equal(result.structuredContent.running, true);
  const out = await client.callTool({
    name: 'process_output', arguments: { id: result.structuredContent.id, wait_ms: 20000 } });
  assert.equal(out.structuredContent.output, 'bg\n');
});

test('an unknown process is a tool error, not a protocol error', async () => {
  const result = await client.callTool({
    name: 'process_output', arguments: { id: '6f1c2a8e-1d2b-4c3d-9e4f-5a6b7c8d9e0f' } });
  assert.equal(result.isError, true);
  assert.match(result.content[0].text, /not found/);
});

test('an unknown tool is a JSON-RPC error', async () => {
  await assert.rejects(client.callTool({ name: 'no_such_tool', arguments: {} }),
    (e) => e.code === -32602 && /Unknown tool/.test(e.message));
});

test('arguments of the wrong type are invalid params', async () => {
  await assert.rejects(run({ command: 'echo x', timeout_ms: 'soon' }), (e) => e.code === -32602);
});

test('a malformed line gets a JSON-RPC error and the server keeps answering', async () => {
  // The SDK drops an error answer with a null id as unroutable, so read the raw stream too.
  let raw = '';
  const tap = (chunk) => { raw += chunk.toString(); };
  transport._process.stdout.on('data', tap);
  transport._process.stdin.write('{"jsonrpc": "2.0", "id": 99, oops\n');
  await client.ping();
  transport._process.stdout.off('data', tap);
  const parseError = raw.split('\n').filter(Boolean).map((l) => JSON.parse(l))
    .find((m) => m.error?.code === -32700);
  assert.ok(parseError, `a parse error answer arrived: ${raw}`);
  assert.equal(parseError.id, null);
  const echoed = await run({ command: 'echo still here' });
  assert.equal(echoed.structuredContent.output, 'still here\n');
});

test('raw stdio: errors for every kind of bad message, then a clean exit on EOF', async () => {
  const child = spawn(corral, ['mcp', '--embedded'], { stdio: ['pipe', 'pipe', 'ignore'] });
  const lines = createInterface({ input: child.stdout });
  const replies = [];
  lines.on('line', (line) => replies.push(JSON.parse(line)));
  const send = (text) => child.stdin.write(text + '\n');
  send('not json');
  send('[1, 2]');
  send('{"jsonrpc": "1.0", "id": 1, "method": "ping"}');
  send('{"jsonrpc": "2.0", "id": 2, "method": "no/such/method"}');
  send('{"jsonrpc": "2.0", "id": 5}');
  send('{"jsonrpc": "2.0", "method": "notifications/initialized"}');
  send('{"jsonrpc": "2.0", "id": 3, "method": "ping"}');
  child.stdin.end();
  const [code] = await once(child, 'exit');
  assert.equal(code, 0);
  assert.deepEqual(replies.map((r) => [r.id, r.error?.code ?? 'ok']), [
    [null, -32700], [null, -32600], [1, -32600], [2, -32601], [5, -32600], [3, 'ok']]);
});

test('a ping is answered while run_command waits', async () => {
  let runDone = false;
  const running = run({ command: 'sleep 3; echo slept', yield_ms: 20000 }).then((r) => {
    runDone = true;
    return r;
  });
  await sleep(300);
  await client.ping();
  assert.equal(runDone, false, 'the ping did not wait for the command');
  const result = await running;
  assert.equal(result.structuredContent.output, 'slept\n');
});

test('a cancelled call stops waiting and is never answered', async () => {
  let raw = '';
  const tap = (chunk) => { raw += chunk.toString(); };
  transport._process.stdout.on('data', tap);
  const abort = new AbortController();
  const call = client.callTool({ name: 'run_command', arguments: { command: 'sleep 2; echo late', yield_ms: 20000 } },
    undefined, { signal: abort.signal });
  await sleep(300);
  abort.abort('the user changed their mind');
  await assert.rejects(call);
  await sleep(3500);  // the command ends after 2 s: an answer still waiting would be sent then
  await client.ping();
  transport._process.stdout.off('data', tap);
  const answers = raw.split('\n').filter(Boolean).map((l) => JSON.parse(l));
  assert.ok(!answers.some((m) => JSON.stringify(m).includes('late')), `no answer for the cancelled call: ${raw}`);
});

test('a long wait carries progress notifications when asked for them', async () => {
  const progress = [];
  const result = await client.callTool(
    { name: 'run_command', arguments: { command: 'sleep 17; echo finally', yield_ms: 30000 } },
    undefined, { onprogress: (p) => progress.push(p), resetTimeoutOnProgress: true, timeout: 50000 });
  assert.equal(result.structuredContent.output, 'finally\n');
  assert.ok(progress.length >= 1, 'at least one progress notification');
  assert.equal(progress[0].total, 30000);
  assert.ok(progress[0].progress > 0);
});

test('a stopped server is noticed: the call is a tool error, not a hang', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-mcp-'));
  const socket = join(dir, 's.sock');
  const server = spawn(corral, ['serve', '--ephemeral', '--listen', `unix:${socket}`], { stdio: ['ignore', 'pipe', 'ignore'] });
  await new Promise((resolve) => server.stdout.on('data', (d) => { if (d.toString().includes('listening')) resolve(); }));
  const t = new StdioClientTransport({ command: corral, args: ['mcp', '--server', `unix:${socket}`], stderr: 'pipe' });
  const c = new Client({ name: 'corral-test-stopped', version: '1.0.0' });
  await c.connect(t);
  try {
    const call = c.callTool({ name: 'run_command', arguments: { command: 'sleep 100', yield_ms: 30000 } });
    await sleep(1000);
    server.kill('SIGSTOP');
    const result = await call;  // the SDK itself would give up after 60 s
    assert.equal(result.isError, true);
    assert.match(result.content[0].text, /stopped answering/);
  } finally {
    server.kill('SIGCONT');
    server.kill('SIGTERM');
    await c.close();
    await once(server, 'exit');
    rmSync(dir, { recursive: true, force: true });
  }
});
