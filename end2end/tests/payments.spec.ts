import { type APIRequestContext, type Page, expect, test } from "@playwright/test";
import { adminToken, openHydrated, signIn } from "./helpers";

/** A new item in "Toys" and a new customer, signed in. */
async function shopper(page: Page, request: APIRequestContext, name: string, stock: number) {
  const token = await adminToken(request);
  const categories = await (await request.get("/api/v1/categories")).json();
  const toys = categories.find((c: { name: string }) => c.name === "Toys");
  const created = await request.post("/api/v1/items", {
    headers: { authorization: `Bearer ${token}` },
    data: { category_id: toys.id, name, price: "12.50", stock },
  });
  expect(created.status()).toBe(201);
  const item = await created.json();
  const username = `payer${Date.now() % 1_000_000}`;
  const registered = await request.post("/api/v1/users", {
    data: { username, email: `${username}@example.com`, phone: "+4930555222", display_name: "Payer", password: "payer password" },
  });
  expect(registered.status()).toBe(201);
  await signIn(page, username, "payer password");
  await expect(page.getByRole("heading", { name: "Hello, Payer" })).toBeVisible();
  return item;
}

test("a customer finds an item, checks out, pays the QR code in the bank app and sees the order placed", async ({ page, request }) => {
  const item = await shopper(page, request, "Quetzal Kite Deluxe", 4);

  // Search finds it (the index follows the event stream: allow it a moment).
  await expect(async () => {
    await openHydrated(page, "/");
    await page.getByRole("searchbox", { name: "Search the shop" }).fill("quetzal kite");
    await page.getByRole("searchbox", { name: "Search the shop" }).press("Enter");
    await expect(page.getByRole("link", { name: /Quetzal Kite Deluxe/ })).toBeVisible({ timeout: 1_000 });
  }).toPass({ timeout: 10_000 });
  await page.getByRole("link", { name: /Quetzal Kite Deluxe/ }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Quetzal Kite Deluxe" })).toBeVisible();
  await expect(page.locator("html")).toHaveAttribute("data-hydrated", "true");
  await page.getByLabel("Quantity").fill("2");
  await page.getByRole("button", { name: "Add to cart" }).click();
  await expect(page.getByText("Added. Your cart holds 2 units.")).toBeVisible();
  await page.getByRole("link", { name: "Cart", exact: true }).click();
  await page.getByRole("button", { name: "Check out" }).click();

  await expect(page.getByRole("heading", { name: "Pay for your order" })).toBeVisible();
  await expect(page.getByText("Amount: 25.00 EUR")).toBeVisible();
  await expect(page.getByLabel("QR code to pay with your bank app").locator("svg")).toBeVisible();
  const payload = await page.locator("textarea.qr-payload").inputValue();
  expect(payload).toMatch(/^000201010212/);
  const checkoutUrl = page.url();

  // What a phone does after scanning: the bank app opens the code, the customer confirms.
  const bank = await page.context().newPage();
  await bank.goto(await page.getByRole("link", { name: "Open in the bank app" }).getAttribute("href") ?? "");
  await expect(bank.getByLabel(/Amount/)).toHaveValue("25.00");
  await bank.getByRole("button", { name: "Pay" }).click();
  await expect(bank.getByRole("status")).toContainText("You paid 25.00 EUR");

  // The page sees the money land without a reload.
  await expect(page.getByRole("status")).toHaveText("Paid: your order is placed. Thank you!", { timeout: 10_000 });
  expect(page.url()).toBe(checkoutUrl);
  await page.getByRole("link", { name: "See your orders" }).click();
  await expect(page.getByText("Placed", { exact: true })).toBeVisible();
  const after = await (await request.get(`/api/v1/items/${item.id}`)).json();
  expect(after.stock).toBe(2);
});

test("an unpaid checkout ends with the countdown: the order fails and the stock is back", async ({ page, request }) => {
  test.setTimeout(90_000);
  const item = await shopper(page, request, "Unpaid Test Yo-yo", 3);
  await openHydrated(page, `/items/${item.id}`);
  await page.getByLabel("Quantity").fill("3");
  await page.getByRole("button", { name: "Add to cart" }).click();
  await expect(page.getByText("Added. Your cart holds 3 units.")).toBeVisible();
  await page.getByRole("link", { name: "Cart", exact: true }).click();
  await page.getByRole("button", { name: "Check out" }).click();
  await expect(page.getByRole("status")).toHaveText("Waiting for your payment…");
  // A hold's stock shows within a second (the item's cached copy is aged, not dropped).
  await expect
    .poll(async () => (await (await request.get(`/api/v1/items/${item.id}`)).json()).stock, { timeout: 3_000 })
    .toBe(0);

  // The end-to-end server holds stock for 30 seconds.
  await expect(page.getByRole("timer")).toHaveText("The hold has ended.", { timeout: 40_000 });
  await expect(page.getByRole("status")).toHaveText(/This checkout has ended and nothing was sold/, { timeout: 10_000 });
  await page.getByRole("link", { name: "See your orders" }).click();
  await expect(page.getByText("Failed: the hold ran out")).toBeVisible();
  const after = await (await request.get(`/api/v1/items/${item.id}`)).json();
  expect(after.stock).toBe(3);
});
