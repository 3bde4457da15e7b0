import { expect, test } from "@playwright/test";
import { openHydrated, signIn } from "./helpers";

test("a customer registers, signs out, signs in and edits the account", async ({ page }) => {
  const username = `shopper${Date.now() % 1_000_000}`;
  await openHydrated(page, "/register");
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Display name").fill("Black Friday Shopper");
  await page.getByLabel("Email").fill(`${username}@example.com`);
  await page.getByLabel("Phone").fill("+49 30 1234567");
  await page.getByLabel("Time zone").fill("Europe/Berlin");
  await page.getByLabel("Password").fill("short");
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page.locator("#reg-password-error")).toHaveText("must be at least 8 characters");

  await page.getByLabel("Password").fill("a long enough passphrase");
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page.getByRole("heading", { name: "Hello, Black Friday Shopper" })).toBeVisible();

  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page.getByRole("banner").getByRole("link", { name: "Sign in" })).toBeVisible();

  await signIn(page, username, "a long enough passphrase");
  await expect(page.getByRole("heading", { name: "Hello, Black Friday Shopper" })).toBeVisible();
  await page.getByLabel("Display name").fill("Cyber Monday Shopper");
  await page.getByLabel("Time zone").fill("Not/AZone");
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page.locator("#acc-timezone-error")).toHaveText("must be an IANA time zone, like Europe/Berlin");
  await page.getByLabel("Time zone").fill("America/New_York");
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page.getByRole("heading", { name: "Hello, Cyber Monday Shopper" })).toBeVisible();
  await page.reload();
  await expect(page.getByLabel("Time zone")).toHaveValue("America/New_York");
});

test("a wrong password shows an error and a customer cannot open the admin console", async ({ page }) => {
  const username = `visitor${Date.now() % 1_000_000}`;
  const registered = await page.request.post("/api/v1/users", {
    data: {
      username, email: `${username}@example.com`, phone: "+4930555000", display_name: "Visitor",
      password: "visitor password",
    },
  });
  expect(registered.status()).toBe(201);
  await signIn(page, username, "not my password");
  await expect(page.getByRole("alert").filter({ hasText: "wrong username or password" })).toBeVisible();

  await signIn(page, username, "visitor password");
  await expect(page.getByRole("heading", { name: "Hello, Visitor" })).toBeVisible();
  const console = await page.goto("/admin/items");
  expect(console?.status()).toBe(403);
  await expect(page.getByText("this needs an admin account")).toBeVisible();
});
