//! The order paths of the synthetic history: an order through the fulfilment saga
//! (reservation, payment, confirmation or compensation) and the customer's notice.

use inventory::domain::{Product, ProductEvent, Reservation, ReservationEvent, StockLine};
use notification::domain::{Channel, Notification, NotificationEvent};
use order::domain::{Order, OrderEvent, OrderLine};
use payment::domain::{Payment, PaymentEvent};
use platform::store::StoreError;

use super::{Generator, Placed, SaleLine, Service};

impl Generator {
    /// An order through the saga, then the customer told how it ended.
    pub(super) fn order(&mut self) -> Result<(), StoreError> {
        let Some(customer) = self.pick_customer() else {
            return self.register();
        };
        let placed = self.place(customer)?;
        let cancelled = self.fulfil(&placed)?;
        match cancelled {
            None => self.notify(&placed, "order_confirmed", None),
            Some(reason) => self.notify(&placed, "order_cancelled", Some(reason)),
        }
    }

    /// Reserved (or cancelled for want of stock), paid (or declined), and completed or
    /// undone; the reason when the order ends cancelled.
    fn fulfil(&mut self, placed: &Placed) -> Result<Option<&'static str>, StoreError> {
        if !self.reserve(placed)? {
            self.cancel(placed, "insufficient stock")?;
            return Ok(Some("insufficient stock"));
        }
        let outcome = self.rng.below(100);
        self.request_payment(placed, outcome < 12)?;
        if outcome < 12 {
            self.decline(placed)?;
            return Ok(Some("payment declined"));
        }
        self.capture_and_confirm(placed)?;
        if outcome < 20 {
            self.undo_confirmed(placed)?;
            return Ok(Some("reservation could not be committed"));
        }
        self.settle(placed, true)?;
        self.record_sales(placed);
        Ok(None)
    }

    fn place(&mut self, customer: usize) -> Result<Placed, StoreError> {
        self.orders += 1;
        let lines = self.pick_lines();
        let placed = Placed {
            order_id: format!("ord-{:06}", self.orders),
            customer,
            total_cents: lines
                .iter()
                .map(|&(p, q)| self.products[p].price_cents * q as i64)
                .sum(),
            lines,
            placed_at: self.clock,
        };
        let event = OrderEvent::OrderPlaced {
            order_id: placed.order_id.clone(),
            customer_id: self.customers[customer].id.clone(),
            card_token: "tok_ok".to_string(),
            lines: self.order_lines(&placed),
            total_cents: placed.total_cents,
        };
        let id = placed.order_id.clone();
        self.single::<Order>(Service::Order, &id, vec![event], &id)?;
        Ok(placed)
    }

    fn order_lines(&self, placed: &Placed) -> Vec<OrderLine> {
        placed
            .lines
            .iter()
            .map(|&(p, quantity)| OrderLine {
                sku: self.products[p].sku.clone(),
                quantity,
                unit_price_cents: self.products[p].price_cents,
            })
            .collect()
    }

    fn stock_lines(&self, placed: &Placed) -> Vec<StockLine> {
        placed
            .lines
            .iter()
            .map(|&(p, quantity)| StockLine {
                sku: self.products[p].sku.clone(),
                quantity,
            })
            .collect()
    }

    /// All lines or none: the reservation and every product it allocates, in one
    /// transaction. `false` when a product is short.
    fn reserve(&mut self, placed: &Placed) -> Result<bool, StoreError> {
        let short = placed
            .lines
            .iter()
            .any(|&(p, q)| self.products[p].available < q);
        if short {
            return Ok(false);
        }
        for &(p, q) in &placed.lines {
            self.products[p].available -= q;
        }
        let reserved = ReservationEvent::StockReserved {
            order_id: placed.order_id.clone(),
            lines: self.stock_lines(placed),
        };
        self.move_stock(placed, "reserve", reserved, |sku, order_id, quantity| {
            ProductEvent::StockAllocated {
                sku,
                order_id,
                quantity,
            }
        })?;
        Ok(true)
    }

    /// Commits (`true`) or releases the reservation and its allocations.
    fn settle(&mut self, placed: &Placed, commit: bool) -> Result<(), StoreError> {
        let (order_id, lines) = (placed.order_id.clone(), self.stock_lines(placed));
        if !commit {
            for &(p, q) in &placed.lines {
                self.products[p].available += q;
            }
            let released = ReservationEvent::StockReleased { order_id, lines };
            return self.move_stock(placed, "release", released, |sku, order_id, quantity| {
                ProductEvent::AllocationReleased {
                    sku,
                    order_id,
                    quantity,
                }
            });
        }
        let committed = ReservationEvent::ReservationCommitted { order_id, lines };
        self.move_stock(placed, "commit", committed, |sku, order_id, quantity| {
            ProductEvent::AllocationCommitted {
                sku,
                order_id,
                quantity,
            }
        })
    }

    /// The reservation's event and one product event per line, in one transaction.
    fn move_stock(
        &mut self,
        placed: &Placed,
        step: &str,
        reservation: ReservationEvent,
        product_event: impl Fn(String, String, u64) -> ProductEvent,
    ) -> Result<(), StoreError> {
        let order_id = placed.order_id.clone();
        let metadata = self.metadata(format!("saga:{order_id}:{step}"), &order_id);
        let mut appends =
            vec![self.aggregate::<Reservation>(&order_id, &[reservation], &metadata)?];
        for line in self.stock_lines(placed) {
            let event = product_event(line.sku.clone(), order_id.clone(), line.quantity);
            appends.push(self.aggregate::<Product>(&line.sku, &[event], &metadata)?);
        }
        self.commit(Service::Inventory, appends);
        Ok(())
    }

    fn payment(&mut self, placed: &Placed, event: PaymentEvent) -> Result<(), StoreError> {
        let id = placed.order_id.clone();
        self.single::<Payment>(Service::Payment, &id, vec![event], &id)
    }

    /// The authorization request, then the provider's answer.
    fn request_payment(&mut self, placed: &Placed, declined: bool) -> Result<(), StoreError> {
        let (payment_id, order_id) = (placed.order_id.clone(), placed.order_id.clone());
        let requested = PaymentEvent::PaymentAuthorizationRequested {
            payment_id: payment_id.clone(),
            order_id: order_id.clone(),
            customer_id: self.customers[placed.customer].id.clone(),
            amount_cents: placed.total_cents,
            card_token: if declined { "tok_decline" } else { "tok_ok" }.to_string(),
            attempt: 1,
        };
        self.payment(placed, requested)?;
        let answer = if declined {
            PaymentEvent::PaymentDeclined {
                payment_id,
                order_id,
                reason: "card declined".to_string(),
            }
        } else {
            PaymentEvent::PaymentAuthorized {
                provider_ref: format!("prov-{order_id}"),
                payment_id,
                order_id,
                amount_cents: placed.total_cents,
            }
        };
        self.payment(placed, answer)
    }

    fn decline(&mut self, placed: &Placed) -> Result<(), StoreError> {
        self.settle(placed, false)?;
        self.cancel(placed, "payment declined: card declined")
    }

    fn capture_and_confirm(&mut self, placed: &Placed) -> Result<(), StoreError> {
        let captured = PaymentEvent::PaymentCaptured {
            payment_id: placed.order_id.clone(),
            order_id: placed.order_id.clone(),
            amount_cents: placed.total_cents,
        };
        self.payment(placed, captured)?;
        let order_id = placed.order_id.clone();
        let confirmed = OrderEvent::OrderConfirmed {
            order_id: order_id.clone(),
        };
        self.single::<Order>(Service::Order, &order_id, vec![confirmed], &order_id)
    }

    /// The commit was refused: the saga cancels the confirmed order, refunds, releases.
    fn undo_confirmed(&mut self, placed: &Placed) -> Result<(), StoreError> {
        self.cancel(placed, "reservation could not be committed")?;
        let refunded = PaymentEvent::PaymentRefunded {
            payment_id: placed.order_id.clone(),
            order_id: placed.order_id.clone(),
            amount_cents: placed.total_cents,
            reason: "order cancelled".to_string(),
        };
        self.payment(placed, refunded)?;
        self.settle(placed, false)
    }

    fn cancel(&mut self, placed: &Placed, reason: &str) -> Result<(), StoreError> {
        let order_id = placed.order_id.clone();
        let cancelled = OrderEvent::OrderCancelled {
            order_id: order_id.clone(),
            reason: reason.to_string(),
        };
        self.single::<Order>(Service::Order, &order_id, vec![cancelled], &order_id)
    }

    /// The saga's notice: requested, then sent, one time in ten after a failed
    /// attempt; one customer in five is told by SMS.
    fn notify(
        &mut self,
        placed: &Placed,
        template: &str,
        reason: Option<&str>,
    ) -> Result<(), StoreError> {
        let id = format!("saga:{}:notify", placed.order_id);
        let channel = if placed.customer.is_multiple_of(5) {
            Channel::Sms
        } else {
            Channel::Email
        };
        let mut data = serde_json::json!({"order_id": placed.order_id,
            "total_cents": placed.total_cents.to_string()});
        if let Some(reason) = reason {
            data["reason"] = reason.into();
        }
        let requested = NotificationEvent::NotificationRequested {
            notification_id: id.clone(),
            customer_id: self.customers[placed.customer].id.clone(),
            channel,
            template: template.to_string(),
            data,
        };
        let correlation = placed.order_id.clone();
        self.single::<Notification>(Service::Notification, &id, vec![requested], &correlation)?;
        if self.rng.below(10) == 0 {
            let failed = NotificationEvent::NotificationFailed {
                notification_id: id.clone(),
                channel,
                attempt: 1,
                reason: "mailbox unavailable".to_string(),
            };
            self.single::<Notification>(Service::Notification, &id, vec![failed], &correlation)?;
        }
        let sent = NotificationEvent::NotificationSent {
            notification_id: id.clone(),
            channel,
            delivered_at: self.clock,
        };
        self.single::<Notification>(Service::Notification, &id, vec![sent], &correlation)
    }

    fn record_sales(&mut self, placed: &Placed) {
        for (line_no, &(p, quantity)) in placed.lines.iter().enumerate() {
            let product = &self.products[p];
            self.history.sales.push(SaleLine {
                order_id: placed.order_id.clone(),
                line_no: line_no as i32 + 1,
                customer_key: placed.customer as i64 + 1,
                product_key: p as i64 + 1,
                sku: product.sku.clone(),
                sold_at: placed.placed_at,
                quantity: quantity as i64,
                unit_price_cents: product.price_cents,
            });
        }
    }
}
