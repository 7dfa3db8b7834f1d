//! The sends still waiting for their reply, keyed by correlation id, and the routing of
//! each incoming reply to its waiter.
//!
//! Several in-flight commands may share one correlation id (a business flow), so each
//! correlation id holds a list of waiters. A reply goes to the waiter whose command id
//! matches the reply's `command_id`; a reply that names no waiting command (a late
//! answer to a send that already timed out) is dropped. Once the reply consumer stops,
//! the map is closed: every waiter is told, and new sends are refused at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use platform::command_bus::CommandReply;
use tokio::sync::oneshot;

use super::ClientError;

/// What a waiter receives: the parsed reply, or why none can come.
pub(super) type ReplyResult = Result<CommandReply, ClientError>;

struct Waiter {
    token: u64,
    command_id: String,
    sender: oneshot::Sender<ReplyResult>,
}

#[derive(Default)]
struct State {
    closed: bool,
    next_token: u64,
    waiters: HashMap<String, Vec<Waiter>>,
}

/// The shared map of waiters; cheap to clone.
#[derive(Clone, Default)]
pub(super) struct Pending {
    state: Arc<Mutex<State>>,
}

/// Removes its waiter when dropped, so a send that times out or is cancelled leaves
/// nothing behind.
pub(super) struct Registration {
    pending: Pending,
    correlation_id: String,
    token: u64,
    pub(super) receiver: oneshot::Receiver<ReplyResult>,
}

impl Pending {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The critical sections cannot panic half-way; a poisoned lock is still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a waiter for the reply to `command_id` under `correlation_id`.
    pub(super) fn register(
        &self,
        correlation_id: &str,
        command_id: &str,
    ) -> Result<Registration, ClientError> {
        let mut state = self.lock();
        if state.closed {
            return Err(ClientError::ConnectionLost);
        }
        state.next_token += 1;
        let token = state.next_token;
        let (sender, receiver) = oneshot::channel();
        let waiter = Waiter {
            token,
            command_id: command_id.to_string(),
            sender,
        };
        state
            .waiters
            .entry(correlation_id.to_string())
            .or_default()
            .push(waiter);
        Ok(Registration {
            pending: self.clone(),
            correlation_id: correlation_id.to_string(),
            token,
            receiver,
        })
    }

    /// Hands a reply body received under `correlation_id` to its waiter.
    pub(super) fn deliver(&self, correlation_id: &str, body: &[u8]) {
        let parsed = serde_json::from_slice::<CommandReply>(body);
        let mut state = self.lock();
        let Some(waiters) = state.waiters.get_mut(correlation_id) else {
            tracing::debug!(correlation_id, "reply for no waiting command, dropped");
            return;
        };
        let index = match &parsed {
            Ok(reply) => waiters
                .iter()
                .position(|w| w.command_id == reply.command_id),
            // An unreadable reply cannot name its command: the oldest waiter gets the error.
            Err(_) => Some(0),
        };
        let Some(index) = index else {
            tracing::debug!(
                correlation_id,
                "reply to a command no longer waited for, dropped"
            );
            return;
        };
        let waiter = waiters.remove(index);
        if waiters.is_empty() {
            state.waiters.remove(correlation_id);
        }
        let result = parsed.map_err(|err| ClientError::MalformedReply(err.to_string()));
        // The receiver is gone only if its send was cancelled in the meantime.
        let _ = waiter.sender.send(result);
    }

    /// Refuses new waiters and tells every current one that no reply will come.
    pub(super) fn close(&self) {
        let mut state = self.lock();
        state.closed = true;
        state.waiters.clear();
    }

    fn remove(&self, correlation_id: &str, token: u64) {
        let mut state = self.lock();
        if let Some(waiters) = state.waiters.get_mut(correlation_id) {
            waiters.retain(|w| w.token != token);
            if waiters.is_empty() {
                state.waiters.remove(correlation_id);
            }
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().waiters.values().map(Vec::len).sum()
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.pending.remove(&self.correlation_id, self.token);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use platform::command_bus::ReplyStatus;

    fn reply(command_id: &str) -> Vec<u8> {
        let reply = CommandReply::rejected(command_id, None, "code", "message");
        serde_json::to_vec(&reply).unwrap_or_default()
    }

    #[tokio::test]
    async fn replies_sharing_a_correlation_id_reach_their_own_command() {
        let pending = Pending::default();
        let first = pending.register("flow", "c1").map_err(|e| e.to_string());
        let second = pending.register("flow", "c2").map_err(|e| e.to_string());
        let (Ok(mut first), Ok(mut second)) = (first, second) else {
            panic!("registration refused");
        };
        pending.deliver("flow", &reply("c2"));
        pending.deliver("flow", &reply("c1"));
        let second = (&mut second.receiver).await.ok().and_then(Result::ok);
        let first = (&mut first.receiver).await.ok().and_then(Result::ok);
        assert_eq!(second.map(|r| r.command_id), Some("c2".to_string()));
        assert_eq!(
            first.map(|r| (r.command_id, r.status)),
            Some(("c1".into(), ReplyStatus::Rejected))
        );
    }

    #[test]
    fn a_dropped_registration_leaves_no_waiter() {
        let pending = Pending::default();
        let registration = pending.register("flow", "c1");
        assert_eq!(pending.len(), 1);
        drop(registration);
        assert_eq!(pending.len(), 0);
    }

    #[test]
    fn a_closed_map_refuses_new_sends() {
        let pending = Pending::default();
        pending.close();
        assert!(matches!(
            pending.register("flow", "c1"),
            Err(ClientError::ConnectionLost)
        ));
    }
}
