//! The search page: the form, the category filter with counts, the results and the pager. The
//! whole search is in the address, so it can be shared and the back button works; the form is a
//! plain GET form, so it works before the WASM bundle arrives.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use super::model::{SearchParams, SearchResults, SearchSort};
use super::server_fns::search_items;
use crate::catalog::views::{ErrorNote, ItemGrid, pager};

/// Percent-encodes a query-string value.
pub fn encode(value: &str) -> String {
    let mut encoded = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                encoded.push(char::from(byte));
            }
            b' ' => encoded.push('+'),
            _ => encoded.push_str(&format!("%{byte:02X}")),
        }
    }
    encoded
}

/// The address of a search (without its page: a changed search starts at page 1).
pub fn search_url(params: &SearchParams) -> String {
    let pairs = [
        ("q", &params.q),
        ("category", &params.category),
        ("min_price", &params.min_price),
        ("max_price", &params.max_price),
        ("in_stock", &params.in_stock),
        ("sort", &params.sort),
    ];
    let query = pairs
        .into_iter()
        .filter_map(|(key, value)| {
            let value = value.as_deref().filter(|v| !v.is_empty())?;
            Some(format!("{key}={}", encode(value)))
        })
        .collect::<Vec<_>>()
        .join("&");
    format!("/search?{query}")
}

fn current_params() -> SearchParams {
    let query = use_query_map();
    let query = query.read();
    SearchParams {
        q: query.get("q"),
        category: query.get("category"),
        min_price: query.get("min_price"),
        max_price: query.get("max_price"),
        in_stock: query.get("in_stock"),
        sort: query.get("sort"),
        page: query.get("page"),
        per_page: query.get("per_page"),
    }
}

/// `/search?q=...`.
#[component]
pub fn SearchPage() -> impl IntoView {
    let results = Resource::new(current_params, search_items);
    view! {
        <Title text="Search — Surge"/>
        <section class="panel">
            <h1>"Search"</h1>
            {move || view! { <SearchForm params=current_params()/> }}
            <Suspense fallback=|| view! { <p>"Searching…"</p> }>
                {move || Suspend::new(async move {
                    match results.await {
                        Ok(found) => view! { <Results found params=current_params()/> }.into_any(),
                        Err(error) => view! { <ErrorNote error/> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn SearchForm(params: SearchParams) -> impl IntoView {
    let sort = params.sort.clone().unwrap_or_default();
    let options = SearchSort::ALL
        .into_iter()
        .map(|option| {
            let selected = option.as_str() == sort;
            view! { <option value=option.as_str() selected=selected>{option.label()}</option> }
        })
        .collect_view();
    let in_stock = matches!(params.in_stock.as_deref(), Some("true" | "1" | "on"));
    view! {
        <form class="search-form" method="get" action="/search" role="search">
            <label>"Words" <input type="search" name="q" value=params.q maxlength="200"/></label>
            <input type="hidden" name="category" value=params.category/>
            <label>"Lowest price" <input type="text" inputmode="decimal" name="min_price" value=params.min_price size="7"/></label>
            <label>"Highest price" <input type="text" inputmode="decimal" name="max_price" value=params.max_price size="7"/></label>
            <label><input type="checkbox" name="in_stock" value="true" checked=in_stock/> " In stock only"</label>
            <label>"Sort" <select name="sort">{options}</select></label>
            <button type="submit">"Search"</button>
        </form>
    }
}

#[component]
fn Results(found: SearchResults, params: SearchParams) -> impl IntoView {
    let SearchResults {
        results,
        categories,
    } = found;
    let all = search_url(&SearchParams {
        category: None,
        ..params.clone()
    });
    let filter = categories
        .into_iter()
        .map(|count| {
            let id = count.category_id.0.to_string();
            let current = (params.category.as_deref() == Some(id.as_str())).then_some("true");
            let href = search_url(&SearchParams {
                category: Some(id),
                ..params.clone()
            });
            view! {
                <li><a href=href aria-current=current>{count.name} " (" {count.count} ")"</a></li>
            }
        })
        .collect_view();
    let summary = match results.total {
        0 => "No items match.".to_owned(),
        1 => "1 item".to_owned(),
        n => format!("{n} items"),
    };
    let pager = pager(&results, &search_url(&params));
    view! {
        <nav class="category-filter" aria-label="Categories">
            <ul>
                <li><a href=all aria-current=params.category.is_none().then_some("true")>"All categories"</a></li>
                {filter}
            </ul>
        </nav>
        <p class="muted" role="status">{summary}</p>
        <ItemGrid items=results.items.clone()/>
        {pager}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_address_keeps_every_filter_and_encodes_the_words() {
        let params = SearchParams {
            q: Some("oled tv & more".into()),
            category: Some("3".into()),
            in_stock: Some("true".into()),
            page: Some("4".into()),
            ..Default::default()
        };
        assert_eq!(
            search_url(&params),
            "/search?q=oled+tv+%26+more&category=3&in_stock=true"
        );
    }
}
