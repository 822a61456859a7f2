//! One store over two engines. A [`Q`] holds SQL written once (with `?` placeholders) and
//! its arguments; [`Db`] and [`Tx`] run it on SQLite or PostgreSQL, rendering the
//! placeholders and binding each argument the way that engine stores it.
//!
//! Portable column conventions (see `migrations.rs`): UUIDs are `uuid` on PostgreSQL and
//! 16-byte blobs on SQLite; times are `timestamptz` on PostgreSQL and fixed-width
//! RFC 3339 text with microseconds on SQLite (so text order is time order); JSON is
//! `jsonb` / text; booleans are `boolean` / integer.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::types::Json;
use sqlx::{AssertSqlSafe, FromRow, PgPool, Postgres, Sqlite, SqlitePool};
use std::str::FromStr;
use std::time::Duration;
use uuid::Uuid;

use crate::StoreError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// One argument of a query, bound per engine.
#[derive(Clone, Debug)]
pub enum Arg {
    Null,
    Bool(bool),
    I64(i64),
    F64(f64),
    Text(String),
    Uuid(Uuid),
    Time(DateTime<Utc>),
    Date(NaiveDate),
    Json(Value),
}

/// The row of a `SELECT COUNT(*) AS n …`.
#[derive(sqlx::FromRow)]
pub(crate) struct Count {
    pub n: i64,
}

/// Formats a time the way SQLite columns hold it.
pub fn sqlite_time(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

macro_rules! arg_from {
    ($($t:ty => $v:ident),* $(,)?) => {$(
        impl From<$t> for Arg {
            fn from(x: $t) -> Self { Arg::$v(x.into()) }
        }
    )*};
}
arg_from!(bool => Bool, i64 => I64, i32 => I64, f64 => F64, String => Text, &str => Text,
    Uuid => Uuid, DateTime<Utc> => Time, NaiveDate => Date, Value => Json);

impl From<&String> for Arg {
    fn from(x: &String) -> Self {
        Arg::Text(x.clone())
    }
}

impl<T: Into<Arg>> From<Option<T>> for Arg {
    fn from(x: Option<T>) -> Self {
        x.map_or(Arg::Null, Into::into)
    }
}

macro_rules! id_args {
    ($($t:ident),*) => {$(
        impl From<breeze_proto::ids::$t> for Arg {
            fn from(x: breeze_proto::ids::$t) -> Self { Arg::Uuid(x.0) }
        }
    )*};
}
id_args!(
    PartnerId,
    OrgId,
    SiteId,
    DeviceGroupId,
    DeviceId,
    UserId,
    RoleId,
    PermissionId,
    SessionId,
    ApiKeyId,
    AuditLogId,
    EnrollmentKeyId,
    CommandId,
    ScriptId,
    ExecutionId,
    AlertRuleId,
    AlertId,
    NotificationChannelId,
    EscalationPolicyId,
    AutomationId,
    AutomationRunId,
    PolicyId
);

/// A query: SQL text with `?` placeholders and the arguments in order.
///
/// The text is assembled only from string literals in this crate and placeholders, never
/// from input: input always travels as an [`Arg`].
#[derive(Clone, Debug, Default)]
pub struct Q {
    sql: String,
    args: Vec<Arg>,
}

impl Q {
    pub fn new(sql: &'static str) -> Self {
        Q {
            sql: sql.to_string(),
            args: Vec::new(),
        }
    }

    /// SQL built inside this crate from literals only (migrations' rendered DDL).
    pub(crate) fn trusted(sql: String) -> Self {
        Q {
            sql,
            args: Vec::new(),
        }
    }

    /// Adds the argument for the next `?`.
    pub fn bind(mut self, a: impl Into<Arg>) -> Self {
        self.args.push(a.into());
        self
    }

    /// Appends SQL text (a literal).
    pub fn push(&mut self, sql: &'static str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    /// Appends SQL text built in this crate from literals (e.g. a column chosen from an
    /// allow-list). Never pass input here.
    pub fn push_trusted(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    /// Appends `?` and its argument.
    pub fn push_bind(&mut self, a: impl Into<Arg>) -> &mut Self {
        self.sql.push('?');
        self.args.push(a.into());
        self
    }

    /// Appends `(?, ?, …)` for a non-empty list, or `(NULL)` (matching nothing) for an empty one.
    pub fn push_list<T: Into<Arg> + Clone>(
        &mut self,
        items: impl IntoIterator<Item = T>,
    ) -> &mut Self {
        let mut first = true;
        self.sql.push('(');
        for it in items {
            if !first {
                self.sql.push_str(", ");
            }
            first = false;
            self.push_bind(it);
        }
        if first {
            self.sql.push_str("NULL");
        }
        self.sql.push(')');
        self
    }

    pub fn sql(&self) -> &str {
        &self.sql
    }

    /// The SQL with placeholders in the engine's syntax (`?` for SQLite, `$n` for PostgreSQL).
    /// On PostgreSQL a NULL argument is written as the literal `NULL` (and not bound), since
    /// an untyped bound NULL would be typed as text.
    pub fn render(&self, engine: Engine) -> String {
        match engine {
            Engine::Sqlite => self.sql.clone(),
            Engine::Postgres => {
                // A NULL argument is written as the literal `NULL` (and not bound): a bound
                // NULL would carry a type (text), which PostgreSQL refuses for uuid,
                // bigint, … columns; the literal takes the column's type.
                let mut out = String::with_capacity(self.sql.len() + 16);
                let mut n = 0;
                let mut i = 0;
                let mut in_str = false;
                for c in self.sql.chars() {
                    if c == '\'' {
                        in_str = !in_str;
                    }
                    if c == '?' && !in_str {
                        if matches!(self.args.get(i), Some(Arg::Null)) {
                            out.push_str("NULL");
                        } else {
                            n += 1;
                            out.push('$');
                            out.push_str(&n.to_string());
                        }
                        i += 1;
                    } else {
                        out.push(c);
                    }
                }
                out
            }
        }
    }
}

macro_rules! bind_sqlite {
    ($q:expr, $args:expr) => {{
        let mut q = $q;
        for a in $args {
            q = match a {
                Arg::Null => q.bind(None::<String>),
                Arg::Bool(v) => q.bind(v),
                Arg::I64(v) => q.bind(v),
                Arg::F64(v) => q.bind(v),
                Arg::Text(v) => q.bind(v),
                Arg::Uuid(v) => q.bind(v),
                Arg::Time(v) => q.bind(sqlite_time(&v)),
                Arg::Date(v) => q.bind(v.format("%Y-%m-%d").to_string()),
                Arg::Json(v) => q.bind(Json(v)),
            };
        }
        q
    }};
}

macro_rules! bind_pg {
    ($q:expr, $args:expr) => {{
        let mut q = $q;
        for a in $args {
            q = match a {
                // Rendered as a literal NULL (see `Q::render`).
                Arg::Null => q,
                Arg::Bool(v) => q.bind(v),
                Arg::I64(v) => q.bind(v),
                Arg::F64(v) => q.bind(v),
                Arg::Text(v) => q.bind(v),
                Arg::Uuid(v) => q.bind(v),
                Arg::Time(v) => q.bind(v),
                Arg::Date(v) => q.bind(v),
                Arg::Json(v) => q.bind(Json(v)),
            };
        }
        q
    }};
}

/// A row type readable from both engines.
pub trait Row: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin {}
impl<T> Row for T where T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin
{}

/// The methods shared by [`Db`] (a pool) and [`Tx`] (a transaction).
macro_rules! exec_methods {
    () => {
        pub async fn all<T: Row>(&mut self, q: Q) -> Result<Vec<T>, StoreError> {
            let e = self.engine();
            let sql = q.render(e);
            match self.conn() {
                Conn::Sqlite(c) => Ok(bind_sqlite!(
                    sqlx::query_as::<Sqlite, T>(AssertSqlSafe(sql)),
                    q.args
                )
                .fetch_all(c)
                .await?),
                Conn::Postgres(c) => Ok(bind_pg!(
                    sqlx::query_as::<Postgres, T>(AssertSqlSafe(sql)),
                    q.args
                )
                .fetch_all(c)
                .await?),
            }
        }

        pub async fn optional<T: Row>(&mut self, q: Q) -> Result<Option<T>, StoreError> {
            let e = self.engine();
            let sql = q.render(e);
            match self.conn() {
                Conn::Sqlite(c) => Ok(bind_sqlite!(
                    sqlx::query_as::<Sqlite, T>(AssertSqlSafe(sql)),
                    q.args
                )
                .fetch_optional(c)
                .await?),
                Conn::Postgres(c) => Ok(bind_pg!(
                    sqlx::query_as::<Postgres, T>(AssertSqlSafe(sql)),
                    q.args
                )
                .fetch_optional(c)
                .await?),
            }
        }

        pub async fn one<T: Row>(&mut self, q: Q) -> Result<T, StoreError> {
            self.optional(q).await?.ok_or(StoreError::NotFound)
        }

        /// Runs a statement; answers the number of rows it touched.
        pub async fn exec(&mut self, q: Q) -> Result<u64, StoreError> {
            let e = self.engine();
            let sql = q.render(e);
            match self.conn() {
                Conn::Sqlite(c) => Ok(bind_sqlite!(
                    sqlx::query::<Sqlite>(AssertSqlSafe(sql)),
                    q.args
                )
                .execute(c)
                .await?
                .rows_affected()),
                Conn::Postgres(c) => Ok(bind_pg!(
                    sqlx::query::<Postgres>(AssertSqlSafe(sql)),
                    q.args
                )
                .execute(c)
                .await?
                .rows_affected()),
            }
        }
    };
}

enum Conn<'a> {
    Sqlite(&'a mut sqlx::SqliteConnection),
    Postgres(&'a mut sqlx::PgConnection),
}

/// A connection pool on one of the two engines.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePools),
    Postgres(PgPool),
}

/// SQLite's pools: one writer connection and the readers.
///
/// SQLite lets one connection write at a time. With every connection able to write,
/// writers that found the lock taken polled for it (the busy handler sleeps up to 100 ms
/// between tries, in no order), each holding a pooled connection while it waited; a long
/// write (an inventory, a metrics rollup) could so leave a heartbeat's reads with no
/// connection at all. Here transactions and writing statements queue, in order, for
/// the one writer connection, and reads (WAL: never blocked by the writer) have the
/// rest of the pool to themselves.
#[derive(Clone, Debug)]
pub struct SqlitePools {
    read: SqlitePool,
    write: SqlitePool,
}

impl SqlitePools {
    /// The pool a statement runs on: the writer for anything but a read.
    fn for_sql(&self, sql: &str) -> &SqlitePool {
        if is_read(sql) {
            &self.read
        } else {
            &self.write
        }
    }
}

/// Whether a statement only reads: it starts with `SELECT`, or with `WITH` and has no
/// `INSERT`, `UPDATE` or `DELETE` in it (a CTE feeding a write). A write taken for a read
/// still works (it waits for SQLite's lock like any connection), so the test only has
/// to be right for reads, which must not queue behind the writer: a transaction holding
/// the writer may read through the pool.
fn is_read(sql: &str) -> bool {
    let s = sql.trim_start();
    let starts = |kw: &str| {
        s.get(..kw.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(kw))
    };
    if starts("SELECT") {
        return true;
    }
    if !starts("WITH") {
        return false;
    }
    !s.split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .any(|w| {
            ["INSERT", "UPDATE", "DELETE"]
                .iter()
                .any(|k| w.eq_ignore_ascii_case(k))
        })
}

/// Options for opening the database.
#[derive(Clone, Debug)]
pub struct DbOptions {
    pub max_connections: u32,
}

/// PostgreSQL ends a session whose transaction sat idle this long, releasing its locks.
/// No Breeze transaction waits between statements for anything but the database, so
/// only a leaked one (a transaction the pool lost track of, seen once after a task was
/// cancelled mid-transaction: its row locks on `job_leases` stalled every replica's job
/// leases and the replica's own shutdown) ever reaches it.
pub const IDLE_IN_TRANSACTION_TIMEOUT: &str = "60s";

fn pg_options(url: &str) -> Result<PgConnectOptions, StoreError> {
    Ok(PgConnectOptions::from_str(url)?.options([(
        "idle_in_transaction_session_timeout",
        IDLE_IN_TRANSACTION_TIMEOUT,
    )]))
}

impl Default for DbOptions {
    fn default() -> Self {
        DbOptions {
            max_connections: 16,
        }
    }
}

impl Db {
    /// Opens `url`: `sqlite://PATH` (created when missing) or `postgres://…`.
    pub async fn connect(url: &str, opts: &DbOptions) -> Result<Db, StoreError> {
        if url.starts_with("sqlite:") {
            let o = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10));
            // The writer first: it creates the file and switches it to WAL.
            let write = SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(o.clone())
                .await?;
            let read = SqlitePoolOptions::new()
                .max_connections(opts.max_connections.max(1))
                .connect_with(o)
                .await?;
            Ok(Db::Sqlite(SqlitePools { read, write }))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let o = pg_options(url)?;
            let pool = PgPoolOptions::new()
                .max_connections(opts.max_connections.max(1))
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(o)
                .await?;
            Ok(Db::Postgres(pool))
        } else {
            Err(StoreError::Config(format!(
                "database url must start with sqlite: or postgres:, got `{}`",
                url.split(':').next().unwrap_or_default()
            )))
        }
    }

    /// Opens a PostgreSQL database inside `schema` (created when missing): several Breeze
    /// installations, or test runs, can share one database side by side.
    pub async fn connect_pg_schema(
        url: &str,
        schema: &str,
        opts: &DbOptions,
    ) -> Result<Db, StoreError> {
        if !schema
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            || schema.is_empty()
        {
            return Err(StoreError::Config(format!(
                "schema name `{schema}` must be [a-z0-9_]+"
            )));
        }
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect_with(PgConnectOptions::from_str(url)?)
            .await?;
        sqlx::query(AssertSqlSafe(format!(
            "CREATE SCHEMA IF NOT EXISTS {schema}"
        )))
        .execute(&admin)
        .await?;
        admin.close().await;
        let o = pg_options(url)?.options([("search_path", schema)]);
        let pool = PgPoolOptions::new()
            .max_connections(opts.max_connections.max(1))
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(o)
            .await?;
        Ok(Db::Postgres(pool))
    }

    pub fn engine(&self) -> Engine {
        match self {
            Db::Sqlite(_) => Engine::Sqlite,
            Db::Postgres(_) => Engine::Postgres,
        }
    }

    /// Starts a transaction. On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`)
    /// so two writers queue instead of failing on a lock upgrade.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(match self {
            Db::Sqlite(p) => Tx::Sqlite(p.write.begin_with("BEGIN IMMEDIATE").await?),
            Db::Postgres(p) => Tx::Postgres(p.begin().await?),
        })
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        self.exec(Q::new("SELECT 1")).await.map(|_| ())
    }

    pub async fn close(&self) {
        match self {
            Db::Sqlite(p) => {
                p.read.close().await;
                p.write.close().await;
            }
            Db::Postgres(p) => p.close().await,
        }
    }
}

/// `Db` runs each statement on a pooled connection of its own.
impl Db {
    pub async fn all<T: Row>(&self, q: Q) -> Result<Vec<T>, StoreError> {
        let sql = q.render(self.engine());
        match self {
            Db::Sqlite(p) => {
                let pool = p.for_sql(&sql);
                Ok(
                    bind_sqlite!(sqlx::query_as::<Sqlite, T>(AssertSqlSafe(sql)), q.args)
                        .fetch_all(pool)
                        .await?,
                )
            }
            Db::Postgres(p) => Ok(bind_pg!(
                sqlx::query_as::<Postgres, T>(AssertSqlSafe(sql)),
                q.args
            )
            .fetch_all(p)
            .await?),
        }
    }

    pub async fn optional<T: Row>(&self, q: Q) -> Result<Option<T>, StoreError> {
        let sql = q.render(self.engine());
        match self {
            Db::Sqlite(p) => {
                let pool = p.for_sql(&sql);
                Ok(
                    bind_sqlite!(sqlx::query_as::<Sqlite, T>(AssertSqlSafe(sql)), q.args)
                        .fetch_optional(pool)
                        .await?,
                )
            }
            Db::Postgres(p) => Ok(bind_pg!(
                sqlx::query_as::<Postgres, T>(AssertSqlSafe(sql)),
                q.args
            )
            .fetch_optional(p)
            .await?),
        }
    }

    pub async fn one<T: Row>(&self, q: Q) -> Result<T, StoreError> {
        self.optional(q).await?.ok_or(StoreError::NotFound)
    }

    pub async fn exec(&self, q: Q) -> Result<u64, StoreError> {
        let sql = q.render(self.engine());
        match self {
            Db::Sqlite(p) => {
                let pool = p.for_sql(&sql);
                Ok(
                    bind_sqlite!(sqlx::query::<Sqlite>(AssertSqlSafe(sql)), q.args)
                        .execute(pool)
                        .await?
                        .rows_affected(),
                )
            }
            Db::Postgres(p) => Ok(
                bind_pg!(sqlx::query::<Postgres>(AssertSqlSafe(sql)), q.args)
                    .execute(p)
                    .await?
                    .rows_affected(),
            ),
        }
    }
}

/// A transaction on one of the two engines. Dropped without `commit`, it rolls back.
pub enum Tx {
    Sqlite(sqlx::Transaction<'static, Sqlite>),
    Postgres(sqlx::Transaction<'static, Postgres>),
}

impl Tx {
    pub fn engine(&self) -> Engine {
        match self {
            Tx::Sqlite(_) => Engine::Sqlite,
            Tx::Postgres(_) => Engine::Postgres,
        }
    }

    fn conn(&mut self) -> Conn<'_> {
        match self {
            Tx::Sqlite(t) => Conn::Sqlite(&mut *t),
            Tx::Postgres(t) => Conn::Postgres(&mut *t),
        }
    }

    exec_methods!();

    pub async fn commit(self) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(t) => t.commit().await?,
            Tx::Postgres(t) => t.commit().await?,
        }
        Ok(())
    }

    /// Ends the transaction without its changes, now (a dropped one is rolled back only
    /// when its connection is next used, and keeps its row locks until then).
    pub async fn rollback(self) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(t) => t.rollback().await?,
            Tx::Postgres(t) => t.rollback().await?,
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_placeholders_are_numbered_outside_string_literals() {
        let mut q = Q::new("SELECT * FROM t WHERE a = ? AND b = '?' AND c IN ");
        q.bind_list_for_test();
        assert_eq!(
            q.render(Engine::Postgres),
            "SELECT * FROM t WHERE a = $1 AND b = '?' AND c IN ($2, $3)"
        );
        assert_eq!(
            q.render(Engine::Sqlite),
            "SELECT * FROM t WHERE a = ? AND b = '?' AND c IN (?, ?)"
        );
    }

    impl Q {
        fn bind_list_for_test(&mut self) {
            self.args.push(Arg::I64(1));
            self.push_list([1i64, 2]);
        }
    }

    #[test]
    fn postgres_nulls_are_literals_and_not_numbered() {
        let q = Q::new("UPDATE t SET a = ?, b = ?, c = ?")
            .bind(1i64)
            .bind(None::<i64>)
            .bind(2i64);
        assert_eq!(
            q.render(Engine::Postgres),
            "UPDATE t SET a = $1, b = NULL, c = $2"
        );
    }

    #[test]
    fn only_reads_are_reads() {
        for sql in [
            "SELECT 1",
            "  select id FROM devices",
            "WITH x AS (SELECT 1) SELECT * FROM x",
            "WITH updated_at AS (SELECT 1) SELECT * FROM updated_at",
        ] {
            assert!(is_read(sql), "{sql}");
        }
        for sql in [
            "UPDATE devices SET status = 'offline'",
            "INSERT INTO t VALUES (1)",
            "DELETE FROM t",
            "WITH v (id) AS (VALUES (1)) UPDATE devices SET x = 1 FROM v",
            "WITH v AS (SELECT 1) INSERT INTO t SELECT * FROM v",
            "CREATE TABLE t (a INTEGER)",
            "PRAGMA wal_checkpoint",
            "",
        ] {
            assert!(!is_read(sql), "{sql}");
        }
    }

    #[test]
    fn empty_list_matches_nothing() {
        let mut q = Q::new("x IN ");
        q.push_list(Vec::<i64>::new());
        assert_eq!(q.sql(), "x IN (NULL)");
    }
}
