//! Answers whose whole body is ready when the handler returns go out with a `Content-Length`.
//!
//! A server-rendered page (`SsrMode::Async`) is rendered in full before its first byte, yet
//! Leptos hands it over as a stream, which hyper would send chunked and the compression layer
//! could not size. Here the frames that are ready at once are taken: when that is the whole
//! body, the answer gets a length (one write, and `http.compression_min_bytes` can leave a small
//! page uncompressed); when a frame is still pending (a page streamed while it renders), what
//! was taken goes first and the rest streams on as before.

use axum::body::{Body, Bytes};
use axum::response::Response;
use futures_util::FutureExt;
use futures_util::stream::{self, StreamExt};
use http_body::{Body as _, Frame};
use http_body_util::{BodyExt, BodyStream, StreamBody};

/// The most a body is gathered to: a larger one streams on as it came.
const MAX_GATHERED: usize = 1 << 20;

/// Gives a body that is complete at once a known length (a `tower::util::MapResponseLayer`).
pub fn sized_when_complete(response: Response) -> Response {
    if response.body().size_hint().exact().is_some() {
        return response;
    }
    let (parts, mut body) = response.into_parts();
    let mut gathered: Vec<Bytes> = Vec::new();
    let mut length = 0;
    // What ended the gathering other than the body's end: a frame that is not data (trailers)
    // or an error; it goes out after the gathered data.
    let mut unusual = None;
    while let Some(next) = body.frame().now_or_never() {
        match next {
            None => return Response::from_parts(parts, Body::from(gathered.concat())),
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => {
                    length += data.len();
                    gathered.push(data);
                    if length > MAX_GATHERED {
                        break;
                    }
                }
                Err(frame) => {
                    unusual = Some(Ok(frame));
                    break;
                }
            },
            Some(Err(error)) => {
                unusual = Some(Err(error));
                break;
            }
        }
    }
    let frames = stream::iter(gathered.into_iter().map(|data| Ok(Frame::data(data))))
        .chain(stream::iter(unusual))
        .chain(BodyStream::new(body));
    Response::from_parts(parts, Body::new(StreamBody::new(frames)))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::Router;
    use axum::extract::Request;
    use axum::routing::get;
    use tower::ServiceExt;
    use tower::util::MapResponseLayer;

    use super::*;

    fn router() -> Router {
        Router::new()
            .route(
                "/ready",
                get(|| async {
                    let parts = ["<p>one</p>", "<p>two</p>"].map(Ok::<_, axum::Error>);
                    Body::from_stream(stream::iter(parts))
                }),
            )
            .route(
                "/streamed",
                get(|| async {
                    let first = stream::once(async { Ok::<_, axum::Error>("<p>now</p>") });
                    let later = stream::once(async {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        Ok("<p>later</p>")
                    });
                    Body::from_stream(first.chain(later))
                }),
            )
            .layer(MapResponseLayer::new(sized_when_complete))
    }

    async fn get_path(path: &str) -> (Option<u64>, String) {
        let request = Request::get(path).body(Body::empty()).unwrap();
        let response = router().oneshot(request).await.unwrap();
        let size = response.body().size_hint().exact();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (size, String::from_utf8(bytes.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn a_body_ready_at_once_goes_whole_with_its_length() {
        assert_eq!(
            get_path("/ready").await,
            (Some(20), "<p>one</p><p>two</p>".to_owned())
        );
    }

    #[tokio::test]
    async fn a_body_still_coming_streams_on_with_nothing_lost() {
        assert_eq!(
            get_path("/streamed").await,
            (None, "<p>now</p><p>later</p>".to_owned())
        );
    }
}
