//! The load scenarios, small: the flash sale end to end (cart, checkout, QR payment through the
//! sandbox's bank, placement), with buyers arriving faster than they are served.

use std::time::Duration;

use server::bench::flash_sale::{FlashSaleOptions, sale};

use crate::helpers::{drop_test_data, fresh_settings, migrate_fresh};

#[tokio::test]
async fn a_flash_sale_sells_exactly_its_stock_and_tells_everyone_else() {
    let settings = fresh_settings();
    migrate_fresh(&settings).await;
    let options = FlashSaleOptions {
        buyers: 300,
        stock: 20,
        arrival: Duration::from_secs(2),
        connections: 100,
    };
    let report = sale(&settings, options).await.expect("the sale runs");
    drop_test_data(&settings).await;
    assert!(report.holds(), "{report}");
    assert_eq!(report.placed, 20, "{report}");
    assert_eq!(report.sold_out, 280, "{report}");
}
