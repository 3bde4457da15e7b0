import { expect, test } from "@playwright/test";
import { adminPassword, openHydrated, signIn } from "./helpers";

test("the admin console sends a visitor to sign in, and a wrong password is refused", async ({ page }) => {
  const response = await page.goto("/admin/items");
  expect(response?.status()).toBe(401);
  await expect(page.getByRole("main").getByRole("link", { name: "Sign in" })).toHaveAttribute("href", "/login");
  await signIn(page, "admin", "not the password");
  await expect(page.getByRole("alert").filter({ hasText: "wrong username or password" })).toBeVisible();
});

test("an admin creates an item and a customer finds it by a misspelled word", async ({ page, browser }) => {
  await signIn(page, "admin", adminPassword);
  await expect(page).toHaveURL(/\/account$/);
  await openHydrated(page, "/admin/items");
  await expect(page.getByRole("heading", { name: "Items" })).toBeVisible();

  await page.getByRole("link", { name: "New item" }).click();
  await expect(page.getByRole("heading", { name: "New item" })).toBeVisible();
  await expect(page.locator("html")).toHaveAttribute("data-hydrated", "true");
  await page.getByLabel("Category").selectOption({ label: "Kitchen" });
  await page.getByLabel("Name").fill("Zephyrine Waffle Maker");
  await page.getByLabel("Description").fill("Crisp Belgian waffles in three minutes.");
  await page.getByLabel("Price").fill("-3");
  await page.getByLabel("Initial stock").fill("7");
  await page.getByRole("button", { name: "Create item" }).click();
  await expect(page.locator("#item-price-error")).toHaveText("must be more than zero");

  await page.getByLabel("Price").fill("64.50");
  await page.getByRole("button", { name: "Create item" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Zephyrine Waffle Maker" })).toBeVisible();
  await expect(page.getByText("7 in stock")).toBeVisible();

  // A customer, in a browser of their own, misspells both words.
  const customer = await (await browser.newContext()).newPage();
  await expect(async () => {
    await customer.goto("/");
    await customer.getByRole("searchbox", { name: "Search the shop" }).fill("zephyrin wafle");
    await customer.getByRole("searchbox", { name: "Search the shop" }).press("Enter");
    await expect(customer.getByText("Zephyrine Waffle Maker")).toBeVisible({ timeout: 1_000 });
  }).toPass({ timeout: 10_000 });
  await customer.getByRole("navigation", { name: "Categories" }).getByRole("link", { name: /Kitchen/ }).click();
  await expect(customer).toHaveURL(/category=/);
  await expect(customer.getByText("1 item", { exact: true })).toBeVisible();
  await customer.getByRole("link", { name: /Zephyrine Waffle Maker/ }).click();
  await expect(customer.getByRole("heading", { level: 1, name: "Zephyrine Waffle Maker" })).toBeVisible();
  await expect(customer.getByText("64.50 EUR")).toBeVisible();
});

test.describe("without JavaScript", () => {
  test.use({ javaScriptEnabled: false });

  test("the admin's basic forms work as plain HTML forms", async ({ page }) => {
    await page.goto("/login");
    await page.getByLabel("Username").fill("admin");
    await page.getByLabel("Password").fill(adminPassword);
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page.getByRole("heading", { name: "Hello, Shop admin" })).toBeVisible();

    await page.goto("/admin/items/new");
    await page.getByLabel("Category").selectOption({ label: "Toys" });
    await page.getByLabel("Name").fill("Plain Form Kite");
    await page.getByLabel("Price").fill("12.00");
    await page.getByLabel("Initial stock").fill("4");
    await page.getByRole("button", { name: "Create item" }).click();
    await expect(page.getByRole("heading", { level: 1, name: "Plain Form Kite" })).toBeVisible();
    await expect(page.getByText("4 in stock")).toBeVisible();
  });
});
