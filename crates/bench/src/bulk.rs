//! The plain bulk writes the replays are compared with: as many documents, commands or
//! rows as the replay applied events, shaped like what the replay wrote, sent the
//! fastest plain way each server takes them (MongoDB `insert_many`, a Redis pipeline;
//! PostgreSQL's `COPY` is in [`crate::olap`]), in batches, with nothing else in between:
//! no feed to read, no version check, no checkpoint.

use std::time::{Duration, Instant};

use futures::TryStreamExt;
use mongodb::bson::{Bson, Document};
use mongodb::{Database, IndexModel};
use redis::aio::ConnectionManager;

use crate::progress::counter;

/// How many writes, in batches of how many.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    pub count: u64,
    pub batch: u64,
}

impl Target {
    /// The `[start, end)` ranges of the batches.
    pub fn batches(self) -> impl Iterator<Item = (u64, u64)> {
        let step = self.batch.max(1);
        (0..self.count)
            .step_by(step as usize)
            .map(move |start| (start, (start + step).min(self.count)))
    }
}

/// `target.count` documents into `bulk_<collection>` (with the view collection's
/// indexes), spread over the collections as their documents are, each a copy of one of
/// theirs under a new `_id`.
pub async fn mongo(
    db: &Database,
    collections: &[(String, Vec<Document>)],
    target: Target,
) -> Result<Duration, mongodb::error::Error> {
    let total_documents: usize = collections.iter().map(|(_, d)| d.len()).sum();
    let bar = counter("bulk insert_many (MongoDB)", target.count);
    let mut elapsed = Duration::ZERO;
    let mut left = target.count;
    for (i, (name, documents)) in collections.iter().enumerate() {
        let share = if i + 1 == collections.len() {
            left
        } else {
            target.count * documents.len() as u64 / total_documents.max(1) as u64
        };
        left -= share;
        let bulk = format!("bulk_{name}");
        copy_indexes(db, name, &bulk).await?;
        let target = Target {
            count: share,
            ..target
        };
        elapsed += insert_copies(db, &bulk, documents, target, &bar).await?;
    }
    bar.finish();
    Ok(elapsed)
}

async fn copy_indexes(db: &Database, from: &str, to: &str) -> Result<(), mongodb::error::Error> {
    let indexes: Vec<IndexModel> = db
        .collection::<Document>(from)
        .list_indexes()
        .await?
        .try_collect()
        .await?;
    let secondary: Vec<IndexModel> = indexes
        .into_iter()
        .filter(|index| !index.keys.keys().eq(["_id"]))
        .collect();
    if !secondary.is_empty() {
        db.collection::<Document>(to)
            .create_indexes(secondary)
            .await?;
    }
    Ok(())
}

async fn insert_copies(
    db: &Database,
    collection: &str,
    templates: &[Document],
    target: Target,
    bar: &indicatif::ProgressBar,
) -> Result<Duration, mongodb::error::Error> {
    let collection = db.collection::<Document>(collection);
    let started = Instant::now();
    for (start, end) in target.batches() {
        let batch: Vec<Document> = (start..end).map(|n| copy_of(templates, n)).collect();
        collection.insert_many(batch).ordered(false).await?;
        bar.inc(end - start);
    }
    Ok(started.elapsed())
}

/// The `n`-th copy: a template's fields under the `_id` `<its _id>#<n>`.
fn copy_of(templates: &[Document], n: u64) -> Document {
    let mut document = templates[(n % templates.len() as u64) as usize].clone();
    let id = match document.get("_id") {
        Some(Bson::String(id)) => id.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    };
    document.insert("_id", format!("{id}#{n}"));
    document
}

/// A key a view wrote, as the model of the bulk commands.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyTemplate {
    /// Bulk: `HSET <key>#<n>` with its fields.
    Hash {
        key: String,
        fields: Vec<(String, String)>,
    },
    /// Bulk: `ZINCRBY <key> <score> <member>`, member after member.
    SortedSet {
        key: String,
        members: Vec<(String, f64)>,
    },
    /// Bulk: `SET <key>#<n> <value>`.
    Text { key: String, value: String },
}

/// Every view's key under `prefix`, of a type the bulk write knows (others are logged).
pub async fn key_templates(
    redis: &ConnectionManager,
    prefix: &str,
) -> Result<Vec<KeyTemplate>, redis::RedisError> {
    let mut redis = redis.clone();
    let mut templates = Vec::new();
    // `<prefix>v<version>:...`: the views' keys, not their bookkeeping (`<prefix>books:`).
    for key in scan(&mut redis, &format!("{prefix}v*")).await? {
        if let Some(template) = key_template(&mut redis, key).await? {
            templates.push(template);
        }
    }
    Ok(templates)
}

async fn scan(
    redis: &mut ConnectionManager,
    pattern: &str,
) -> Result<Vec<String>, redis::RedisError> {
    let (mut cursor, mut all) = (0_u64, Vec::new());
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(500)
            .query_async(redis)
            .await?;
        all.extend(keys);
        if next == 0 {
            return Ok(all);
        }
        cursor = next;
    }
}

async fn key_template(
    redis: &mut ConnectionManager,
    key: String,
) -> Result<Option<KeyTemplate>, redis::RedisError> {
    let kind: String = redis::cmd("TYPE").arg(&key).query_async(redis).await?;
    let template = match kind.as_str() {
        "hash" => KeyTemplate::Hash {
            fields: redis::cmd("HGETALL").arg(&key).query_async(redis).await?,
            key,
        },
        "zset" => KeyTemplate::SortedSet {
            members: redis::cmd("ZRANGE")
                .arg(&key)
                .arg(0)
                .arg(-1)
                .arg("WITHSCORES")
                .query_async(redis)
                .await?,
            key,
        },
        "string" => KeyTemplate::Text {
            value: redis::cmd("GET").arg(&key).query_async(redis).await?,
            key,
        },
        other => {
            tracing::warn!(%key, kind = other, "no bulk write for this kind of key; left out");
            return Ok(None);
        }
    };
    Ok(Some(template))
}

/// `target.count` commands modelled on `templates`, pipelined batch by batch, under
/// `prefixes.1` instead of `prefixes.0`.
pub async fn redis(
    redis: &ConnectionManager,
    templates: &[KeyTemplate],
    prefixes: (&str, &str),
    target: Target,
) -> Result<Duration, redis::RedisError> {
    let bar = counter("bulk pipeline (Redis)", target.count);
    let mut redis = redis.clone();
    let started = Instant::now();
    for (start, end) in target.batches() {
        let mut pipe = redis::pipe();
        for n in start..end {
            let template = &templates[(n % templates.len() as u64) as usize];
            push_command(&mut pipe, template, prefixes, n);
        }
        pipe.exec_async(&mut redis).await?;
        bar.inc(end - start);
    }
    bar.finish();
    Ok(started.elapsed())
}

fn push_command(
    pipe: &mut redis::Pipeline,
    template: &KeyTemplate,
    prefixes: (&str, &str),
    n: u64,
) {
    let renamed = |key: &str| key.replacen(prefixes.0, prefixes.1, 1);
    match template {
        KeyTemplate::Hash { key, fields } => {
            pipe.cmd("HSET").arg(format!("{}#{n}", renamed(key)));
            for (field, value) in fields {
                pipe.arg(field).arg(value);
            }
        }
        KeyTemplate::SortedSet { key, members } => {
            let Some((member, score)) = members.get((n % members.len().max(1) as u64) as usize)
            else {
                return;
            };
            pipe.cmd("ZINCRBY")
                .arg(renamed(key))
                .arg(*score)
                .arg(member);
        }
        KeyTemplate::Text { key, value } => {
            pipe.cmd("SET")
                .arg(format!("{}#{n}", renamed(key)))
                .arg(value);
        }
    }
    pipe.ignore();
}
