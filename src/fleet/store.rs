//! Where fleet reports are kept: a SQLite file (embedded, nothing to set up; WAL so the page reads
//! while reports are written) or a PostgreSQL database (`postgres://...`), behind one small API.
//!
//! Both hold the same schema, created and upgraded by [`MIGRATIONS`] (numbered steps recorded in
//! `schema_migrations`; a database written by a newer launcher is refused rather than misread). The SQL
//! is written once in the subset both databases speak (`$N` placeholders become `?N` for SQLite); the
//! fleet page's figures are computed from the rows in `page.rs`, so both give the same page.
//!
//! A report's `id` is its primary key and inserts ignore a known id: a launcher that resends a report
//! (its sender died after the server stored it) does not count twice.

use super::Stored;
use crate::report::Report;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Schema steps, applied in order, each once. Never edit a step that shipped: add one.
pub const MIGRATIONS: &[(i64, &str)] = &[(
    1,
    "CREATE TABLE reports (
        id TEXT PRIMARY KEY,
        install_id TEXT NOT NULL,
        machine TEXT NOT NULL,
        os TEXT NOT NULL,
        launcher_version TEXT NOT NULL,
        product TEXT NOT NULL,
        channel TEXT NOT NULL,
        platform TEXT NOT NULL,
        event TEXT NOT NULL,
        result TEXT NOT NULL,
        from_version TEXT,
        to_version TEXT,
        installed TEXT,
        error TEXT,
        bytes BIGINT NOT NULL,
        seconds DOUBLE PRECISION NOT NULL,
        dropped BIGINT NOT NULL,
        reported_us BIGINT NOT NULL,
        received_at BIGINT NOT NULL,
        address TEXT NOT NULL
    );
    CREATE INDEX reports_install ON reports (install_id, reported_us);
    CREATE INDEX reports_received ON reports (received_at);
    CREATE INDEX reports_result ON reports (result, received_at);",
)];

const COLS: &str = "id, install_id, machine, os, launcher_version, product, channel, platform, event, \
    result, from_version, to_version, installed, error, bytes, seconds, dropped, reported_us, received_at";

const INSERT: &str = "INSERT INTO reports (id, install_id, machine, os, launcher_version, product, \
    channel, platform, event, result, from_version, to_version, installed, error, bytes, seconds, \
    dropped, reported_us, received_at, address) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, \
    $12, $13, $14, $15, $16, $17, $18, $19, $20) ON CONFLICT (id) DO NOTHING";

/// The newest report of every install, with the time it was last heard of.
fn latest_sql() -> String {
    format!(
        "SELECT {COLS}, last_seen FROM (SELECT {COLS}, \
           ROW_NUMBER() OVER (PARTITION BY install_id ORDER BY reported_us DESC, received_at DESC, id DESC) AS rn, \
           MAX(received_at) OVER (PARTITION BY install_id) AS last_seen FROM reports) t WHERE rn = 1"
    )
}

fn failures_sql() -> String {
    format!(
        "SELECT {COLS}, received_at FROM reports WHERE result = 'failed' AND received_at >= $1 \
         ORDER BY received_at DESC, reported_us DESC LIMIT $2"
    )
}

fn history_sql() -> String {
    format!(
        "SELECT {COLS}, received_at FROM reports WHERE install_id = $1 \
         ORDER BY reported_us DESC, received_at DESC LIMIT $2"
    )
}

const COUNT: &str = "SELECT COUNT(*) FROM reports";

fn sqlite_sql(sql: &str) -> String {
    sql.replace('$', "?")
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the report database `{path}`")]
    SqliteOpen {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("the report database `{0}` has schema version {1}, newer than this launcher knows ({2}); use a newer launcher")]
    TooNew(String, i64, i64),
    #[error("cannot connect to the PostgreSQL database `{url}`")]
    PgConnect {
        url: String,
        #[source]
        source: tokio_postgres::Error,
    },
    #[error("the report database failed")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the report database failed")]
    Pg(#[from] tokio_postgres::Error),
    #[error("the report database's worker stopped")]
    Worker,
}

pub enum Store {
    Sqlite(Sqlite),
    Postgres(Postgres),
}

pub struct Sqlite {
    writer: Arc<Mutex<rusqlite::Connection>>,
    reader: Arc<Mutex<rusqlite::Connection>>,
}

pub struct Postgres {
    url: String,
    slots: Vec<Mutex<Arc<tokio_postgres::Client>>>,
    next: AtomicUsize,
}

/// How many connections the server keeps to PostgreSQL; reports are short inserts, so a few suffice.
const PG_CONNECTIONS: usize = 4;

/// How long a connection to PostgreSQL may take, unless the URL says (`?connect_timeout=SECONDS`).
const PG_CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

impl Store {
    /// Opens (creating and migrating) the store that `target` names: `postgres://` or `postgresql://`
    /// URLs go to PostgreSQL, anything else is a SQLite file path.
    pub async fn open(target: &str) -> Result<Store, StoreError> {
        if target.starts_with("postgres://") || target.starts_with("postgresql://") {
            Ok(Store::Postgres(Postgres::open(target).await?))
        } else {
            let target = target.to_string();
            tokio::task::spawn_blocking(move || Sqlite::open(&target))
                .await
                .map_err(|_| StoreError::Worker)?
                .map(Store::Sqlite)
        }
    }

    /// Stores a report; false when a report with its id was already there.
    pub async fn insert(
        &self,
        r: &Report,
        reported_us: i64,
        received_at: i64,
        address: &str,
    ) -> Result<bool, StoreError> {
        match self {
            Store::Sqlite(s) => {
                let (r, address) = (r.clone(), address.to_string());
                s.write(move |c| {
                    let n = c
                        .prepare_cached(&sqlite_sql(INSERT))?
                        .execute(rusqlite::params![
                            r.id,
                            r.install_id,
                            r.machine,
                            r.os,
                            r.launcher_version,
                            r.product,
                            r.channel,
                            r.platform,
                            r.event,
                            r.result,
                            r.from,
                            r.to,
                            r.installed,
                            r.error,
                            r.bytes as i64,
                            r.seconds,
                            r.dropped as i64,
                            reported_us,
                            received_at,
                            address
                        ])?;
                    Ok(n == 1)
                })
                .await
            }
            Store::Postgres(p) => {
                let (bytes, dropped) = (r.bytes as i64, r.dropped as i64);
                let n = p
                    .client()
                    .await?
                    .execute(
                        INSERT,
                        &[
                            &r.id,
                            &r.install_id,
                            &r.machine,
                            &r.os,
                            &r.launcher_version,
                            &r.product,
                            &r.channel,
                            &r.platform,
                            &r.event,
                            &r.result,
                            &r.from,
                            &r.to,
                            &r.installed,
                            &r.error,
                            &bytes,
                            &r.seconds,
                            &dropped,
                            &reported_us,
                            &received_at,
                            &address,
                        ],
                    )
                    .await?;
                Ok(n == 1)
            }
        }
    }

    /// The newest report of every install; `Stored::seen` is when the install was last heard of.
    pub async fn latest(&self) -> Result<Vec<Stored>, StoreError> {
        self.select(latest_sql(), Vec::new()).await
    }

    /// Failed reports received since `since` (unix seconds), newest first.
    pub async fn failures(&self, since: i64, limit: i64) -> Result<Vec<Stored>, StoreError> {
        self.select(failures_sql(), vec![Param::Int(since), Param::Int(limit)])
            .await
    }

    /// One install's reports, newest first.
    pub async fn history(&self, install_id: &str, limit: i64) -> Result<Vec<Stored>, StoreError> {
        self.select(
            history_sql(),
            vec![Param::Text(install_id.to_string()), Param::Int(limit)],
        )
        .await
    }

    pub async fn count(&self) -> Result<i64, StoreError> {
        match self {
            Store::Sqlite(s) => {
                s.read(|c| Ok(c.query_row(COUNT, [], |row| row.get(0))?))
                    .await
            }
            Store::Postgres(p) => Ok(p.client().await?.query_one(COUNT, &[]).await?.get(0)),
        }
    }

    async fn select(&self, sql: String, params: Vec<Param>) -> Result<Vec<Stored>, StoreError> {
        match self {
            Store::Sqlite(s) => {
                s.read(move |c| {
                    let mut stmt = c.prepare_cached(&sqlite_sql(&sql))?;
                    let bound: Vec<&dyn rusqlite::ToSql> = params
                        .iter()
                        .map(|p| match p {
                            Param::Int(i) => i as &dyn rusqlite::ToSql,
                            Param::Text(t) => t as &dyn rusqlite::ToSql,
                        })
                        .collect();
                    let rows = stmt.query_map(bound.as_slice(), |row| {
                        Ok(Stored {
                            report: Report {
                                id: row.get(0)?,
                                install_id: row.get(1)?,
                                machine: row.get(2)?,
                                os: row.get(3)?,
                                launcher_version: row.get(4)?,
                                product: row.get(5)?,
                                channel: row.get(6)?,
                                platform: row.get(7)?,
                                event: row.get(8)?,
                                result: row.get(9)?,
                                from: row.get(10)?,
                                to: row.get(11)?,
                                installed: row.get(12)?,
                                error: row.get(13)?,
                                bytes: row.get::<_, i64>(14)?.max(0) as u64,
                                seconds: row.get(15)?,
                                dropped: row.get::<_, i64>(16)?.max(0) as u64,
                                time: String::new(),
                            },
                            reported_us: row.get(17)?,
                            received_at: row.get(18)?,
                            seen: row.get(19)?,
                        })
                    })?;
                    Ok(rows.collect::<Result<Vec<_>, _>>()?)
                })
                .await
            }
            Store::Postgres(p) => {
                let bound: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = params
                    .iter()
                    .map(|p| match p {
                        Param::Int(i) => i as &(dyn tokio_postgres::types::ToSql + Sync),
                        Param::Text(t) => t as &(dyn tokio_postgres::types::ToSql + Sync),
                    })
                    .collect();
                let rows = p.client().await?.query(&sql, &bound).await?;
                Ok(rows
                    .iter()
                    .map(|row| Stored {
                        report: Report {
                            id: row.get(0),
                            install_id: row.get(1),
                            machine: row.get(2),
                            os: row.get(3),
                            launcher_version: row.get(4),
                            product: row.get(5),
                            channel: row.get(6),
                            platform: row.get(7),
                            event: row.get(8),
                            result: row.get(9),
                            from: row.get(10),
                            to: row.get(11),
                            installed: row.get(12),
                            error: row.get(13),
                            bytes: row.get::<_, i64>(14).max(0) as u64,
                            seconds: row.get(15),
                            dropped: row.get::<_, i64>(16).max(0) as u64,
                            time: String::new(),
                        },
                        reported_us: row.get(17),
                        received_at: row.get(18),
                        seen: row.get(19),
                    })
                    .collect())
            }
        }
    }
}

enum Param {
    Int(i64),
    Text(String),
}

impl Sqlite {
    fn open(path: &str) -> Result<Sqlite, StoreError> {
        let open = || {
            rusqlite::Connection::open(path).map_err(|source| StoreError::SqliteOpen {
                path: path.to_string(),
                source,
            })
        };
        let mut writer = open()?;
        let pragmas = |c: &rusqlite::Connection| -> Result<(), rusqlite::Error> {
            // WAL: readers (the fleet page) never block the writer; NORMAL sync is durable across
            // an application crash and loses at most the last commits on power loss.
            c.pragma_update(None, "journal_mode", "WAL")?;
            c.pragma_update(None, "synchronous", "NORMAL")?;
            c.busy_timeout(std::time::Duration::from_secs(10))?;
            Ok(())
        };
        pragmas(&writer).map_err(|source| StoreError::SqliteOpen {
            path: path.to_string(),
            source,
        })?;
        let tx = writer.transaction()?;
        tx.execute_batch(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
        )?;
        let current: i64 = tx.query_row(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            [],
            |r| r.get(0),
        )?;
        check_not_newer(path, current)?;
        for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
            tx.execute_batch(sql)?;
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
                rusqlite::params![version, crate::state::now_secs()],
            )?;
        }
        tx.commit()?;
        let reader = open()?;
        pragmas(&reader)?;
        Ok(Sqlite {
            writer: Arc::new(Mutex::new(writer)),
            reader: Arc::new(Mutex::new(reader)),
        })
    }

    async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&rusqlite::Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        Self::on(self.writer.clone(), f).await
    }

    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&rusqlite::Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        Self::on(self.reader.clone(), f).await
    }

    /// SQLite calls block, so they run on tokio's blocking pool, one at a time per connection.
    async fn on<T: Send + 'static>(
        conn: Arc<Mutex<rusqlite::Connection>>,
        f: impl FnOnce(&rusqlite::Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock leaves the connection usable: SQLite rolls back an
            // unfinished statement, so the poisoned guard is taken as it is.
            let c = conn.lock().unwrap_or_else(|p| p.into_inner());
            f(&c)
        })
        .await
        .map_err(|_| StoreError::Worker)?
    }
}

fn check_not_newer(name: &str, current: i64) -> Result<(), StoreError> {
    let known = MIGRATIONS.last().map(|(v, _)| *v).unwrap_or(0);
    if current > known {
        return Err(StoreError::TooNew(name.to_string(), current, known));
    }
    Ok(())
}

impl Postgres {
    async fn open(url: &str) -> Result<Postgres, StoreError> {
        let shown = redact(url);
        let mut clients = Vec::with_capacity(PG_CONNECTIONS);
        for _ in 0..PG_CONNECTIONS {
            clients.push(connect(url).await?);
        }
        let Some(first) = clients.first_mut() else {
            return Err(StoreError::Worker);
        };
        let tx = first.transaction().await?;
        // Two servers starting together on one database migrate one after the other.
        tx.execute("SELECT pg_advisory_xact_lock(7214001)", &[])
            .await?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
        )
        .await?;
        let current: i64 = tx
            .query_one(
                "SELECT COALESCE(MAX(version), 0)::BIGINT FROM schema_migrations",
                &[],
            )
            .await?
            .get(0);
        check_not_newer(&shown, current)?;
        for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
            tx.batch_execute(sql).await?;
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
                &[version, &crate::state::now_secs()],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(Postgres {
            url: url.to_string(),
            slots: clients
                .into_iter()
                .map(|c| Mutex::new(Arc::new(c)))
                .collect(),
            next: AtomicUsize::new(0),
        })
    }

    /// The connections take turns; each pipelines the queries given to it. A connection found closed
    /// (PostgreSQL restarted, the network dropped it) is replaced here, so the server recovers without
    /// a restart; the request that met the closed connection was answered `503` and is sent again by
    /// its launcher.
    async fn client(&self) -> Result<Arc<tokio_postgres::Client>, StoreError> {
        let slot = &self.slots[self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len()];
        let current = slot.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if !current.is_closed() {
            return Ok(current);
        }
        // Two requests may both find the slot closed and both connect; the later one replaces the
        // earlier, whose connection closes when its request is done.
        let fresh = Arc::new(connect(&self.url).await?);
        *slot.lock().unwrap_or_else(|p| p.into_inner()) = fresh.clone();
        Ok(fresh)
    }
}

/// One connection to PostgreSQL; its socket work runs as a task that ends when the client is dropped
/// or the server goes away.
async fn connect(url: &str) -> Result<tokio_postgres::Client, StoreError> {
    let failed = |source| StoreError::PgConnect {
        url: redact(url),
        source,
    };
    let mut config: tokio_postgres::Config = url.parse().map_err(failed)?;
    if config.get_connect_timeout().is_none() {
        // Without one, a database host that drops packets holds each report's request for the
        // system's TCP timeout (minutes); the launcher gives up long before and sends it again later.
        config.connect_timeout(PG_CONNECT_TIMEOUT);
    }
    let (client, connection) = config
        .connect(tokio_postgres::NoTls)
        .await
        .map_err(failed)?;
    tokio::spawn(connection);
    Ok(client)
}

/// The URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}
