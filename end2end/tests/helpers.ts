import { type APIRequestContext, type Page, expect } from "@playwright/test";

export const adminPassword = process.env.SURGE_E2E_ADMIN_PASSWORD ?? "";

/** Opens a page and waits for the WASM bundle to take it over (forms are then enhanced). */
export async function openHydrated(page: Page, path: string) {
  await page.goto(path);
  await expect(page.locator("html")).toHaveAttribute("data-hydrated", "true");
}

/** Fills and sends the sign-in form. */
export async function signIn(page: Page, username: string, password: string) {
  await openHydrated(page, "/login");
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

/** A session token of the admin account, for API calls. */
export async function adminToken(request: APIRequestContext): Promise<string> {
  const response = await request.post("/api/v1/sessions", {
    data: { username: "admin", password: adminPassword },
  });
  expect(response.status()).toBe(201);
  return (await response.json()).token;
}
