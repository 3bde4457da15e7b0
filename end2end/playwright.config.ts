import { randomBytes } from "node:crypto";
import { defineConfig } from "@playwright/test";

// The server under test: the `surge` binary built by `cargo leptos build`, on its own port and
// its own fresh databases (scripts/e2e-server.sh), never the one `make run` serves.
const port = Number(process.env.SURGE_E2E_PORT ?? 3100);
const baseURL = `http://127.0.0.1:${port}`;
// A fresh admin password for each run, shared by the server and the tests (through the
// environment: the config is loaded again in every worker, so it is generated only once).
process.env.SURGE_E2E_ADMIN_PASSWORD ??= randomBytes(18).toString("hex");

export default defineConfig({
  testDir: "./tests",
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: true,
  forbidOnly: !!process.env.CI,
  retries: 0,
  workers: 2,
  // `list`: the html reporter would try to serve its report after a failure and hang CI.
  reporter: "list",
  use: {
    baseURL,
    trace: "retain-on-failure",
    launchOptions: {
      // Debian's Chromium: Playwright never downloads a browser here.
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
  webServer: {
    command: "../scripts/e2e-server.sh",
    url: `${baseURL}/healthz`,
    reuseExistingServer: false,
    timeout: 120_000,
    stdout: "pipe",
    stderr: "pipe",
    env: { SURGE_E2E_PORT: String(port), SURGE_E2E_ADMIN_PASSWORD: process.env.SURGE_E2E_ADMIN_PASSWORD },
  },
});
