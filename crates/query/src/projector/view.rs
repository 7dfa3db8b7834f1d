//! The read models of the query service: each [`View`] is one projection of the
//! runtime, with its own checkpoints and versions, the feeds it reads, and where its
//! versions live (MongoDB collections, Redis keys).

use crate::store::*;

/// The read models of this service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    ProductList,
    /// The Redis hashes and their MongoDB mirror: one projection, so both are always the
    /// same version, rebuilt together.
    StockLevels,
    CategoryTree,
    OrderDetails,
    OrderHistory,
    OrderStatus,
    BestSellers,
    RecentOrders,
    UserProfile,
    UserSummary,
    UserActivity,
    PaymentInfo,
    DeliveryStatus,
    TemplateUsage,
    ChannelPerformance,
}

impl View {
    pub const ALL: [View; 15] = [
        View::ProductList,
        View::StockLevels,
        View::CategoryTree,
        View::OrderDetails,
        View::OrderHistory,
        View::OrderStatus,
        View::BestSellers,
        View::RecentOrders,
        View::UserProfile,
        View::UserSummary,
        View::UserActivity,
        View::PaymentInfo,
        View::DeliveryStatus,
        View::TemplateUsage,
        View::ChannelPerformance,
    ];

    /// The projection's name: its checkpoints, versions and `/projections/{name}`.
    pub fn name(self) -> &'static str {
        match self {
            View::ProductList => PRODUCT_LIST,
            View::StockLevels => STOCK_LEVELS,
            View::CategoryTree => CATEGORY_TREE,
            View::OrderDetails => ORDER_DETAILS,
            View::OrderHistory => ORDER_HISTORY,
            View::OrderStatus => ORDER_STATUS,
            View::BestSellers => BEST_SELLERS,
            View::RecentOrders => RECENT_ORDERS,
            View::UserProfile => USER_PROFILE,
            View::UserSummary => USER_SUMMARY,
            View::UserActivity => USER_ACTIVITY,
            View::PaymentInfo => PAYMENT_INFO,
            View::DeliveryStatus => DELIVERY_STATUS,
            View::TemplateUsage => TEMPLATE_USAGE,
            View::ChannelPerformance => CHANNEL_PERFORMANCE,
        }
    }

    /// The services whose feeds it reads, in the order a pass reads them. Nothing may
    /// depend on that order: feeds are read one after the other, and where one stops
    /// in a pass is a matter of timing.
    pub fn sources(self) -> &'static [&'static str] {
        match self {
            View::ProductList | View::StockLevels | View::CategoryTree => &["inventory"],
            View::OrderDetails
            | View::OrderHistory
            | View::OrderStatus
            | View::BestSellers
            | View::RecentOrders => &["order"],
            View::UserProfile => &["user"],
            View::UserSummary | View::UserActivity => &["user", "order"],
            View::PaymentInfo => &["payment"],
            View::DeliveryStatus | View::TemplateUsage | View::ChannelPerformance => {
                &["notification"]
            }
        }
    }

    /// Its MongoDB collections (without the `_v<version>` suffix): the view's own,
    /// then its memo, if any.
    pub fn collections(self) -> &'static [&'static str] {
        match self {
            View::ProductList => &[PRODUCT_LIST],
            View::StockLevels => &[STOCK_LEVELS],
            View::CategoryTree => &[CATEGORY_TREE, CATEGORY_TREE_SKUS],
            View::OrderDetails => &[ORDER_DETAILS],
            View::OrderHistory => &[ORDER_HISTORY],
            View::OrderStatus | View::BestSellers | View::RecentOrders => &[],
            View::UserProfile => &[USER_PROFILE],
            View::UserSummary => &[USER_SUMMARY, USER_SUMMARY_ORDERS],
            View::UserActivity => &[USER_ACTIVITY],
            View::PaymentInfo => &[PAYMENT_INFO],
            View::DeliveryStatus => &[DELIVERY_STATUS],
            View::TemplateUsage => &[TEMPLATE_USAGE, TEMPLATE_USAGE_NOTIFICATIONS],
            View::ChannelPerformance => &[CHANNEL_PERFORMANCE, CHANNEL_PERFORMANCE_NOTIFICATIONS],
        }
    }

    /// The view called `name`.
    pub fn named(name: &str) -> Option<View> {
        View::ALL.into_iter().find(|view| view.name() == name)
    }

    /// Whether it lives in Redis alone (no MongoDB collection): its bookkeeping is kept
    /// in Redis too ([`super::redis_book`]).
    pub fn in_redis_alone(self) -> bool {
        self.in_redis() && self.collections().is_empty()
    }

    /// Whether it keeps keys in Redis.
    pub fn in_redis(self) -> bool {
        matches!(
            self,
            View::StockLevels | View::OrderStatus | View::BestSellers | View::RecentOrders
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_every_mongodb_view_has_its_collection_first() {
        let mut names: Vec<&str> = View::ALL.iter().map(|v| v.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), View::ALL.len());
        for view in View::ALL {
            let collections = view.collections();
            assert!(
                collections.is_empty() && view.in_redis()
                    || collections.first() == Some(&view.name()),
                "{view:?}: {collections:?}"
            );
        }
    }
}
