//! `/checkout/{id}`: paying a checkout. The QR code (an SVG made on the server), the payload as
//! text for a bank app that takes it pasted, the amount, the time left, and the status, polled
//! every two seconds until the order is placed or the checkout ends.

use std::time::Duration;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use super::model::{CheckoutPayment, CheckoutProgress, CheckoutState};
use super::server_fns::{PlaceCheckout, follow_checkout, pay_for_checkout};
use crate::admin::views::form_error;
use crate::catalog::views::ErrorNote;
use crate::checkout::views::{Countdown, status_label};
use crate::error::AppError;
use crate::money::format_amount;

/// How often the page asks whether the money has landed.
const POLL_EVERY: Duration = Duration::from_secs(2);

/// `/checkout/{id}`.
#[component]
pub fn PayPage() -> impl IntoView {
    let params = use_params_map();
    let checkout_id = move || params.read().get("id").unwrap_or_default();
    let place = ServerAction::<PlaceCheckout>::new();
    let tick = RwSignal::new(0u32);
    Effect::new(move |_| {
        let handle = set_interval_with_handle(move || tick.update(|t| *t += 1), POLL_EVERY);
        if let Ok(handle) = handle {
            on_cleanup(move || handle.clear());
        }
    });
    let payment = Resource::new(checkout_id, pay_for_checkout);
    let progress = Resource::new(
        move || (checkout_id(), tick.get(), place.version().get()),
        |(id, _, _)| follow_checkout(id),
    );
    view! {
        <Title text="Pay — Surge"/>
        <section class="panel pay">
            <h1>"Pay for your order"</h1>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match progress.await {
                        Ok(progress) => view! { <Progress progress/> }.into_any(),
                        Err(AppError::Unauthorized { .. }) => view! {
                            <p><a href="/login?next=/orders">"Sign in"</a> " to pay."</p>
                        }
                        .into_any(),
                        Err(error) => view! { <ErrorNote error/> }.into_any(),
                    }
                })}
            </Transition>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    match payment.await {
                        Ok((payment, now)) => view! {
                            <Show when=move || {
                                matches!(progress.get(), Some(Ok(CheckoutProgress { state: CheckoutState::Waiting, .. })))
                            }>
                                <QrPanel payment=payment.clone() now place/>
                            </Show>
                        }
                        .into_any(),
                        // A checkout that is no longer waiting has no QR code to show.
                        Err(AppError::Conflict { .. } | AppError::Unauthorized { .. }) => ().into_any(),
                        Err(error) => view! { <ErrorNote error/> }.into_any(),
                    }
                })}
            </Suspense>
            <p class="error" role="alert">{move || form_error(place.value().get())}</p>
        </section>
    }
}

/// The checkout's status, in words, with each order's.
#[component]
fn Progress(progress: CheckoutProgress) -> impl IntoView {
    let (headline, class) = match progress.state {
        CheckoutState::Waiting => ("Waiting for your payment…", "payment-state waiting"),
        CheckoutState::Placed => (
            "Paid: your order is placed. Thank you!",
            "payment-state placed",
        ),
        CheckoutState::PartlyPlaced => (
            "Paid, but part of your order could no longer be held: that part is refunded.",
            "payment-state partly",
        ),
        CheckoutState::Ended => (
            "This checkout has ended and nothing was sold; any money received is refunded.",
            "payment-state ended",
        ),
    };
    let orders = progress
        .orders
        .iter()
        .map(|order| {
            let refunds: rust_decimal::Decimal = progress
                .payments
                .iter()
                .filter(|p| p.order_id == order.id)
                .flat_map(|p| p.refunds.iter().map(|r| r.amount))
                .sum();
            let refund_note = (!refunds.is_zero())
                .then(|| format!(" · refund {}", format_amount(refunds, order.currency)));
            view! {
                <li>
                    {format!("Order {} — {}: {}", order.id, format_amount(order.total, order.currency), status_label(order.status))}
                    {refund_note}
                </li>
            }
        })
        .collect_view();
    view! {
        <p class=class role="status" aria-live="polite">{headline}</p>
        <ul class="checkout-orders">{orders}</ul>
        {(progress.state != CheckoutState::Waiting).then(|| view! {
            <p><a href="/orders">"See your orders"</a></p>
        })}
    }
}

/// The QR code, its payload, the amount and the countdown.
#[component]
fn QrPanel(
    payment: CheckoutPayment,
    now: chrono::DateTime<chrono::Utc>,
    place: ServerAction<PlaceCheckout>,
) -> impl IntoView {
    let seconds = (payment.expires_at - now).num_seconds().max(0);
    let amount = payment
        .currency
        .parse()
        .map(|currency| format_amount(payment.amount, currency))
        .unwrap_or_else(|_| format!("{} {}", payment.amount, payment.currency));
    let checkout_id = payment.checkout_id.clone();
    view! {
        <div class="qr-panel">
            <figure class="qr" aria-label="QR code to pay with your bank app" inner_html=payment.qr_svg></figure>
            <div>
                <p class="price">{format!("Amount: {amount}")}</p>
                <Countdown seconds/>
                <p>"Scan the code with your bank app, or paste this payment code into it:"</p>
                <textarea class="qr-payload" readonly rows="4">{payment.qr_payload}</textarea>
                <p><a href=payment.pay_url target="_blank" rel="noopener">"Open in the bank app"</a></p>
                <ActionForm action=place attr:class="inline-form">
                    <input type="hidden" name="checkout_id" value=checkout_id/>
                    <button type="submit" class="link-button">"I have paid"</button>
                </ActionForm>
            </div>
        </div>
    }
}
