//! The cart page and the item page's "add to cart" form.

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;

use super::model::{Cart, CartLine, MAX_QUANTITY};
use super::server_fns::{AddToCart, ClearCart, SetCartQuantity, get_cart};
use crate::admin::views::{field_error, form_error};
use crate::catalog::views::ErrorNote;
use crate::checkout::views::CheckoutForm;
use crate::money::format_amount;

/// The item page's form: a quantity and "Add to cart".
#[component]
pub fn AddToCartForm(item_id: String, in_stock: bool) -> impl IntoView {
    let add = ServerAction::<AddToCart>::new();
    let added = move || match add.value().get() {
        Some(Ok(cart)) => Some(format!("Added. Your cart holds {} units.", cart.units())),
        _ => None,
    };
    let problem = move || {
        form_error(add.value().get())
            .or_else(|| field_error(add.value().get(), "quantity"))
            .or_else(|| field_error(add.value().get(), "item_id"))
    };
    if !in_stock {
        return view! { <p class="muted">"Sold out: it cannot be added to a cart."</p> }.into_any();
    }
    view! {
        <ActionForm action=add attr:class="inline-form add-to-cart">
            <input type="hidden" name="item_id" value=item_id/>
            <label for="add-quantity">"Quantity"</label>
            <input id="add-quantity" name="quantity" type="number" min="1" max=MAX_QUANTITY.to_string() value="1" required/>
            <button type="submit">"Add to cart"</button>
        </ActionForm>
        <p role="status">{added}</p>
        <p class="error" role="alert">{problem}</p>
    }
    .into_any()
}

/// `/cart`.
#[component]
pub fn CartPage() -> impl IntoView {
    let set = ServerAction::<SetCartQuantity>::new();
    let clear = ServerAction::<ClearCart>::new();
    let cart = Resource::new(
        move || (set.version().get(), clear.version().get()),
        |_| get_cart(),
    );
    let problem = move || {
        form_error(set.value().get()).or_else(|| field_error(set.value().get(), "quantity"))
    };
    view! {
        <Title text="Your cart — Surge"/>
        <section class="panel">
            <h1>"Your cart"</h1>
            <p class="error" role="alert">{problem}</p>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match cart.await {
                        Ok(cart) => view! { <CartView cart set clear/> }.into_any(),
                        Err(error) => view! { <ErrorNote error/> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn CartView(
    cart: Cart,
    set: ServerAction<SetCartQuantity>,
    clear: ServerAction<ClearCart>,
) -> impl IntoView {
    if cart.lines.is_empty() {
        return view! { <p class="empty">"Your cart is empty. " <a href="/">"Find something"</a></p> }
            .into_any();
    }
    let removed = (cart.removed > 0).then(|| {
        view! { <p role="status">{format!("{} items are no longer sold and were taken out.", cart.removed)}</p> }
    });
    let totals = cart
        .totals
        .iter()
        .map(|total| view! { <p class="price big">"Total: " {format_amount(total.amount, total.currency)}</p> })
        .collect_view();
    let rows = cart
        .lines
        .into_iter()
        .map(|line| view! { <CartRow line set/> })
        .collect_view();
    view! {
        {removed}
        <table class="admin-table cart-table">
            <thead><tr><th>"Item"</th><th>"Price"</th><th>"Quantity"</th><th>"Total"</th><th></th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
        {totals}
        <CheckoutForm/>
        <ActionForm action=clear>
            <button type="submit" class="link-button">"Empty the cart"</button>
        </ActionForm>
    }
    .into_any()
}

#[component]
fn CartRow(line: CartLine, set: ServerAction<SetCartQuantity>) -> impl IntoView {
    let id = line.item.id.to_string();
    let (id_set, id_remove) = (id.clone(), id.clone());
    let warning = match line.only_left {
        Some(0) => Some("Sold out since you added it.".to_owned()),
        Some(left) => Some(format!(
            "Only {left} left: check out fewer, or wait for a restock."
        )),
        None => None,
    };
    let price_note = line.price_changed.then(|| {
        format!(
            "The price was {} when you added it.",
            format_amount(line.price_when_added, line.item.currency)
        )
    });
    let label = format!("Quantity of {}", line.item.name);
    let remove_label = format!("Remove {}", line.item.name);
    view! {
        <tr>
            <td>
                <a href=format!("/items/{id}")>{line.item.name.clone()}</a>
                {warning.map(|w| view! { <p class="field-error">{w}</p> })}
                {price_note.map(|p| view! { <p class="muted">{p}</p> })}
            </td>
            <td>{format_amount(line.item.price, line.item.currency)}</td>
            <td>
                <ActionForm action=set attr:class="inline-form">
                    <input type="hidden" name="item_id" value=id_set.clone()/>
                    <input name="quantity" type="number" min="0" max=MAX_QUANTITY.to_string() value=line.quantity.to_string() aria-label=label.clone()/>
                    <button type="submit">"Update"</button>
                </ActionForm>
            </td>
            <td>{format_amount(line.line_total, line.item.currency)}</td>
            <td>
                <ActionForm action=set attr:class="inline-form">
                    <input type="hidden" name="item_id" value=id_remove.clone()/>
                    <input type="hidden" name="quantity" value="0"/>
                    <button type="submit" class="link-button" aria-label=remove_label.clone()>"Remove"</button>
                </ActionForm>
            </td>
        </tr>
    }
}
