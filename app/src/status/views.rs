//! The storefront's status panel: checks the shop's dependencies on demand.

use leptos::prelude::*;

use super::model::Health;
use super::server_fns::ShopStatus;

/// A button that checks every database and Redis and lists what answered. It needs the WASM
/// bundle: before hydration the button does nothing.
#[component]
pub fn StatusPanel() -> impl IntoView {
    let check = ServerAction::<ShopStatus>::new();
    let pending = check.pending();
    let outcome = move || {
        check.value().get().map(|result| match result {
            Ok(health) => view! { <HealthReport health/> }.into_any(),
            Err(error) => view! { <p class="status-error">{error.to_string()}</p> }.into_any(),
        })
    };
    view! {
        <section class="status-panel" aria-labelledby="status-heading">
            <h2 id="status-heading">"Shop status"</h2>
            <button
                type="button"
                on:click=move |_| {
                    check.dispatch(ShopStatus {});
                }
                disabled=move || pending.get()
            >
                {move || if pending.get() { "Checking…" } else { "Check shop status" }}
            </button>
            <div role="status" aria-live="polite">{outcome}</div>
        </section>
    }
}

#[component]
fn HealthReport(health: Health) -> impl IntoView {
    let summary = if health.all_up() {
        "All systems operational".to_owned()
    } else {
        format!("Unavailable: {}", health.down().join(", "))
    };
    let rows = health
        .databases
        .into_iter()
        .chain(std::iter::once(health.redis))
        .map(|component| {
            let state = if component.up { "up" } else { "down" };
            view! {
                <li class=state>
                    <span class="name">{component.name}</span>
                    " "
                    <span class="state">{state}</span>
                </li>
            }
        })
        .collect_view();
    view! {
        <p class="status-summary">{summary}</p>
        <ul class="status-list">{rows}</ul>
    }
}
