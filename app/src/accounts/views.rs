//! Sign-in, registration, the account page, the header's account menu, and the admin console's
//! users page.

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_location, use_query_map};

use super::model::{Role, User};
use super::server_fns::{
    AdminDeleteUser, AdminSetRole, ChangePassword, LogIn, LogOut, Register, UpdateAccount,
    admin_users, current_user,
};
use crate::admin::views::{AdminError, AdminNav, FieldError, field_error, form_error};
use crate::catalog::views::{ErrorNote, pager};

/// The header's account links: sign in and register, or the account and sign out.
#[component]
pub fn AccountMenu() -> impl IntoView {
    let log_out = ServerAction::<LogOut>::new();
    // Asked again after every navigation: signing in or out ends with one.
    let location = use_location();
    let user = Resource::new(
        move || (location.pathname.get(), log_out.version().get()),
        |_| current_user(),
    );
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                match user.await {
                    Ok(Some(user)) => view! {
                        {(user.role == Role::Admin).then(|| view! { <a href="/admin/items">"Admin"</a> })}
                        <a href="/orders">"Orders"</a>
                        <a href="/payments">"Payments"</a>
                        <a href="/account">{user.display_name}</a>
                        <ActionForm action=log_out attr:class="inline-form">
                            <button type="submit" class="link-button light">"Sign out"</button>
                        </ActionForm>
                    }
                    .into_any(),
                    _ => view! {
                        <a href="/login">"Sign in"</a>
                        <a href="/register">"Register"</a>
                    }
                    .into_any(),
                }
            })}
        </Suspense>
    }
}

/// `/login?next=/somewhere`.
#[component]
pub fn LoginPage() -> impl IntoView {
    let log_in = ServerAction::<LogIn>::new();
    let query = use_query_map();
    let next = move || query.read().get("next").unwrap_or_default();
    let changed = move || query.read().get("changed").is_some();
    let problem = move || form_error(log_in.value().get());
    view! {
        <Title text="Sign in — Surge"/>
        <section class="panel narrow">
            <h1>"Sign in"</h1>
            {move || changed().then(|| view! { <p role="status">"Password changed: sign in with the new one."</p> })}
            <p class="error" role="alert">{problem}</p>
            <ActionForm action=log_in attr:class="stacked-form">
                <input type="hidden" name="next" value=next/>
                <label for="login-username">"Username"</label>
                <input id="login-username" name="username" required autocomplete="username"/>
                <label for="login-password">"Password"</label>
                <input id="login-password" name="password" type="password" required autocomplete="current-password"/>
                <button type="submit">"Sign in"</button>
            </ActionForm>
            <p>"New here? " <a href="/register">"Create an account"</a></p>
        </section>
    }
}

/// `/register`.
#[component]
pub fn RegisterPage() -> impl IntoView {
    let register = ServerAction::<Register>::new();
    let error = move |field: &'static str| {
        Signal::derive(move || field_error(register.value().get(), field))
    };
    let problem = move || {
        form_error(register.value().get()).or_else(|| field_error(register.value().get(), "body"))
    };
    view! {
        <Title text="Register — Surge"/>
        <section class="panel narrow">
            <h1>"Create an account"</h1>
            <p class="error" role="alert">{problem}</p>
            <ActionForm action=register attr:class="stacked-form">
                <label for="reg-username">"Username"</label>
                <input id="reg-username" name="username" required autocomplete="username" aria-describedby="reg-username-error"/>
                <FieldError id="reg-username-error" message=error("username")/>
                <label for="reg-display-name">"Display name"</label>
                <input id="reg-display-name" name="display_name" required autocomplete="name" aria-describedby="reg-display-name-error"/>
                <FieldError id="reg-display-name-error" message=error("display_name")/>
                <label for="reg-email">"Email"</label>
                <input id="reg-email" name="email" type="email" required autocomplete="email" aria-describedby="reg-email-error"/>
                <FieldError id="reg-email-error" message=error("email")/>
                <label for="reg-phone">"Phone"</label>
                <input id="reg-phone" name="phone" type="tel" required autocomplete="tel" placeholder="+49 30 1234567" aria-describedby="reg-phone-error"/>
                <FieldError id="reg-phone-error" message=error("phone")/>
                <label for="reg-timezone">"Time zone"</label>
                <input id="reg-timezone" name="timezone" value="UTC" placeholder="Europe/Berlin" aria-describedby="reg-timezone-error"/>
                <FieldError id="reg-timezone-error" message=error("timezone")/>
                <label for="reg-password">"Password"</label>
                <input id="reg-password" name="password" type="password" required autocomplete="new-password" aria-describedby="reg-password-error"/>
                <FieldError id="reg-password-error" message=error("password")/>
                <button type="submit">"Create account"</button>
            </ActionForm>
        </section>
    }
}

/// `/account`: the signed-in customer's details, their password, and signing out.
#[component]
pub fn AccountPage() -> impl IntoView {
    let update = ServerAction::<UpdateAccount>::new();
    let user = Resource::new(move || update.version().get(), |_| current_user());
    view! {
        <Title text="Your account — Surge"/>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match user.await {
                    Ok(Some(user)) => view! { <AccountView user update/> }.into_any(),
                    Ok(None) => view! {
                        <section class="panel narrow">
                            <h1>"Your account"</h1>
                            <p><a href="/login?next=/account">"Sign in"</a> " to see your account."</p>
                        </section>
                    }
                    .into_any(),
                    Err(error) => view! { <ErrorNote error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn AccountView(user: User, update: ServerAction<UpdateAccount>) -> impl IntoView {
    let password = ServerAction::<ChangePassword>::new();
    let error =
        move |field: &'static str| Signal::derive(move || field_error(update.value().get(), field));
    let password_error = move |field: &'static str| {
        Signal::derive(move || field_error(password.value().get(), field))
    };
    let saved = move || matches!(update.value().get(), Some(Ok(_))).then_some("Saved.");
    let heading = format!("Hello, {}", user.display_name);
    let who = format!("Signed in as {} ({})", user.username, user.role.as_str());
    view! {
        <section class="panel narrow">
            <h1>{heading}</h1>
            <p class="muted">{who}</p>
            <h2>"Details"</h2>
            <p class="error" role="alert">{move || form_error(update.value().get())}</p>
            <ActionForm action=update attr:class="stacked-form">
                <label for="acc-display-name">"Display name"</label>
                <input id="acc-display-name" name="display_name" value=user.display_name aria-describedby="acc-display-name-error"/>
                <FieldError id="acc-display-name-error" message=error("display_name")/>
                <label for="acc-email">"Email"</label>
                <input id="acc-email" name="email" type="email" value=user.email aria-describedby="acc-email-error"/>
                <FieldError id="acc-email-error" message=error("email")/>
                <label for="acc-phone">"Phone"</label>
                <input id="acc-phone" name="phone" type="tel" value=user.phone aria-describedby="acc-phone-error"/>
                <FieldError id="acc-phone-error" message=error("phone")/>
                <label for="acc-timezone">"Time zone"</label>
                <input id="acc-timezone" name="timezone" value=user.timezone aria-describedby="acc-timezone-error"/>
                <FieldError id="acc-timezone-error" message=error("timezone")/>
                <button type="submit">"Save"</button>
                <span role="status">{saved}</span>
            </ActionForm>
            <h2>"Password"</h2>
            <p class="muted">"Changing it signs you out everywhere."</p>
            <ActionForm action=password attr:class="stacked-form">
                <label for="acc-current-password">"Current password"</label>
                <input id="acc-current-password" name="current_password" type="password" autocomplete="current-password" aria-describedby="acc-current-password-error"/>
                <FieldError id="acc-current-password-error" message=password_error("current_password")/>
                <label for="acc-new-password">"New password"</label>
                <input id="acc-new-password" name="password" type="password" autocomplete="new-password" aria-describedby="acc-new-password-error"/>
                <FieldError id="acc-new-password-error" message=password_error("password")/>
                <button type="submit">"Change password"</button>
            </ActionForm>
        </section>
    }
}

/// `/admin/users`: every account, filtered and paged; promote, demote, delete.
#[component]
pub fn AdminUsersPage() -> impl IntoView {
    let query = use_query_map();
    let set_role = ServerAction::<AdminSetRole>::new();
    let delete = ServerAction::<AdminDeleteUser>::new();
    let users = Resource::new(
        move || {
            let query = query.read();
            (
                query.get("q"),
                query.get("role"),
                query.get("page"),
                set_role.version().get(),
                delete.version().get(),
            )
        },
        |(q, role, page, _, _)| admin_users(q, role, page),
    );
    let problem = move || {
        form_error(set_role.value().get())
            .or_else(|| field_error(set_role.value().get(), "role"))
            .or_else(|| form_error(delete.value().get()))
            .or_else(|| field_error(delete.value().get(), "confirm"))
    };
    view! {
        <Title text="Users — Surge admin"/>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match users.await {
                    Err(error) => view! { <AdminError error/> }.into_any(),
                    Ok(page) => {
                        let query = query.read_untracked();
                        let q = query.get("q").unwrap_or_default();
                        let role = query.get("role").unwrap_or_default();
                        let base = format!(
                            "/admin/users?q={}&role={}",
                            crate::search::views::encode(&q),
                            crate::search::views::encode(&role)
                        );
                        let pager = pager(&page, &base);
                        let summary = format!("{} accounts", page.total);
                        let rows = page
                            .items
                            .into_iter()
                            .map(|user| view! { <UserRow user set_role delete/> })
                            .collect_view();
                        view! {
                            <AdminNav/>
                            <section class="panel">
                                <h1>"Users"</h1>
                                <form method="get" action="/admin/users" class="search-form" role="search">
                                    <label>"Username or email starts with" <input type="search" name="q" value=q/></label>
                                    <label>"Role"
                                        <select name="role">
                                            <option value="" selected=role.is_empty()>"Any"</option>
                                            <option value="customer" selected=role == "customer">"Customers"</option>
                                            <option value="admin" selected=role == "admin">"Admins"</option>
                                        </select>
                                    </label>
                                    <button type="submit">"Show"</button>
                                </form>
                                <p class="error" role="alert">{problem}</p>
                                <p class="muted">{summary}</p>
                                <table class="admin-table">
                                    <thead><tr><th>"Username"</th><th>"Name"</th><th>"Email"</th><th>"Role"</th><th>"Change role"</th><th>"Delete"</th></tr></thead>
                                    <tbody>{rows}</tbody>
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

#[component]
fn UserRow(
    user: User,
    set_role: ServerAction<AdminSetRole>,
    delete: ServerAction<AdminDeleteUser>,
) -> impl IntoView {
    let id = user.id.0.to_string();
    let id_delete = id.clone();
    let (new_role, label) = match user.role {
        Role::Customer => ("admin", format!("Make {} an admin", user.username)),
        Role::Admin => ("customer", format!("Make {} a customer", user.username)),
    };
    let confirm_label = format!("Confirm deleting {}", user.username);
    view! {
        <tr>
            <td>{user.username}</td>
            <td>{user.display_name}</td>
            <td>{user.email}</td>
            <td>{user.role.as_str()}</td>
            <td>
                <ActionForm action=set_role attr:class="inline-form">
                    <input type="hidden" name="id" value=id.clone()/>
                    <input type="hidden" name="role" value=new_role/>
                    <button type="submit" aria-label=label.clone()>{if new_role == "admin" { "Promote" } else { "Demote" }}</button>
                </ActionForm>
            </td>
            <td>
                <ActionForm action=delete attr:class="inline-form">
                    <input type="hidden" name="id" value=id_delete.clone()/>
                    <input type="checkbox" name="confirm" value="yes" aria-label=confirm_label.clone()/>
                    <button type="submit" class="danger">"Delete"</button>
                </ActionForm>
            </td>
        </tr>
    }
}
