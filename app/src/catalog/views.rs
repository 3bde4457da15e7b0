//! The storefront's catalog pages: home, category and item.

use std::time::Duration;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::model::{Category, Item, ItemSort, Page, image_url};
use super::server_fns::{
    CategoryWithItems, ItemWithCategory, category_listing, featured_items, item_detail, item_stock,
    list_categories,
};
use crate::cart::views::AddToCartForm;
use crate::money::format_amount;
use crate::status::views::StatusPanel;

/// How often an item page refreshes its stock count.
const STOCK_REFRESH: Duration = Duration::from_secs(3);

/// An error from the server, shown where the content would be.
#[component]
pub fn ErrorNote(error: crate::error::AppError) -> impl IntoView {
    view! { <p class="error" role="alert">{error.to_string()}</p> }
}

/// The home page: the sale's headline, the categories and a few items, rendered on the server.
#[component]
pub fn HomePage() -> impl IntoView {
    let categories = Resource::new(|| (), |_| list_categories());
    let featured = Resource::new(|| (), |_| featured_items());
    view! {
        <Title text="Surge — Black Friday"/>
        <section class="hero">
            <h1>"Black Friday at Surge"</h1>
            <p>"Limited stock, fair queues: what you put in your cart is held for you at checkout."</p>
        </section>
        <section class="panel categories" aria-labelledby="categories-heading">
            <h2 id="categories-heading">"Categories"</h2>
            <Suspense fallback=|| view! { <p>"Loading categories…"</p> }>
                {move || Suspend::new(async move {
                    match categories.await {
                        Ok(list) => view! { <CategoryList list/> }.into_any(),
                        Err(error) => view! { <ErrorNote error/> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
        <section class="panel" aria-labelledby="featured-heading">
            <h2 id="featured-heading">"Just in"</h2>
            <Suspense fallback=|| view! { <p>"Loading items…"</p> }>
                {move || Suspend::new(async move {
                    match featured.await {
                        Ok(items) if items.is_empty() => {
                            view! { <p class="empty">"Nothing in stock yet."</p> }.into_any()
                        }
                        Ok(items) => view! { <ItemGrid items/> }.into_any(),
                        Err(error) => view! { <ErrorNote error/> }.into_any(),
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
                .map(|category| {
                    let href = format!("/categories/{}", category.slug);
                    view! { <li><a href=href>{category.name}</a></li> }
                })
                .collect_view()}
        </ul>
    }
    .into_any()
}

/// "12 in stock", "Only 2 left", "Sold out".
pub fn stock_label(stock: u32) -> String {
    match stock {
        0 => "Sold out".into(),
        1..=5 => format!("Only {stock} left"),
        _ => format!("{stock} in stock"),
    }
}

/// Items as cards.
#[component]
pub fn ItemGrid(items: Vec<Item>) -> impl IntoView {
    view! {
        <ul class="item-grid">
            {items.into_iter().map(|item| view! { <li><ItemCard item/></li> }).collect_view()}
        </ul>
    }
}

#[component]
fn ItemCard(item: Item) -> impl IntoView {
    let href = format!("/items/{}", item.id);
    let price = format_amount(item.price, item.currency);
    let stock_class = if item.stock == 0 {
        "stock sold-out"
    } else {
        "stock"
    };
    view! {
        <a class="item-card" href=href>
            <img src=item.image_url() alt="" width="200" height="200" loading="lazy"/>
            <span class="item-name">{item.name}</span>
            <span class="price">{price}</span>
            <span class=stock_class>{stock_label(item.stock)}</span>
        </a>
    }
}

/// A category's items, sorted and paged as the address says (`?sort=price_asc&page=2`).
#[component]
pub fn CategoryPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let listing = Resource::new(
        move || {
            let query = query.read();
            (
                params.read().get("slug").unwrap_or_default(),
                query.get("sort"),
                query.get("page").and_then(|page| page.parse::<u32>().ok()),
            )
        },
        |(slug, sort, page)| category_listing(slug, sort, page),
    );
    view! {
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match listing.await {
                    Ok(listing) => view! { <CategoryView listing/> }.into_any(),
                    Err(error) => view! {
                        <Title text="Not found — Surge"/>
                        <section class="panel"><h1>"Category unavailable"</h1><ErrorNote error/></section>
                    }
                    .into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn CategoryView(listing: CategoryWithItems) -> impl IntoView {
    let CategoryWithItems { category, items } = listing;
    let query = use_query_map();
    let sort = query
        .read_untracked()
        .get("sort")
        .and_then(|sort| ItemSort::parse(&sort).ok())
        .unwrap_or_default();
    let base = format!("/categories/{}", category.slug);
    let sort_links = ItemSort::ALL
        .into_iter()
        .map(|option| {
            let href = format!("{base}?sort={}", option.as_str());
            let current = (option == sort).then_some("page");
            view! { <a href=href aria-current=current>{option.label()}</a> }
        })
        .collect_view();
    let summary = format!("{} items", items.total);
    let pager = pager(&items, &format!("{base}?sort={}", sort.as_str()));
    let list = if items.items.is_empty() {
        view! { <p class="empty">"No items here yet."</p> }.into_any()
    } else {
        view! { <ItemGrid items=items.items/> }.into_any()
    };
    view! {
        <Title text=format!("{} — Surge", category.name)/>
        <section class="panel">
            <h1>{category.name}</h1>
            <p class="muted">{summary}</p>
            <nav class="sort" aria-label="Sort by">"Sort: " {sort_links}</nav>
            {list}
            {pager}
        </section>
    }
}

/// Previous/next links for a page of a list; `base` already has a query string.
pub fn pager<T>(page: &Page<T>, base: &str) -> impl IntoView + use<T> {
    let pages = page.pages();
    let current = u64::from(page.page);
    let previous = (current > 1).then(|| format!("{base}&page={}", current - 1));
    let next = (current < pages).then(|| format!("{base}&page={}", current + 1));
    let position = format!("Page {current} of {pages}");
    view! {
        <nav class="pager" aria-label="Pages">
            {previous.map(|href| view! { <a href=href rel="prev">"← Previous"</a> })}
            <span>{position}</span>
            {next.map(|href| view! { <a href=href rel="next">"Next →"</a> })}
        </nav>
    }
}

/// An item: its picture, price, and its stock, kept current while the page is open.
#[component]
pub fn ItemPage() -> impl IntoView {
    let params = use_params_map();
    let detail = Resource::new(
        move || params.read().get("id").unwrap_or_default(),
        item_detail,
    );
    view! {
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok(detail) => view! { <ItemView detail/> }.into_any(),
                    Err(error) => view! {
                        <Title text="Not found — Surge"/>
                        <section class="panel"><h1>"Item unavailable"</h1><ErrorNote error/></section>
                    }
                    .into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn ItemView(detail: ItemWithCategory) -> impl IntoView {
    let ItemWithCategory { item, category } = detail;
    let price = format_amount(item.price, item.currency);
    let category_href = format!("/categories/{}", category.slug);
    view! {
        <Title text=format!("{} — Surge", item.name)/>
        <article class="panel item-detail">
            <img src=image_url(&item.id) alt=item.name.clone() width="400" height="400"/>
            <div>
                <p class="breadcrumb"><a href=category_href>{category.name}</a></p>
                <h1>{item.name}</h1>
                <p class="price big">{price}</p>
                <LiveStock id=item.id.to_string() initial=item.stock/>
                <AddToCartForm item_id=item.id.to_string() in_stock={item.stock > 0}/>
                <p class="description">{item.description}</p>
                <p class="muted">"Ships from " {item.location}</p>
            </div>
        </article>
    }
}

/// The stock count, refreshed from the server every few seconds once the page has hydrated.
#[component]
fn LiveStock(id: String, initial: u32) -> impl IntoView {
    let stock = RwSignal::new(initial);
    Effect::new(move |_| {
        let id = id.clone();
        let handle = set_interval_with_handle(
            move || {
                let id = id.clone();
                leptos::task::spawn_local(async move {
                    if let Ok(level) = item_stock(id).await {
                        stock.set(level);
                    }
                });
            },
            STOCK_REFRESH,
        );
        if let Ok(handle) = handle {
            on_cleanup(move || handle.clear());
        }
    });
    view! {
        <p class="stock" data-testid="stock" aria-live="polite">
            {move || stock_label(stock.get())}
        </p>
    }
}
