//! The embedded queue: SQS semantics in one SQLite file.
//!
//! Every message is one row; "in flight" is simply `visible_at_ms` in the future, so a
//! process killed with `kill -9` leaves nothing half-done: its messages reappear when their
//! visibility expires, exactly as on SQS. Each receive bumps `receive_count` and issues a
//! fresh receipt, so a stale receipt (an earlier delivery) can neither delete nor extend the
//! message. A message received more than `max_receive_count` times is moved to the
//! dead-letter queue on its next receive (SQS's redrive policy), with the reason attached.
//! Message attributes are a JSON object of strings; a move to the dead-letter queue adds
//! the reason attributes to the ones the message had.
//!
//! Several processes may share the file (WAL mode, `BEGIN IMMEDIATE`, busy timeout).
//! Job results live in the same file, keyed by job id, so storing one is idempotent.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::{
    epoch_millis, BatchFailure, DeadLetterReason, JobQueue, MessageAttribute, QueueError,
    ReceivedMessage, VisibilityChange, ATTR_DETAIL, ATTR_REASON, ATTR_RECEIVE_COUNT,
};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS messages (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    queue         TEXT    NOT NULL,
    message_id    TEXT    NOT NULL,
    body          TEXT    NOT NULL,
    attributes    TEXT    NOT NULL DEFAULT '{}',
    sent_at_ms    INTEGER NOT NULL,
    visible_at_ms INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    receipt       TEXT
);
CREATE INDEX IF NOT EXISTS messages_ready ON messages (queue, visible_at_ms, id);
CREATE UNIQUE INDEX IF NOT EXISTS messages_receipt ON messages (receipt);
CREATE TABLE IF NOT EXISTS sent (
    queue  TEXT NOT NULL,
    dedup  TEXT NOT NULL,
    PRIMARY KEY (queue, dedup)
);
CREATE TABLE IF NOT EXISTS results (
    job_id       TEXT PRIMARY KEY,
    body         TEXT NOT NULL,
    stored_at_ms INTEGER NOT NULL
);
";

/// How often a long poll re-checks the table; cheap (an indexed query).
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// A handle on one named queue (and its dead-letter queue) inside an SQLite file.
#[derive(Clone)]
pub struct EmbeddedQueue {
    db: Arc<Mutex<Connection>>,
    path: PathBuf,
    queue: String,
    dlq: String,
    max_receive_count: u32,
}

/// Counts for tests, the CLI and benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueCounts {
    pub visible: u64,
    pub in_flight: u64,
}

static RECEIPT_SEQ: AtomicU64 = AtomicU64::new(0);

fn new_receipt(row: i64) -> String {
    // Unique across processes sharing the file: pid + time + a per-process counter.
    let n = RECEIPT_SEQ.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{row}-{}-{nanos:x}-{n}", std::process::id())
}

fn now_ms() -> i64 {
    epoch_millis(SystemTime::now())
}

impl EmbeddedQueue {
    /// Open (creating if needed) queue `queue` in the SQLite file at `path`. Its dead-letter
    /// queue is `"{queue}-dlq"` in the same file.
    pub fn open(
        path: impl AsRef<Path>,
        queue: &str,
        max_receive_count: u32,
    ) -> Result<Self, QueueError> {
        if queue.is_empty() {
            return Err(QueueError::Invalid("embedded queue name is empty".into()));
        }
        if max_receive_count == 0 {
            return Err(QueueError::Invalid("max_receive_count must be >= 1".into()));
        }
        let path = path.as_ref().to_path_buf();
        let conn = Connection::open(&path)?;
        conn.busy_timeout(Duration::from_secs(30))?;
        // WAL: readers never block the writer; NORMAL sync is crash-safe for a killed
        // process (only an OS crash could lose the last commits).
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.execute_batch(SCHEMA)?;
        Ok(Self {
            db: Arc::new(Mutex::new(conn)),
            path,
            queue: queue.to_string(),
            dlq: format!("{queue}-dlq"),
            max_receive_count,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn name(&self) -> &str {
        &self.queue
    }

    /// The same file's dead-letter queue, as a queue of its own (for inspection or redrive).
    pub fn dead_letter_queue(&self) -> EmbeddedQueue {
        EmbeddedQueue {
            db: self.db.clone(),
            path: self.path.clone(),
            queue: self.dlq.clone(),
            dlq: format!("{}-dlq", self.dlq),
            max_receive_count: u32::MAX,
        }
    }

    async fn blocking<T, F>(&self, f: F) -> Result<T, QueueError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, QueueError> + Send + 'static,
    {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = db.lock().unwrap_or_else(|e| e.into_inner());
            f(&mut conn)
        })
        .await
        .map_err(|e| QueueError::Service(format!("embedded queue task failed: {e}")))?
    }

    /// Enqueue one message; returns its message id.
    pub async fn send(&self, body: &str) -> Result<String, QueueError> {
        let ids = self.send_batch(&[body.to_string()]).await?;
        Ok(ids.into_iter().next().unwrap_or_default())
    }

    /// Enqueue one message with string attributes (kept on a move to the DLQ).
    pub async fn send_with_attributes(
        &self,
        body: &str,
        attributes: &std::collections::BTreeMap<String, String>,
    ) -> Result<String, QueueError> {
        let (queue, body) = (self.queue.clone(), body.to_string());
        let attrs = serde_json::to_string(attributes)
            .map_err(|e| QueueError::Invalid(format!("attributes: {e}")))?;
        self.blocking(move |conn| {
            let message_id = new_receipt(0);
            conn.execute(
                "INSERT INTO messages (queue, message_id, body, attributes, sent_at_ms, visible_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                params![queue, message_id, body, attrs, now_ms()],
            )?;
            Ok(message_id)
        })
        .await
    }

    /// Enqueue several messages in one transaction.
    pub async fn send_batch(&self, bodies: &[String]) -> Result<Vec<String>, QueueError> {
        let queue = self.queue.clone();
        let bodies = bodies.to_vec();
        self.blocking(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut ids = Vec::with_capacity(bodies.len());
            let now = now_ms();
            for body in &bodies {
                let message_id = new_receipt(0);
                tx.execute(
                    "INSERT INTO messages (queue, message_id, body, sent_at_ms, visible_at_ms)
                     VALUES (?1, ?2, ?3, ?4, ?4)",
                    params![queue, message_id, body, now],
                )?;
                ids.push(message_id);
            }
            tx.commit()?;
            Ok(ids)
        })
        .await
    }

    /// Enqueue `(dedup_id, body)` messages in one transaction, skipping every dedup id this
    /// queue was ever sent before (SQS FIFO deduplication, but permanent). Returns, per
    /// entry, whether it was enqueued. Lets a producer re-submit a whole batch after a crash
    /// without duplicating a job or losing one.
    pub async fn send_batch_unique(
        &self,
        entries: &[(String, String)],
    ) -> Result<Vec<bool>, QueueError> {
        let queue = self.queue.clone();
        let entries = entries.to_vec();
        self.blocking(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let now = now_ms();
            let mut sent = Vec::with_capacity(entries.len());
            for (dedup, body) in &entries {
                let new = tx.execute(
                    "INSERT OR IGNORE INTO sent (queue, dedup) VALUES (?1, ?2)",
                    params![queue, dedup],
                )? == 1;
                if new {
                    tx.execute(
                        "INSERT INTO messages (queue, message_id, body, sent_at_ms, visible_at_ms)
                         VALUES (?1, ?2, ?3, ?4, ?4)",
                        params![queue, new_receipt(0), body, now],
                    )?;
                }
                sent.push(new);
            }
            tx.commit()?;
            Ok(sent)
        })
        .await
    }

    /// Make every in-flight message of this queue visible again at once. Only for a
    /// consumer that knows it is the file's sole user (the CLI holds a lock) and is
    /// restarting after a crash: otherwise those messages would wait out their visibility.
    pub async fn release_in_flight(&self) -> Result<u64, QueueError> {
        let queue = self.queue.clone();
        self.blocking(move |conn| {
            let now = now_ms();
            let n = conn.execute(
                "UPDATE messages SET visible_at_ms = ?2, receipt = NULL
                 WHERE queue = ?1 AND visible_at_ms > ?2",
                params![queue, now],
            )?;
            Ok(n as u64)
        })
        .await
    }

    /// Stored results after `cursor` (0 = from the start), in storage order, at most
    /// `limit`: `(cursor, job_id, body)`. Pass the last cursor back to stream new results.
    pub async fn results_after(
        &self,
        cursor: i64,
        limit: u32,
    ) -> Result<Vec<(i64, String, String)>, QueueError> {
        self.blocking(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT rowid, job_id, body FROM results WHERE rowid > ?1 ORDER BY rowid LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![cursor, limit], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    /// Visible and in-flight message counts of this queue.
    pub async fn counts(&self) -> Result<QueueCounts, QueueError> {
        let queue = self.queue.clone();
        self.blocking(move |conn| {
            let now = now_ms();
            let (visible, in_flight): (i64, i64) = conn.query_row(
                "SELECT COALESCE(SUM(visible_at_ms <= ?2), 0), COALESCE(SUM(visible_at_ms > ?2), 0)
                 FROM messages WHERE queue = ?1",
                params![queue, now],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            Ok(QueueCounts {
                visible: visible as u64,
                in_flight: in_flight as u64,
            })
        })
        .await
    }

    /// All messages of this queue with their attributes (JSON object), for inspection.
    pub async fn peek_all(&self) -> Result<Vec<(String, serde_json::Value)>, QueueError> {
        let queue = self.queue.clone();
        self.blocking(move |conn| {
            let mut stmt =
                conn.prepare("SELECT body, attributes FROM messages WHERE queue = ?1 ORDER BY id")?;
            let rows = stmt.query_map(params![queue], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (body, attrs) = row?;
                let attrs = serde_json::from_str(&attrs).unwrap_or(serde_json::Value::Null);
                out.push((body, attrs));
            }
            Ok(out)
        })
        .await
    }

    /// Store a job result unless one exists for this job id. Returns whether it was new.
    pub async fn store_result(&self, job_id: &str, body: &str) -> Result<bool, QueueError> {
        let (job_id, body) = (job_id.to_string(), body.to_string());
        self.blocking(move |conn| {
            let n = conn.execute(
                "INSERT OR IGNORE INTO results (job_id, body, stored_at_ms) VALUES (?1, ?2, ?3)",
                params![job_id, body, now_ms()],
            )?;
            Ok(n == 1)
        })
        .await
    }

    pub async fn has_result(&self, job_id: &str) -> Result<bool, QueueError> {
        let job_id = job_id.to_string();
        self.blocking(move |conn| {
            Ok(conn
                .query_row(
                    "SELECT 1 FROM results WHERE job_id = ?1",
                    params![job_id],
                    |_| Ok(()),
                )
                .optional()?
                .is_some())
        })
        .await
    }

    pub async fn result(&self, job_id: &str) -> Result<Option<String>, QueueError> {
        let job_id = job_id.to_string();
        self.blocking(move |conn| {
            Ok(conn
                .query_row(
                    "SELECT body FROM results WHERE job_id = ?1",
                    params![job_id],
                    |r| r.get(0),
                )
                .optional()?)
        })
        .await
    }

    pub async fn result_count(&self) -> Result<u64, QueueError> {
        self.blocking(|conn| {
            let n: i64 = conn.query_row("SELECT COUNT(*) FROM results", [], |r| r.get(0))?;
            Ok(n as u64)
        })
        .await
    }

    /// One non-blocking receive attempt.
    fn try_receive(
        conn: &mut Connection,
        queue: &str,
        dlq: &str,
        max_receive_count: u32,
        max: u32,
        visibility: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let now = now_ms();
        type Row = (i64, String, String, i64, u32, String);
        let candidates: Vec<Row> = {
            let mut stmt = tx.prepare_cached(
                "SELECT id, message_id, body, sent_at_ms, receive_count, attributes FROM messages
                 WHERE queue = ?1 AND visible_at_ms <= ?2 ORDER BY visible_at_ms, id LIMIT ?3",
            )?;
            let rows = stmt.query_map(params![queue, now, max], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })?;
            rows.collect::<Result<_, _>>()?
        };
        let mut out = Vec::with_capacity(candidates.len());
        for (id, message_id, body, sent_at_ms, count, attributes) in candidates {
            if count >= max_receive_count {
                // Redrive policy: delivered max_receive_count times and still here.
                let attrs = serde_json::json!({
                    ATTR_REASON: "max_receive_count_exceeded",
                    ATTR_DETAIL: format!("received {count} times without being deleted"),
                    ATTR_RECEIVE_COUNT: count.to_string(),
                });
                tx.execute(
                    "UPDATE messages SET queue = ?2, attributes = json_patch(attributes, ?3),
                     visible_at_ms = ?4, receive_count = 0, receipt = NULL WHERE id = ?1",
                    params![id, dlq, attrs.to_string(), now],
                )?;
                continue;
            }
            let receipt = new_receipt(id);
            let visible_at = now + visibility.as_millis() as i64;
            tx.execute(
                "UPDATE messages SET receive_count = receive_count + 1, receipt = ?2,
                 visible_at_ms = ?3 WHERE id = ?1",
                params![id, receipt, visible_at],
            )?;
            out.push(ReceivedMessage {
                message_id,
                receipt,
                body,
                receive_count: count + 1,
                sent_at: Some(SystemTime::UNIX_EPOCH + Duration::from_millis(sent_at_ms as u64)),
                attributes: parse_attributes(&attributes),
                group_id: None,
            });
        }
        tx.commit()?;
        Ok(out)
    }
}

/// The `attributes` column (a JSON object of strings) as message attributes.
fn parse_attributes(json: &str) -> std::collections::BTreeMap<String, MessageAttribute> {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str(json) else {
        return Default::default();
    };
    map.into_iter()
        .filter_map(|(k, v)| Some((k, MessageAttribute::string(v.as_str()?))))
        .collect()
}

impl JobQueue for EmbeddedQueue {
    async fn receive(
        &self,
        max: u32,
        wait: Duration,
        visibility: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        if !(1..=10).contains(&max) {
            return Err(QueueError::Invalid(format!(
                "receive max {max} not in 1..=10"
            )));
        }
        let deadline = Instant::now() + wait;
        loop {
            let (queue, dlq, mrc) = (self.queue.clone(), self.dlq.clone(), self.max_receive_count);
            let got = self
                .blocking(move |conn| Self::try_receive(conn, &queue, &dlq, mrc, max, visibility))
                .await?;
            let now = Instant::now();
            if !got.is_empty() || now >= deadline {
                return Ok(got);
            }
            tokio::time::sleep(POLL_INTERVAL.min(deadline - now)).await;
        }
    }

    async fn delete_batch(&self, receipts: &[String]) -> Result<Vec<BatchFailure>, QueueError> {
        let receipts = receipts.to_vec();
        self.blocking(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut failures = Vec::new();
            for r in &receipts {
                let n = tx.execute("DELETE FROM messages WHERE receipt = ?1", params![r])?;
                if n == 0 {
                    failures.push(BatchFailure {
                        receipt: r.clone(),
                        message: "receipt handle is no longer valid".into(),
                    });
                }
            }
            tx.commit()?;
            Ok(failures)
        })
        .await
    }

    async fn change_visibility_batch(
        &self,
        changes: &[VisibilityChange],
    ) -> Result<Vec<BatchFailure>, QueueError> {
        let changes = changes.to_vec();
        self.blocking(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let now = now_ms();
            let mut failures = Vec::new();
            for c in &changes {
                // Like SQS, a change only applies to the current delivery.
                let n = tx.execute(
                    "UPDATE messages SET visible_at_ms = ?2 WHERE receipt = ?1",
                    params![c.receipt, now + c.timeout.as_millis() as i64],
                )?;
                if n == 0 {
                    failures.push(BatchFailure {
                        receipt: c.receipt.clone(),
                        message: "receipt handle is no longer valid".into(),
                    });
                }
            }
            tx.commit()?;
            Ok(failures)
        })
        .await
    }

    async fn dead_letter(
        &self,
        message: &ReceivedMessage,
        reason: &DeadLetterReason,
    ) -> Result<(), QueueError> {
        let receipt = message.receipt.clone();
        let dlq = self.dlq.clone();
        let attrs = serde_json::json!({
            ATTR_REASON: reason.code,
            ATTR_DETAIL: reason.detail,
            ATTR_RECEIVE_COUNT: message.receive_count.to_string(),
        })
        .to_string();
        // One UPDATE moves it: atomic, so it is never in both queues nor in neither. The
        // reason attributes are merged into the message's own.
        self.blocking(move |conn| {
            let n = conn.execute(
                "UPDATE messages SET queue = ?2, attributes = json_patch(attributes, ?3),
                 visible_at_ms = ?4, receive_count = 0, receipt = NULL WHERE receipt = ?1",
                params![receipt, dlq, attrs, now_ms()],
            )?;
            if n == 0 {
                return Err(QueueError::Invalid(
                    "dead-letter: receipt handle is no longer valid".into(),
                ));
            }
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn unique_sends_release_and_result_cursor() {
        let dir = tempfile::tempdir().unwrap();
        let q = EmbeddedQueue::open(dir.path().join("q.db"), "jobs", 5).unwrap();
        let entries = |ids: &[&str]| -> Vec<(String, String)> {
            ids.iter()
                .map(|i| (i.to_string(), format!("body-{i}")))
                .collect()
        };
        assert_eq!(
            q.send_batch_unique(&entries(&["a", "b"])).await.unwrap(),
            vec![true, true]
        );
        // A re-submission after a crash: only the new id is enqueued.
        assert_eq!(
            q.send_batch_unique(&entries(&["a", "b", "c"]))
                .await
                .unwrap(),
            vec![false, false, true]
        );
        assert_eq!(q.counts().await.unwrap().visible, 3);

        let got = q
            .receive(2, Duration::ZERO, Duration::from_secs(300))
            .await
            .unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(q.counts().await.unwrap().in_flight, 2);
        assert_eq!(q.release_in_flight().await.unwrap(), 2);
        assert_eq!(q.counts().await.unwrap().visible, 3);
        // The released deliveries' receipts are void.
        assert_eq!(
            q.delete_batch(&[got[0].receipt.clone()])
                .await
                .unwrap()
                .len(),
            1
        );

        // A dead-lettered message keeps its own attributes beside the reason.
        let attrs = std::collections::BTreeMap::from([("trace-id".to_string(), "t-9".to_string())]);
        q.send_with_attributes("payload", &attrs).await.unwrap();
        let mut got = Vec::new();
        while got.is_empty() {
            got = q
                .receive(10, Duration::ZERO, Duration::from_secs(300))
                .await
                .unwrap()
                .into_iter()
                .filter(|m| m.body == "payload")
                .collect();
        }
        assert_eq!(
            got[0].attributes["trace-id"].string_value.as_deref(),
            Some("t-9")
        );
        let reason = DeadLetterReason {
            code: "corrupt_image".into(),
            detail: "bad".into(),
        };
        q.dead_letter(&got[0], &reason).await.unwrap();
        let dead = q.dead_letter_queue().peek_all().await.unwrap();
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0].1["trace-id"], "t-9");
        assert_eq!(dead[0].1[ATTR_REASON], "corrupt_image");

        q.store_result("j1", "r1").await.unwrap();
        q.store_result("j2", "r2").await.unwrap();
        let first = q.results_after(0, 1).await.unwrap();
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].1, "j1");
        let rest = q.results_after(first[0].0, 10).await.unwrap();
        assert_eq!(
            rest.iter().map(|r| r.1.as_str()).collect::<Vec<_>>(),
            ["j2"]
        );
    }
}
