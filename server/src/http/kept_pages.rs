//! Catalog pages and search answers for visitors who are not signed in, answered from what this
//! copy keeps (`app::catalog::kept_pages`: what is kept, and for how long).
//!
//! The layer sits outside the others but the brake: a kept answer skips tracing, the timeout and
//! the compression layer, and a page made for keeping is asked of them without `Accept-Encoding`.
//!
//! A kept answer is sent as it was made, byte for byte, in the encoding the client prefers: it is
//! compressed once per encoding, at its first answer in it, and never again. An item page or a
//! search answer, sent many times, is compressed harder than a single answer could afford; a
//! category page, made again every second, at the level of the shop's other answers. So a page
//! cannot carry a nonce of its own in each answer: a kept page's Content-Security-Policy allows
//! its inline scripts by their SHA-256 hashes instead. An answer from a kept page says how old it
//! is (`Age`). Only a plain `200` that sets no cookie is kept; a request with a session (cookie or
//! bearer token) is always answered for its user.

use std::convert::Infallible;
use std::io::Write as _;
use std::task::{Context, Poll};
use std::time::Instant;

use app::accounts::session::COOKIE_NAME;
use app::catalog::kept_pages::{Bodies, Keepable, KeptPage};
use app::request::cookie_in;
use app::state::AppState;
use app::ui::content_security_policy;
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use futures_util::TryFutureExt as _;
use futures_util::future::{BoxFuture, Either, MapOk, Ready, ready};
use http::header::{
    ACCEPT_ENCODING, AGE, AUTHORIZATION, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_SECURITY_POLICY,
    CONTENT_TYPE, SET_COOKIE, VARY,
};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use http_body::Body as _;
use sha2::{Digest, Sha256};
use tower::{Layer, Service};

use crate::config::HttpSettings;

/// The largest answer kept.
const MAX_PAGE_BYTES: usize = 512 * 1024;
/// Brotli's and gzip's levels for a kept answer sent many times (of 11 and of 9). Brotli's 5
/// makes the same size as its 6 for a quarter less CPU (a 21 KB page of item cards: 286 against
/// 396 µs).
const MANY_TIMES: Levels = Levels { brotli: 5, gzip: 6 };
/// Brotli's window, as a power of two (its default: with this crate, a smaller window than the
/// default made a 21 KB page at level 5 forty times slower).
const BROTLI_WINDOW_BITS: u32 = 22;

/// How hard a kept answer is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Levels {
    brotli: u32,
    gzip: u32,
}

/// How hard a kept answer of `kind` is compressed when the shop's other answers are at
/// `live_level`: a category page lives a second, so it gets their level (at brotli's 6, the
/// category pages' compression was about a seventh of the shop's CPU in a 1× run that fell
/// behind); the others, sent for a minute, get more.
fn levels(kind: Keepable, live_level: u32) -> Levels {
    match kind {
        Keepable::Listing => Levels {
            brotli: live_level,
            gzip: live_level,
        },
        Keepable::Item(_) | Keepable::Search => MANY_TIMES,
    }
}

/// What the layer needs: the shop's state and whether (and from what size) it compresses.
#[derive(Clone)]
pub struct Keeping {
    pub state: AppState,
    /// The smallest body compressed; `None` when the shop does not compress.
    pub compress_from: Option<usize>,
    /// The level of the shop's other answers (`http.compression_level`).
    pub live_level: u32,
}

impl Keeping {
    pub fn new(state: AppState, settings: &HttpSettings) -> Self {
        Keeping {
            state,
            compress_from: (settings.compression_level > 0)
                .then_some(usize::from(settings.compression_min_bytes)),
            live_level: settings.compression_level,
        }
    }
}

/// Which kept answer a request asks for: a visitor's GET (no session of any kind) of a catalog
/// page or a search.
fn keepable(request: &Request) -> Option<Keepable> {
    let headers = request.headers();
    if request.method() != Method::GET
        || headers.contains_key(AUTHORIZATION)
        || cookie_in(headers, COOKIE_NAME).is_some()
    {
        return None;
    }
    Keepable::of(request.uri().path(), request.uri().query())
}

/// A body's encodings, in the order the shop prefers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Brotli,
    Gzip,
    Identity,
}

/// The encoding to answer in: brotli or gzip when `Accept-Encoding` takes it (a `q` of 0
/// refuses one), the body as it is otherwise.
fn preferred(headers: &HeaderMap) -> Encoding {
    let accepted = |name: &str| {
        headers
            .get_all(ACCEPT_ENCODING)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .any(|offer| {
                let mut parts = offer.split(';').map(str::trim);
                parts.next().is_some_and(|n| n.eq_ignore_ascii_case(name))
                    && parts.all(|p| {
                        p.strip_prefix("q=")
                            .and_then(|q| q.parse::<f32>().ok())
                            .is_none_or(|q| q > 0.0)
                    })
            })
    };
    if accepted("br") {
        Encoding::Brotli
    } else if accepted("gzip") {
        Encoding::Gzip
    } else {
        Encoding::Identity
    }
}

/// The inline scripts of an HTML page (each `<script>` without a `src`), as CSP sources
/// (`'sha256-…'`, the hash of the script's text exactly as sent).
fn inline_script_hashes(html: &str) -> Vec<String> {
    let mut hashes = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<script") {
        rest = &rest[start + "<script".len()..];
        let Some(tag_end) = rest.find('>') else { break };
        let attributes = &rest[..tag_end];
        rest = &rest[tag_end + 1..];
        let Some(text_end) = rest.find("</script") else {
            break;
        };
        if !attributes.contains(" src=") {
            let digest = Sha256::digest(&rest.as_bytes()[..text_end]);
            hashes.push(format!(
                "'sha256-{}'",
                base64::engine::general_purpose::STANDARD.encode(digest)
            ));
        }
        rest = &rest[text_end..];
    }
    hashes
}

/// The headers a kept answer is sent with: a page's policy names its scripts' hashes, not the
/// rendering's nonce (it is sent to many).
fn kept_headers(mut headers: HeaderMap, body: &[u8]) -> Option<HeaderMap> {
    headers.remove(CONTENT_LENGTH);
    if headers.contains_key(CONTENT_SECURITY_POLICY) {
        let html = std::str::from_utf8(body).ok()?;
        let policy = content_security_policy(&inline_script_hashes(html).join(" "));
        headers.insert(
            CONTENT_SECURITY_POLICY,
            HeaderValue::from_str(&policy).ok()?,
        );
    }
    Some(headers)
}

fn brotli(body: &[u8], levels: Levels) -> std::io::Result<Bytes> {
    let mut writer =
        brotli::CompressorWriter::new(Vec::new(), 4096, levels.brotli, BROTLI_WINDOW_BITS);
    writer.write_all(body)?;
    Ok(writer.into_inner().into())
}

fn gzip(body: &[u8], levels: Levels) -> std::io::Result<Bytes> {
    let mut encoder =
        flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(levels.gzip));
    encoder.write_all(body)?;
    Ok(encoder.finish()?.into())
}

/// The body, marked compressible when the shop compresses a body of its size and type.
fn bodies(keeping: &Keeping, headers: &HeaderMap, body: Bytes) -> Bodies {
    let text = headers
        .get(CONTENT_TYPE)
        .and_then(|t| t.to_str().ok())
        .is_some_and(|t| t.starts_with("text/") || t.starts_with("application/json"));
    let compressible = text
        && !headers.contains_key(CONTENT_ENCODING)
        && keeping.compress_from.is_some_and(|from| body.len() >= from);
    Bodies::new(body, compressible)
}

/// The kept body in `encoding` (compressed at `levels` the first time it is asked for), and the
/// encoding's name; the body as it is when it is not compressed.
fn encoded(bodies: &Bodies, encoding: Encoding, levels: Levels) -> (Bytes, Option<&'static str>) {
    let compressed = |cell: &std::sync::OnceLock<Option<Bytes>>,
                      compress: fn(&[u8], Levels) -> std::io::Result<Bytes>| {
        cell.get_or_init(|| {
            compress(&bodies.identity, levels)
                .inspect_err(
                    |error| tracing::error!(%error, "a kept answer could not be compressed"),
                )
                .ok()
        })
        .clone()
    };
    let chosen = match encoding {
        _ if !bodies.compressible => None,
        Encoding::Brotli => compressed(&bodies.brotli, brotli).map(|body| (body, "br")),
        Encoding::Gzip => compressed(&bodies.gzip, gzip).map(|body| (body, "gzip")),
        Encoding::Identity => None,
    };
    match chosen {
        Some((body, name)) => (body, Some(name)),
        None => (bodies.identity.clone(), None),
    }
}

/// A kept page as one answer, in `encoding` when it is compressed.
fn answer(keeping: &Keeping, kept: &KeptPage, encoding: Encoding) -> Response {
    let mut headers = kept.headers.clone();
    let (body, name) = encoded(
        &kept.bodies,
        encoding,
        levels(kept.kind, keeping.live_level),
    );
    if let Some(name) = name {
        headers.insert(CONTENT_ENCODING, HeaderValue::from_static(name));
    }
    // The compression layer marks what it would compress, whatever the request took.
    let marked = headers
        .get_all(VARY)
        .iter()
        .any(|value| value.as_bytes().eq_ignore_ascii_case(b"accept-encoding"));
    if kept.bodies.compressible && !marked {
        headers.append(VARY, HeaderValue::from_static("accept-encoding"));
    }
    headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
    let mut response = Response::new(Body::from(body));
    *response.headers_mut() = headers;
    response
}

impl<S> Layer<S> for Keeping {
    type Service = Kept<S>;

    fn layer(&self, inner: S) -> Kept<S> {
        Kept {
            keeping: self.clone(),
            inner,
        }
    }
}

/// The service behind [`Keeping`]: answers a visitor's catalog page or search from the kept
/// answer when there is one; makes it otherwise, keeps it, and answers as a kept one would.
#[derive(Clone)]
pub struct Kept<S> {
    keeping: Keeping,
    inner: S,
}

type Answer = Result<Response, Infallible>;

/// An answer: kept, passed through from the layers inside, or made to be kept.
pub type KeptAnswer<F, B> = Either<
    Either<Ready<Answer>, MapOk<F, fn(http::Response<B>) -> Response>>,
    BoxFuture<'static, Answer>,
>;

impl<S, B> Service<Request> for Kept<S>
where
    S: Service<Request, Response = http::Response<B>, Error = Infallible>,
    S::Future: Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = KeptAnswer<S::Future, B>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let Some(kind) = keepable(&request) else {
            let passed: fn(http::Response<B>) -> Response = plain;
            return Either::Left(Either::Right(self.inner.call(request).map_ok(passed)));
        };
        let encoding = preferred(request.headers());
        let address = request.uri().path_and_query().map_or_else(
            || request.uri().path().to_owned(),
            |p| p.as_str().to_owned(),
        );
        if let Some(kept) = self.keeping.state.pages.get(&address) {
            let mut response = answer(&self.keeping, &kept, encoding);
            let age = HeaderValue::from(kept.at.elapsed().as_secs());
            response.headers_mut().insert(AGE, age);
            return Either::Left(Either::Left(ready(Ok(response))));
        }
        // Made in its plain form: it is kept so, and compressed here for each encoding asked.
        request.headers_mut().remove(ACCEPT_ENCODING);
        let making = Making {
            keeping: self.keeping.clone(),
            kind,
            encoding,
            address,
            began: Instant::now(),
        };
        let made = self.inner.call(request);
        Either::Right(Box::pin(async move {
            let Ok(response) = made.await;
            Ok(making.keep(plain(response)).await)
        }))
    }
}

/// Any answer, with the shop's body type.
fn plain<B>(response: http::Response<B>) -> Response
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    response.map(Body::new)
}

/// A page being made to be kept: where it is kept, and how the request that asked for it takes
/// it.
struct Making {
    keeping: Keeping,
    kind: Keepable,
    encoding: Encoding,
    address: String,
    /// When it began to be made.
    began: Instant,
}

impl Making {
    /// Keeps the page made, when it is a plain `200` that sets no cookie, complete and small
    /// enough, and answers with it as a kept page is answered.
    async fn keep(self, response: Response) -> Response {
        if response.status() != StatusCode::OK || response.headers().contains_key(SET_COOKIE) {
            return response;
        }
        // Made in full and sized (`whole_bodies`): a streamed or large answer goes as it is.
        let size = response.body().size_hint().exact();
        if size.is_none_or(|size| size > MAX_PAGE_BYTES as u64) {
            return response;
        }
        let (parts, body) = response.into_parts();
        let body = match axum::body::to_bytes(body, MAX_PAGE_BYTES).await {
            Ok(body) => body,
            Err(error) => {
                tracing::error!(%error, "a page or search answer could not be read");
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            }
        };
        let Some(headers) = kept_headers(parts.headers.clone(), &body) else {
            return Response::from_parts(parts, Body::from(body));
        };
        let page = KeptPage {
            kind: self.kind,
            at: Instant::now(),
            bodies: bodies(&self.keeping, &headers, body),
            headers,
        };
        let response = answer(&self.keeping, &page, self.encoding);
        self.keeping.state.pages.put(self.address, self.began, page);
        response
    }
}

#[cfg(test)]
mod tests {
    use app::shard::id::ItemId;

    use super::*;

    fn offering(accept: &str) -> Encoding {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT_ENCODING, HeaderValue::from_str(accept).unwrap());
        preferred(&headers)
    }

    #[test]
    fn category_pages_are_compressed_at_the_live_level_and_the_others_harder() {
        let listing = levels(Keepable::Listing, 1);
        assert_eq!((listing.brotli, listing.gzip), (1, 1));
        assert_eq!(levels(Keepable::Search, 1), MANY_TIMES);
        let item: ItemId = "item-1-7".parse().unwrap();
        assert_eq!(levels(Keepable::Item(item), 1), MANY_TIMES);
        let page = "<html><body>kept page, kept page, kept page</body></html>".repeat(400);
        let fast = brotli(page.as_bytes(), listing).unwrap();
        let hard = brotli(page.as_bytes(), MANY_TIMES).unwrap();
        assert!(hard.len() <= fast.len(), "{} > {}", hard.len(), fast.len());
        let mut decoded = Vec::new();
        brotli::BrotliDecompress(&mut fast.as_ref(), &mut decoded).unwrap();
        assert_eq!(decoded, page.as_bytes());
    }

    #[test]
    fn brotli_is_preferred_then_gzip_and_a_zero_q_refuses() {
        assert_eq!(offering("gzip, deflate, br, zstd"), Encoding::Brotli);
        assert_eq!(offering("gzip;q=1.0, br;q=0"), Encoding::Gzip);
        assert_eq!(offering("deflate"), Encoding::Identity);
        assert_eq!(offering("BR"), Encoding::Brotli);
        assert_eq!(preferred(&HeaderMap::new()), Encoding::Identity);
    }

    #[test]
    fn each_inline_script_is_hashed_as_sent_and_a_script_with_a_source_is_not() {
        let html = "<head><script nonce=\"n\">let a = 1;</script>\
                    <script type=\"module\" src=\"/pkg/a.js\"></script>\
                    <p>&lt;script&gt;</p><script>\"</script></body>";
        let hashes = inline_script_hashes(html);
        let hash = |text: &str| {
            format!(
                "'sha256-{}'",
                base64::engine::general_purpose::STANDARD.encode(Sha256::digest(text))
            )
        };
        assert_eq!(hashes, vec![hash("let a = 1;"), hash("\"")]);
    }
}
