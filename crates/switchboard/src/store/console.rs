//! What the operator console reads: refresh counts per hour, events per endpoint, deliveries by status.

use super::{Store, StoreResult};

/// How many refreshes of one outcome happened in one hour (unix ms of its start).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RefreshBucket {
    pub hour: i64,
    pub outcome: String,
    pub count: i64,
}

/// Events an endpoint took since some instant, and the newest one's time.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EndpointTraffic {
    pub endpoint_id: String,
    pub count: i64,
    pub last_at: i64,
}

impl Store {
    /// Counts one refresh in its hour.
    pub async fn count_refresh(&self, hour: i64, provider: &str, outcome: &str) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO refresh_stats (hour, provider, outcome, count) VALUES ($1, $2, $3, 1) \
             ON CONFLICT (hour, provider, outcome) DO UPDATE SET count = refresh_stats.count + 1",
        )
        .bind(hour)
        .bind(provider)
        .bind(outcome)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Refresh counts per hour and outcome from `since` on, every provider together.
    pub async fn refresh_buckets(&self, since: i64) -> StoreResult<Vec<RefreshBucket>> {
        Ok(sqlx::query_as(
            "SELECT hour, outcome, CAST(SUM(count) AS BIGINT) AS count FROM refresh_stats WHERE hour >= $1 \
             GROUP BY hour, outcome ORDER BY hour",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn purge_refresh_stats(&self, before: i64) -> StoreResult<u64> {
        Ok(sqlx::query("DELETE FROM refresh_stats WHERE hour < $1")
            .bind(before)
            .execute(&self.writer)
            .await?
            .rows_affected())
    }

    /// Events per endpoint received from `since` on.
    pub async fn endpoint_traffic(&self, since: i64) -> StoreResult<Vec<EndpointTraffic>> {
        Ok(sqlx::query_as(
            "SELECT endpoint_id, COUNT(*) AS count, MAX(received_at) AS last_at FROM events \
             WHERE received_at >= $1 AND endpoint_id IS NOT NULL GROUP BY endpoint_id",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Deliveries by status.
    pub async fn delivery_counts(&self) -> StoreResult<Vec<(String, i64)>> {
        Ok(sqlx::query_as("SELECT status, COUNT(*) FROM deliveries GROUP BY status ORDER BY status")
            .fetch_all(&self.pool)
            .await?)
    }

    /// A short fingerprint of what the console shows live: connection statuses and the newest
    /// delivery changes. It changes whenever either does.
    pub async fn console_fingerprint(&self) -> StoreResult<(String, String)> {
        let connections: (i64, Option<i64>) =
            sqlx::query_as("SELECT COUNT(*), MAX(updated_at) FROM connections").fetch_one(&self.pool).await?;
        let deliveries: (i64, Option<i64>) =
            sqlx::query_as("SELECT COUNT(*), MAX(updated_at) FROM deliveries").fetch_one(&self.pool).await?;
        Ok((format!("{}:{:?}", connections.0, connections.1), format!("{}:{:?}", deliveries.0, deliveries.1)))
    }
}
