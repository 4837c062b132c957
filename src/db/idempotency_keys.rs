//! Queries on `idempotency_keys`: the claims behind the `Idempotency-Key` header of
//! `POST /api/v1/records`, and the compact answers they remember.
//!
//! A key is claimed before the batch runs, so of two requests with one key exactly one
//! does the work; the other sees the claim in flight or, once finished, its answer.
//! Rows expire a number of days after the claim: an expired key is unused again.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Row};

use crate::submission::{Outcome, RecordResult};

/// A finished request's answer, compactly: with the same request body it rebuilds the response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The HTTP status sent.
    pub status: u16,
    /// Tree size after the batch.
    pub tree_size: u64,
    /// The checkpoint the proofs led to (`None` for a dry run).
    pub checkpoint_id: Option<i64>,
    /// One letter per record: `c`reated, `a`mended, `d`uplicate.
    pub outcomes: String,
    /// In record order: what each amendment supersedes and where each duplicate is.
    pub refs: Vec<u64>,
}

impl Answer {
    /// The answer to a batch classified as `results`. New entries are not listed: they are
    /// consecutive, ending at `tree_size` (for a dry run, starting at it), as the ingest
    /// sequencer numbers them.
    pub fn new(status: u16, tree_size: u64, checkpoint_id: Option<i64>, results: &[RecordResult]) -> Self {
        let mut outcomes = String::with_capacity(results.len());
        let mut refs = Vec::new();
        for result in results {
            match result.outcome {
                Outcome::Created => outcomes.push('c'),
                Outcome::Amended => {
                    outcomes.push('a');
                    refs.extend(result.supersedes);
                }
                Outcome::Duplicate => {
                    outcomes.push('d');
                    refs.push(result.entry_index);
                }
            }
        }
        Self { status, tree_size, checkpoint_id, outcomes, refs }
    }

    /// The per-record results back; `None` if the stored summary is not self-consistent.
    pub fn results(&self, dry_run: bool) -> Option<Vec<RecordResult>> {
        let new = self.outcomes.chars().filter(|c| matches!(c, 'c' | 'a')).count() as u64;
        let mut next = if dry_run { self.tree_size } else { self.tree_size.checked_sub(new)? };
        let mut refs = self.refs.iter().copied();
        let mut results = Vec::with_capacity(self.outcomes.len());
        for letter in self.outcomes.chars() {
            let result = match letter {
                'c' => RecordResult { outcome: Outcome::Created, entry_index: next, supersedes: None },
                'a' => RecordResult { outcome: Outcome::Amended, entry_index: next, supersedes: Some(refs.next()?) },
                'd' => RecordResult { outcome: Outcome::Duplicate, entry_index: refs.next()?, supersedes: None },
                _ => return None,
            };
            if result.outcome != Outcome::Duplicate {
                next += 1;
            }
            results.push(result);
        }
        refs.next().is_none().then_some(results)
    }
}

/// What claiming a key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key is this request's, claimed at this instant (which names the claim): do the
    /// work, then [`finish`] or [`release`].
    Claimed(DateTime<Utc>),
    /// Another request with the same body holds the key and has not finished.
    InFlight,
    /// The key was used for a different request body.
    OtherRequest,
    /// The same request finished earlier: its answer.
    Finished(Answer),
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn days(days: u32) -> i32 {
    i32::try_from(days).unwrap_or(i32::MAX)
}

/// Claims `key` for this request, unless a live row holds it. A row counts as unused when
/// it is older than `expire_days`, or when it is a claim older than `lease` (its request
/// was cut off without releasing it, e.g. the process died).
pub async fn claim(
    conn: &mut PgConnection,
    provider_id: i64,
    key: &str,
    request_hash: &[u8; 32],
    expire_days: u32,
    lease: Duration,
) -> Result<Claim, sqlx::Error> {
    // A row released between the insert and the read is claimed on the next turn.
    for _ in 0..3 {
        // One statement, so two requests cannot both claim: the second waits for the first's
        // insert and then finds the row taken.
        let claimed: Option<DateTime<Utc>> = sqlx::query_scalar(
            "INSERT INTO idempotency_keys AS k (provider_id, key, request_hash) VALUES ($1, $2, $3)
             ON CONFLICT (provider_id, key) DO UPDATE
                 SET request_hash = EXCLUDED.request_hash, created_at = now(), status = NULL,
                     tree_size = NULL, checkpoint_id = NULL, outcomes = NULL, refs = NULL
                 WHERE k.created_at <= now() - make_interval(days => $4)
                    OR (k.status IS NULL AND k.created_at <= now() - make_interval(secs => $5))
             RETURNING created_at",
        )
        .bind(provider_id)
        .bind(key)
        .bind(request_hash.as_slice())
        .bind(days(expire_days))
        .bind(lease.as_secs_f64())
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(at) = claimed {
            return Ok(Claim::Claimed(at));
        }
        let row = sqlx::query(
            "SELECT request_hash, status, tree_size, checkpoint_id, outcomes, refs
             FROM idempotency_keys WHERE provider_id = $1 AND key = $2",
        )
        .bind(provider_id)
        .bind(key)
        .fetch_optional(&mut *conn)
        .await?;
        let Some(row) = row else { continue };
        let stored_hash: Vec<u8> = row.try_get("request_hash")?;
        if stored_hash != request_hash {
            return Ok(Claim::OtherRequest);
        }
        let Some(status) = row.try_get::<Option<i16>, _>("status")? else { return Ok(Claim::InFlight) };
        let tree_size: i64 = row.try_get("tree_size")?;
        let refs: Vec<i64> = row.try_get("refs")?;
        return Ok(Claim::Finished(Answer {
            status: u16::try_from(status).unwrap_or_default(),
            tree_size: u64::try_from(tree_size).unwrap_or_default(),
            checkpoint_id: row.try_get("checkpoint_id")?,
            outcomes: row.try_get("outcomes")?,
            refs: refs.into_iter().map(|r| u64::try_from(r).unwrap_or_default()).collect(),
        }));
    }
    Ok(Claim::InFlight)
}

/// Stores the answer of the claim made at `claimed_at`; false if that claim is gone
/// (taken over after its lease).
pub async fn finish(
    conn: &mut PgConnection,
    provider_id: i64,
    key: &str,
    claimed_at: DateTime<Utc>,
    answer: &Answer,
) -> Result<bool, sqlx::Error> {
    let refs: Vec<i64> = answer.refs.iter().map(|r| to_i64(*r)).collect();
    let result = sqlx::query(
        "UPDATE idempotency_keys SET status = $4, tree_size = $5, checkpoint_id = $6, outcomes = $7, refs = $8
         WHERE provider_id = $1 AND key = $2 AND created_at = $3 AND status IS NULL",
    )
    .bind(provider_id)
    .bind(key)
    .bind(claimed_at)
    .bind(i16::try_from(answer.status).unwrap_or(i16::MAX))
    .bind(to_i64(answer.tree_size))
    .bind(answer.checkpoint_id)
    .bind(&answer.outcomes)
    .bind(&refs)
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Gives up the claim made at `claimed_at` (the request failed): the key is unused again.
pub async fn release(
    conn: &mut PgConnection,
    provider_id: i64,
    key: &str,
    claimed_at: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(
        "DELETE FROM idempotency_keys WHERE provider_id = $1 AND key = $2 AND created_at = $3 AND status IS NULL",
    )
    .bind(provider_id)
    .bind(key)
    .bind(claimed_at)
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Deletes every key older than `expire_days`; returns how many.
pub async fn prune(conn: &mut PgConnection, expire_days: u32) -> Result<u64, sqlx::Error> {
    let result = sqlx::query("DELETE FROM idempotency_keys WHERE created_at <= now() - make_interval(days => $1)")
        .bind(days(expire_days))
        .execute(conn)
        .await?;
    Ok(result.rows_affected())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Results as the ingest sequencer numbers them: new entries from `head` on.
    fn sequenced(head: u64, kinds: &[(u8, u64)]) -> Vec<RecordResult> {
        let mut next = head;
        kinds
            .iter()
            .map(|&(kind, reference)| {
                let result = match kind % 3 {
                    0 => RecordResult { outcome: Outcome::Created, entry_index: next, supersedes: None },
                    1 => RecordResult { outcome: Outcome::Amended, entry_index: next, supersedes: Some(reference) },
                    _ => RecordResult { outcome: Outcome::Duplicate, entry_index: reference, supersedes: None },
                };
                next += u64::from(result.outcome != Outcome::Duplicate);
                result
            })
            .collect()
    }

    #[test]
    fn an_answer_lists_only_what_cannot_be_derived() {
        let results = sequenced(7, &[(0, 0), (1, 3), (2, 5), (0, 0)]);
        let answer = Answer::new(201, 10, Some(4), &results);
        assert_eq!((answer.outcomes.as_str(), answer.refs.as_slice()), ("cadc", [3, 5].as_slice()));
        assert_eq!(answer.results(false), Some(results.clone()));
        let dry = Answer::new(200, 7, None, &results);
        assert_eq!(dry.results(true), Some(results));
        let broken = Answer { refs: vec![3], ..answer };
        assert_eq!(broken.results(false), None, "a missing reference is refused, not guessed");
    }

    proptest! {
        #[test]
        fn answers_round_trip(head in 0u64..1_000_000, kinds in proptest::collection::vec((0u8..3, 0u64..1_000_000), 0..200), dry_run: bool) {
            let results = sequenced(head, &kinds);
            let new = results.iter().filter(|r| r.outcome != Outcome::Duplicate).count() as u64;
            let tree_size = if dry_run { head } else { head + new };
            prop_assert_eq!(Answer::new(201, tree_size, None, &results).results(dry_run), Some(results));
        }
    }
}
