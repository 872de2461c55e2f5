// Starts the real corral binary for a test: TCP on 127.0.0.1, port 0, with a bearer token.
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

export const BINARY = process.env.CORRAL_BINARY;
if (!BINARY) throw new Error("CORRAL_BINARY must name the corral binary");

export async function startServer(extraArgs = []) {
  const dir = mkdtempSync(join(tmpdir(), "corral-web-"));
  const token = "web-test-token-" + Math.random().toString(36).slice(2);
  const tokenFile = join(dir, "token");
  writeFileSync(tokenFile, token + "\n", { mode: 0o600 });
  const child = spawn(
    BINARY,
    ["serve", "--ephemeral", "--listen", "127.0.0.1:0", "--token-file", tokenFile, ...extraArgs],
    {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, XDG_RUNTIME_DIR: dir, HOME: dir },
    },
  );
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const lines = createInterface({ input: child.stdout });
  const address = await new Promise((resolve, reject) => {
    lines.on("line", (line) => {
      if (line.startsWith("listening on ")) resolve(line.slice("listening on ".length));
    });
    child.on("exit", (code) => reject(new Error(`corral exited (${code}): ${stderr}`)));
  });
  const base = "http://" + address;
  return {
    base,
    token,
    dir,
    stderr: () => stderr,
    auth: { Authorization: "Bearer " + token },
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.on("exit", r));
      child.kill("SIGTERM");
      await exited;
    },
  };
}
