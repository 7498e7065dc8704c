//! Versioned schema migrations (`migrations/pg/NNNN_name.sql`, embedded),
//! applied on start under a session advisory lock so that several nodes may
//! start at once: the first applies what is missing, the others wait and
//! then find nothing left to do. Applied versions are rows of
//! `schema_migrations`; each migration runs in its own transaction.

use tokio_postgres::Client;

/// Every migration, in order: (version, name, SQL).
pub const MIGRATIONS: &[(i32, &str, &str)] = &[(
    1,
    "init",
    include_str!("../../../migrations/pg/0001_init.sql"),
)];

/// The advisory lock key held while migrating ("localcos" in ASCII).
const MIGRATION_LOCK: i64 = 0x6c6f_6361_6c63_6f73;

/// Applies the missing migrations; returns the versions applied now.
/// # Behavior
/// - A database migrated by a newer build (a version this build does not
///   know) is refused with a message; nothing is changed.
pub async fn migrate(client: &mut Client) -> Result<Vec<i32>, MigrateError> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    let out = apply(client).await;
    // Also released when the connection closes (the caller drops it).
    let _ = client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await;
    out
}

async fn apply(client: &mut Client) -> Result<Vec<i32>, MigrateError> {
    // No NOTICE for the table that already exists (every start but the first).
    client
        .batch_execute("SET client_min_messages = warning")
        .await?;
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                version INTEGER PRIMARY KEY,
                name TEXT NOT NULL,
                applied_ms BIGINT NOT NULL
            )",
        )
        .await?;
    let done: Vec<i32> = client
        .query("SELECT version FROM schema_migrations", &[])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let known = MIGRATIONS.last().map_or(0, |m| m.0);
    if let Some(newer) = done.iter().copied().filter(|v| *v > known).max() {
        return Err(MigrateError::Newer {
            found: newer,
            known,
        });
    }
    let mut applied = Vec::new();
    for (version, name, sql) in MIGRATIONS {
        if done.contains(version) {
            continue;
        }
        let tx = client.transaction().await?;
        tx.batch_execute(sql).await?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_ms) VALUES ($1, $2, $3)",
            &[version, name, &crate::clock::now_ms()],
        )
        .await?;
        tx.commit().await?;
        tracing::info!(version, name, "applied PostgreSQL schema migration");
        applied.push(*version);
    }
    Ok(applied)
}

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("{0}")]
    Db(#[from] tokio_postgres::Error),
    #[error(
        "the database schema is at version {found}, newer than this build knows ({known}): upgrade localcos"
    )]
    Newer { found: i32, known: i32 },
}
