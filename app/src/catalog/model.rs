//! Catalog types shared by the server and the browser, and the rules that parse input into them.
//!
//! Input arrives as the loose `*Input` structs (from a JSON body or a form); `parse` turns each
//! into a validated value or a [`AppError::Validation`] naming *every* offending field, so the API
//! and the forms reject the same input with the same messages.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::money::{Currency, Price};
use crate::shard::ShardId;
use crate::shard::id::ItemId;

/// Longest item name, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest item description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 5000;
/// Longest location (warehouse, shelf), in characters.
pub const MAX_LOCATION_CHARS: usize = 120;
/// Longest category name, in characters.
pub const MAX_CATEGORY_NAME_CHARS: usize = 80;
/// Longest reason for a stock change, in characters.
pub const MAX_REASON_CHARS: usize = 300;
/// The most units one item may have in stock, and the largest single adjustment.
pub const MAX_STOCK: u32 = 1_000_000;

/// A category's id in the directory.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CategoryId(pub u64);

/// A category of the catalog and the logical shard that holds its items.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Category {
    #[cfg_attr(feature = "ssr", schema(value_type = u64))]
    pub id: CategoryId,
    /// The category's address in the storefront (`/categories/{slug}`).
    pub slug: String,
    pub name: String,
    #[cfg_attr(feature = "ssr", schema(value_type = u16))]
    pub shard: ShardId,
}

/// An item of the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Item {
    /// `item-{shard}-{number}`.
    #[cfg_attr(feature = "ssr", schema(value_type = String, example = "item-2-1042"))]
    pub id: ItemId,
    #[cfg_attr(feature = "ssr", schema(value_type = u64))]
    pub category_id: CategoryId,
    pub name: String,
    pub description: String,
    /// An exact decimal, as a string (`"19.99"`).
    #[cfg_attr(feature = "ssr", schema(value_type = String, example = "19.99"))]
    pub price: Decimal,
    #[cfg_attr(feature = "ssr", schema(value_type = String, example = "EUR"))]
    pub currency: Currency,
    /// Units available to buy now.
    pub stock: u32,
    /// Where the item is kept (warehouse, shelf).
    pub location: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Item {
    /// The item's generated picture.
    pub fn image_url(&self) -> String {
        image_url(&self.id)
    }
}

/// The address of an item's generated picture.
pub fn image_url(id: &ItemId) -> String {
    format!("/images/items/{id}.svg")
}

/// Why a stock level changed: the ledger's causes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum StockCause {
    /// An admin set the level (also the initial stock of a new item).
    AdminSet,
    /// An admin added or removed units.
    AdminAdjust,
    /// Units held for a checkout (negative).
    Hold,
    /// A hold given back: its order was canceled or a shard of its checkout failed.
    Release,
    /// A hold that ran out of time: its units are back on sale.
    Expire,
    /// Held units sold: the order was paid and placed (no change of stock: the hold took it).
    Sale,
    /// A placed order was canceled: its units are back on sale.
    Restock,
}

impl StockCause {
    /// The name stored in the ledger.
    pub fn as_str(self) -> &'static str {
        match self {
            StockCause::AdminSet => "admin_set",
            StockCause::AdminAdjust => "admin_adjust",
            StockCause::Hold => "hold",
            StockCause::Release => "release",
            StockCause::Expire => "expire",
            StockCause::Sale => "sale",
            StockCause::Restock => "restock",
        }
    }

    /// Reads a stored name.
    pub fn from_stored(text: &str) -> Option<Self> {
        match text {
            "admin_set" => Some(StockCause::AdminSet),
            "admin_adjust" => Some(StockCause::AdminAdjust),
            "hold" => Some(StockCause::Hold),
            "release" => Some(StockCause::Release),
            "expire" => Some(StockCause::Expire),
            "sale" => Some(StockCause::Sale),
            "restock" => Some(StockCause::Restock),
            _ => None,
        }
    }
}

/// One row of an item's append-only stock ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct StockMovement {
    pub id: u64,
    /// Units added (positive) or removed (negative).
    pub delta: i64,
    /// The stock right after this change.
    pub stock_after: u32,
    pub cause: StockCause,
    pub reason: String,
    pub created_at: DateTime<Utc>,
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Page<T> {
    pub items: Vec<T>,
    /// 1-based.
    pub page: u32,
    pub per_page: u32,
    /// How many there are in all.
    pub total: u64,
}

impl<T> Page<T> {
    /// How many pages there are in all (at least 1).
    pub fn pages(&self) -> u64 {
        self.total.div_ceil(u64::from(self.per_page.max(1))).max(1)
    }
}

/// Which page of a list to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageRequest {
    pub page: u32,
    pub per_page: u32,
}

impl PageRequest {
    /// The largest page.
    pub const MAX_PER_PAGE: u32 = 100;
    /// How deep a list may be paged (`page * per_page`): deeper pages are refused rather than
    /// scanned; a search narrows the list instead.
    pub const MAX_DEPTH: u32 = 10_000;

    /// Checks a page request; `None` takes the defaults (page 1, `default_per_page`).
    pub fn parse(
        page: Option<u32>,
        per_page: Option<u32>,
        default_per_page: u32,
    ) -> Result<Self, AppError> {
        let mut errors = FieldErrors::default();
        let page = page.unwrap_or(1);
        let per_page = per_page.unwrap_or(default_per_page);
        if page == 0 {
            errors.add("page", "must be 1 or more");
        }
        if per_page == 0 || per_page > Self::MAX_PER_PAGE {
            errors.add(
                "per_page",
                format!("must be between 1 and {}", Self::MAX_PER_PAGE),
            );
        }
        if page.saturating_mul(per_page) > Self::MAX_DEPTH {
            errors.add(
                "page",
                format!(
                    "lists can be paged {} entries deep; narrow the list instead",
                    Self::MAX_DEPTH
                ),
            );
        }
        errors.finish()?;
        Ok(PageRequest { page, per_page })
    }

    /// How many entries come before this page.
    pub fn offset(self) -> u32 {
        (self.page - 1) * self.per_page
    }
}

/// How a list of items is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum ItemSort {
    #[default]
    Newest,
    PriceAsc,
    PriceDesc,
    Name,
}

impl ItemSort {
    /// Every order, for sort menus.
    pub const ALL: [ItemSort; 4] = [
        ItemSort::Newest,
        ItemSort::PriceAsc,
        ItemSort::PriceDesc,
        ItemSort::Name,
    ];

    /// The name in URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            ItemSort::Newest => "newest",
            ItemSort::PriceAsc => "price_asc",
            ItemSort::PriceDesc => "price_desc",
            ItemSort::Name => "name",
        }
    }

    /// What a sort menu shows.
    pub fn label(self) -> &'static str {
        match self {
            ItemSort::Newest => "Newest",
            ItemSort::PriceAsc => "Price: low to high",
            ItemSort::PriceDesc => "Price: high to low",
            ItemSort::Name => "Name",
        }
    }

    /// Reads the name in a URL.
    pub fn parse(text: &str) -> Result<Self, AppError> {
        ItemSort::ALL
            .into_iter()
            .find(|sort| sort.as_str() == text)
            .ok_or_else(|| {
                AppError::invalid("sort", "must be newest, price_asc, price_desc or name")
            })
    }
}

/// Collects the messages of every invalid field before failing once.
#[derive(Debug, Default)]
pub struct FieldErrors {
    fields: BTreeMap<String, Vec<String>>,
}

impl FieldErrors {
    /// Records a problem with `field`.
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.fields
            .entry(field.to_owned())
            .or_default()
            .push(message.into());
    }

    /// Keeps `value` when it parsed, records its error otherwise.
    pub fn check<T>(&mut self, field: &str, result: Result<T, String>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(message) => {
                self.add(field, message);
                None
            }
        }
    }

    /// `Ok` when no field failed, else the validation error naming them all.
    pub fn finish(self) -> Result<(), AppError> {
        if self.fields.is_empty() {
            Ok(())
        } else {
            Err(AppError::Validation {
                fields: self.fields,
            })
        }
    }
}

/// Trims `text` and checks it is between `min` and `max` characters, without control characters
/// (a newline is allowed where `multiline`).
pub fn clean_text(text: &str, min: usize, max: usize, multiline: bool) -> Result<String, String> {
    let text = text.trim();
    let chars = text.chars().count();
    if chars < min {
        return Err(if min == 1 {
            "must not be empty".into()
        } else {
            format!("must be at least {min} characters")
        });
    }
    if chars > max {
        return Err(format!("must be at most {max} characters"));
    }
    let allowed = |c: char| !c.is_control() || (multiline && (c == '\n' || c == '\r' || c == '\t'));
    if !text.chars().all(allowed) {
        return Err("must not contain control characters".into());
    }
    Ok(text.to_owned())
}

/// Turns a category name into the slug of its address: lowercase letters and digits joined by
/// single dashes (`Home & Garden` → `home-garden`).
pub fn slugify(name: &str) -> String {
    let mut slug = String::with_capacity(name.len());
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            slug.push(c);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    slug.trim_end_matches('-').to_owned()
}

/// A category as a client sends it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CategoryInput {
    pub name: String,
}

/// A validated category name and its slug.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCategory {
    pub name: String,
    pub slug: String,
}

impl CategoryInput {
    /// Validates the name and derives the slug.
    pub fn parse(&self) -> Result<NewCategory, AppError> {
        let name = clean_text(&self.name, 1, MAX_CATEGORY_NAME_CHARS, false)
            .map_err(|message| AppError::invalid("name", message))?;
        let slug = slugify(&name);
        if slug.is_empty() {
            return Err(AppError::invalid(
                "name",
                "must contain at least one letter or digit",
            ));
        }
        Ok(NewCategory { name, slug })
    }
}

/// A new item as a client sends it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ItemInput {
    #[cfg_attr(feature = "ssr", schema(value_type = u64))]
    pub category_id: CategoryId,
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// An exact decimal; a string (`"19.99"`) keeps it exact in every client.
    #[cfg_attr(feature = "ssr", schema(value_type = String, example = "19.99"))]
    pub price: Decimal,
    /// ISO 4217; EUR when left out.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<String>, example = "EUR"))]
    pub currency: Option<String>,
    /// The initial stock (0 when left out).
    #[serde(default)]
    pub stock: i64,
    #[serde(default)]
    pub location: String,
}

/// A validated new item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewItem {
    pub category_id: CategoryId,
    pub name: String,
    pub description: String,
    pub price: Price,
    pub stock: u32,
    pub location: String,
}

fn parse_name(name: &str) -> Result<String, String> {
    clean_text(name, 1, MAX_NAME_CHARS, false)
}

fn parse_description(description: &str) -> Result<String, String> {
    clean_text(description, 0, MAX_DESCRIPTION_CHARS, true)
}

fn parse_location(location: &str) -> Result<String, String> {
    clean_text(location, 0, MAX_LOCATION_CHARS, false)
}

/// A stock level: 0 to [`MAX_STOCK`].
pub fn parse_stock(stock: i64) -> Result<u32, String> {
    u32::try_from(stock)
        .ok()
        .filter(|stock| *stock <= MAX_STOCK)
        .ok_or_else(|| format!("must be between 0 and {MAX_STOCK}"))
}

fn parse_currency(currency: Option<&str>) -> Result<Currency, String> {
    currency.map_or(Ok(Currency::EUR), str::parse)
}

impl ItemInput {
    /// Validates every field, reporting all that fail.
    pub fn parse(&self) -> Result<NewItem, AppError> {
        let mut errors = FieldErrors::default();
        let name = errors.check("name", parse_name(&self.name));
        let description = errors.check("description", parse_description(&self.description));
        let location = errors.check("location", parse_location(&self.location));
        let stock = errors.check("stock", parse_stock(self.stock));
        let currency = errors.check("currency", parse_currency(self.currency.as_deref()));
        let price = currency.and_then(|c| errors.check("price", Price::parse(self.price, c)));
        errors.finish()?;
        match (name, description, location, stock, price) {
            (Some(name), Some(description), Some(location), Some(stock), Some(price)) => {
                Ok(NewItem {
                    category_id: self.category_id,
                    name,
                    description,
                    price,
                    stock,
                    location,
                })
            }
            _ => Err(AppError::invalid("item", "is incomplete")),
        }
    }
}

/// A partial update of an item: only the fields present change. Stock changes go through the
/// ledger ([`StockChangeInput`]), never through a patch.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ItemPatchInput {
    pub name: Option<String>,
    pub description: Option<String>,
    #[cfg_attr(feature = "ssr", schema(value_type = Option<String>, example = "24.99"))]
    pub price: Option<Decimal>,
    #[cfg_attr(feature = "ssr", schema(value_type = Option<String>, example = "EUR"))]
    pub currency: Option<String>,
    pub location: Option<String>,
}

/// A validated partial update; the price is checked against the item's currency by the service.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ItemPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub price: Option<Decimal>,
    pub currency: Option<Currency>,
    pub location: Option<String>,
}

impl ItemPatchInput {
    /// Validates the fields that are present.
    pub fn parse(&self) -> Result<ItemPatch, AppError> {
        let mut errors = FieldErrors::default();
        let patch = ItemPatch {
            name: self
                .name
                .as_deref()
                .and_then(|n| errors.check("name", parse_name(n))),
            description: self
                .description
                .as_deref()
                .and_then(|d| errors.check("description", parse_description(d))),
            price: self.price,
            currency: self
                .currency
                .as_deref()
                .and_then(|c| errors.check("currency", parse_currency(Some(c)))),
            location: self
                .location
                .as_deref()
                .and_then(|l| errors.check("location", parse_location(l))),
        };
        errors.finish()?;
        if patch == ItemPatch::default() {
            return Err(AppError::invalid("body", "names no field to change"));
        }
        Ok(patch)
    }
}

impl ItemPatch {
    /// The item after the patch, with its price re-validated in its (possibly new) currency.
    pub fn apply(&self, item: &Item) -> Result<Item, AppError> {
        let currency = self.currency.unwrap_or(item.currency);
        let amount = self.price.unwrap_or(item.price);
        let price = Price::parse(amount, currency)
            .map_err(|message| AppError::invalid("price", message))?;
        Ok(Item {
            name: self.name.clone().unwrap_or_else(|| item.name.clone()),
            description: self
                .description
                .clone()
                .unwrap_or_else(|| item.description.clone()),
            price: price.amount(),
            currency: price.currency(),
            location: self
                .location
                .clone()
                .unwrap_or_else(|| item.location.clone()),
            ..item.clone()
        })
    }
}

/// A change of stock as a client sends it: either a new level (`set`) or units to add or remove
/// (`adjust`), always with a reason for the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum StockChangeKind {
    Set,
    Adjust,
}

/// A change of stock as a client sends it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct StockChangeInput {
    pub kind: StockChangeKind,
    /// The new level (`set`) or the units to add, negative to remove (`adjust`).
    pub quantity: i64,
    pub reason: String,
}

/// A validated change of stock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StockChange {
    Set { level: u32, reason: String },
    Adjust { delta: i64, reason: String },
}

impl StockChangeInput {
    /// Validates the quantity and the reason.
    pub fn parse(&self) -> Result<StockChange, AppError> {
        let mut errors = FieldErrors::default();
        let reason = errors.check(
            "reason",
            clean_text(&self.reason, 1, MAX_REASON_CHARS, false),
        );
        let quantity = match self.kind {
            StockChangeKind::Set => errors.check("quantity", parse_stock(self.quantity)),
            StockChangeKind::Adjust => {
                let bound = i64::from(MAX_STOCK);
                if self.quantity == 0 || !(-bound..=bound).contains(&self.quantity) {
                    errors.add(
                        "quantity",
                        format!("must be between -{bound} and {bound}, and not 0"),
                    );
                }
                Some(0)
            }
        };
        errors.finish()?;
        let reason = reason.unwrap_or_default();
        Ok(match self.kind {
            StockChangeKind::Set => StockChange::Set {
                level: quantity.unwrap_or_default(),
                reason,
            },
            StockChangeKind::Adjust => StockChange::Adjust {
                delta: self.quantity,
                reason,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> ItemInput {
        ItemInput {
            category_id: CategoryId(1),
            name: "  Aurora 55\" OLED TV ".into(),
            description: "Deep blacks.\nFour HDMI ports.".into(),
            price: "1299.00".parse().unwrap(),
            currency: None,
            stock: 12,
            location: "Hall B, shelf 4".into(),
        }
    }

    fn fields(error: AppError) -> Vec<String> {
        match error {
            AppError::Validation { fields } => fields.into_keys().collect(),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn a_valid_item_is_trimmed_and_priced_in_euros_by_default() {
        let item = input().parse().unwrap();
        assert_eq!(item.name, "Aurora 55\" OLED TV");
        assert_eq!(item.price.currency(), Currency::EUR);
        assert_eq!(item.stock, 12);
    }

    #[test]
    fn every_bad_field_is_named_at_once() {
        let bad = ItemInput {
            name: "   ".into(),
            description: "x".repeat(MAX_DESCRIPTION_CHARS + 1),
            price: "-5".parse().unwrap(),
            stock: -1,
            location: "a\u{0}b".into(),
            ..input()
        };
        assert_eq!(
            fields(bad.parse().unwrap_err()),
            ["description", "location", "name", "price", "stock"]
        );
    }

    #[test]
    fn an_unknown_currency_is_named_not_the_price() {
        let bad = ItemInput {
            currency: Some("DOGE".into()),
            ..input()
        };
        assert_eq!(fields(bad.parse().unwrap_err()), ["currency"]);
    }

    #[test]
    fn an_empty_patch_is_refused_and_a_patch_revalidates_the_price() {
        assert_eq!(
            fields(ItemPatchInput::default().parse().unwrap_err()),
            ["body"]
        );
        let yen = ItemPatchInput {
            currency: Some("JPY".into()),
            ..Default::default()
        }
        .parse()
        .unwrap();
        let item = Item {
            id: "item-0-1".parse().unwrap(),
            category_id: CategoryId(1),
            name: "Kettle".into(),
            description: String::new(),
            price: "19.99".parse().unwrap(),
            currency: Currency::EUR,
            stock: 1,
            location: String::new(),
            created_at: DateTime::<Utc>::default(),
            updated_at: DateTime::<Utc>::default(),
        };
        assert_eq!(fields(yen.apply(&item).unwrap_err()), ["price"]);
    }

    #[test]
    fn stock_changes_need_a_reason_and_a_sane_quantity() {
        let change = |kind, quantity, reason: &str| StockChangeInput {
            kind,
            quantity,
            reason: reason.into(),
        };
        assert_eq!(
            change(StockChangeKind::Set, 40, "recount").parse().unwrap(),
            StockChange::Set {
                level: 40,
                reason: "recount".into()
            }
        );
        assert_eq!(
            fields(change(StockChangeKind::Adjust, 0, " ").parse().unwrap_err()),
            ["quantity", "reason"]
        );
        assert!(change(StockChangeKind::Set, -1, "x").parse().is_err());
        assert!(
            change(StockChangeKind::Adjust, -5, "broken")
                .parse()
                .is_ok()
        );
    }

    #[test]
    fn slugs_are_lowercase_words_joined_by_dashes() {
        assert_eq!(slugify("Home & Garden"), "home-garden");
        assert_eq!(slugify("  TVs -- 4K!  "), "tvs-4k");
        assert_eq!(slugify("Ünïcode Straße"), "ünïcode-straße");
        assert_eq!(slugify("***"), "");
    }

    #[test]
    fn pages_are_bounded() {
        assert!(PageRequest::parse(Some(0), None, 20).is_err());
        assert!(PageRequest::parse(None, Some(101), 20).is_err());
        assert!(PageRequest::parse(Some(1000), Some(100), 20).is_err());
        let page = PageRequest::parse(Some(3), Some(20), 20).unwrap();
        assert_eq!(page.offset(), 40);
    }
}
