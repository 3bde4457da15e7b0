import { expect, test } from "@playwright/test";

test("the home page is rendered on the server with the shop's layout", async ({ page }) => {
  await page.goto("/");
  await expect(page.getByRole("heading", { name: "Black Friday at Surge" })).toBeVisible();
  await expect(page.getByRole("searchbox", { name: "Search the shop" })).toBeVisible();
  await expect(page.getByRole("link", { name: "Cart", exact: true })).toBeVisible();
  await expect(page.getByRole("heading", { name: "Categories" })).toBeVisible();
});

test("once hydrated, checking the shop status calls the server and shows every dependency", async ({ page }) => {
  await page.goto("/");
  // The button does nothing until the WASM bundle has hydrated the page; the app marks the
  // document once it has. A click that lands in the instant before the handlers are attached is
  // lost, as it would be for a person, so click again until the check starts.
  await expect(page.locator("html")).toHaveAttribute("data-hydrated", "true");
  const status = page.getByRole("status");
  await expect(async () => {
    await page.getByRole("button", { name: "Check shop status" }).click();
    await expect(status).toContainText("All systems operational", { timeout: 3_000 });
  }).toPass({ timeout: 20_000 });
  for (const name of ["directory", "shard 0", "shard 1", "shard 2", "redis"]) {
    await expect(status.getByText(name, { exact: true })).toBeVisible();
  }
});

test("an unknown address shows a not-found page with status 404", async ({ page }) => {
  const response = await page.goto("/no-such-page");
  expect(response?.status()).toBe(404);
  await expect(page.getByRole("heading", { name: "Page not found" })).toBeVisible();
});

test("the storefront runs under its Content-Security-Policy without violations", async ({ page }) => {
  const violations: string[] = [];
  page.on("console", (message) => {
    if (message.text().includes("Content Security Policy")) violations.push(message.text());
  });
  for (const path of ["/login", "/", "/search?q=kite", "/categories/toys"]) {
    const response = await page.goto(path);
    // A page kept for visitors allows its inline scripts by hash; one made for this answer, by nonce.
    expect(response?.headers()["content-security-policy"]).toMatch(/'nonce-|'sha256-/);
    await expect(page.locator("html")).toHaveAttribute("data-hydrated", "true");
  }
  await page.locator(".item-grid a").first().click();
  await expect(page.getByTestId("stock")).toBeVisible();
  expect(violations).toEqual([]);
});
