//! The payment's QR code as an SVG image: the bank app scans it from the payment page.
//!
//! The symbol is encoded by `fast_qr` (error correction level M, the smallest version that holds
//! the payload, the mask with the lowest penalty), about five times faster than the encoder it
//! replaced: choosing the mask was the payment request's largest cost. The image draws each
//! row's runs of dark modules as one rectangle each, inside the standard four-module quiet zone.

use std::fmt::Write;

use fast_qr::ECL;
use fast_qr::qr::QRBuilder;

use crate::error::AppError;

/// The light border around the symbol, in modules (what the QR standard asks for).
const QUIET_ZONE: usize = 4;
/// The image's drawn size in pixels; the page's style may scale it.
const PIXELS: usize = 240;

/// The QR code of `payload` as an SVG image.
pub fn svg(payload: &str) -> Result<String, AppError> {
    let code = QRBuilder::new(payload)
        .ecl(ECL::M)
        .build()
        .map_err(|error| AppError::internal(format!("QR code not made: {error:?}")))?;
    let size = code.size;
    let side = size + 2 * QUIET_ZONE;
    let mut out = String::with_capacity(size * size / 2 + 256);
    // Writing to a String cannot fail.
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {side} {side}\" width=\"{PIXELS}\" \
         height=\"{PIXELS}\" shape-rendering=\"crispEdges\"><rect width=\"{side}\" height=\"{side}\" \
         fill=\"#fff\"/><path fill=\"#000\" d=\""
    );
    for y in 0..size {
        let row = &code[y];
        let mut x = 0;
        while x < size {
            if !row[x].value() {
                x += 1;
                continue;
            }
            let start = x;
            while x < size && row[x].value() {
                x += 1;
            }
            let _ = write!(
                out,
                "M{},{}h{}v1h-{}z",
                start + QUIET_ZONE,
                y + QUIET_ZONE,
                x - start,
                x - start
            );
        }
    }
    out.push_str("\"/></svg>");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The dark rectangles the image draws, as (x, y, width) in modules, and its side.
    fn rectangles(svg: &str) -> (usize, Vec<(usize, usize, usize)>) {
        let side = svg
            .split("viewBox=\"0 0 ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .and_then(|side| side.parse().ok())
            .expect("a square viewBox");
        let path = svg
            .split(" d=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("a path");
        let runs = path
            .split('M')
            .filter(|run| !run.is_empty())
            .map(|run| {
                let (at, rest) = run.split_once('h').expect("M x,y h");
                let (x, y) = at.split_once(',').expect("x,y");
                let width = rest.split('v').next().expect("h width v");
                (
                    x.parse().expect("x"),
                    y.parse().expect("y"),
                    width.parse().expect("width"),
                )
            })
            .collect();
        (side, runs)
    }

    /// Rasterizes the image (4 pixels a module) and reads it as a scanner would.
    fn scan(svg: &str) -> String {
        let (side, runs) = rectangles(svg);
        let scale = 4;
        let mut dark = vec![false; side * side];
        for (x, y, width) in runs {
            for module in x..x + width {
                dark[y * side + module] = true;
            }
        }
        let mut image =
            rqrr::PreparedImage::prepare_from_greyscale(side * scale, side * scale, |x, y| {
                if dark[(y / scale) * side + x / scale] {
                    0
                } else {
                    255
                }
            });
        let grids = image.detect_grids();
        assert_eq!(grids.len(), 1, "one QR code in the image");
        grids[0].decode().expect("a readable QR code").1
    }

    #[test]
    fn the_image_scans_back_to_the_payload() {
        for payload in [
            "S0123",
            "00020101021226580014DE.SURGE.PAY0136a1b2c3d4-0000-4000-8000-0123456789ab52045311\
             5303978540542.505802DE5910Surge Shop6006Berlin62290525S0123456789abcdef01234567\
             6304ABCD",
        ] {
            assert_eq!(scan(&svg(payload).unwrap()), payload);
        }
    }

    #[test]
    fn the_symbol_keeps_its_quiet_zone() {
        let image = svg("S0123456789").unwrap();
        let (side, runs) = rectangles(&image);
        assert!(!runs.is_empty());
        for (x, y, width) in runs {
            assert!(x >= QUIET_ZONE && y >= QUIET_ZONE);
            assert!(x + width <= side - QUIET_ZONE && y < side - QUIET_ZONE);
        }
    }
}
