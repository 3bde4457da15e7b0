import { expect, test } from "@playwright/test";
import { adminPassword, adminToken, openHydrated, signIn } from "./helpers";

test("an admin finds a customer's order, sees its holds and cancels it", async ({ page, request }) => {
  const admin = await adminToken(request);
  const categories = await (await request.get("/api/v1/categories")).json();
  const toys = categories.find((c: { name: string }) => c.name === "Toys");
  const created = await request.post("/api/v1/items", {
    headers: { authorization: `Bearer ${admin}` },
    data: { category_id: toys.id, name: "Admin Orders Kite", price: "12.50", stock: 5 },
  });
  expect(created.status()).toBe(201);
  const item = await created.json();

  // A customer checks out two kites through the API.
  const username = `kiter${Date.now() % 1_000_000}`;
  expect((await request.post("/api/v1/users", {
    data: { username, email: `${username}@example.com`, phone: "+4930555222", display_name: "Kite Flyer", password: "kite password" },
  })).status()).toBe(201);
  const session = await (await request.post("/api/v1/sessions", { data: { username, password: "kite password" } })).json();
  const customer = { authorization: `Bearer ${session.token}` };
  expect((await request.put(`/api/v1/cart/items/${item.id}`, { headers: customer, data: { quantity: 2 } })).status()).toBe(200);
  const checkout = await request.post("/api/v1/checkouts", { headers: { ...customer, "idempotency-key": `kite-${username}` } });
  expect(checkout.status()).toBe(201);
  const order = (await checkout.json()).orders[0].id;

  await signIn(page, "admin", adminPassword);
  await expect(page.getByRole("heading", { name: /Hello/ })).toBeVisible();
  await openHydrated(page, "/admin/orders");
  await page.getByLabel("Customer (username)").fill(username);
  await page.getByLabel("Status").selectOption("pending");
  await page.getByRole("button", { name: "Show" }).click();
  await expect(page).toHaveURL(new RegExp(`customer=${username}`));
  const rows = page.locator("table.admin-table tbody tr");
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toContainText(username);

  await page.getByRole("link", { name: order }).click();
  await expect(page.getByRole("heading", { name: `Order ${order}` })).toBeVisible();
  await expect(page.getByText("Kite Flyer")).toBeVisible();
  await expect(page.getByRole("cell", { name: "active" })).toBeVisible();
  await expect(page.locator("html")).toHaveAttribute("data-hydrated", "true");
  await page.getByRole("button", { name: /Cancel this order/ }).click();
  await expect(page.getByText("Canceled", { exact: true })).toBeVisible();
  await expect(page.getByRole("cell", { name: "released" })).toBeVisible();
  const after = await (await request.get(`/api/v1/items/${item.id}`)).json();
  expect(after.stock).toBe(5);
});
