//! The admin console: sign-in, categories, and the items with their stock ledger. Every form is an
//! `ActionForm`: a plain HTML form before the WASM bundle arrives, enhanced after. Each field's
//! error is shown next to the field.

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::server_fns::{
    AdminChangeStock, AdminCreateCategory, AdminCreateItem, AdminDeleteItem, AdminItemView,
    AdminRenameCategory, AdminUpdateItem, admin_categories, admin_item, admin_items,
};
use crate::catalog::model::{Category, Item};
use crate::catalog::views::pager;
use crate::error::AppError;
use crate::money::{Currency, format_amount};
use crate::search::model::SearchSort;

/// The message for `field` in an action's last answer, if it was a validation error naming it.
pub fn field_error<T>(result: Option<Result<T, AppError>>, field: &str) -> Option<String> {
    match result? {
        Err(AppError::Validation { fields }) => fields.get(field).map(|m| m.join("; ")),
        _ => None,
    }
}

/// An action's error that is not about one field (a conflict, a dead shard), for the form's top.
pub fn form_error<T>(result: Option<Result<T, AppError>>) -> Option<String> {
    match result? {
        Err(AppError::Validation { .. }) | Ok(_) => None,
        Err(error) => Some(error.to_string()),
    }
}

/// A field's error line, tied to the input by its id.
#[component]
pub fn FieldError(id: &'static str, message: Signal<Option<String>>) -> impl IntoView {
    view! {
        <p class="field-error" id=id role="alert">{move || message.get()}</p>
    }
}

/// Shown instead of a page to a visitor who is not signed in as an admin: a way to sign in, or
/// the reason (403) for a customer.
#[component]
pub fn AdminError(error: AppError) -> impl IntoView {
    let sign_in = matches!(error, AppError::Unauthorized { .. });
    view! {
        <Title text="Admin console — Surge"/>
        <section class="panel">
            <h1>"Admin console"</h1>
            <p class="error" role="alert">{error.to_string()}</p>
            {sign_in.then(|| view! { <p><a href="/login">"Sign in"</a></p> })}
        </section>
    }
}

/// The console's navigation.
#[component]
pub fn AdminNav() -> impl IntoView {
    view! {
        <nav class="admin-nav" aria-label="Admin">
            <strong>"Admin"</strong>
            <a href="/admin/items">"Items"</a>
            <a href="/admin/items/new">"New item"</a>
            <a href="/admin/categories">"Categories"</a>
            <a href="/admin/orders">"Orders"</a>
            <a href="/admin/payments">"Payments"</a>
            <a href="/admin/users">"Users"</a>
        </nav>
    }
}

/// `/admin/categories`: every category with its shard; create and rename.
#[component]
pub fn AdminCategoriesPage() -> impl IntoView {
    let create = ServerAction::<AdminCreateCategory>::new();
    let rename = ServerAction::<AdminRenameCategory>::new();
    let categories = Resource::new(
        move || (create.version().get(), rename.version().get()),
        |_| admin_categories(),
    );
    let name_error = Signal::derive(move || field_error(create.value().get(), "name"));
    let create_error = move || form_error(create.value().get());
    let rename_error = move || {
        form_error(rename.value().get()).or_else(|| field_error(rename.value().get(), "name"))
    };
    view! {
        <Title text="Categories — Surge admin"/>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match categories.await {
                    Err(error) => view! { <AdminError error/> }.into_any(),
                    Ok(list) => view! {
                        <AdminNav/>
                        <section class="panel">
                            <h1>"Categories"</h1>
                            <p class="error" role="alert">{rename_error}</p>
                            <table class="admin-table">
                                <thead><tr><th>"Name"</th><th>"Address"</th><th>"Shard"</th><th>"Rename"</th></tr></thead>
                                <tbody>
                                    {list.into_iter().map(|category| view! { <CategoryRow category rename/> }).collect_view()}
                                </tbody>
                            </table>
                            <h2>"New category"</h2>
                            <p class="muted">"It goes to the shard with the fewest categories."</p>
                            <p class="error" role="alert">{create_error}</p>
                            <ActionForm action=create>
                                <label for="category-name">"Name"</label>
                                <input id="category-name" name="name" required maxlength="80" aria-describedby="category-name-error"/>
                                <FieldError id="category-name-error" message=name_error/>
                                <button type="submit">"Create category"</button>
                            </ActionForm>
                        </section>
                    }
                    .into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn CategoryRow(category: Category, rename: ServerAction<AdminRenameCategory>) -> impl IntoView {
    let label = format!("New name for {}", category.name);
    view! {
        <tr>
            <td>{category.name.clone()}</td>
            <td><a href=format!("/categories/{}", category.slug)>{format!("/categories/{}", category.slug)}</a></td>
            <td>{category.shard.to_string()}</td>
            <td>
                <ActionForm action=rename attr:class="inline-form">
                    <input type="hidden" name="id" value=category.id.0.to_string()/>
                    <input name="name" aria-label=label value=category.name required maxlength="80"/>
                    <button type="submit">"Rename"</button>
                </ActionForm>
            </td>
        </tr>
    }
}

/// `/admin/items`: every item, searchable, sortable and paged.
#[component]
pub fn AdminItemsPage() -> impl IntoView {
    let query = use_query_map();
    let items = Resource::new(
        move || {
            let query = query.read();
            (query.get("q"), query.get("sort"), query.get("page"))
        },
        |(q, sort, page)| admin_items(q, None, sort, page),
    );
    view! {
        <Title text="Items — Surge admin"/>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match items.await {
                    Err(error) => view! { <AdminError error/> }.into_any(),
                    Ok(found) => {
                        let query = query.read_untracked();
                        let q = query.get("q").unwrap_or_default();
                        let sort = query.get("sort").unwrap_or_default();
                        let base = format!("/admin/items?q={}&sort={}", encode(&q), encode(&sort));
                        let pager = pager(&found.results, &base);
                        let sorts = SearchSort::ALL
                            .into_iter()
                            .map(|option| view! {
                                <option value=option.as_str() selected=option.as_str() == sort>{option.label()}</option>
                            })
                            .collect_view();
                        view! {
                            <AdminNav/>
                            <section class="panel">
                                <h1>"Items"</h1>
                                <form method="get" action="/admin/items" class="search-form" role="search">
                                    <label>"Find" <input type="search" name="q" value=q/></label>
                                    <label>"Sort" <select name="sort">{sorts}</select></label>
                                    <button type="submit">"Show"</button>
                                </form>
                                <p class="muted">{format!("{} items", found.results.total)}</p>
                                <table class="admin-table">
                                    <thead><tr><th>"Name"</th><th>"Price"</th><th>"Stock"</th><th>"ID"</th></tr></thead>
                                    <tbody>
                                        {found.results.items.into_iter().map(|item| view! { <ItemRow item/> }).collect_view()}
                                    </tbody>
                                </table>
                                {pager}
                            </section>
                        }
                        .into_any()
                    }
                }
            })}
        </Suspense>
    }
}

fn encode(value: &str) -> String {
    crate::search::views::encode(value)
}

#[component]
fn ItemRow(item: Item) -> impl IntoView {
    let href = format!("/admin/items/{}", item.id);
    view! {
        <tr>
            <td><a href=href>{item.name}</a></td>
            <td>{format_amount(item.price, item.currency)}</td>
            <td>{item.stock}</td>
            <td><code>{item.id.to_string()}</code></td>
        </tr>
    }
}

fn currency_options(selected: Currency) -> impl IntoView {
    Currency::codes()
        .map(|code| view! { <option value=code selected=code == selected.code()>{code}</option> })
        .collect_view()
}

/// `/admin/items/new`.
#[component]
pub fn AdminNewItemPage() -> impl IntoView {
    let create = ServerAction::<AdminCreateItem>::new();
    let categories = Resource::new(|| (), |_| admin_categories());
    let error =
        move |field: &'static str| Signal::derive(move || field_error(create.value().get(), field));
    let top_error = move || form_error(create.value().get());
    view! {
        <Title text="New item — Surge admin"/>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match categories.await {
                    Err(error) => view! { <AdminError error/> }.into_any(),
                    Ok(list) => view! {
                        <AdminNav/>
                        <section class="panel narrow">
                            <h1>"New item"</h1>
                            <p class="error" role="alert">{top_error}</p>
                            <ActionForm action=create attr:class="stacked-form">
                                <label for="item-category">"Category"</label>
                                <select id="item-category" name="category_id" aria-describedby="item-category-error">
                                    <option value="">"Choose…"</option>
                                    {list.into_iter().map(|c| view! { <option value=c.id.0.to_string()>{c.name}</option> }).collect_view()}
                                </select>
                                <FieldError id="item-category-error" message=error("category_id")/>
                                <ItemFields item=None error/>
                                <label for="item-stock">"Initial stock"</label>
                                <input id="item-stock" name="stock" inputmode="numeric" value="0" aria-describedby="item-stock-error"/>
                                <FieldError id="item-stock-error" message=error("stock")/>
                                <button type="submit">"Create item"</button>
                            </ActionForm>
                        </section>
                    }
                    .into_any(),
                }
            })}
        </Suspense>
    }
}

/// The descriptive fields of an item's form, filled from `item` when editing.
#[component]
fn ItemFields(
    item: Option<Item>,
    error: impl Fn(&'static str) -> Signal<Option<String>> + Copy + 'static,
) -> impl IntoView {
    let name = item.as_ref().map(|i| i.name.clone()).unwrap_or_default();
    let description = item
        .as_ref()
        .map(|i| i.description.clone())
        .unwrap_or_default();
    let price = item
        .as_ref()
        .map(|i| i.price.to_string())
        .unwrap_or_default();
    let currency = item.as_ref().map_or(Currency::EUR, |i| i.currency);
    let location = item
        .as_ref()
        .map(|i| i.location.clone())
        .unwrap_or_default();
    view! {
        <label for="item-name">"Name"</label>
        <input id="item-name" name="name" value=name maxlength="200" aria-describedby="item-name-error"/>
        <FieldError id="item-name-error" message=error("name")/>
        <label for="item-description">"Description"</label>
        <textarea id="item-description" name="description" rows="4" maxlength="5000" aria-describedby="item-description-error">{description}</textarea>
        <FieldError id="item-description-error" message=error("description")/>
        <label for="item-price">"Price"</label>
        <input id="item-price" name="price" inputmode="decimal" value=price aria-describedby="item-price-error"/>
        <FieldError id="item-price-error" message=error("price")/>
        <label for="item-currency">"Currency"</label>
        <select id="item-currency" name="currency" aria-describedby="item-currency-error">{currency_options(currency)}</select>
        <FieldError id="item-currency-error" message=error("currency")/>
        <label for="item-location">"Location"</label>
        <input id="item-location" name="location" value=location maxlength="120" aria-describedby="item-location-error"/>
        <FieldError id="item-location-error" message=error("location")/>
    }
}

/// `/admin/items/{id}`: edit, change the stock (with the ledger), delete.
#[component]
pub fn AdminItemPage() -> impl IntoView {
    let params = use_params_map();
    let update = ServerAction::<AdminUpdateItem>::new();
    let stock = ServerAction::<AdminChangeStock>::new();
    let delete = ServerAction::<AdminDeleteItem>::new();
    let view_data = Resource::new(
        move || {
            (
                params.read().get("id").unwrap_or_default(),
                update.version().get(),
                stock.version().get(),
            )
        },
        |(id, _, _)| admin_item(id),
    );
    view! {
        <Title text="Item — Surge admin"/>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match view_data.await {
                    Err(error) => view! { <AdminError error/> }.into_any(),
                    Ok(data) => view! { <AdminItemView data update stock delete/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn AdminItemView(
    data: AdminItemView,
    update: ServerAction<AdminUpdateItem>,
    stock: ServerAction<AdminChangeStock>,
    delete: ServerAction<AdminDeleteItem>,
) -> impl IntoView {
    let AdminItemView {
        item,
        category,
        ledger,
    } = data;
    let id = item.id.to_string();
    let (id_update, id_stock, id_delete) = (id.clone(), id.clone(), id.clone());
    let in_stock = format!("{} in stock", item.stock);
    let title = item.name.clone();
    let saved = move || matches!(update.value().get(), Some(Ok(_))).then_some("Saved.");
    let update_error =
        move |field: &'static str| Signal::derive(move || field_error(update.value().get(), field));
    let stock_error =
        move |field: &'static str| Signal::derive(move || field_error(stock.value().get(), field));
    let stock_conflict = move || form_error(stock.value().get());
    let delete_error = Signal::derive(move || {
        field_error(delete.value().get(), "confirm").or_else(|| form_error(delete.value().get()))
    });
    let rows = ledger
        .items
        .into_iter()
        .map(|movement| {
            let delta = if movement.delta > 0 {
                format!("+{}", movement.delta)
            } else {
                movement.delta.to_string()
            };
            view! {
                <tr>
                    <td>{movement.created_at.format("%Y-%m-%d %H:%M:%S").to_string()}</td>
                    <td>{delta}</td>
                    <td>{movement.stock_after}</td>
                    <td>{movement.cause.as_str()}</td>
                    <td>{movement.reason}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
           <AdminNav/>
           <section class="panel">
               <h1>{title}</h1>
               <p class="muted">
    <code>{id.clone()}</code> " in " {category.name} " (" {category.shard.to_string()} ") · "
                   <a href=format!("/items/{id}")>"View in the shop"</a>
               </p>
               <div class="admin-columns">
                   <div>
                       <h2>"Details"</h2>
                       <p class="error" role="alert">{move || form_error(update.value().get())}</p>
                       <ActionForm action=update attr:class="stacked-form">
                           <input type="hidden" name="id" value=id_update.clone()/>
                           <ItemFields item=Some(item.clone()) error=update_error/>
                           <button type="submit">"Save"</button>
                           <span role="status">{saved}</span>
                       </ActionForm>
                   </div>
                   <div>
                       <h2>"Stock"</h2>
                       <p class="big">{in_stock}</p>
                       <p class="error" role="alert">{stock_conflict}</p>
                       <ActionForm action=stock attr:class="stacked-form">
                           <input type="hidden" name="id" value=id_stock.clone()/>
                           <label for="stock-kind">"Change"</label>
                           <select id="stock-kind" name="kind">
                               <option value="set">"Set the level to"</option>
                               <option value="adjust">"Add (or remove, negative)"</option>
                           </select>
                           <label for="stock-quantity">"Quantity"</label>
                           <input id="stock-quantity" name="quantity" inputmode="numeric" required aria-describedby="stock-quantity-error"/>
                           <FieldError id="stock-quantity-error" message=stock_error("quantity")/>
                           <label for="stock-reason">"Reason"</label>
                           <input id="stock-reason" name="reason" required maxlength="300" aria-describedby="stock-reason-error"/>
                           <FieldError id="stock-reason-error" message=stock_error("reason")/>
                           <button type="submit">"Change stock"</button>
                       </ActionForm>
                       <h3>"Ledger"</h3>
                       <p class="muted">{format!("{} changes in all; the newest {} shown", ledger.total, ledger.per_page.min(u32::try_from(ledger.total).unwrap_or(u32::MAX)))}</p>
                       <table class="admin-table">
                           <thead><tr><th>"When (UTC)"</th><th>"Change"</th><th>"After"</th><th>"Cause"</th><th>"Reason"</th></tr></thead>
                           <tbody>{rows}</tbody>
                       </table>
                   </div>
               </div>
               <h2>"Delete"</h2>
               <ActionForm action=delete attr:class="inline-form">
                   <input type="hidden" name="id" value=id_delete.clone()/>
                   <label><input type="checkbox" name="confirm" value="yes" aria-describedby="delete-error"/> " Yes, remove this item from the shop"</label>
                   <button type="submit" class="danger">"Delete item"</button>
               </ActionForm>
               <FieldError id="delete-error" message=delete_error/>
           </section>
       }
}
