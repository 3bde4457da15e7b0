//! The admin console's orders: every customer's orders, filtered by status, days and customer,
//! a page at a time; and one order with its holds, payment and customer, a cancel for a pending
//! one and a refund (cancel and restock) for a placed one.

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::model::{OrderFilterInput, OrderStatus};
use super::server_fns::{AdminOrderDetail, CancelOrder, CustomerOrder, admin_order, admin_orders};
use super::views::{Countdown, OrderPager, status_label};
use crate::admin::views::{AdminError, AdminNav, form_error};
use crate::error::AppError;
use crate::money::format_amount;
use crate::payments::views::{RefundList, payment_label};
use crate::search::views::encode;

const FILTERS: [&str; 4] = ["status", "from", "to", "customer"];

fn when(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// `/admin/orders`: every customer's orders, newest first.
#[component]
pub fn AdminOrdersPage() -> impl IntoView {
    let query = use_query_map();
    let input = move || {
        let query = query.read();
        OrderFilterInput {
            status: query.get("status"),
            from: query.get("from"),
            to: query.get("to"),
            customer: query.get("customer"),
            after: query.get("after"),
            limit: None,
        }
    };
    let orders = Resource::new(input, admin_orders);
    view! {
        <Title text="Orders — Surge admin"/>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match orders.await {
                    Err(error @ (AppError::Unauthorized { .. } | AppError::Forbidden { .. })) => {
                        view! { <AdminError error/> }.into_any()
                    }
                    result => view! { <AdminOrdersList result/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn AdminOrdersList(result: Result<super::server_fns::AdminOrdersPage, AppError>) -> impl IntoView {
    let query = use_query_map().read_untracked();
    let value = |key: &str| query.get(key).unwrap_or_default();
    let status = value("status");
    let base = FILTERS
        .iter()
        .map(|key| format!("{key}={}&", encode(&value(key))))
        .collect::<String>();
    let base = format!("/admin/orders?{base}");
    let paged = query.get("after").is_some();
    let field = |result: &Result<_, AppError>, name: &str| match result {
        Err(AppError::Validation { fields }) => fields.get(name).map(|m| m.join(", ")),
        _ => None,
    };
    let errors = FILTERS.map(|name| field(&result, name));
    let [status_error, from_error, to_error, customer_error] = errors;
    let options = [
        ("", "Any"),
        ("pending", "Pending"),
        ("placed", "Placed"),
        ("failed", "Failed"),
        ("canceled", "Canceled"),
    ]
    .map(|(code, label)| {
        view! { <option value=code selected=status == code>{label}</option> }
    });
    let body = match result {
        Ok(page) if page.orders.is_empty() => {
            view! { <p class="empty">"No orders match."</p> }.into_any()
        }
        Ok(page) => {
            let rows = page
                .orders
                .into_iter()
                .map(|row| view! { <AdminOrderRow row/> })
                .collect_view();
            view! {
                <table class="admin-table">
                    <thead><tr><th>"Order"</th><th>"Created"</th><th>"Customer"</th><th>"Status"</th><th>"Lines"</th><th>"Total"</th></tr></thead>
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
            <h1>"Orders"</h1>
            <form method="get" action="/admin/orders" class="search-form" role="search">
                <label>"Status" <select name="status">{options}</select></label>
                <span class="error">{status_error}</span>
                <label>"From" <input type="date" name="from" value=value("from")/></label>
                <span class="error">{from_error}</span>
                <label>"To" <input type="date" name="to" value=value("to")/></label>
                <span class="error">{to_error}</span>
                <label>"Customer (username)" <input type="search" name="customer" value=value("customer")/></label>
                <span class="error">{customer_error}</span>
                <button type="submit">"Show"</button>
            </form>
            {body}
        </section>
    }
}

#[component]
fn AdminOrderRow(row: CustomerOrder) -> impl IntoView {
    let order = row.order;
    let id = order.id.to_string();
    let href = format!("/admin/orders/{id}");
    let units: u32 = order.lines.iter().map(|line| line.quantity).sum();
    let lines = format!("{} lines, {units} units", order.lines.len());
    view! {
        <tr>
            <td><a href=href>{id}</a></td>
            <td>{when(order.created_at)}</td>
            <td>{row.customer.unwrap_or_else(|| format!("deleted account {}", order.customer_id.0))}</td>
            <td>{order.status.as_str()}</td>
            <td>{lines}</td>
            <td class="price">{format_amount(order.total, order.currency)}</td>
        </tr>
    }
}

/// `/admin/orders/{id}`: one order, its lines and holds, its customer; a pending one can be
/// canceled (its stock goes back on sale).
#[component]
pub fn AdminOrderPage() -> impl IntoView {
    let params = use_params_map();
    let cancel = ServerAction::<CancelOrder>::new();
    let detail = Resource::new(
        move || {
            (
                params.read().get("id").unwrap_or_default(),
                cancel.version().get(),
            )
        },
        |(id, _)| admin_order(id),
    );
    view! {
        <Title text="Order — Surge admin"/>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok(detail) => view! { <AdminOrderView detail cancel/> }.into_any(),
                    Err(error) => view! { <AdminError error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn AdminOrderView(detail: AdminOrderDetail, cancel: ServerAction<CancelOrder>) -> impl IntoView {
    let AdminOrderDetail {
        order,
        holds,
        payment,
        customer,
        now,
    } = detail;
    let id = order.id.to_string();
    let refund_id = id.clone();
    let currency = order.currency;
    let customer = match customer {
        Some(user) => format!("{} ({}, {})", user.username, user.display_name, user.email),
        None => format!("deleted account {}", order.customer_id.0),
    };
    let pending = order.status == OrderStatus::Pending;
    let placed = order.status == OrderStatus::Placed;
    let payment = match payment {
        None => view! { <p>"No payment asked for yet."</p> }.into_any(),
        Some(payment) => view! {
            <dl class="facts">
                <dt>"Status"</dt><dd>{payment_label(payment.status)}</dd>
                <dt>"Share"</dt><dd class="price">{format_amount(payment.amount, currency)}</dd>
                <dt>"Received for the checkout"</dt>
                <dd>{format!("{} of {}", format_amount(payment.received, currency), format_amount(payment.checkout_total, currency))}</dd>
                <dt>"Processor request"</dt><dd>{payment.request_id}</dd>
            </dl>
            <RefundList refunds=payment.refunds currency=payment.currency/>
        }
        .into_any(),
    };
    let seconds_left = (order.hold_expires_at - now).num_seconds().max(0);
    let lines = order
        .lines
        .into_iter()
        .map(|line| {
            let href = format!("/admin/items/{}", line.item_id);
            view! {
                <tr>
                    <td><a href=href>{line.name}</a></td>
                    <td>{line.quantity}</td>
                    <td class="price">{format_amount(line.unit_price, currency)}</td>
                </tr>
            }
        })
        .collect_view();
    let holds = holds
        .into_iter()
        .map(|hold| {
            view! {
                <tr>
                    <td>{hold.item_id.to_string()}</td>
                    <td>{hold.quantity}</td>
                    <td>{hold.status.label()}</td>
                    <td>{when(hold.expires_at)}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <AdminNav/>
        <section class="panel">
            <p><a href="/admin/orders">"← Orders"</a></p>
            <h1>{format!("Order {id}")}</h1>
            <dl class="facts">
                <dt>"Status"</dt><dd class="order-status">{status_label(order.status)}</dd>
                <dt>"Customer"</dt><dd>{customer}</dd>
                <dt>"Created"</dt><dd>{when(order.created_at)}</dd>
                <dt>"Checkout"</dt><dd>{order.checkout_id}</dd>
                <dt>"Total"</dt><dd class="price">{format_amount(order.total, currency)}</dd>
            </dl>
            <h2>"Lines"</h2>
            <table class="admin-table">
                <thead><tr><th>"Item"</th><th>"Quantity"</th><th>"Unit price"</th></tr></thead>
                <tbody>{lines}</tbody>
            </table>
            <h2>"Payment"</h2>
            {payment}
            <h2>"Holds"</h2>
            <table class="admin-table">
                <thead><tr><th>"Item"</th><th>"Units"</th><th>"Status"</th><th>"Expires"</th></tr></thead>
                <tbody>{holds}</tbody>
            </table>
            {pending.then(|| view! {
                <Countdown seconds=seconds_left/>
                <ActionForm action=cancel attr:class="inline-form">
                    <input type="hidden" name="id" value=id.clone()/>
                    <button type="submit">"Cancel this order (stock goes back on sale)"</button>
                </ActionForm>
            })}
            {placed.then(|| view! {
                <ActionForm action=cancel attr:class="inline-form">
                    <input type="hidden" name="id" value=refund_id.clone()/>
                    <button type="submit">"Refund: cancel this order (stock goes back on sale)"</button>
                </ActionForm>
            })}
            <p class="error" role="alert">{move || form_error(cancel.value().get())}</p>
        </section>
    }
}
