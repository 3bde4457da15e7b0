import { expect, test } from "@playwright/test";
import { adminToken, openHydrated, signIn } from "./helpers";

test("a customer checks out, sees the payment page counting down, and cancels the order", async ({ page, request }) => {
  const token = await adminToken(request);
  const categories = await (await request.get("/api/v1/categories")).json();
  const books = categories.find((c: { name: string }) => c.name === "Books");
  const created = await request.post("/api/v1/items", {
    headers: { authorization: `Bearer ${token}` },
    data: { category_id: books.id, name: "Checkout Test Atlas", price: "20.00", stock: 2 },
  });
  expect(created.status()).toBe(201);
  const item = await created.json();
  const username = `buyer${Date.now() % 1_000_000}`;
  const registered = await request.post("/api/v1/users", {
    data: { username, email: `${username}@example.com`, phone: "+4930555111", display_name: "Buyer", password: "buyer password" },
  });
  expect(registered.status()).toBe(201);

  await signIn(page, username, "buyer password");
  await expect(page.getByRole("heading", { name: "Hello, Buyer" })).toBeVisible();
  await openHydrated(page, `/items/${item.id}`);
  await page.getByLabel("Quantity").fill("3");
  await page.getByRole("button", { name: "Add to cart" }).click();
  await expect(page.getByText("Added. Your cart holds 3 units.")).toBeVisible();

  await page.getByRole("link", { name: "Cart", exact: true }).click();
  await expect(page.getByText("Only 2 left")).toBeVisible();
  await page.getByRole("button", { name: "Check out" }).click();
  await expect(page.getByRole("alert").filter({ hasText: "only 2 of Checkout Test Atlas left" })).toBeVisible();

  await page.getByLabel("Quantity of Checkout Test Atlas").fill("2");
  await page.getByRole("button", { name: "Update" }).click();
  await expect(page.getByText("Total: 40.00 EUR")).toBeVisible();
  await page.getByRole("button", { name: "Check out" }).click();

  await expect(page.getByRole("heading", { name: "Pay for your order" })).toBeVisible();
  await expect(page.getByRole("status")).toHaveText("Waiting for your payment…");
  await expect(page.getByText("Amount: 40.00 EUR")).toBeVisible();
  await expect(page.getByLabel("QR code to pay with your bank app").locator("svg")).toBeVisible();
  // The end-to-end server holds stock for 30 seconds.
  const timer = page.getByRole("timer");
  await expect(timer).toHaveText(/Held for 0:[0-3]\d/);
  const first = await timer.textContent();
  await expect(timer).not.toHaveText(first ?? "", { timeout: 5_000 });

  await openHydrated(page, "/orders");
  await expect(page.getByText("Pending: held for you")).toBeVisible();
  await page.getByRole("button", { name: "Cancel this order" }).click();
  await expect(page.getByText("Canceled", { exact: true })).toBeVisible();
  const after = await (await request.get(`/api/v1/items/${item.id}`)).json();
  expect(after.stock).toBe(2);
});
