//! The WASM entry point: hydrates the server-rendered page with the same `App` the server rendered.

/// Called by the bundle's loader once the WASM has been fetched.
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
