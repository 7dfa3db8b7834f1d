//! `commerce replay`: rebuilds read models from the event stores, with zero downtime.
//!
//! Each service that owns projections (the query service, the analytics service) runs
//! the rebuild itself (`POST /projections/{name}/rebuild`): the next version of the view
//! is built from every source's feed while the current one keeps serving, then becomes
//! current in one write. This command starts the rebuilds together and follows each
//! (`GET /projections/{name}`) with a progress bar showing events/s and an ETA:
//! rebuilds reading the same feed at once share its pages, so five views of the order
//! service rebuilt together read the order feed about once, not five times.

use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use serde::Deserialize;

use crate::args::ReplayArgs;

/// Every projection was rebuilt.
pub const EXIT_SUCCESS: u8 = 0;
/// A rebuild failed or did not finish in time.
pub const EXIT_FAILED: u8 = 1;

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("{url}: {source}")]
    Http { url: String, source: reqwest::Error },
    #[error("{url} answered {status}: {body}")]
    Refused {
        url: String,
        status: u16,
        body: String,
    },
    #[error("no projection named {0} on any of the services")]
    Unknown(String),
}

impl ReplayError {
    pub fn exit_code(&self) -> u8 {
        2
    }
}

#[derive(Debug, Clone, Deserialize)]
struct Status {
    name: String,
    version: Option<u32>,
    rebuild: Report,
}

#[derive(Debug, Clone, Deserialize)]
struct Report {
    state: String,
    total: u64,
    done: u64,
    events_per_second: f64,
}

/// Rebuilds the projections `args` names (all of them by default).
pub async fn run(args: &ReplayArgs) -> Result<u8, ReplayError> {
    let http =
        crate::http_client(args.api_key.as_deref(), Duration::from_secs(10)).map_err(|source| {
            ReplayError::Http {
                url: String::new(),
                source,
            }
        })?;
    let targets = targets(&http, args).await?;
    let bars = MultiProgress::new();
    let timeout = Duration::from_secs(args.timeout_secs);
    let rebuilds = targets
        .iter()
        .map(|(base, status)| rebuild(&http, &bars, base, status, timeout));
    let outcomes = futures::future::try_join_all(rebuilds).await?;
    let failed = outcomes.iter().filter(|ok| !**ok).count();
    Ok(if failed == 0 {
        EXIT_SUCCESS
    } else {
        EXIT_FAILED
    })
}

/// The `(service url, projection)` pairs to rebuild.
async fn targets(
    http: &reqwest::Client,
    args: &ReplayArgs,
) -> Result<Vec<(String, Status)>, ReplayError> {
    let mut all = Vec::new();
    for url in &args.urls {
        let base = url.trim_end_matches('/').to_string();
        let list: Vec<Status> = get(http, &format!("{base}/projections")).await?;
        all.extend(list.into_iter().map(|s| (base.clone(), s)));
    }
    if args.projections.is_empty() {
        return Ok(all);
    }
    let mut chosen = Vec::new();
    for name in &args.projections {
        let found = all.iter().find(|(_, s)| &s.name == name).cloned();
        chosen.push(found.ok_or_else(|| ReplayError::Unknown(name.clone()))?);
    }
    Ok(chosen)
}

/// Starts one rebuild and follows it to its end; returns whether it succeeded.
async fn rebuild(
    http: &reqwest::Client,
    bars: &MultiProgress,
    base: &str,
    status: &Status,
    timeout: Duration,
) -> Result<bool, ReplayError> {
    let url = format!("{base}/projections/{}", status.name);
    let before: Status = get(http, &url).await?;
    post(http, &format!("{url}/rebuild")).await?;
    let bar = bars.add(progress_bar(&status.name));
    let (started, mut seen_running) = (Instant::now(), false);
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now: Status = get(http, &url).await?;
        show(&bar, &now.rebuild);
        seen_running |= matches!(now.rebuild.state.as_str(), "rebuilding" | "swapping");
        let outcome = outcome(&before, &now, seen_running);
        if outcome.is_some() || started.elapsed() > timeout {
            let ok = outcome == Some(true);
            finish(&bar, &now, ok);
            return Ok(ok);
        }
    }
}

/// How the rebuild requested after `before` was read ended: `None` while it runs, or
/// before it has begun. Until a rebuild begins, the service still reports how its
/// previous one ended, so a `done` counts only once the version moved past `before`'s,
/// and a `failed` only once this rebuild was seen running or the previous one had not
/// failed (a rebuild requested twice in a row would otherwise end at once, unfinished).
fn outcome(before: &Status, now: &Status, seen_running: bool) -> Option<bool> {
    match now.rebuild.state.as_str() {
        "done" if now.version > before.version => Some(true),
        "failed" if seen_running || before.rebuild.state != "failed" => Some(false),
        _ => None,
    }
}

fn show(bar: &ProgressBar, report: &Report) {
    bar.set_length(report.total.max(1));
    bar.set_position(report.done);
    bar.set_message(format!("{:>9.0} events/s", report.events_per_second));
}

fn finish(bar: &ProgressBar, now: &Status, ok: bool) {
    let ending = match (ok, now.version) {
        (true, Some(version)) => format!("now version {version}"),
        (true, None) => "now version ?".to_string(),
        (false, _) => now.rebuild.state.clone(),
    };
    bar.finish_with_message(format!(
        "{:>9.0} events/s  {ending}",
        now.rebuild.events_per_second
    ));
}

fn progress_bar(name: &str) -> ProgressBar {
    let bar = ProgressBar::new(1);
    let style =
        ProgressStyle::with_template("{prefix:<22} [{bar:30}] {pos:>8}/{len:<8} {msg}  eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(name.to_string());
    bar
}

async fn get<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
) -> Result<T, ReplayError> {
    let response = send(http.get(url), url).await?;
    response.json().await.map_err(|source| ReplayError::Http {
        url: url.to_string(),
        source,
    })
}

async fn post(http: &reqwest::Client, url: &str) -> Result<(), ReplayError> {
    send(http.post(url), url).await.map(|_| ())
}

async fn send(
    request: reqwest::RequestBuilder,
    url: &str,
) -> Result<reqwest::Response, ReplayError> {
    let response = request.send().await.map_err(|source| ReplayError::Http {
        url: url.to_string(),
        source,
    })?;
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    Err(ReplayError::Refused {
        url: url.to_string(),
        status: status.as_u16(),
        body: response.text().await.unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(state: &str, version: u32) -> Status {
        Status {
            name: "product_list".into(),
            version: Some(version),
            rebuild: Report {
                state: state.into(),
                total: 10,
                done: 10,
                events_per_second: 100.0,
            },
        }
    }

    #[test]
    fn a_done_left_by_the_previous_rebuild_does_not_end_the_next_one() {
        let before = status("done", 2);
        assert_eq!(outcome(&before, &status("done", 2), false), None);
        assert_eq!(outcome(&before, &status("rebuilding", 2), true), None);
        assert_eq!(outcome(&before, &status("swapping", 3), true), None);
        assert_eq!(outcome(&before, &status("done", 3), true), Some(true));
    }

    #[test]
    fn a_rebuild_finished_between_two_polls_is_seen_done() {
        let before = status("idle", 1);
        assert_eq!(outcome(&before, &status("done", 2), false), Some(true));
    }

    #[test]
    fn a_failure_ends_the_rebuild_unless_the_previous_one_left_it() {
        assert_eq!(
            outcome(&status("done", 2), &status("failed", 2), false),
            Some(false)
        );
        let before = status("failed", 2);
        assert_eq!(outcome(&before, &status("failed", 2), false), None);
        assert_eq!(outcome(&before, &status("failed", 2), true), Some(false));
    }
}
