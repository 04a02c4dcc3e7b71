// Reads a widget chat stream (an SSE body saved to the file named by argv[2]) with the AI SDK's own
// parser and chunk schema, then folds it into a UI message with `readUIMessageStream`, and prints
// {errors, types, message} as JSON for tests/tests/widget.rs to assert on.
import { readFileSync } from 'node:fs';

let ai;
try {
  ai = await import('ai');
} catch (err) {
  console.log(JSON.stringify({ fatal: `the npm package "ai" is not installed (run scripts/test, or npm ci in tests/browser): ${err.message}` }));
  process.exit(0);
}
const { parseJsonEventStream, uiMessageChunkSchema, readUIMessageStream } = ai;

const body = readFileSync(process.argv[2]);
const bytes = new ReadableStream({
  start(controller) {
    controller.enqueue(new Uint8Array(body));
    controller.close();
  },
});
const errors = [];
const chunks = [];
const reader = parseJsonEventStream({ stream: bytes, schema: uiMessageChunkSchema() }).getReader();
for (;;) {
  const { done, value } = await reader.read();
  if (done) break;
  if (value.success) chunks.push(value.value);
  else errors.push(String(value.error));
}
const replay = new ReadableStream({
  start(controller) {
    chunks.forEach((chunk) => controller.enqueue(chunk));
    controller.close();
  },
});
let message = null;
try {
  for await (const snapshot of readUIMessageStream({ stream: replay })) message = snapshot;
} catch (err) {
  errors.push(String(err));
}
console.log(JSON.stringify({ errors, types: chunks.map((c) => c.type), message }));
