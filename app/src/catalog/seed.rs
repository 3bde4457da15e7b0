//! The demo catalog: realistic categories and items, generated deterministically (the same seed
//! gives the same shop), written in batches straight to the shards. Each batch is one transaction
//! that writes the items, their initial ledger rows and their events together, like any other
//! change, so the invariants hold for seeded data too.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;

use super::model::{Category, CategoryInput};
use super::service;
use crate::error::AppError;
use crate::state::AppState;

/// Items written per transaction.
const BATCH: usize = 500;

/// One demo category: its name, what it sells, who makes it, and its price range in euros.
struct Kind {
    name: &'static str,
    nouns: &'static [&'static str],
    brands: &'static [&'static str],
    prices: (u32, u32),
}

const KINDS: &[Kind] = &[
    Kind {
        name: "Televisions",
        nouns: &["OLED TV", "QLED TV", "LED TV", "Projector", "Soundbar"],
        brands: &["Lumina", "Vistara", "Orion", "Polaris"],
        prices: (149, 3499),
    },
    Kind {
        name: "Laptops",
        nouns: &[
            "Ultrabook",
            "Gaming Laptop",
            "Notebook",
            "Convertible",
            "Workstation",
        ],
        brands: &["Kestrel", "Nimbus", "Corvid", "Atlas"],
        prices: (299, 3999),
    },
    Kind {
        name: "Smartphones",
        nouns: &["Smartphone", "Phone", "Foldable Phone", "Rugged Phone"],
        brands: &["Nova", "Pixelon", "Zephyr", "Aurora"],
        prices: (99, 1899),
    },
    Kind {
        name: "Headphones",
        nouns: &[
            "Wireless Headphones",
            "Earbuds",
            "Studio Headphones",
            "Noise-Cancelling Headphones",
        ],
        brands: &["Sonic", "Echo", "Resonance", "Hush"],
        prices: (19, 549),
    },
    Kind {
        name: "Cameras",
        nouns: &[
            "Mirrorless Camera",
            "Action Camera",
            "Compact Camera",
            "Zoom Lens",
            "Tripod",
        ],
        brands: &["Lensa", "Shutterline", "Apex", "Focal"],
        prices: (39, 4299),
    },
    Kind {
        name: "Gaming",
        nouns: &[
            "Console",
            "Controller",
            "Gaming Headset",
            "Racing Wheel",
            "Gaming Chair",
        ],
        brands: &["Respawn", "Quest", "Vortex", "Titan"],
        prices: (29, 699),
    },
    Kind {
        name: "Kitchen",
        nouns: &[
            "Espresso Machine",
            "Air Fryer",
            "Blender",
            "Stand Mixer",
            "Kettle",
            "Toaster",
        ],
        brands: &["Brava", "Copperleaf", "Mistral", "Hearth"],
        prices: (19, 899),
    },
    Kind {
        name: "Home & Garden",
        nouns: &[
            "Robot Vacuum",
            "Lawn Mower",
            "Garden Hose",
            "Desk Lamp",
            "Air Purifier",
        ],
        brands: &["Verdant", "Homely", "Cedar", "Breeze"],
        prices: (15, 1299),
    },
    Kind {
        name: "Toys",
        nouns: &[
            "Building Set",
            "Puzzle",
            "Plush Bear",
            "Remote Control Car",
            "Board Game",
        ],
        brands: &["Kiddo", "Wonderbox", "Playfield", "Bricksmith"],
        prices: (9, 249),
    },
    Kind {
        name: "Sports & Outdoors",
        nouns: &[
            "Running Shoes",
            "Tent",
            "Yoga Mat",
            "Mountain Bike",
            "Backpack",
            "Dumbbell Set",
        ],
        brands: &["Summit", "Stride", "Trailhead", "Peak"],
        prices: (12, 1999),
    },
    Kind {
        name: "Books",
        nouns: &[
            "Cookbook",
            "Novel",
            "Travel Guide",
            "Atlas",
            "Comic Collection",
        ],
        brands: &["Quill", "Lantern Press", "Folio", "Marginalia"],
        prices: (7, 89),
    },
    Kind {
        name: "Fashion",
        nouns: &[
            "Winter Jacket",
            "Sneakers",
            "Wool Scarf",
            "Leather Belt",
            "Hoodie",
            "Watch",
        ],
        brands: &["Northwind", "Atelier", "Loom", "Urbane"],
        prices: (15, 599),
    },
];

const ADJECTIVES: &[&str] = &[
    "Pro", "Max", "Lite", "Ultra", "Classic", "Plus", "Air", "Edge", "Prime", "Eco", "Mini",
    "Elite",
];
const COLOURS: &[&str] = &[
    "black",
    "white",
    "silver",
    "midnight blue",
    "forest green",
    "red",
    "graphite",
    "sand",
];
const PRAISE: &[&str] = &[
    "Built to last and easy to love.",
    "A Black Friday favourite, at its lowest price of the year.",
    "Quiet, efficient and beautifully finished.",
    "Chosen by our buyers for its value.",
    "Compact enough for any home, powerful enough for every day.",
    "Backed by a two-year warranty.",
];
const WAREHOUSES: &[&str] = &["Berlin", "Lyon", "Milan", "Rotterdam", "Warsaw"];

/// What seeding did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedReport {
    pub categories: usize,
    pub items: u64,
}

/// Whether the shop has no categories yet.
pub async fn is_empty(state: &AppState) -> Result<bool, AppError> {
    Ok(service::list_categories(state).await?.is_empty())
}

/// Creates the demo categories (reusing those that exist) and `items` items spread over them.
/// `progress` is called with the number of items written so far.
pub async fn seed(
    state: &AppState,
    items: u64,
    seed: u64,
    progress: impl Fn(u64),
) -> Result<SeedReport, AppError> {
    let mut categories = Vec::new();
    for kind in KINDS {
        let input = CategoryInput {
            name: kind.name.into(),
        };
        let category = match service::create_category(state, &input).await {
            Err(AppError::Conflict { .. }) => {
                let slug = input.parse()?.slug;
                service::category_by_slug(state, &slug).await?
            }
            other => other?,
        };
        categories.push(category);
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let mut written = 0;
    let per_category = items.div_ceil(categories.len() as u64);
    for (kind, category) in KINDS.iter().zip(&categories) {
        let count = per_category.min(items - written);
        let mut left = count;
        while left > 0 {
            let batch = left.min(BATCH as u64);
            let rows = (0..batch)
                .map(|_| generate(kind, &mut rng))
                .collect::<Vec<_>>();
            insert_batch(state, category, &rows).await?;
            left -= batch;
            written += batch;
            progress(written);
        }
    }
    Ok(SeedReport {
        categories: categories.len(),
        items: written,
    })
}

/// One generated item.
struct Generated {
    name: String,
    description: String,
    price: Decimal,
    stock: u32,
    location: String,
}

fn pick<'a>(rng: &mut StdRng, list: &[&'a str]) -> &'a str {
    list[rng.random_range(0..list.len())]
}

fn generate(kind: &Kind, rng: &mut StdRng) -> Generated {
    let brand = pick(rng, kind.brands);
    let noun = pick(rng, kind.nouns);
    let adjective = pick(rng, ADJECTIVES);
    let model = rng.random_range(100..1000);
    let colour = pick(rng, COLOURS);
    let name = format!("{brand} {noun} {adjective} {model}");
    let description = format!(
        "The {brand} {noun} {adjective} in {colour}. {} {}",
        pick(rng, PRAISE),
        pick(rng, PRAISE)
    );
    // Prices end in .99 or .00, like a shop's; cents keep them exact decimals.
    let euros = rng.random_range(kind.prices.0..=kind.prices.1);
    let cents = if rng.random_bool(0.7) { 99 } else { 0 };
    let price = Decimal::new(i64::from(euros) * 100 + cents, 2);
    // Most items are well stocked; some are nearly gone and a few are sold out.
    let stock = match rng.random_range(0..100) {
        0..=2 => 0,
        3..=12 => rng.random_range(1..=5),
        _ => rng.random_range(10..=500),
    };
    let location = format!(
        "{} warehouse, aisle {}, shelf {}",
        pick(rng, WAREHOUSES),
        rng.random_range(1..=40),
        rng.random_range(1..=12)
    );
    Generated {
        name,
        description,
        price,
        stock,
        location,
    }
}

/// Writes one batch to the category's shard in one transaction: the items, then an event and an
/// initial ledger row for every item that has no ledger row yet (exactly this batch's).
async fn insert_batch(
    state: &AppState,
    category: &Category,
    rows: &[Generated],
) -> Result<(), AppError> {
    let shard = state.shards.shard(category.shard)?;
    let db = |error| AppError::from(shard.error(error));
    let mut tx = shard.begin().await?;
    let mut insert = sqlx::QueryBuilder::new(
        "INSERT INTO items (category_id, name, description, price, currency, stock, location) ",
    );
    insert.push_values(rows, |mut row, item| {
        row.push_bind(category.id.0)
            .push_bind(&item.name)
            .push_bind(&item.description)
            .push_bind(item.price)
            .push_bind("EUR")
            .push_bind(item.stock)
            .push_bind(&item.location);
    });
    insert.build().execute(&mut *tx).await.map_err(db)?;
    sqlx::query(
        "INSERT INTO outbox (payload) \
         SELECT JSON_OBJECT('type', 'item_changed', 'item_id', CONCAT('item-', ?, '-', i.id), 'category_id', i.category_id) \
         FROM items i LEFT JOIN stock_movements m ON m.item_id = i.id \
         WHERE i.category_id = ? AND m.id IS NULL",
    )
    .bind(category.shard.number())
    .bind(category.id.0)
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    sqlx::query(
        "INSERT INTO stock_movements (item_id, delta, stock_after, cause, reason, created_at) \
         SELECT i.id, i.stock, i.stock, 'admin_set', 'initial stock', i.created_at \
         FROM items i LEFT JOIN stock_movements m ON m.item_id = i.id \
         WHERE i.category_id = ? AND m.id IS NULL",
    )
    .bind(category.id.0)
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    tx.commit().await.map_err(db)?;
    Ok(())
}
