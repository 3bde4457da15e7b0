//! `/checkout/{id}`: paying a checkout. The QR code (an SVG made on the server), the payload as
//! text for a bank app that takes it pasted, the amount, the time left, and the status, polled
//! every two seconds until the order is placed or the checkout ends. And `/payments`, the
//! customer's payment history with its refunds.

use std::time::Duration;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::model::{
    CheckoutPayment, CheckoutProgress, CheckoutState, PaymentPage, PaymentStatus, Refund,
    RefundReason,
};
use super::server_fns::{PlaceCheckout, follow_checkout, my_payments, pay_for_checkout};
use crate::admin::views::form_error;
use crate::catalog::views::ErrorNote;
use crate::checkout::views::{Countdown, OrderPager, status_label};
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

/// A word for a payment's status, for people.
pub fn payment_label(status: PaymentStatus) -> &'static str {
    match status {
        PaymentStatus::Pending => "waiting for payment",
        PaymentStatus::Completed => "paid",
        PaymentStatus::Refunded => "refunded",
        PaymentStatus::Failed => "not paid",
    }
}

/// A refund's reason, for people.
pub fn refund_label(reason: RefundReason) -> &'static str {
    match reason {
        RefundReason::NotPlaced => "the items were no longer held",
        RefundReason::Canceled => "the order was canceled",
        RefundReason::Excess => "paid more than the total",
        RefundReason::Underpaid => "paid less than the total in time",
    }
}

/// A payment's refunds, one line each.
#[component]
pub fn RefundList(refunds: Vec<Refund>, currency: String) -> impl IntoView {
    let lines = refunds
        .into_iter()
        .map(|refund| {
            let amount = currency
                .parse()
                .map(|c| format_amount(refund.amount, c))
                .unwrap_or_else(|_| format!("{} {currency}", refund.amount));
            let state = if refund.sent {
                "refunded"
            } else {
                "refund on its way"
            };
            view! { <li>{format!("{amount} {state}: {}", refund_label(refund.reason))}</li> }
        })
        .collect_view();
    view! { <ul class="refunds">{lines}</ul> }
}

/// `/payments`: the customer's payment history, newest first.
#[component]
pub fn PaymentsPage() -> impl IntoView {
    let query = use_query_map();
    let payments = Resource::new(move || query.read().get("after"), my_payments);
    view! {
        <Title text="Your payments — Surge"/>
        <section class="panel">
            <h1>"Your payments"</h1>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match payments.await {
                        Ok(page) => view! { <PaymentHistory page/> }.into_any(),
                        Err(AppError::Unauthorized { .. }) => view! {
                            <p><a href="/login?next=/payments">"Sign in"</a> " to see your payments."</p>
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
fn PaymentHistory(page: PaymentPage) -> impl IntoView {
    let paged = use_query_map().read_untracked().get("after").is_some();
    if page.payments.is_empty() && !paged {
        return view! { <p class="empty">"No payments yet."</p> }.into_any();
    }
    let rows = page
        .payments
        .into_iter()
        .map(|payment| {
            let amount = payment
                .currency
                .parse()
                .map(|c| format_amount(payment.amount, c))
                .unwrap_or_else(|_| payment.amount.to_string());
            let waiting = payment.status == PaymentStatus::Pending;
            let pay = format!("/checkout/{}", payment.checkout_id);
            view! {
                <tr>
                    <td>{payment.created_at.format("%Y-%m-%d %H:%M UTC").to_string()}</td>
                    <td>{format!("Order {}", payment.order_id)}</td>
                    <td class="price">{amount}</td>
                    <td>
                        {payment_label(payment.status)}
                        {waiting.then(|| view! { " · " <a href=pay>"Pay now"</a> })}
                        <RefundList refunds=payment.refunds currency=payment.currency/>
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="admin-table">
            <thead><tr><th>"Date"</th><th>"For"</th><th>"Amount"</th><th>"Status"</th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
        <OrderPager base="/payments?".to_owned() next=page.next paged/>
    }
    .into_any()
}
