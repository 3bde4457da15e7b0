//! The header, footer and not-found page.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::accounts::views::AccountMenu;

/// The storefront header: the shop's name, the search box and the cart link.
#[component]
pub fn Header() -> impl IntoView {
    view! {
        <header class="site-header">
            <a class="brand" href="/">"Surge"</a>
            <form class="search" role="search" method="get" action="/search">
                <label for="search-q" class="visually-hidden">"Search the shop"</label>
                <input id="search-q" type="search" name="q" placeholder="Search the shop" maxlength="200"/>
                <button type="submit">"Search"</button>
            </form>
            <nav class="account-nav" aria-label="Account">
                <a class="cart-link" href="/cart">"Cart"</a>
                <AccountMenu/>
            </nav>
        </header>
    }
}

/// The footer on every page.
#[component]
pub fn Footer() -> impl IntoView {
    view! {
        <footer class="site-footer">
            <p>"Surge — a storefront built for Black Friday."</p>
        </footer>
    }
}

/// The page for an address that matches no route; answered with status 404.
#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Not found — Surge"/>
        <section class="not-found">
            <h1>"Page not found"</h1>
            <p>"There is nothing at this address. "<a href="/">"Back to the shop"</a></p>
        </section>
    }
}
