// The dashboard in real headless Chromium (Debian's, driven by puppeteer-core) against the real
// server with a token: it asks for the token, shows a started process, follows its live output,
// kills it from the page, shows it done, and logs no console error.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import puppeteer from "puppeteer-core";
import { startServer } from "./server.mjs";

const CHROMIUM = process.env.CHROMIUM ?? ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find(existsSync);

async function post(server, path, body) {
  const res = await fetch(server.base + path, {
    method: "POST",
    headers: { ...server.auth, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  assert.equal(res.status, 200, await res.clone().text());
  return res.json();
}

test("the dashboard follows a process and kills it", { timeout: 120_000 }, async (t) => {
  assert.ok(CHROMIUM, "chromium is installed (scripts/setup)");
  const server = await startServer();
  t.after(() => server.stop());
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
  t.after(() => browser.close());
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 800 });

  // Console errors from the page's own code, and uncaught exceptions, fail the test. The browser
  // also reports failed loads: only the expected ones (the 401 that asks for the token, and the
  // 404 of a /stream route this build may not serve yet) are allowed.
  const errors = [];
  const allowed = [];
  page.on("response", (r) => {
    const u = new URL(r.url());
    if ((r.status() === 401 && u.pathname.endsWith("/list")) ||
        (r.status() === 404 && u.pathname.endsWith("/stream"))) {
      allowed.push(r.url());
    }
  });
  page.on("console", (m) => {
    if (m.type() !== "error") return;
    const fromLoad = m.text().startsWith("Failed to load resource") && allowed.includes(m.location()?.url);
    if (!fromLoad) errors.push(m.text() + " at " + JSON.stringify(m.location()));
  });
  page.on("pageerror", (e) => errors.push("uncaught: " + e.message));

  await page.goto(server.base + "/ui", { waitUntil: "load" });
  // Without the token the page shows no data, only the form.
  await page.waitForSelector("#token-form", { visible: true });
  assert.equal(await page.$eval("#main", (e) => e.hidden), true);
  await page.type("#token", server.token);
  await page.click("#token-form button[type=submit]");
  await page.waitForSelector("#main", { visible: true });
  // The token is kept for the tab, never in the URL.
  assert.equal(await page.evaluate(() => sessionStorage.getItem("corral.token")), server.token);
  assert.ok(!page.url().includes(server.token));

  const marker = "<b>tick</b>";
  const { id } = await post(server, "/api/v0/processes/start", {
    command: `i=0; while :; do i=$((i+1)); echo "${marker} $i"; sleep 0.2; done`,
  });
  const row = `tr[data-id="${id}"]`;
  await page.waitForSelector(row);
  assert.equal(await page.$eval(row, (e) => e.dataset.state), "running");

  await page.click(`${row} td.command`);
  // Live: the view keeps growing while the command prints; markup arrives as text, never HTML.
  await page.waitForFunction((m) => document.querySelector("#output").textContent.includes(m + " 3"), {}, marker);
  assert.equal(await page.$eval("#output", (e) => e.children.length), 0);
  await page.waitForFunction((m) => document.querySelector("#output").textContent.includes(m + " 6"), {}, marker);

  await page.click(`${row} button[data-action=kill]`);
  await page.waitForFunction((r) => document.querySelector(r)?.dataset.state === "done", {}, row);
  assert.match(await page.$eval(`${row} td.exit`, (e) => e.textContent), /SIGKILL/);
  await page.waitForFunction(() => document.querySelector("#output-state").textContent.startsWith("done"));
  assert.match(await page.$eval("#output-state", (e) => e.textContent), /SIGKILL/);

  assert.deepEqual(errors, []);
});
