//! The orders page: each order's lines, status and payment (with its refunds), and for a pending
//! one the time its stock is still held, counting down live.

use std::time::Duration;

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use super::model::{Order, OrderStatus};
use super::server_fns::{CancelOrder, CheckOutCart, OrdersPage, checkout_key, my_orders};
use crate::admin::views::form_error;
use crate::catalog::views::ErrorNote;
use crate::error::AppError;
use crate::money::format_amount;
use crate::payments::model::Payment;
use crate::payments::views::{RefundList, payment_label};

/// The cart page's checkout form: signed-in customers check out; visitors are asked to sign in.
#[component]
pub fn CheckoutForm() -> impl IntoView {
    let check_out = ServerAction::<CheckOutCart>::new();
    // A new key for every attempt: a retry of the same attempt (a double click, a reload of the
    // form) reuses it and makes no second order.
    let key = Resource::new(move || check_out.version().get(), |_| checkout_key());
    let problem = move || match check_out.value().get() {
        Some(Err(AppError::Unauthorized { .. })) => Some("Sign in to check out.".to_owned()),
        other => form_error(other),
    };
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let key = key.await.unwrap_or_default();
                view! {
                    <ActionForm action=check_out attr:class="inline-form">
                        <input type="hidden" name="key" value=key/>
                        <button type="submit">"Check out"</button>
                    </ActionForm>
                }
            })}
        </Suspense>
        <p class="muted">"Checking out holds your items for a few minutes while you pay with your bank app."</p>
        <p class="error" role="alert">{problem}</p>
    }
}

/// `/orders`.
#[component]
pub fn OrdersPageView() -> impl IntoView {
    let query = use_query_map();
    let cancel = ServerAction::<CancelOrder>::new();
    let orders = Resource::new(
        move || (query.read().get("after"), cancel.version().get()),
        |(after, _)| my_orders(after),
    );
    view! {
        <Title text="Your orders — Surge"/>
        <section class="panel">
            <h1>"Your orders"</h1>
            <p class="error" role="alert">{move || form_error(cancel.value().get())}</p>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match orders.await {
                        Ok(page) => view! { <OrderList page cancel/> }.into_any(),
                        Err(AppError::Unauthorized { .. }) => view! {
                            <p><a href="/login?next=/orders">"Sign in"</a> " to see your orders."</p>
                        }
                        .into_any(),
                        Err(error) => view! { <ErrorNote error/> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn OrderList(page: OrdersPage, cancel: ServerAction<CancelOrder>) -> impl IntoView {
    let paged = use_query_map().read_untracked().get("after").is_some();
    if page.orders.is_empty() && !paged {
        return view! { <p class="empty">"No orders yet."</p> }.into_any();
    }
    let now = page.now;
    let payments = page.payments;
    let cards = page
        .orders
        .into_iter()
        .map(|order| {
            let payment = payments.iter().find(|p| p.order_id == order.id).cloned();
            view! { <OrderCard order payment now cancel/> }
        })
        .collect_view();
    view! {
        {cards}
        <OrderPager base="/orders?".to_owned() next=page.next paged/>
    }
    .into_any()
}

/// "Newest" and "Older" links of a keyset-paged order list. `base` ends with `?` or `&`.
#[component]
pub fn OrderPager(base: String, next: Option<String>, paged: bool) -> impl IntoView {
    let newest = base.trim_end_matches(['?', '&']).to_owned();
    let older = next.map(|cursor| format!("{base}after={}", crate::search::views::encode(&cursor)));
    view! {
        <nav class="pager" aria-label="Pages">
            {paged.then(|| view! { <a href=newest>"← Newest"</a> })}
            {older.map(|href| view! { <a href=href rel="next">"Older →"</a> })}
        </nav>
    }
}

/// A word for an order's status, for people.
pub fn status_label(status: OrderStatus) -> &'static str {
    match status {
        OrderStatus::Pending => "Pending: held for you",
        OrderStatus::Placed => "Placed",
        OrderStatus::Failed => "Failed: the hold ran out",
        OrderStatus::Canceled => "Canceled",
    }
}

#[component]
fn OrderCard(
    order: Order,
    payment: Option<Payment>,
    now: chrono::DateTime<chrono::Utc>,
    cancel: ServerAction<CancelOrder>,
) -> impl IntoView {
    let id = order.id.to_string();
    let refund_id = id.clone();
    let heading = format!("Order {id}");
    let pending = order.status == OrderStatus::Pending;
    let placed = order.status == OrderStatus::Placed;
    let pay = format!("/checkout/{}", order.checkout_id);
    let seconds_left = (order.hold_expires_at - now).num_seconds().max(0);
    let payment = payment.map(|payment| {
        view! {
            <p class="payment-line">{format!("Payment: {}", payment_label(payment.status))}</p>
            <RefundList refunds=payment.refunds currency=payment.currency/>
        }
    });
    let lines = order
        .lines
        .iter()
        .map(|line| {
            view! {
                <li>{format!("{} × {} at {}", line.quantity, line.name, format_amount(line.unit_price, order.currency))}</li>
            }
        })
        .collect_view();
    view! {
        <article class="order-card">
            <h2>{heading}</h2>
            <p class="order-status">{status_label(order.status)}</p>
            <ul>{lines}</ul>
            <p class="price">{format!("Total: {}", format_amount(order.total, order.currency))}</p>
            {payment}
            {pending.then(|| view! {
                <Countdown seconds=seconds_left/>
                <p><a href=pay>"Pay now"</a></p>
                <ActionForm action=cancel attr:class="inline-form">
                    <input type="hidden" name="id" value=id.clone()/>
                    <button type="submit" class="link-button">"Cancel this order"</button>
                </ActionForm>
            })}
            {placed.then(|| view! {
                <ActionForm action=cancel attr:class="inline-form">
                    <input type="hidden" name="id" value=refund_id.clone()/>
                    <button type="submit" class="link-button">"Cancel and get a refund"</button>
                </ActionForm>
            })}
        </article>
    }
}

/// "Held for 1:53", ticking down once the page has hydrated.
#[component]
pub fn Countdown(seconds: i64) -> impl IntoView {
    let left = RwSignal::new(seconds);
    Effect::new(move |_| {
        let handle = set_interval_with_handle(
            move || left.update(|s| *s = (*s - 1).max(0)),
            Duration::from_secs(1),
        );
        if let Ok(handle) = handle {
            on_cleanup(move || handle.clear());
        }
    });
    view! {
        <p class="countdown" role="timer" aria-live="off">
            {move || {
                let s = left.get();
                if s == 0 { "The hold has ended.".to_owned() } else { format!("Held for {}:{:02}", s / 60, s % 60) }
            }}
        </p>
    }
}
