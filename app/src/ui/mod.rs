//! The page shell, the router and the layout every page shares.

mod layout;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::components::{Redirect, Route, Router, Routes};
use leptos_router::{ParamSegment, SsrMode, StaticSegment};

use crate::accounts::views::{AccountPage, AdminUsersPage, LoginPage, RegisterPage};
use crate::admin::views::{AdminCategoriesPage, AdminItemPage, AdminItemsPage, AdminNewItemPage};
use crate::cart::views::CartPage;
use crate::catalog::views::{CategoryPage, HomePage, ItemPage};
use crate::checkout::admin_views::{AdminOrderPage, AdminOrdersPage};
use crate::checkout::views::OrdersPageView;
use crate::payments::admin_views::AdminPaymentsPage;
use crate::payments::views::{PayPage, PaymentsPage};
use crate::search::views::SearchPage;
use layout::{Footer, Header, NotFound};

/// The Content-Security-Policy of a page whose inline scripts `inline_scripts` allows (a
/// `'nonce-…'` source, or one `'sha256-…'` source per script): the shop's own scripts, styles,
/// images and connections, the WASM bundle, and nothing else.
pub fn content_security_policy(inline_scripts: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' {inline_scripts} 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// The HTML document around the app, rendered on the server only. It sends the page's
/// Content-Security-Policy, built around this response's nonce (the hydration scripts carry it).
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let (Some(nonce), Some(response)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) && let Ok(policy) =
        http::HeaderValue::from_str(&content_security_policy(&format!("'nonce-{nonce}'")))
    {
        response.insert_header(http::header::CONTENT_SECURITY_POLICY, policy);
    }
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The application: the layout and every route.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Effects run only in the browser, after hydration: the mark tells tests (and anyone
    // debugging a page) that the WASM bundle has taken over.
    Effect::new(|| {
        if let Some(root) = document().document_element() {
            let _ = root.set_attribute("data-hydrated", "true");
        }
    });
    view! {
        <Stylesheet id="leptos" href="/pkg/surge.css"/>
        <Title text="Surge"/>
        <Router>
            <Header/>
            <main>
                <Routes fallback=NotFound>
                    <Route path=StaticSegment("") view=HomePage/>
                    // Async: the status (404 for an unknown item) is known before the first byte.
                    <Route path=(StaticSegment("categories"), ParamSegment("slug")) view=CategoryPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("items"), ParamSegment("id")) view=ItemPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("search") view=SearchPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("admin") view=|| view! { <Redirect path="/admin/items"/> }/>
                    <Route path=StaticSegment("cart") view=CartPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("orders") view=OrdersPageView ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("checkout"), ParamSegment("id")) view=PayPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("payments") view=PaymentsPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("login") view=LoginPage/>
                    <Route path=StaticSegment("register") view=RegisterPage/>
                    <Route path=StaticSegment("account") view=AccountPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("admin"), StaticSegment("users")) view=AdminUsersPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("admin"), StaticSegment("orders")) view=AdminOrdersPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("admin"), StaticSegment("orders"), ParamSegment("id")) view=AdminOrderPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("admin"), StaticSegment("payments")) view=AdminPaymentsPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("admin"), StaticSegment("categories")) view=AdminCategoriesPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("admin"), StaticSegment("items")) view=AdminItemsPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("admin"), StaticSegment("items"), StaticSegment("new")) view=AdminNewItemPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("admin"), StaticSegment("items"), ParamSegment("id")) view=AdminItemPage ssr=SsrMode::Async/>
                </Routes>
            </main>
            <Footer/>
        </Router>
    }
}
