//! The admin console's payments: every customer's, filtered by status and customer, a page at a
//! time, with the refund action (a paid order canceled: its share refunded, its stock back).

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use super::model::{PaymentFilterInput, PaymentStatus};
use super::server_fns::{AdminPaymentsPage as Page, CustomerPayment, admin_payments};
use super::views::{RefundList, payment_label};
use crate::admin::views::{AdminError, AdminNav, form_error};
use crate::checkout::server_fns::CancelOrder;
use crate::checkout::views::OrderPager;
use crate::error::AppError;
use crate::money::format_amount;
use crate::search::views::encode;

const FILTERS: [&str; 2] = ["status", "customer"];

/// `/admin/payments`: every customer's payments, newest first.
#[component]
pub fn AdminPaymentsPage() -> impl IntoView {
    let query = use_query_map();
    let refund = ServerAction::<CancelOrder>::new();
    let input = move || {
        let query = query.read();
        PaymentFilterInput {
            status: query.get("status"),
            customer: query.get("customer"),
            after: query.get("after"),
            limit: None,
        }
    };
    let payments = Resource::new(
        move || (input(), refund.version().get()),
        |(input, _)| admin_payments(input),
    );
    view! {
        <Title text="Payments — Surge admin"/>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match payments.await {
                    Err(error @ (AppError::Unauthorized { .. } | AppError::Forbidden { .. })) => {
                        view! { <AdminError error/> }.into_any()
                    }
                    result => view! { <AdminPaymentsList result refund/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn AdminPaymentsList(
    result: Result<Page, AppError>,
    refund: ServerAction<CancelOrder>,
) -> impl IntoView {
    let query = use_query_map().read_untracked();
    let value = |key: &str| query.get(key).unwrap_or_default();
    let status = value("status");
    let base = FILTERS
        .iter()
        .map(|key| format!("{key}={}&", encode(&value(key))))
        .collect::<String>();
    let base = format!("/admin/payments?{base}");
    let paged = query.get("after").is_some();
    let field = |name: &str| match &result {
        Err(AppError::Validation { fields }) => fields.get(name).map(|m| m.join(", ")),
        _ => None,
    };
    let status_error = field("status");
    let customer_error = field("customer");
    let options = [
        ("", "Any"),
        ("pending", "Waiting"),
        ("completed", "Paid"),
        ("refunded", "Refunded"),
        ("failed", "Not paid"),
    ]
    .map(|(code, label)| {
        view! { <option value=code selected=status == code>{label}</option> }
    });
    let body = match result {
        Ok(page) if page.payments.is_empty() => {
            view! { <p class="empty">"No payments match."</p> }.into_any()
        }
        Ok(page) => {
            let rows = page
                .payments
                .into_iter()
                .map(|row| view! { <AdminPaymentRow row refund/> })
                .collect_view();
            view! {
                <table class="admin-table">
                    <thead><tr><th>"Order"</th><th>"Created"</th><th>"Customer"</th><th>"Status"</th><th>"Share"</th><th>"Received (checkout)"</th><th>"Refunds"</th><th></th></tr></thead>
                    <tbody>{rows}</tbody>
                </table>
                <OrderPager base next=page.next paged/>
            }
            .into_any()
        }
        Err(error) => view! { <p class="error" role="alert">{error.to_string()}</p> }.into_any(),
    };
    view! {
        <AdminNav/>
        <section class="panel">
            <h1>"Payments"</h1>
            <form method="get" action="/admin/payments" class="search-form" role="search">
                <label>"Status" <select name="status">{options}</select></label>
                <span class="error">{status_error}</span>
                <label>"Customer (username)" <input type="search" name="customer" value=value("customer")/></label>
                <span class="error">{customer_error}</span>
                <button type="submit">"Show"</button>
            </form>
            <p class="error" role="alert">{move || form_error(refund.value().get())}</p>
            {body}
        </section>
    }
}

#[component]
fn AdminPaymentRow(row: CustomerPayment, refund: ServerAction<CancelOrder>) -> impl IntoView {
    let payment = row.payment;
    let order = payment.order_id.to_string();
    let href = format!("/admin/orders/{order}");
    let money = |amount| {
        payment
            .currency
            .parse()
            .map(|c| format_amount(amount, c))
            .unwrap_or_else(|_| format!("{amount} {}", payment.currency))
    };
    let share = money(payment.amount);
    let received = format!(
        "{} of {}",
        money(payment.received),
        money(payment.checkout_total)
    );
    let refundable = payment.status == PaymentStatus::Completed;
    view! {
        <tr>
            <td><a href=href>{order.clone()}</a></td>
            <td>{payment.created_at.format("%Y-%m-%d %H:%M:%S UTC").to_string()}</td>
            <td>{row.customer.unwrap_or_else(|| format!("deleted account {}", payment.customer_id.0))}</td>
            <td>{payment_label(payment.status)}</td>
            <td class="price">{share}</td>
            <td>{received}</td>
            <td><RefundList refunds=payment.refunds currency=payment.currency/></td>
            <td>
                {refundable.then(|| view! {
                    <ActionForm action=refund attr:class="inline-form">
                        <input type="hidden" name="id" value=order/>
                        <button type="submit">"Refund (cancel the order, restock)"</button>
                    </ActionForm>
                })}
            </td>
        </tr>
    }
}
