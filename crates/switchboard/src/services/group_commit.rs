//! Group commit: items that arrive while a batch is being committed go into the
//! next one, so concurrent requests share a transaction and an fsync. Each
//! caller still waits until its own item is durable, so nothing is
//! acknowledged before it is on record.

use std::future::Future;

use tokio::sync::{mpsc, oneshot};

use crate::store::{StoreError, StoreResult};

/// Most items committed in one transaction.
const MAX_BATCH: usize = 256;

type Pending<T, R> = (T, oneshot::Sender<StoreResult<R>>);

pub struct GroupCommit<T, R> {
    tx: mpsc::Sender<Pending<T, R>>,
    name: &'static str,
}

impl<T, R> Clone for GroupCommit<T, R> {
    fn clone(&self) -> Self {
        Self { tx: self.tx.clone(), name: self.name }
    }
}

impl<T, R> std::fmt::Debug for GroupCommit<T, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit").field("name", &self.name).finish_non_exhaustive()
    }
}

impl<T: Send + 'static, R: Send + 'static> GroupCommit<T, R> {
    /// Starts the writer task; it ends when the last handle is dropped. `commit`
    /// stores a batch in one transaction and gives each item's result, in order.
    #[must_use]
    pub fn spawn<F, Fut>(name: &'static str, commit: F) -> Self
    where
        F: Fn(Vec<T>) -> Fut + Send + 'static,
        Fut: Future<Output = StoreResult<Vec<R>>> + Send,
    {
        let (tx, mut rx) = mpsc::channel::<Pending<T, R>>(4 * MAX_BATCH);
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(p) => batch.push(p),
                        Err(_) => break,
                    }
                }
                let (items, replies): (Vec<T>, Vec<_>) = batch.into_iter().unzip();
                match commit(items).await {
                    Ok(results) => {
                        for (reply, r) in replies.into_iter().zip(results) {
                            let _ = reply.send(Ok(r));
                        }
                    }
                    Err(e) => {
                        for reply in replies {
                            let _ = reply.send(Err(e.clone()));
                        }
                    }
                }
            }
        });
        Self { tx, name }
    }

    /// Stores one item and waits until it is durable.
    pub async fn write(&self, item: T) -> StoreResult<R> {
        let (reply, done) = oneshot::channel();
        let stopped = || StoreError::Unavailable(format!("the {} writer has stopped", self.name));
        self.tx.send((item, reply)).await.map_err(|_| stopped())?;
        done.await.map_err(|_| stopped())?
    }
}
