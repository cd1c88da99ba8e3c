// dynalite.mjs starts dynalite, a DynamoDB-compatible server backed by an
// in-memory LevelDB, on 127.0.0.1 for Picket's Go tests (internal/dynalite
// starts it). dynalite prints nothing by itself, so this launcher does.
//
// Usage: node dynalite.mjs [PORT]   (PORT 0 or absent: pick a free port)
//
// It prints exactly one line, "LISTENING http://127.0.0.1:PORT", once the
// server accepts connections, and exits when its standard input closes or on
// SIGTERM/SIGINT, so a Go test that crashes never leaves it running.
// Tables are ACTIVE as soon as they are created (createTableMs: 0), and
// deleted at once (deleteTableMs: 0).
import dynalite from "dynalite";

const arg = process.argv[2] ?? "0";
const port = Number.parseInt(arg, 10);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write(`dynalite.mjs: invalid port ${JSON.stringify(arg)}\n`);
  process.exit(2);
}

const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });

let closing = false;
function shutdown(code) {
  if (closing) return;
  closing = true;
  const timer = setTimeout(() => process.exit(code), 500);
  timer.unref();
  server.close(() => process.exit(code));
}

process.on("SIGTERM", () => shutdown(0));
process.on("SIGINT", () => shutdown(0));
process.stdin.on("end", () => shutdown(0));
process.stdin.on("close", () => shutdown(0));
process.stdin.on("error", () => shutdown(0));
process.stdin.resume();

server.on("error", (err) => {
  process.stderr.write(`dynalite.mjs: listen on 127.0.0.1:${port}: ${err?.message ?? err}\n`);
  process.exit(1);
});
server.listen(port, "127.0.0.1", () => {
  const addr = server.address();
  process.stdout.write(`LISTENING http://127.0.0.1:${addr.port}\n`);
});
