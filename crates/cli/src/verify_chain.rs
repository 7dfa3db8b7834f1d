//! `commerce verify-chain`: checks a write side's tamper-evident event chain (see
//! `platform::chain`) and names the first altered or missing event.
//!
//! Read-only: it never seals, so running it against a live store changes nothing; events
//! committed since the service's sealer last ran are reported as not yet sealed.

use std::io::Write;
use std::time::Duration;

use platform::chain::{verify, ChainError, Verification};
use platform::config::redact_url;
use sqlx::postgres::PgPoolOptions;

use crate::args::VerifyChainArgs;

/// Every sealed event matches its link.
pub const EXIT_INTACT: u8 = 0;
/// A link is broken: an event was altered, removed or slipped in.
pub const EXIT_BROKEN: u8 = 1;

#[derive(Debug, thiserror::Error)]
pub enum VerifyChainError {
    #[error("cannot connect to {url}: {source}")]
    Connect { url: String, source: sqlx::Error },
    #[error("cannot read the chain: {0}")]
    Chain(#[from] ChainError),
}

impl VerifyChainError {
    pub fn exit_code(&self) -> u8 {
        2
    }
}

/// Verifies the store `args` names; prints the outcome and returns the exit status.
pub async fn run(args: &VerifyChainArgs) -> Result<u8, VerifyChainError> {
    let verification = verify_url(&args.database_url()).await?;
    Ok(report(
        &verification,
        &mut std::io::stdout(),
        &mut std::io::stderr(),
    ))
}

/// Verifies the chain of the store at `url`.
pub async fn verify_url(url: &str) -> Result<Verification, VerifyChainError> {
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(Duration::from_secs(5))
        .connect(url)
        .await
        .map_err(|source| VerifyChainError::Connect {
            url: redact_url(url),
            source,
        })?;
    let verification = verify(&pool).await;
    pool.close().await;
    Ok(verification?)
}

/// Writes the outcome (intact on `out`, broken on `err`) and returns the exit status.
/// A failed write changes nothing: the status still tells.
pub fn report(verification: &Verification, out: &mut impl Write, err: &mut impl Write) -> u8 {
    match verification {
        Verification::Intact { sealed, unsealed } => {
            let _ = writeln!(
                out,
                "intact: {sealed} events sealed ({unsealed} not yet sealed)"
            );
            EXIT_INTACT
        }
        Verification::Broken(broken) => {
            let _ = writeln!(err, "commerce: the event chain is broken: {broken}");
            EXIT_BROKEN
        }
    }
}

#[cfg(test)]
mod tests {
    use platform::chain::Broken;
    use uuid::Uuid;

    use super::*;

    fn outcome(verification: &Verification) -> (u8, String, String) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = report(verification, &mut out, &mut err);
        let text = |bytes: Vec<u8>| String::from_utf8_lossy(&bytes).into_owned();
        (code, text(out), text(err))
    }

    #[test]
    fn an_intact_chain_is_counted_on_stdout() {
        let (code, out, err) = outcome(&Verification::Intact {
            sealed: 12,
            unsealed: 3,
        });
        assert_eq!(code, EXIT_INTACT);
        assert_eq!(out, "intact: 12 events sealed (3 not yet sealed)\n");
        assert!(err.is_empty());
    }

    #[test]
    fn an_altered_event_is_named_on_stderr_with_status_one() {
        let event_id = Uuid::from_u128(42);
        let (code, out, err) = outcome(&Verification::Broken(Broken::Altered {
            chain_seq: 7,
            global_position: 9,
            event_id,
            aggregate_type: "Product".into(),
            aggregate_id: "p-1".into(),
            sequence: 2,
        }));
        assert_eq!(code, EXIT_BROKEN);
        assert!(out.is_empty());
        for part in ["altered", "chain seq 7", "position 9", "Product p-1 #2"] {
            assert!(err.contains(part), "{part:?} not in {err:?}");
        }
        assert!(err.contains(&event_id.to_string()));
    }
}
