import { expect, test } from "@playwright/test";
import { adminToken, openHydrated, signIn } from "./helpers";

test("a customer checks out, sees the held order counting down, and cancels it", async ({ page, request }) => {
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

  await expect(page.getByRole("heading", { name: "Your orders" })).toBeVisible();
  await expect(page.getByText("Pending: held for you")).toBeVisible();
  const timer = page.getByRole("timer");
  await expect(timer).toHaveText(/Held for 1:5\d|Held for 2:00/);
  const first = await timer.textContent();
  await expect(timer).not.toHaveText(first ?? "", { timeout: 5_000 });

  await page.getByRole("button", { name: "Cancel this order" }).click();
  await expect(page.getByText("Canceled", { exact: true })).toBeVisible();
  const after = await (await request.get(`/api/v1/items/${item.id}`)).json();
  expect(after.stock).toBe(2);
});
