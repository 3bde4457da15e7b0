//! The storefront's home page.

use leptos::prelude::*;
use leptos_meta::Title;

use super::model::Category;
use super::server_fns::list_categories;
use crate::status::views::StatusPanel;

/// The home page: the sale's headline and the shop's categories, rendered on the server.
#[component]
pub fn HomePage() -> impl IntoView {
    let categories = Resource::new(|| (), |_| list_categories());
    view! {
        <Title text="Surge — Black Friday"/>
        <section class="hero">
            <h1>"Black Friday at Surge"</h1>
            <p>"Limited stock, fair queues: what you put in your cart is held for you at checkout."</p>
        </section>
        <section class="categories" aria-labelledby="categories-heading">
            <h2 id="categories-heading">"Categories"</h2>
            <Suspense fallback=|| view! { <p>"Loading categories…"</p> }>
                {move || Suspend::new(async move {
                    match categories.await {
                        Ok(list) => view! { <CategoryList list/> }.into_any(),
                        Err(error) => view! { <p class="error">{error.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
        <StatusPanel/>
    }
}

#[component]
fn CategoryList(list: Vec<Category>) -> impl IntoView {
    if list.is_empty() {
        return view! { <p class="empty">"The catalog is being stocked: no categories yet."</p> }
            .into_any();
    }
    view! {
        <ul class="category-list">
            {list
                .into_iter()
                .map(|category| view! { <li>{category.name}</li> })
                .collect_view()}
        </ul>
    }
    .into_any()
}
