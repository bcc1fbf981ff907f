// Drives Debian's chromium (no browser download) with playwright-core for tests/test_ui_browser.py.
//
// A line protocol keeps the assertions in Python, next to the server's recordings: pytest writes
// one JSON command per line on stdin, this answers one JSON line per command on stdout:
// {"ok": true, "value": ...} or {"ok": false, "error": "..."}. Commands:
//   goto {url}                    open a page and wait for the harness to render
//   click {selector}              click the first match (waits for it to be visible and enabled)
//   fill {selector, value}        type value into the first matching input
//   wait {selector, text?, exact?, gone?, timeout?}  wait until a match (containing text) exists,
//                                 or no longer does (timeout in ms)
//   texts {selector}              innerText of every match
//   count {selector}              number of matches
//   eval {expr}                   evaluate an expression in the page, return its JSON value
//   until {expr, timeout?}        wait until the expression is truthy in the page, return its value
//   screenshot {selector, path}   PNG of the first match
//   logs                          console errors/warnings and page errors since the last call
//   close
// Environment: CHROMIUM (default /usr/bin/chromium), DRIVE_TIMEOUT_MS (default 10000).
import { chromium } from "playwright-core";
import { createInterface } from "node:readline";

const TIMEOUT = Number(process.env.DRIVE_TIMEOUT_MS || 10000);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  // playwright-core gives every launch a fresh temporary --user-data-dir of its own
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 });
page.setDefaultTimeout(TIMEOUT);
const logs = [];
page.on("console", (msg) => {
  if (msg.type() === "error" || msg.type() === "warning") logs.push(msg.type() + ": " + msg.text());
});
page.on("pageerror", (err) => logs.push("pageerror: " + err.message));

// text: case-insensitive substring, or with exact: the whole (trimmed) text, case-sensitive
function match(cmd) {
  const loc = page.locator(cmd.selector);
  if (!cmd.text) return loc;
  const escaped = cmd.text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return loc.filter({ hasText: cmd.exact ? new RegExp("^\\s*" + escaped + "\\s*$") : cmd.text });
}

const commands = {
  async goto(cmd) {
    await page.goto(cmd.url);
    await page.waitForFunction(() => window.__harness && (window.__harness.ready || window.__harness.sceneError));
    return page.evaluate(() => window.__harness.sceneError);
  },
  async click(cmd) { await match(cmd).first().click(); return null; },
  async fill(cmd) { await match(cmd).first().fill(cmd.value); return null; },
  async wait(cmd) {
    const timeout = cmd.timeout || TIMEOUT;
    await match(cmd).first().waitFor({ state: cmd.gone ? "detached" : "attached", timeout });
    return null;
  },
  async texts(cmd) { return match(cmd).allInnerTexts(); },
  async count(cmd) { return match(cmd).count(); },
  async eval(cmd) { return page.evaluate(cmd.expr); },
  async until(cmd) {
    const handle = await page.waitForFunction(cmd.expr, null, { timeout: cmd.timeout || TIMEOUT });
    return handle.jsonValue();
  },
  async screenshot(cmd) { await match(cmd).first().screenshot({ path: cmd.path }); return cmd.path; },
  async logs() { return logs.splice(0); },
};

const rl = createInterface({ input: process.stdin });
for await (const line of rl) {
  if (!line.trim()) continue;
  const cmd = JSON.parse(line);
  if (cmd.cmd === "close") break;
  let reply;
  try {
    const fn = commands[cmd.cmd];
    if (!fn) throw new Error("unknown command " + cmd.cmd);
    reply = { ok: true, value: await fn(cmd) };
  } catch (err) {
    reply = { ok: false, error: String(err && err.message ? err.message : err) };
  }
  process.stdout.write(JSON.stringify(reply) + "\n");
}
await browser.close();
process.exit(0);
