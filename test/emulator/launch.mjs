// launch.mjs starts the fauxqs SNS+SQS emulator on 127.0.0.1 for Picket's Go
// tests (internal/fauxqs starts it). fauxqs's own CLI listens on every
// interface, so this launcher builds the app and listens on loopback only.
//
// Usage: node launch.mjs [PORT]   (PORT 0 or absent: pick a free port)
//
// It prints exactly one line, "LISTENING http://127.0.0.1:PORT", once the
// server accepts connections, and exits when its standard input closes or on
// SIGTERM/SIGINT, so a Go test that crashes never leaves it running.
import { buildApp } from "fauxqs";

const arg = process.argv[2] ?? "0";
const port = Number.parseInt(arg, 10);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write(`launch.mjs: invalid port ${JSON.stringify(arg)}\n`);
  process.exit(2);
}

// Queue URLs are built from the request's Host header (127.0.0.1:PORT) and
// the region from the SigV4 credential scope; us-east-1 is the fallback.
const app = buildApp({ logger: false, defaultRegion: "us-east-1" });

let closing = false;
async function shutdown(code) {
  if (closing) return;
  closing = true;
  // Long polls hold connections open for up to 20 s; do not wait for them.
  const timer = setTimeout(() => process.exit(code), 500);
  timer.unref();
  try {
    await app.close();
  } catch {
    // exiting anyway
  }
  process.exit(code);
}

process.on("SIGTERM", () => shutdown(0));
process.on("SIGINT", () => shutdown(0));
process.stdin.on("end", () => shutdown(0));
process.stdin.on("close", () => shutdown(0));
process.stdin.on("error", () => shutdown(0));
process.stdin.resume();

try {
  await app.listen({ host: "127.0.0.1", port });
} catch (err) {
  process.stderr.write(`launch.mjs: listen on 127.0.0.1:${port}: ${err?.message ?? err}\n`);
  process.exit(1);
}
const addr = app.server.address();
process.stdout.write(`LISTENING http://127.0.0.1:${addr.port}\n`);
