//! Notifications: `delivery_status`, `template_usage` and `channel_performance`.

use chrono::{DateTime, Utc};
use mongodb::bson::{doc, Document};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{bson_datetime, optional_bson_datetime, page, Slice, ViewError};
use crate::store::{ReadStore, CHANNEL_PERFORMANCE, DELIVERY_STATUS, TEMPLATE_USAGE};

/// A `delivery_status` document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeliveryView {
    pub notification_id: String,
    pub customer_id: String,
    #[schema(example = "email")]
    pub channel: String,
    #[schema(example = "order_confirmed")]
    pub template: String,
    /// `requested`, `sent`, `failed` (retries remain) or `abandoned`.
    #[schema(example = "sent")]
    pub status: String,
    /// Deliveries tried.
    pub attempts: i64,
    /// The last failure's reason.
    #[serde(default)]
    pub last_error: Option<String>,
    #[serde(deserialize_with = "bson_datetime")]
    pub requested_at: DateTime<Utc>,
    #[serde(default, deserialize_with = "optional_bson_datetime")]
    pub delivered_at: Option<DateTime<Utc>>,
    #[serde(deserialize_with = "bson_datetime")]
    pub updated_at: DateTime<Utc>,
}

/// How a template's notifications fared (`template_usage`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TemplateUsageView {
    #[schema(example = "order_confirmed")]
    pub template: String,
    /// Notifications requested.
    #[serde(default)]
    pub requested: i64,
    /// Notifications delivered.
    #[serde(default)]
    pub sent: i64,
    /// Delivery attempts that failed (a failed attempt is retried).
    #[serde(default)]
    pub failed: i64,
    /// Notifications given up after their last attempt.
    #[serde(default)]
    pub abandoned: i64,
}

/// How a channel performs (`channel_performance`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ChannelView {
    #[schema(example = "email")]
    pub channel: String,
    #[serde(default)]
    pub requested: i64,
    #[serde(default)]
    pub sent: i64,
    /// Delivery attempts that failed.
    #[serde(default)]
    pub failed: i64,
    #[serde(default)]
    pub abandoned: i64,
    /// `sent / (sent + abandoned)`: the share of the notifications whose delivery ended
    /// that were delivered; none while none ended.
    #[serde(default)]
    pub success_rate: Option<f64>,
}

pub async fn delivery(
    store: &ReadStore,
    notification_id: &str,
) -> Result<Option<DeliveryView>, ViewError> {
    let deliveries = store.current::<DeliveryView>(DELIVERY_STATUS).await?;
    Ok(deliveries.find_one(doc! {"_id": notification_id}).await?)
}

/// A page of templates by name.
pub async fn templates(
    store: &ReadStore,
    slice: Slice,
) -> Result<Vec<TemplateUsageView>, ViewError> {
    let usage = store.current::<TemplateUsageView>(TEMPLATE_USAGE).await?;
    Ok(page(usage, Document::new(), doc! {"_id": 1}, slice).await?)
}

pub async fn template(
    store: &ReadStore,
    name: &str,
) -> Result<Option<TemplateUsageView>, ViewError> {
    let usage = store.current::<TemplateUsageView>(TEMPLATE_USAGE).await?;
    Ok(usage.find_one(doc! {"_id": name}).await?)
}

/// A page of channels by name.
pub async fn channels(store: &ReadStore, slice: Slice) -> Result<Vec<ChannelView>, ViewError> {
    let performance = store.current::<ChannelView>(CHANNEL_PERFORMANCE).await?;
    let found = page(performance, Document::new(), doc! {"_id": 1}, slice).await?;
    Ok(found.into_iter().map(ChannelView::rated).collect())
}

pub async fn channel(store: &ReadStore, name: &str) -> Result<Option<ChannelView>, ViewError> {
    let performance = store.current::<ChannelView>(CHANNEL_PERFORMANCE).await?;
    let found = performance.find_one(doc! {"_id": name}).await?;
    Ok(found.map(ChannelView::rated))
}

impl ChannelView {
    /// The rate is derived when read, never stored, so it cannot drift from the counts.
    pub fn rated(mut self) -> Self {
        let ended = self.sent + self.abandoned;
        self.success_rate = (ended > 0).then(|| self.sent as f64 / ended as f64);
        self
    }
}
