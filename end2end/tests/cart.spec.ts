import { expect, test } from "@playwright/test";
import { adminToken, openHydrated } from "./helpers";

test("a visitor adds an item to the cart, changes the quantity and removes it", async ({ page, request }) => {
  const token = await adminToken(request);
  const categories = await (await request.get("/api/v1/categories")).json();
  const toys = categories.find((c: { name: string }) => c.name === "Toys");
  const created = await request.post("/api/v1/items", {
    headers: { authorization: `Bearer ${token}` },
    data: { category_id: toys.id, name: "Cart Test Yo-yo", price: "4.50", stock: 5 },
  });
  expect(created.status()).toBe(201);
  const item = await created.json();

  await openHydrated(page, `/items/${item.id}`);
  await page.getByLabel("Quantity").fill("2");
  await page.getByRole("button", { name: "Add to cart" }).click();
  await expect(page.getByText("Added. Your cart holds 2 units.")).toBeVisible();

  await page.getByRole("link", { name: "Cart", exact: true }).click();
  await expect(page.getByRole("heading", { name: "Your cart" })).toBeVisible();
  await expect(page.getByRole("link", { name: "Cart Test Yo-yo" })).toBeVisible();
  await expect(page.getByText("Total: 9.00 EUR")).toBeVisible();

  await page.getByLabel("Quantity of Cart Test Yo-yo").fill("3");
  await page.getByRole("button", { name: "Update" }).click();
  await expect(page.getByText("Total: 13.50 EUR")).toBeVisible();

  // The browser itself refuses more than the bound; the server refuses it too (integration tests).
  await expect(page.getByLabel("Quantity of Cart Test Yo-yo")).toHaveAttribute("max", "10");

  await page.getByRole("button", { name: "Remove Cart Test Yo-yo" }).click();
  await expect(page.getByText("Your cart is empty.")).toBeVisible();
});
