//! A service's event store as a read-only HTTP feed, and its client.
//!
//! Databases are private to their service, so a projection that must catch up (or
//! rebuild) from a store reads it through the service: `GET /events` pages through the
//! store in commit order, the same gap-safe way the relay reads it (see
//! [`crate::store`]), and `GET /events/count` says how many events lie after a cursor.
//!
//! ```text
//! GET /events?after_tx=0&after_position=0&limit=500
//! → {"events": [{"cursor": {"tx_id": 741, "position": 3}, "event": {<EventEnvelope>}}, ..],
//!    "remaining": 0}
//! ```
//!
//! `remaining` estimates the committed events after the page, for lag metrics: only
//! when the page is full (otherwise it is 0, the feed's end), as the highest position
//! in the store less the page's last. Commit order is not position order, so the
//! estimate is off by the appends in flight, and positions that rolled-back appends
//! drew count too; a full page says at least 1, so the reader asks again rather than
//! stopping short. The store's highest position is one step down an index; a count is
//! as dear as what it counts (in a replay, counting 12,000 events took PostgreSQL
//! longer than reading a page of 2,000 did). `GET /events/count` counts exactly
//! (progress bars ask once).
//!
//! The response's headers say the same before its body: `feed-remaining`, and
//! `feed-last-tx` / `feed-last-position`, the cursor of the page's last event. A
//! reader catching up asks for the next page as soon as it has them
//! ([`PendingPage::following`]), so the service builds that page while the reader
//! parses this one.

use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{AppendHeaders, IntoResponse};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;

use crate::envelope::EventEnvelope;
use crate::http::ApiError;
use crate::payload::{Payload, RawPayload};
use crate::store::{self, Cursor};

mod shared;
pub use shared::{PageResult, Slot};

/// The most events one page holds.
pub const MAX_PAGE: i64 = 5_000;

/// One event of the feed, with its place in the store's commit order. Its payload
/// stays JSON text from the database to the reader's decoder ([`crate::payload`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedEvent {
    pub cursor: Cursor,
    pub event: EventEnvelope<RawPayload>,
}

impl FeedEvent {
    /// The feed event of an envelope whose payload is a tree (tests, tools).
    pub fn from_envelope(cursor: Cursor, event: EventEnvelope) -> Self {
        Self {
            cursor,
            event: event.map_payload(RawPayload::from_value),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedPage {
    pub events: Vec<FeedEvent>,
    /// Committed events after the last one of this page, estimated (see the module's
    /// doc): 0 when the page is not full, at least 1 when it is.
    pub remaining: i64,
}

impl FeedPage {
    /// Where the page after this one starts, when one follows (the page is full).
    pub fn following(&self) -> Option<Cursor> {
        let last = self.events.last()?;
        (self.remaining > 0).then_some(last.cursor)
    }
}

#[derive(Debug, Clone, Copy, Deserialize)]
struct PageQuery {
    #[serde(default)]
    after_tx: i64,
    #[serde(default)]
    after_position: i64,
    limit: Option<i64>,
}

impl PageQuery {
    fn after(&self) -> Cursor {
        Cursor {
            tx_id: self.after_tx,
            position: self.after_position,
        }
    }
}

#[derive(Clone)]
struct FeedState {
    service: String,
    pool: PgPool,
}

/// `GET /events` and `GET /events/count` over `pool`'s store, for `service`.
pub fn routes(service: &str, pool: PgPool) -> Router {
    let state = FeedState {
        service: service.to_string(),
        pool,
    };
    Router::new()
        .route("/events", get(page))
        .route("/events/count", get(count))
        .with_state(state)
}

/// The headers announcing a page's end and what follows it.
const LAST_TX: &str = "feed-last-tx";
const LAST_POSITION: &str = "feed-last-position";
const REMAINING: &str = "feed-remaining";

async fn page(
    State(feed): State<FeedState>,
    Query(query): Query<PageQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let limit = query.limit.unwrap_or(500);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "limit must be between 1 and {MAX_PAGE}"
        )));
    }
    let (rows, highest) = tokio::try_join!(
        store::read_committed_after_as::<RawPayload>(&feed.pool, query.after(), limit),
        store::highest_position(&feed.pool),
    )
    .map_err(|err| ApiError::Unavailable(err.to_string()))?;
    let remaining = match rows.last() {
        Some(last) if rows.len() as i64 == limit => (highest - last.cursor.position).max(1),
        _ => 0,
    };
    let events: Vec<FeedEvent> = rows
        .into_iter()
        .map(|row| FeedEvent {
            cursor: row.cursor,
            event: row.into_envelope(&feed.service),
        })
        .collect();
    let mut headers = vec![(REMAINING, remaining.to_string())];
    if let Some(last) = events.last() {
        headers.push((LAST_TX, last.cursor.tx_id.to_string()));
        headers.push((LAST_POSITION, last.cursor.position.to_string()));
    }
    Ok((AppendHeaders(headers), Json(FeedPage { events, remaining })))
}

async fn count(
    State(feed): State<FeedState>,
    Query(query): Query<PageQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let count = store::count_committed_after(&feed.pool, query.after())
        .await
        .map_err(|err| ApiError::Unavailable(err.to_string()))?;
    Ok(Json(serde_json::json!({ "count": count })))
}

#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("feed {url} unreachable: {source}")]
    Unreachable { url: String, source: reqwest::Error },
    #[error("feed {url} answered {status}")]
    Status { url: String, status: u16 },
    #[error("the reader of feed {url} stopped before the feed's end")]
    Interrupted { url: String },
    /// The failure of a page read for several readers.
    #[error(transparent)]
    Shared(std::sync::Arc<FeedError>),
}

/// Reads one service's feed.
#[derive(Debug, Clone)]
pub struct FeedClient {
    http: reqwest::Client,
    base_url: String,
    /// Shared by the clones: the pages rebuilds read together ([`shared`]).
    pages: std::sync::Arc<shared::Pages>,
}

impl FeedClient {
    pub fn new(base_url: &str) -> Self {
        Self::with_api_key(base_url, None)
    }

    /// A client presenting `api_key` (see [`crate::access`]) on every request.
    pub fn with_api_key(base_url: &str, api_key: Option<&str>) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .default_headers(crate::access::client_headers(api_key))
            .build()
            .unwrap_or_default();
        Self {
            http,
            base_url: base_url.trim_end_matches('/').to_string(),
            pages: Default::default(),
        }
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Up to `limit` events committed after `after`, in commit order.
    pub async fn page(&self, after: Cursor, limit: i64) -> Result<FeedPage, FeedError> {
        self.request(after, limit).await?.read().await
    }

    /// [`FeedClient::page`], returned as soon as the response's headers arrive: its
    /// body is read by [`PendingPage::read`], while the next page can already be asked
    /// for ([`PendingPage::following`]).
    pub async fn request(&self, after: Cursor, limit: i64) -> Result<PendingPage, FeedError> {
        let url = format!(
            "{}/events?after_tx={}&after_position={}&limit={limit}",
            self.base_url, after.tx_id, after.position
        );
        let response = self.send(&url).await?;
        Ok(PendingPage { url, response })
    }

    /// The page after `after`, read on a task of its own; with `shared`, the same page
    /// as every other shared reader of this client asking for it meanwhile (rebuilds:
    /// see [`shared`]).
    pub fn slot(&self, after: Cursor, limit: i64, shared: bool) -> Slot {
        match shared {
            true => self.pages.slot(self, after, limit),
            false => shared::unshared(self, after, limit),
        }
    }

    /// How many events are committed after `after`.
    pub async fn count(&self, after: Cursor) -> Result<i64, FeedError> {
        let url = format!(
            "{}/events/count?after_tx={}&after_position={}",
            self.base_url, after.tx_id, after.position
        );
        let body: serde_json::Value = self.get(&url).await?;
        Ok(body["count"].as_i64().unwrap_or(0))
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, FeedError> {
        json(url, self.send(url).await?).await
    }

    /// The response to `GET url`, once its status says it carries what was asked.
    async fn send(&self, url: &str) -> Result<reqwest::Response, FeedError> {
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|source| unreachable(url, source))?;
        if !response.status().is_success() {
            return Err(FeedError::Status {
                url: url.to_string(),
                status: response.status().as_u16(),
            });
        }
        Ok(response)
    }
}

fn unreachable(url: &str, source: reqwest::Error) -> FeedError {
    FeedError::Unreachable {
        url: url.to_string(),
        source,
    }
}

/// A page whose headers have arrived and whose body has not been read yet.
#[derive(Debug)]
pub struct PendingPage {
    url: String,
    response: reqwest::Response,
}

impl PendingPage {
    /// Where the next page starts, when the headers say events follow this page;
    /// `None` when none do, or when the feed does not say (then the page's body does).
    pub fn following(&self) -> Option<Cursor> {
        following(self.response.headers())
    }

    pub async fn read(self) -> Result<FeedPage, FeedError> {
        json(&self.url, self.response).await
    }
}

/// The body of `url`'s `response`, as JSON.
async fn json<T: serde::de::DeserializeOwned>(
    url: &str,
    response: reqwest::Response,
) -> Result<T, FeedError> {
    response
        .json()
        .await
        .map_err(|source| unreachable(url, source))
}

fn following(headers: &HeaderMap) -> Option<Cursor> {
    let number = |name: &str| -> Option<i64> { headers.get(name)?.to_str().ok()?.parse().ok() };
    if number(REMAINING)? <= 0 {
        return None;
    }
    Some(Cursor {
        tx_id: number(LAST_TX)?,
        position: number(LAST_POSITION)?,
    })
}
