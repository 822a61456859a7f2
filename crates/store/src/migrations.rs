//! Schema migrations, written once for both engines with sea-query's schema builder (which
//! renders each column type in the engine's dialect). Each migration runs in its own
//! transaction and is recorded in `breeze_migrations`; a database newer than this binary
//! is refused rather than downgraded.

use sea_query::{
    Alias, ColumnDef, ForeignKey, ForeignKeyAction, Index, IndexCreateStatement,
    PostgresQueryBuilder, SqliteQueryBuilder, Table, TableAlterStatement, TableCreateStatement,
};

use crate::StoreError;
use crate::db::{Db, Engine, Q, Tx};

pub(crate) fn c(name: &'static str) -> Alias {
    Alias::new(name)
}

pub(crate) fn id() -> ColumnDef {
    ColumnDef::new(c("id"))
        .uuid()
        .not_null()
        .primary_key()
        .to_owned()
}
pub(crate) fn uuid(n: &'static str) -> ColumnDef {
    ColumnDef::new(c(n)).uuid().not_null().to_owned()
}
pub(crate) fn uuid_null(n: &'static str) -> ColumnDef {
    ColumnDef::new(c(n)).uuid().null().to_owned()
}
pub(crate) fn text(n: &'static str) -> ColumnDef {
    ColumnDef::new(c(n)).text().not_null().to_owned()
}
pub(crate) fn text_null(n: &'static str) -> ColumnDef {
    ColumnDef::new(c(n)).text().null().to_owned()
}
pub(crate) fn ts(n: &'static str) -> ColumnDef {
    ColumnDef::new(c(n))
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}
pub(crate) fn ts_null(n: &'static str) -> ColumnDef {
    ColumnDef::new(c(n))
        .timestamp_with_time_zone()
        .null()
        .to_owned()
}
pub(crate) fn json(n: &'static str) -> ColumnDef {
    ColumnDef::new(c(n)).json_binary().not_null().to_owned()
}
pub(crate) fn json_null(n: &'static str) -> ColumnDef {
    ColumnDef::new(c(n)).json_binary().null().to_owned()
}
pub(crate) fn boolean(n: &'static str) -> ColumnDef {
    ColumnDef::new(c(n))
        .boolean()
        .not_null()
        .default(false)
        .to_owned()
}
pub(crate) fn int_null(n: &'static str) -> ColumnDef {
    ColumnDef::new(c(n)).big_integer().null().to_owned()
}
pub(crate) fn int(n: &'static str) -> ColumnDef {
    ColumnDef::new(c(n)).big_integer().not_null().to_owned()
}
fn date_null(n: &'static str) -> ColumnDef {
    ColumnDef::new(c(n)).date().null().to_owned()
}

pub(crate) fn table(name: &'static str, cols: Vec<ColumnDef>) -> TableCreateStatement {
    let mut t = Table::create();
    t.table(c(name));
    for mut col in cols {
        t.col(&mut col);
    }
    t.to_owned()
}

pub(crate) fn fk(
    t: &mut TableCreateStatement,
    table: &'static str,
    col: &'static str,
    to: &'static str,
    on_delete: ForeignKeyAction,
) {
    t.foreign_key(
        ForeignKey::create()
            .name(format!("fk_{table}_{col}"))
            .from(c(table), c(col))
            .to(c(to), c("id"))
            .on_delete(on_delete),
    );
}

pub(crate) fn index(
    table: &'static str,
    cols: &[&'static str],
    unique: bool,
) -> IndexCreateStatement {
    let mut i = Index::create();
    i.name(format!(
        "{}_{}_{}",
        if unique { "uq" } else { "ix" },
        table,
        cols.join("_")
    ))
    .table(c(table));
    for col in cols {
        i.col(c(col));
    }
    if unique {
        i.unique();
    }
    i.to_owned()
}

/// One schema change: statements for each engine.
#[allow(clippy::large_enum_variant)] // built once per migration run
pub(crate) enum Step {
    Table(TableCreateStatement),
    Index(IndexCreateStatement),
    /// SQL that reads the same on both engines (e.g. partial indexes).
    Same(&'static str),
    /// One added column (SQLite allows one per `ALTER TABLE`).
    Alter(TableAlterStatement),
    /// SQL that must differ per engine (e.g. matching a uuid column with text).
    PerEngine {
        sqlite: String,
        postgres: String,
    },
}

impl Step {
    fn render(&self, engine: Engine) -> String {
        match (self, engine) {
            (Step::Table(t), Engine::Sqlite) => t.to_string(SqliteQueryBuilder),
            (Step::Table(t), Engine::Postgres) => t.to_string(PostgresQueryBuilder),
            (Step::Index(i), Engine::Sqlite) => i.to_string(SqliteQueryBuilder),
            (Step::Index(i), Engine::Postgres) => i.to_string(PostgresQueryBuilder),
            (Step::Same(s), _) => s.to_string(),
            (Step::Alter(a), Engine::Sqlite) => a.to_string(SqliteQueryBuilder),
            (Step::Alter(a), Engine::Postgres) => a.to_string(PostgresQueryBuilder),
            (Step::PerEngine { sqlite, .. }, Engine::Sqlite) => sqlite.clone(),
            (Step::PerEngine { postgres, .. }, Engine::Postgres) => postgres.clone(),
        }
    }
}

struct Migration {
    version: i64,
    name: &'static str,
    steps: fn() -> Vec<Step>,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "tenancy_identity_audit",
        steps: v1,
    },
    Migration {
        version: 2,
        name: "devices_agents_scripts",
        steps: crate::migrations_v2::v2,
    },
    Migration {
        version: 3,
        name: "partner_settings",
        steps: crate::migrations_v3::v3,
    },
    Migration {
        version: 4,
        name: "jobs",
        steps: crate::migrations_v4::v4,
    },
    Migration {
        version: 5,
        name: "audit_scope_device_permissions",
        steps: crate::migrations_v5::v5,
    },
    Migration {
        version: 6,
        name: "alerting",
        steps: crate::migrations_v6::v6,
    },
    Migration {
        version: 7,
        name: "automations",
        steps: crate::migrations_v7::v7,
    },
    Migration {
        version: 8,
        name: "policies",
        steps: crate::migrations_v8::v8,
    },
    Migration {
        version: 9,
        name: "remote_sessions",
        steps: crate::migrations_v9::v9,
    },
    Migration {
        version: 10,
        name: "file_transfers",
        steps: crate::migrations_v10::v10,
    },
    Migration {
        version: 11,
        name: "job_lease_periods",
        steps: crate::migrations_v11::v11,
    },
    Migration {
        version: 12,
        name: "suspended_fingerprints",
        steps: crate::migrations_v12::v12,
    },
];

/// The schema version this binary writes.
pub fn latest_version() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

fn v1() -> Vec<Step> {
    use ForeignKeyAction::{Cascade, Restrict, SetNull};
    let mut steps = Vec::new();

    steps.push(Step::Table(table(
        "partners",
        vec![
            id(),
            text("name"),
            text("slug"),
            text("type"),
            text("plan"),
            int_null("max_organizations"),
            int_null("max_devices"),
            json("settings"),
            json_null("sso_config"),
            text_null("billing_email"),
            ts("created_at"),
            ts("updated_at"),
            ts_null("deleted_at"),
        ],
    )));
    steps.push(Step::Index(index("partners", &["slug"], true)));

    let mut orgs = table(
        "organizations",
        vec![
            id(),
            uuid("partner_id"),
            text("name"),
            text("slug"),
            text("type"),
            text("status"),
            int_null("max_devices"),
            json("settings"),
            json_null("sso_config"),
            date_null("contract_start"),
            date_null("contract_end"),
            json_null("billing_contact"),
            ts("created_at"),
            ts("updated_at"),
            ts_null("deleted_at"),
        ],
    );
    fk(
        &mut orgs,
        "organizations",
        "partner_id",
        "partners",
        Restrict,
    );
    steps.push(Step::Table(orgs));
    steps.push(Step::Same(
        "CREATE UNIQUE INDEX uq_organizations_partner_slug ON organizations (partner_id, slug) WHERE deleted_at IS NULL",
    ));

    let mut sites = table(
        "sites",
        vec![
            id(),
            uuid("org_id"),
            text("name"),
            json_null("address"),
            text("timezone"),
            json_null("contact"),
            json("settings"),
            ts("created_at"),
            ts("updated_at"),
        ],
    );
    fk(&mut sites, "sites", "org_id", "organizations", Cascade);
    steps.push(Step::Table(sites));
    steps.push(Step::Index(index("sites", &["org_id", "name"], true)));

    let mut groups = table(
        "device_groups",
        vec![
            id(),
            uuid("org_id"),
            uuid_null("site_id"),
            text("name"),
            text("type"),
            json_null("rules"),
            uuid_null("parent_id"),
            ts("created_at"),
            ts("updated_at"),
        ],
    );
    fk(
        &mut groups,
        "device_groups",
        "org_id",
        "organizations",
        Cascade,
    );
    fk(&mut groups, "device_groups", "site_id", "sites", Cascade);
    fk(
        &mut groups,
        "device_groups",
        "parent_id",
        "device_groups",
        SetNull,
    );
    steps.push(Step::Table(groups));
    steps.push(Step::Index(index("device_groups", &["org_id"], false)));

    let mut devices = table(
        "devices",
        vec![
            id(),
            uuid("org_id"),
            uuid("site_id"),
            text("agent_id"),
            text_null("agent_token_hash"),
            ts_null("agent_token_suspended_at"),
            text_null("agent_token_suspended_reason"),
            text("hostname"),
            text_null("display_name"),
            text("os_type"),
            text_null("os_version"),
            text_null("os_build"),
            text_null("architecture"),
            text_null("agent_version"),
            text("status"),
            ts_null("last_seen_at"),
            text_null("last_seen_ip"),
            ts_null("enrolled_at"),
            uuid_null("enrolled_by"),
            json("tags"),
            ts_null("quarantined_at"),
            text_null("quarantined_reason"),
            ts("created_at"),
            ts("updated_at"),
        ],
    );
    fk(&mut devices, "devices", "org_id", "organizations", Cascade);
    fk(&mut devices, "devices", "site_id", "sites", Restrict);
    steps.push(Step::Table(devices));
    steps.push(Step::Index(index("devices", &["agent_id"], true)));
    steps.push(Step::Index(index("devices", &["org_id", "site_id"], false)));

    let mut members = table(
        "device_group_memberships",
        vec![
            uuid("device_id"),
            uuid("group_id"),
            ts("added_at"),
            text("added_by"),
        ],
    );
    members.primary_key(Index::create().col(c("device_id")).col(c("group_id")));
    fk(
        &mut members,
        "device_group_memberships",
        "device_id",
        "devices",
        Cascade,
    );
    fk(
        &mut members,
        "device_group_memberships",
        "group_id",
        "device_groups",
        Cascade,
    );
    steps.push(Step::Table(members));
    steps.push(Step::Index(index(
        "device_group_memberships",
        &["group_id"],
        false,
    )));

    steps.push(Step::Table(table(
        "users",
        vec![
            id(),
            text("email"),
            text("name"),
            text_null("password_hash"),
            text_null("mfa_secret"),
            boolean("mfa_enabled"),
            json("mfa_recovery_codes"),
            int_null("mfa_last_step"),
            text("status"),
            boolean("is_platform_admin"),
            text_null("avatar_url"),
            ts_null("last_login_at"),
            ts_null("password_changed_at"),
            ts("created_at"),
            ts("updated_at"),
            ts_null("deleted_at"),
        ],
    )));
    steps.push(Step::Index(index("users", &["email"], true)));

    let mut roles = table(
        "roles",
        vec![
            id(),
            uuid_null("partner_id"),
            uuid_null("org_id"),
            text("scope"),
            text("name"),
            text_null("description"),
            boolean("is_system"),
            ts("created_at"),
            ts("updated_at"),
        ],
    );
    fk(&mut roles, "roles", "partner_id", "partners", Cascade);
    fk(&mut roles, "roles", "org_id", "organizations", Cascade);
    steps.push(Step::Table(roles));

    steps.push(Step::Table(table(
        "permissions",
        vec![
            id(),
            text("resource"),
            text("action"),
            text_null("description"),
        ],
    )));
    steps.push(Step::Index(index(
        "permissions",
        &["resource", "action"],
        true,
    )));

    let mut rp = table(
        "role_permissions",
        vec![
            uuid("role_id"),
            uuid("permission_id"),
            json_null("constraints"),
        ],
    );
    rp.primary_key(Index::create().col(c("role_id")).col(c("permission_id")));
    fk(&mut rp, "role_permissions", "role_id", "roles", Cascade);
    fk(
        &mut rp,
        "role_permissions",
        "permission_id",
        "permissions",
        Cascade,
    );
    steps.push(Step::Table(rp));

    let mut pu = table(
        "partner_users",
        vec![
            id(),
            uuid("partner_id"),
            uuid("user_id"),
            uuid("role_id"),
            text("org_access"),
            json("org_ids"),
            ts("created_at"),
        ],
    );
    fk(&mut pu, "partner_users", "partner_id", "partners", Cascade);
    fk(&mut pu, "partner_users", "user_id", "users", Cascade);
    fk(&mut pu, "partner_users", "role_id", "roles", Restrict);
    steps.push(Step::Table(pu));
    steps.push(Step::Index(index("partner_users", &["user_id"], true)));

    let mut ou = table(
        "organization_users",
        vec![
            id(),
            uuid("org_id"),
            uuid("user_id"),
            uuid("role_id"),
            json_null("site_ids"),
            json_null("device_group_ids"),
            ts("created_at"),
        ],
    );
    fk(
        &mut ou,
        "organization_users",
        "org_id",
        "organizations",
        Cascade,
    );
    fk(&mut ou, "organization_users", "user_id", "users", Cascade);
    fk(&mut ou, "organization_users", "role_id", "roles", Restrict);
    steps.push(Step::Table(ou));
    steps.push(Step::Index(index("organization_users", &["user_id"], true)));

    let mut fam = table(
        "refresh_token_families",
        vec![
            id(),
            uuid("user_id"),
            ts("created_at"),
            ts_null("revoked_at"),
            text_null("revoked_reason"),
        ],
    );
    fk(
        &mut fam,
        "refresh_token_families",
        "user_id",
        "users",
        Cascade,
    );
    steps.push(Step::Table(fam));

    let mut rt = table(
        "refresh_tokens",
        vec![
            id(),
            uuid("family_id"),
            text("token_hash"),
            ts("created_at"),
            ts("expires_at"),
            ts_null("used_at"),
        ],
    );
    fk(
        &mut rt,
        "refresh_tokens",
        "family_id",
        "refresh_token_families",
        Cascade,
    );
    steps.push(Step::Table(rt));
    steps.push(Step::Index(index("refresh_tokens", &["token_hash"], true)));

    let mut sessions = table(
        "sessions",
        vec![
            id(),
            uuid("user_id"),
            uuid("family_id"),
            text("token_hash"),
            text_null("ip_address"),
            text_null("user_agent"),
            ts("expires_at"),
            ts("created_at"),
            ts_null("revoked_at"),
        ],
    );
    fk(&mut sessions, "sessions", "user_id", "users", Cascade);
    fk(
        &mut sessions,
        "sessions",
        "family_id",
        "refresh_token_families",
        Cascade,
    );
    steps.push(Step::Table(sessions));
    steps.push(Step::Index(index("sessions", &["token_hash"], true)));
    steps.push(Step::Index(index("sessions", &["family_id"], false)));

    // Single-use tokens: MFA login challenges, password resets, invitations.
    let mut at = table(
        "auth_tokens",
        vec![
            id(),
            text("kind"),
            uuid("user_id"),
            text("token_hash"),
            json("data"),
            ts("expires_at"),
            ts_null("used_at"),
            ts("created_at"),
        ],
    );
    fk(&mut at, "auth_tokens", "user_id", "users", Cascade);
    steps.push(Step::Table(at));
    steps.push(Step::Index(index("auth_tokens", &["token_hash"], true)));

    let mut keys = table(
        "api_keys",
        vec![
            id(),
            uuid("org_id"),
            uuid("user_id"),
            text("name"),
            text("key_prefix"),
            text("key_hash"),
            json("permissions"),
            ts_null("last_used_at"),
            ts_null("expires_at"),
            ts_null("revoked_at"),
            ts("created_at"),
        ],
    );
    fk(&mut keys, "api_keys", "org_id", "organizations", Cascade);
    fk(&mut keys, "api_keys", "user_id", "users", Cascade);
    steps.push(Step::Table(keys));
    steps.push(Step::Index(index("api_keys", &["key_hash"], true)));

    // Append-only; `seq` orders the hash chain, `audit_chain` holds its head.
    steps.push(Step::Table(table(
        "audit_logs",
        vec![
            id(),
            int("seq"),
            uuid_null("partner_id"),
            uuid_null("org_id"),
            ts("timestamp"),
            text("actor_type"),
            uuid_null("actor_id"),
            text_null("actor_email"),
            text("action"),
            text("resource_type"),
            text_null("resource_id"),
            text_null("resource_name"),
            json("details"),
            text_null("ip_address"),
            text_null("user_agent"),
            text("result"),
            text_null("error_message"),
            text("checksum"),
        ],
    )));
    steps.push(Step::Index(index("audit_logs", &["seq"], true)));
    steps.push(Step::Index(index(
        "audit_logs",
        &["partner_id", "timestamp"],
        false,
    )));
    steps.push(Step::Index(index(
        "audit_logs",
        &["org_id", "timestamp"],
        false,
    )));
    steps.push(Step::Table(table(
        "audit_chain",
        vec![int("id"), int("seq"), text("checksum")],
    )));
    steps.push(Step::Same(
        "INSERT INTO audit_chain (id, seq, checksum) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000')",
    ));

    steps.push(Step::Table(table(
        "server_settings",
        vec![
            ColumnDef::new(c("key"))
                .text()
                .not_null()
                .primary_key()
                .to_owned(),
            json("value"),
            ts("updated_at"),
        ],
    )));
    steps
}

#[derive(sqlx::FromRow)]
struct Version {
    version: i64,
}

/// Applies every migration the database lacks. Answers the versions it applied.
pub async fn migrate(db: &Db) -> Result<Vec<i64>, StoreError> {
    db.exec(Q::new(
        "CREATE TABLE IF NOT EXISTS breeze_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
    ))
    .await?;
    let mut applied = Vec::new();
    for m in MIGRATIONS {
        let mut tx = db.begin().await?;
        lock(&mut tx).await?;
        let done: Option<Version> = tx
            .optional(
                Q::new("SELECT version FROM breeze_migrations WHERE version = ?").bind(m.version),
            )
            .await?;
        if done.is_some() {
            continue;
        }
        for step in (m.steps)() {
            let sql = step.render(tx.engine());
            tx.exec(Q::trusted(sql)).await.map_err(|e| {
                StoreError::Config(format!("migration {} ({}) failed: {e}", m.version, m.name))
            })?;
        }
        tx.exec(
            Q::new("INSERT INTO breeze_migrations (version, name, applied_at) VALUES (?, ?, ?)")
                .bind(m.version)
                .bind(m.name)
                .bind(chrono::Utc::now().to_rfc3339()),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(version = m.version, name = m.name, "applied migration");
        applied.push(m.version);
    }
    let newest: Option<Version> = db
        .optional(Q::new(
            "SELECT MAX(version) AS version FROM breeze_migrations HAVING MAX(version) IS NOT NULL",
        ))
        .await?;
    if let Some(v) = newest
        && v.version > latest_version()
    {
        return Err(StoreError::Config(format!(
            "the database is at schema version {} but this breeze knows only up to {}; run a newer breeze",
            v.version,
            latest_version()
        )));
    }
    Ok(applied)
}

/// Serializes migrations between replicas starting at once (PostgreSQL); SQLite's
/// `BEGIN IMMEDIATE` already did.
async fn lock(tx: &mut Tx) -> Result<(), StoreError> {
    if tx.engine() == Engine::Postgres {
        tx.exec(Q::new("SELECT pg_advisory_xact_lock(7311046)"))
            .await?;
    }
    Ok(())
}
